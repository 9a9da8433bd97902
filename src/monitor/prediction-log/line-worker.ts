/**
 * The prediction log's line thread (started by line-thread.ts): it turns encoded batches into
 * the spool's lines, so that parsing the logged request bodies again, masking personal data and
 * serializing the records happen beside the event loop, not on it. Each message is one batch;
 * its lines go back as UTF-8 bytes, moved rather than copied, or as the error that stopped them.
 */
import { parentPort, workerData } from "node:worker_threads";
import { createPiiMasker, type PiiMaskerOptions } from "../pii-mask.ts";
import { type EncodedBatch, renderLines } from "./observation-rows.ts";

/** What the thread starts with: how the log masks personal data. */
export interface LineWorkerData {
  readonly masker: PiiMaskerOptions;
}

/** One batch to render, and its answer. */
export interface LineTask {
  readonly id: number;
  readonly batch: EncodedBatch;
}
export type LineReply =
  | { readonly id: number; readonly bytes: Uint8Array<ArrayBuffer> }
  | { readonly id: number; readonly error: string };

const masker = createPiiMasker((workerData as LineWorkerData).masker);
const encoder = new TextEncoder();

/** A batch's lines as UTF-8 bytes. */
function renderBytes(batch: EncodedBatch): Uint8Array<ArrayBuffer> {
  const { text, rows } = renderLines(batch, masker);
  if (rows !== batch.lines) throw new Error(`Made ${rows} lines of a batch of ${batch.lines}`);
  return encoder.encode(text);
}

parentPort?.on("message", ({ id, batch }: LineTask) => {
  let reply: LineReply;
  try {
    reply = { id, bytes: renderBytes(batch) };
  } catch (error) {
    reply = { id, error: error instanceof Error ? error.message : String(error) };
  }
  // TextEncoder gives the bytes a buffer of their own, which can be moved.
  parentPort?.postMessage(reply, "bytes" in reply ? [reply.bytes.buffer] : []);
});
