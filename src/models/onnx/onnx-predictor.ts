/**
 * Serving an imported ONNX model: one onnxruntime InferenceSession per loaded model version,
 * created once and reused by every request. Records go through the Recipe built from the
 * declared schema (the same encoding and contract as Ballast's own models) into the model's
 * [N, F] input tensor. Rows predicted in the same tick (the rows of a batch request, or
 * concurrent requests) are coalesced into one session run.
 */
import * as ort from "onnxruntime-node";
import type { EncodeOptions } from "../../features/recipe.ts";
import { CompiledRecipe } from "../../features/recipe.ts";
import type { Task } from "../../learn/types.ts";
import type { ModelArtifact } from "../artifact.ts";
import { ArtifactError, decodeArtifact } from "../artifact.ts";
import type { Prediction } from "../predictor.ts";

/** Name of the learner recorded for imported models. */
export const ONNX_LEARNER = "onnx";

/** How to read the output tensor. */
export type OutputLayout =
  /** [N, K] probabilities, one column per class. */
  | "classes"
  /** [N, 1] or [N]: probability of the second (positive) class of a binary model. */
  | "positive"
  /** [N, 1] or [N]: the predicted value. */
  | "value";

/** What the artifact of an imported model records about feeding and reading it. */
export interface OnnxServingMeta {
  readonly input: string;
  readonly output: string;
  readonly inputType: "float32" | "float64";
  /** Largest rows per run: 1 when the model's batch dimension is fixed at 1, else 0 (any). */
  readonly maxBatch: number;
  readonly layout: OutputLayout;
  /** SHA-256 of the original .onnx file. */
  readonly sha256: string;
  readonly producer: string;
}

/** onnxruntime failed while running the model on validated inputs. */
export class OnnxRunError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "OnnxRunError";
  }
}

/** The original .onnx bytes inside an imported model's artifact. */
export function onnxBytesOf(artifact: ModelArtifact): Uint8Array {
  const bytes = artifact.model.arrays.onnx;
  if (artifact.model.learner !== ONNX_LEARNER || !(bytes instanceof Uint8Array))
    throw new ArtifactError("Not an imported ONNX model artifact");
  return bytes;
}

/**
 * Session options for serving: one thread per run, since requests already run in parallel;
 * onnxruntime's own error log is silenced because every failure is reported to the caller.
 */
export const SESSION_OPTIONS: ort.InferenceSession.SessionOptions = {
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  graphOptimizationLevel: "all",
  logSeverityLevel: 4,
};

/**
 * Run the session and return one output. Only that output is fetched (others may be types
 * onnxruntime-node cannot convert, such as a ZipMap's sequence of maps). onnxruntime-node
 * 1.23 files a lone fetched output under the name of the model's output at the same position
 * (microsoft/onnxruntime#26865), so the single returned value is taken whatever its key.
 */
export async function fetchOutput(
  session: ort.InferenceSession,
  feeds: ort.InferenceSession.FeedsType,
  output: string,
): Promise<ort.Tensor | undefined> {
  const result = await session.run(feeds, [output]);
  const values = Object.values(result);
  return result[output] ?? (values.length === 1 ? values[0] : undefined);
}

interface Pending {
  readonly row: Float64Array;
  readonly resolve: (prediction: Prediction) => void;
  readonly reject: (error: unknown) => void;
}

/** Options of {@link OnnxPredictor.predict}: the Predictor's, where `explain` is refused. */
export interface OnnxPredictOptions extends EncodeOptions {
  readonly explain?: boolean;
}

/** Counters of a predictor's onnxruntime runs (coalescing shows as rows > runs). */
export interface OnnxRunStats {
  runs: number;
  rows: number;
}

/** An imported model ready to answer requests; same role as {@link Predictor}. */
export class OnnxPredictor {
  readonly kind = "onnx" as const;
  /** Imported models carry no explanation method (SHAP needs the model's structure). */
  readonly canExplain = false;
  readonly recipe: CompiledRecipe;
  readonly meta: OnnxServingMeta;
  readonly stats: OnnxRunStats = { runs: 0, rows: 0 };
  private pending: Pending[] = [];
  private scheduled = false;

  private constructor(
    readonly artifact: ModelArtifact,
    private readonly session: ort.InferenceSession,
  ) {
    this.recipe = new CompiledRecipe(artifact.header.recipe);
    this.meta = artifact.model.meta as unknown as OnnxServingMeta;
  }

  /** Load an imported model's artifact; creates its InferenceSession. */
  static async create(artifact: ModelArtifact): Promise<OnnxPredictor> {
    const session = await ort.InferenceSession.create(onnxBytesOf(artifact), SESSION_OPTIONS);
    return new OnnxPredictor(artifact, session);
  }

  static async fromBytes(bytes: Uint8Array): Promise<OnnxPredictor> {
    return OnnxPredictor.create(decodeArtifact(bytes));
  }

  get task(): Task {
    return this.artifact.header.task;
  }

  /**
   * Predict one record. Encoding errors (EncodeError, naming the field) are thrown before
   * anything runs; a failure inside onnxruntime rejects with OnnxRunError.
   */
  predict(
    record: Readonly<Record<string, unknown>>,
    options: OnnxPredictOptions = {},
  ): Promise<Prediction> {
    if (options.explain === true)
      throw new Error("An imported ONNX model cannot explain its predictions");
    const row = new Float64Array(this.recipe.width);
    this.recipe.encodeRecord(record, row, options);
    return new Promise<Prediction>((resolve, reject) => {
      this.pending.push({ row, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        queueMicrotask(() => void this.flush());
      }
    });
  }

  /** Predict many records in one run (all are encoded first, so one bad record runs nothing). */
  predictMany(
    records: readonly Readonly<Record<string, unknown>>[],
    options: EncodeOptions = {},
  ): Promise<Prediction[]> {
    const width = this.recipe.width;
    const rows = new Float64Array(records.length * width);
    const row = new Float64Array(width);
    records.forEach((record, r) => {
      this.recipe.encodeRecord(record, row, options);
      rows.set(row, r * width);
    });
    return this.predictEncoded(rows, records.length);
  }

  /** Predict rows already encoded by the recipe (row-major, rowCount × recipe.width). */
  async predictEncoded(rows: Float64Array, rowCount: number): Promise<Prediction[]> {
    const values = await this.run(rows, rowCount);
    return Array.from({ length: rowCount }, (_, r) => this.interpret(values, r));
  }

  /**
   * Run the model on encoded rows and return the output tensor's values as float64, checking
   * that its size matches the layout (rows × classes, or rows).
   */
  async run(rows: Float64Array, rowCount: number): Promise<Float64Array> {
    const width = this.recipe.width;
    const per = this.meta.layout === "classes" ? (this.task.classCount as number) : 1;
    const out = new Float64Array(rowCount * per);
    const step = this.meta.maxBatch > 0 ? this.meta.maxBatch : Math.max(rowCount, 1);
    for (let start = 0; start < rowCount; start += step) {
      const n = Math.min(step, rowCount - start);
      const slice = rows.subarray(start * width, (start + n) * width);
      const data =
        this.meta.inputType === "float64" ? Float64Array.from(slice) : Float32Array.from(slice);
      const feeds = { [this.meta.input]: new ort.Tensor(this.meta.inputType, data, [n, width]) };
      let tensor: ort.Tensor | undefined;
      try {
        tensor = await fetchOutput(this.session, feeds, this.meta.output);
      } catch (error) {
        throw new OnnxRunError(`The ONNX model failed to run: ${(error as Error).message}`);
      }
      if (!tensor || !(tensor.data instanceof Float32Array || tensor.data instanceof Float64Array))
        throw new OnnxRunError(`The ONNX model's output ${this.meta.output} is not a float tensor`);
      if (tensor.data.length !== n * per)
        throw new OnnxRunError(
          `The ONNX model's output ${this.meta.output} has shape [${tensor.dims.join(", ")}]; expected ${n * per} values for ${n} rows`,
        );
      out.set(tensor.data, start * per);
      this.stats.runs++;
      this.stats.rows += n;
    }
    return out;
  }

  /** Release the session's native memory. */
  async close(): Promise<void> {
    await this.session.release();
  }

  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    this.scheduled = false;
    const width = this.recipe.width;
    const rows = new Float64Array(batch.length * width);
    batch.forEach((p, r) => {
      rows.set(p.row, r * width);
    });
    try {
      const predictions = await this.predictEncoded(rows, batch.length);
      batch.forEach((p, r) => {
        p.resolve(predictions[r] as Prediction);
      });
    } catch (error) {
      for (const p of batch) p.reject(error);
    }
  }

  private interpret(values: Float64Array, r: number): Prediction {
    const task = this.task;
    if (task.kind === "regression") return { prediction: values[r] ?? Number.NaN };
    const classes = this.artifact.header.recipe.target.classes ?? [];
    const probabilities: Record<string, number> = {};
    if (this.meta.layout === "positive") {
      const p1 = values[r] ?? Number.NaN;
      probabilities[classes[0] ?? "0"] = 1 - p1;
      probabilities[classes[1] ?? "1"] = p1;
      return { prediction: classes[p1 >= 0.5 ? 1 : 0] ?? "", probabilities };
    }
    const k = classes.length;
    let best = 0;
    for (let c = 0; c < k; c++) {
      const p = values[r * k + c] ?? Number.NaN;
      probabilities[classes[c] ?? String(c)] = p;
      if (p > (values[r * k + best] ?? Number.NaN)) best = c;
    }
    // Binary models predict the second class at a tie, as Ballast's own do.
    if (k === 2 && values[r * 2] === values[r * 2 + 1]) best = 1;
    return { prediction: classes[best] ?? String(best), probabilities };
  }
}
