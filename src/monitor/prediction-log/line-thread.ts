/**
 * The prediction log's line thread, as the log uses it: one worker thread (line-worker.ts),
 * started by the first batch, that turns encoded batches into the spool's lines. The event loop
 * then only encodes a batch (numbers, and the request bodies' own text) and writes the bytes
 * that come back.
 *
 * A plain worker and its message port, not a piscina pool: the log needs one thread and one
 * batch at a time, and piscina's per-task bookkeeping (its task objects, and the Atomics it
 * wakes its threads with) cost the event loop about as much again as posting the batch itself
 * (a scratch micro-benchmark: 0.4-0.7 against 0.3-0.4 µs a row for 250-row batches).
 */
import { Worker } from "node:worker_threads";
import { workerUrl } from "../../learn/worker-url.ts";
import type { PiiMaskerOptions } from "../pii-mask.ts";
import type { LineReply, LineTask, LineWorkerData } from "./line-worker.ts";
import type { EncodedBatch } from "./observation-rows.ts";

interface Waiting {
  readonly resolve: (bytes: Uint8Array) => void;
  readonly reject: (error: Error) => void;
}

export class LineThread {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly waiting = new Map<number, Waiting>();
  private closed = false;

  constructor(private readonly masking: PiiMaskerOptions) {}

  /** The batch's lines as UTF-8 bytes; rejects when the thread could not make them. */
  render(batch: EncodedBatch): Promise<Uint8Array> {
    if (this.closed) return Promise.reject(new Error("The prediction log's line thread is closed"));
    const worker = this.worker ?? this.start();
    const id = this.nextId++;
    const task: LineTask = { id, batch };
    return new Promise<Uint8Array>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      worker.postMessage(task, [
        batch.observations.buffer,
        batch.rows.buffer,
        batch.lengths.buffer,
      ]);
    });
  }

  /** End the thread (batches still waiting are refused). */
  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    this.worker = undefined;
    if (worker) await worker.terminate();
    this.fail(new Error("The prediction log's line thread was closed"));
  }

  private start(): Worker {
    const data: LineWorkerData = { masker: this.masking };
    const worker = new Worker(workerUrl(import.meta.url, "./line-worker"), {
      workerData: data,
      name: "prediction-log-lines",
    });
    // The log's own timers do not keep the process alive; neither does its thread.
    worker.unref();
    worker.on("message", (reply: LineReply) => {
      const waiting = this.waiting.get(reply.id);
      if (!waiting) return;
      this.waiting.delete(reply.id);
      if ("bytes" in reply) waiting.resolve(reply.bytes);
      else waiting.reject(new Error(reply.error));
    });
    // A thread that fails, or ends, fails what it was given; the next batch starts another.
    const lost = (error: Error) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.fail(error);
    };
    worker.on("error", lost);
    worker.on("exit", (code) =>
      lost(new Error(`The prediction log's line thread exited (${code})`)),
    );
    this.worker = worker;
    return worker;
  }

  private fail(error: Error): void {
    const waiting = [...this.waiting.values()];
    this.waiting.clear();
    for (const w of waiting) w.reject(error);
  }
}
