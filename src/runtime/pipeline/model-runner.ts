/**
 * How a model step scores a request's rows: on the event loop for small requests (Ballast's
 * models answer one row in microseconds), in the app version's worker pool for batches large
 * enough to stall other requests, and through onnxruntime (its own threads) for imported
 * models. Every caller-caused failure becomes an InvalidInputError naming the row and field.
 */
import { EncodeError } from "../../features/recipe.ts";
import { OnnxPredictor, OnnxRunError } from "../../models/onnx/onnx-predictor.ts";
import type { Prediction, Predictor } from "../../models/predictor.ts";
import { InvalidInputError } from "../errors.ts";
import { type AppWorkerPool, BatchRowError } from "../worker-pool/app-worker-pool.ts";

export interface ModelRunOptions {
  readonly unknownCategories: "bucket" | "reject";
  readonly explain: boolean;
  readonly signal: AbortSignal;
  /**
   * Filled, when given, with each row as the model encoded it (rows × `encodedWidth`), for
   * drift; only in-thread prediction (a request `cancellable` says waits on nothing) fills it.
   * A plain array: a Float64Array this small keeps its bytes off the heap, which costs a
   * request more to allocate than the copy itself.
   */
  readonly encoded?: number[];
}

/** A row's position in the request body, for error paths: "" for one record, "/rows/3" in a batch. */
export type RowPaths = (index: number) => string;

export interface ModelRunner {
  /**
   * Whether predicting this many rows waits on something (a worker thread, onnxruntime) that
   * a deadline can cancel. In-thread prediction is synchronous: microseconds per row, and
   * nothing can interrupt it, so no deadline is armed for it.
   */
  cancellable(rows: number): boolean;
  /** Width of an encoded row in-thread prediction hands on in `encoded` (0: none, ONNX). */
  readonly encodedWidth: number;
  predict(
    records: readonly Record<string, unknown>[],
    paths: RowPaths,
    options: ModelRunOptions,
  ): Promise<Prediction[]>;
  /**
   * The same, synchronously, for a request `cancellable` says waits on nothing (in-thread
   * prediction); throws for one that would need a thread or onnxruntime.
   */
  predictNow(
    records: readonly Record<string, unknown>[],
    paths: RowPaths,
    options: Omit<ModelRunOptions, "signal">,
  ): Prediction[];
}

function encodeProblem(error: EncodeError, path: string): InvalidInputError {
  return new InvalidInputError("invalid_input", error.message, [
    { path: `${path}/${error.field}`, message: error.message },
  ]);
}

/**
 * A runner for one loaded model. `pool` (Ballast's own models only) takes batches of at least
 * `minBatchRows` rows; smaller requests stay on the event loop, where they cost less than the
 * hand-off to a thread.
 */
export function modelRunner(
  predictor: Predictor | OnnxPredictor,
  pool?: {
    /** The pool, started on the first batch that needs it. */
    readonly get: () => AppWorkerPool;
    readonly minBatchRows: number;
  },
): ModelRunner {
  const cancellable = (rows: number) =>
    predictor instanceof OnnxPredictor || (pool !== undefined && rows >= pool.minBatchRows);
  /** In-thread prediction, row by row, the first row the recipe cannot encode named. */
  const inThread = (
    model: Predictor,
    records: readonly Record<string, unknown>[],
    paths: RowPaths,
    predictOptions: { unknownCategories: "bucket" | "reject"; explain: boolean },
    encoded: number[] | undefined,
  ): Prediction[] => {
    const out: Prediction[] = new Array(records.length);
    for (let i = 0; i < records.length; i++) {
      try {
        out[i] = model.predict(records[i] as Record<string, unknown>, predictOptions);
        if (encoded) {
          const row = model.encodedRow;
          for (let f = 0, at = i * row.length; f < row.length; f++)
            encoded[at + f] = row[f] as number;
        }
      } catch (error) {
        if (error instanceof EncodeError) throw encodeProblem(error, paths(i));
        throw error;
      }
    }
    return out;
  };
  return {
    cancellable,
    encodedWidth: predictor instanceof OnnxPredictor ? 0 : predictor.recipe.width,
    predictNow(records, paths, options) {
      if (predictor instanceof OnnxPredictor || cancellable(records.length)) {
        throw new Error("predictNow: this request must go through predict()");
      }
      return inThread(
        predictor,
        records,
        paths,
        { unknownCategories: options.unknownCategories, explain: options.explain },
        options.encoded,
      );
    },
    async predict(records, paths, options) {
      const predictOptions = {
        unknownCategories: options.unknownCategories,
        explain: options.explain,
      };
      if (pool && records.length >= pool.minBatchRows) {
        try {
          return await pool.get().predictBatch(records, predictOptions, options.signal);
        } catch (error) {
          if (error instanceof BatchRowError && error.error instanceof EncodeError) {
            throw encodeProblem(error.error, paths(error.index));
          }
          throw error;
        }
      }
      if (predictor instanceof OnnxPredictor) {
        // Rows predicted in the same tick share one onnxruntime run.
        try {
          return await Promise.all(
            records.map((record) => predictor.predict(record, predictOptions)),
          );
        } catch (error) {
          // Inputs passed the contract, yet the imported model could not compute on them.
          if (error instanceof OnnxRunError) {
            throw new InvalidInputError("model_rejected_input", error.message, [], 422);
          }
          if (error instanceof EncodeError) throw encodeProblem(error, paths(0));
          throw error;
        }
      }
      return inThread(predictor, records, paths, predictOptions, options.encoded);
    },
  };
}
