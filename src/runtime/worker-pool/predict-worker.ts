/**
 * One thread of an app version's worker pool (app-worker-pool.ts). Piscina imports this module
 * once per thread, before the thread reports ready: it loads the model from the artifact bytes
 * in `workerData` and warms it (the GBDT compiles its prediction kernel then), so no batch pays
 * for either. Each task is one batch, predicted row by row exactly as the in-thread Predictor
 * does. A row the recipe cannot encode comes back as data, not as a thrown error, because an
 * Error's own fields (the EncodeError's `field`) do not survive the trip between threads.
 */
import { workerData } from "node:worker_threads";
import { EncodeError } from "../../features/recipe.ts";
import type { Prediction } from "../../models/predictor.ts";
import { ExplainUnsupportedError, Predictor } from "../../models/predictor.ts";

/** What every thread of a pool starts with: the app version's artifact (shared, not copied). */
export interface PredictWorkerData {
  readonly artifact: Uint8Array;
}

/** One batch: records already validated against the app's contract. */
export interface PredictTask {
  readonly records: readonly Readonly<Record<string, unknown>>[];
  readonly unknownCategories: "bucket" | "reject";
  readonly explain: boolean;
}

/** A batch's answer: every prediction, or why the first failing row failed. */
export type PredictTaskResult =
  | { readonly ok: true; readonly predictions: Prediction[] }
  | {
      readonly ok: false;
      readonly kind: "encode";
      readonly index: number;
      readonly field: string;
      readonly message: string;
    }
  | { readonly ok: false; readonly kind: "explain_unsupported" };

function isWorkerData(data: unknown): data is PredictWorkerData {
  return (
    typeof data === "object" &&
    data !== null &&
    "artifact" in data &&
    data.artifact instanceof Uint8Array
  );
}

function load(data: unknown): Predictor {
  if (!isWorkerData(data)) {
    throw new Error("predict-worker: start it through AppWorkerPool (workerData has no artifact)");
  }
  const predictor = Predictor.fromBytes(data.artifact);
  predictor.warm();
  return predictor;
}

const predictor = load(workerData);

/** Predict a batch; piscina calls the default export for each task. */
export default function predictBatch(task: PredictTask): PredictTaskResult {
  const options = { unknownCategories: task.unknownCategories, explain: task.explain };
  const predictions: Prediction[] = new Array(task.records.length);
  for (let index = 0; index < task.records.length; index++) {
    try {
      predictions[index] = predictor.predict(task.records[index] ?? {}, options);
    } catch (error) {
      if (error instanceof EncodeError) {
        return { ok: false, kind: "encode", index, field: error.field, message: error.message };
      }
      if (error instanceof ExplainUnsupportedError)
        return { ok: false, kind: "explain_unsupported" };
      throw error;
    }
  }
  return { ok: true, predictions };
}
