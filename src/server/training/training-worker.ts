/**
 * Worker-thread entry for one training job: ingest the dataset file, fit the recipe, search
 * models, and send back the artifact bytes. Training is CPU-bound for seconds to minutes; in
 * a worker it never stalls the event loop that serves predictions.
 */
import { parentPort, workerData } from "node:worker_threads";
import type { ColumnType } from "../../data/frame.ts";
import { applyTypeOverrides, ingestFile } from "../../data/index.ts";
import type { FileFormat } from "../../data/ingest.ts";
import { trainModel } from "../../models/train.ts";

export interface TrainingWorkerInput {
  readonly filePath: string;
  readonly format: FileFormat;
  /** Column types a person chose that differ from inference. */
  readonly types: Record<string, ColumnType>;
  readonly target: string;
  readonly exclude: readonly string[];
  /** Columns to keep even when the target analysis flags them (leaks, ID-like). */
  readonly include?: readonly string[];
  readonly metric?: string;
  readonly timeBudgetMs: number;
  readonly seed: number;
  readonly dataset: { readonly id: string; readonly name: string };
}

export type TrainingWorkerMessage =
  | {
      readonly type: "progress";
      readonly progress: {
        candidatesTried: number;
        candidatesPlanned: number;
        best?: { learner: string; score: number };
        elapsedMs: number;
        timeBudgetMs: number;
        message: string;
      };
    }
  | { readonly type: "done"; readonly bytes: Uint8Array }
  | { readonly type: "error"; readonly code: string; readonly message: string };

async function run(input: TrainingWorkerInput): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error("training-worker must run in a worker thread");
  const post = (message: TrainingWorkerMessage, transfer: ArrayBuffer[] = []) =>
    port.postMessage(message, transfer);
  try {
    const ingested = await ingestFile(input.filePath, { format: input.format });
    const { frame, schema } =
      Object.keys(input.types).length > 0
        ? applyTypeOverrides(ingested.frame, input.types)
        : { frame: ingested.frame, schema: ingested.schema };
    const { bytes } = await trainModel(frame, schema, {
      target: input.target,
      exclude: input.exclude,
      include: input.include ?? [],
      ...(input.metric ? { metric: input.metric } : {}),
      timeBudgetMs: input.timeBudgetMs,
      seed: input.seed,
      dataset: input.dataset,
      onProgress: (p) =>
        post({
          type: "progress",
          progress: {
            candidatesTried: p.candidatesTried,
            candidatesPlanned: p.candidatesPlanned,
            ...(p.best ? { best: { learner: p.best.learner, score: p.best.score } } : {}),
            elapsedMs: p.elapsedMs,
            timeBudgetMs: p.timeBudgetMs,
            message: p.message,
          },
        }),
    });
    const copy = bytes.slice();
    post({ type: "done", bytes: copy }, [copy.buffer as ArrayBuffer]);
  } catch (error) {
    const err = error as Error & { code?: string };
    post({
      type: "error",
      code: typeof err.code === "string" ? err.code : "training_failed",
      message: err.message ?? String(error),
    });
  }
}

if (parentPort) void run(workerData as TrainingWorkerInput);
