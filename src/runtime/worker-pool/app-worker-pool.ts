/**
 * A pool of worker threads per app version, for the CPU-heavy predictions (large batches,
 * explanations) that would otherwise hold the event loop for hundreds of milliseconds and stall
 * every other request of the replica. Built on piscina; each thread holds its own copy of the
 * model (loaded and warmed once, see predict-worker.ts), and the pool has a hard bound on what
 * may wait for it, so it sheds with OverloadedError instead of queueing without bound.
 */
import { createRequire } from "node:module";
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";
import { Piscina } from "piscina";
import { EncodeError } from "../../features/recipe.ts";
import type { ModelArtifact } from "../../models/artifact.ts";
import { decodeArtifact } from "../../models/artifact.ts";
import { ONNX_LEARNER } from "../../models/onnx/onnx-predictor.ts";
import type { Prediction } from "../../models/predictor.ts";
import { ExplainUnsupportedError } from "../../models/predictor.ts";
import { OverloadedError } from "../errors.ts";
import type { PredictTask, PredictTaskResult, PredictWorkerData } from "./predict-worker.ts";

/** How a pool is sized. */
export interface AppWorkerPoolOptions {
  /** Threads, each with its own copy of the model: batches that run at once. At least 1. */
  readonly threads: number;
  /** Batches that may wait for a free thread; one more is refused with OverloadedError. */
  readonly maxQueue: number;
  /**
   * When set, a thread idle this long ends (down to none), so an app whose batches are rare
   * holds no threads; the next batch then waits for a thread to load and warm the model.
   * Unset: the threads start at once and live until close().
   */
  readonly idleTimeoutMs?: number;
  /**
   * Told of a thread that failed outside any batch (e.g. while starting); such a failure costs
   * capacity, not answers, so the server logs it. Batches' own failures reject their promise.
   */
  readonly onError?: (error: unknown) => void;
}

/** How to predict a batch: the app contract's unknown-category rule, and whether to explain. */
export interface BatchPredictOptions {
  readonly unknownCategories: "bucket" | "reject";
  readonly explain: boolean;
}

/**
 * A row of a batch that the recipe could not encode: an EncodeError (so code that handles one
 * record's EncodeError handles it too) that also says which row, so the caller can name
 * `rows/{index}/{field}`. Only the first failing row is reported, as in-thread prediction would.
 */
export class BatchRowError extends EncodeError {
  constructor(
    /** Position of the row in the batch, from 0. */
    readonly index: number,
    /** The row's own error: the same field and message as predicting the row in-thread. */
    readonly error: EncodeError,
  ) {
    super(error.field, error.message);
    this.name = "BatchRowError";
  }
}

/** The pool was closed (its app version was released); a new batch cannot start. */
export class WorkerPoolClosedError extends Error {
  constructor() {
    super("The app version's worker pool is closed");
    this.name = "WorkerPoolClosedError";
  }
}

/** Weight of the latest batch in the running mean of batch times (for Retry-After). */
const SERVICE_TIME_WEIGHT = 0.2;
/** Longest Retry-After the pool suggests, whatever its queue. */
const MAX_RETRY_AFTER_SECONDS = 60;
/** How long close() lets running and queued batches finish before ending the threads. */
const CLOSE_TIMEOUT_MS = 30_000;

/**
 * Where piscina finds the worker module, in both shapes the code runs in: the build (.js next
 * to this file) and the TypeScript sources under tsx or vitest (.ts), where each thread first
 * imports tsx's loader (Node 20 applies `--import` in a worker's own execArgv, but does not pass
 * the parent's loader hooks on to it).
 */
function workerModule(): { filename: string; execArgv?: string[] } {
  const base = import.meta.url;
  if (!base.endsWith(".ts")) return { filename: new URL("./predict-worker.js", base).href };
  const tsx = pathToFileURL(createRequire(base).resolve("tsx")).href;
  return { filename: new URL("./predict-worker.ts", base).href, execArgv: ["--import", tsx] };
}

function learnerOf(artifact: Uint8Array | ModelArtifact): string {
  return (artifact instanceof Uint8Array ? decodeArtifact(artifact) : artifact).model.learner;
}

export class AppWorkerPool {
  private inFlight = 0;
  /** Running mean of how long a batch takes from submission to answer, in ms. */
  private serviceMs = 0;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly pool: Piscina<PredictTask, PredictTaskResult>,
    /** Threads the pool runs batches on at most. */
    readonly threads: number,
    /** Batches that may wait for a thread. */
    readonly maxQueue: number,
  ) {}

  /**
   * Whether the artifact's model can run in a pool: Ballast's own learners can. Imported ONNX
   * models cannot and need not: onnxruntime computes on its own threads already. Throws
   * ArtifactError for bytes that are not a model artifact.
   */
  static supports(artifact: Uint8Array | ModelArtifact): boolean {
    return learnerOf(artifact) !== ONNX_LEARNER;
  }

  /**
   * Threads load the artifact once (shared with them, not copied per thread), warm the compiled
   * kernel, then serve batches. The artifact is decoded here first, so bytes that would fail in
   * every thread fail once, here (ArtifactError); an unsupported model is a RangeError.
   */
  static create(artifact: Uint8Array, options: AppWorkerPoolOptions): AppWorkerPool {
    const { threads, maxQueue, idleTimeoutMs } = options;
    if (!Number.isInteger(threads) || threads < 1) {
      throw new RangeError(`threads must be an integer of at least 1, not ${threads}`);
    }
    if (!Number.isInteger(maxQueue) || maxQueue < 0) {
      throw new RangeError(`maxQueue must be an integer of at least 0, not ${maxQueue}`);
    }
    if (idleTimeoutMs !== undefined && !(idleTimeoutMs > 0)) {
      throw new RangeError(`idleTimeoutMs must be positive, not ${idleTimeoutMs}`);
    }
    if (!AppWorkerPool.supports(artifact)) {
      throw new RangeError("Imported ONNX models do not run in a worker pool");
    }
    const shared = new Uint8Array(new SharedArrayBuffer(artifact.byteLength));
    shared.set(artifact);
    const data: PredictWorkerData = { artifact: shared };
    const pool = new Piscina<PredictTask, PredictTaskResult>({
      ...workerModule(),
      workerData: data,
      minThreads: idleTimeoutMs === undefined ? threads : 0,
      maxThreads: threads,
      ...(idleTimeoutMs === undefined ? {} : { idleTimeout: idleTimeoutMs }),
      concurrentTasksPerWorker: 1,
      closeTimeout: CLOSE_TIMEOUT_MS,
    });
    // Piscina emits "error" for a thread that fails outside a task (and for a close that timed
    // out); unheard, an EventEmitter's "error" would end the process.
    const onError = options.onError;
    pool.on("error", (error: unknown) => onError?.(error));
    return new AppWorkerPool(pool, threads, maxQueue);
  }

  /** Batches waiting for a thread. */
  get queued(): number {
    return this.inFlight - this.running;
  }

  /** Batches being predicted now. */
  get running(): number {
    return Math.min(this.inFlight, this.threads);
  }

  /** Threads started and not ended: `threads` while open (fewer when idle), 0 once closed. */
  get liveThreads(): number {
    return this.pool.threads.length;
  }

  /**
   * Node's ids of the live threads, for diagnostics: a thread ended to stop an aborted batch is
   * replaced by one with a new id.
   */
  get threadIds(): readonly number[] {
    return this.pool.threads.map((worker) => worker.threadId);
  }

  /**
   * Predict records (already validated against the contract) in a worker; the answers equal
   * the in-thread Predictor's. Rejects with BatchRowError for the first row the recipe cannot
   * encode, ExplainUnsupportedError when asked to explain a model that cannot,
   * OverloadedError("pool_full") when the pool's queue is full, WorkerPoolClosedError after
   * close(), and with the signal's reason when `signal` aborts: a waiting batch leaves the
   * queue, a running one is stopped by ending its thread (a fresh one replaces it).
   */
  async predictBatch(
    records: readonly Readonly<Record<string, unknown>>[],
    options: BatchPredictOptions,
    signal?: AbortSignal,
  ): Promise<Prediction[]> {
    if (this.closing) throw new WorkerPoolClosedError();
    signal?.throwIfAborted();
    if (records.length === 0) return [];
    if (this.inFlight >= this.threads + this.maxQueue) {
      throw new OverloadedError("pool_full", this.retryAfterSeconds());
    }
    const task: PredictTask = {
      records,
      unknownCategories: options.unknownCategories,
      explain: options.explain,
    };
    const started = performance.now();
    this.inFlight++;
    let result: PredictTaskResult;
    try {
      result = await this.pool.run(task, signal ? { signal } : {});
    } catch (error) {
      // Piscina rejects with its own AbortError; the caller asked for its reason.
      if (signal?.aborted) throw signal.reason;
      throw error;
    } finally {
      this.inFlight--;
    }
    const elapsed = performance.now() - started;
    this.serviceMs =
      this.serviceMs === 0
        ? elapsed
        : this.serviceMs + SERVICE_TIME_WEIGHT * (elapsed - this.serviceMs);
    if (result.ok) return result.predictions;
    if (result.kind === "explain_unsupported") throw new ExplainUnsupportedError();
    throw new BatchRowError(result.index, new EncodeError(result.field, result.message));
  }

  /**
   * End the threads once the batches already accepted have finished (at most 30 s); new
   * batches are refused from now on. Call it when the app version is released.
   */
  close(): Promise<void> {
    this.closing ??= this.pool.close();
    return this.closing;
  }

  /** About when a thread will be free for one more batch: the queue ahead, at the mean pace. */
  private retryAfterSeconds(): number {
    const seconds = (this.serviceMs * (this.inFlight / this.threads)) / 1000;
    return Math.min(MAX_RETRY_AFTER_SECONDS, Math.max(1, Math.ceil(seconds)));
  }
}
