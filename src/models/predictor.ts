/**
 * A model ready to answer requests: the decoded artifact, its compiled recipe and its learner,
 * with scratch buffers reused across calls so a single-row prediction allocates almost nothing.
 */
import type { EncodeOptions } from "../features/recipe.ts";
import { CompiledRecipe, featureWidth } from "../features/recipe.ts";
import { loadModel } from "../learn/index.ts";
import type { TrainedModel } from "../learn/types.ts";
import type { ModelArtifact } from "./artifact.ts";
import { decodeArtifact } from "./artifact.ts";

/**
 * What an explanation's numbers add up to (base + Σ contributions):
 * - `log-odds`: log(p / (1 − p)) of the class named in `class` (binary);
 * - `softmax-logit`: the named class's raw score; probabilities are the softmax of all
 *   classes' scores (multiclass);
 * - `raw`: the prediction itself (regression);
 * - `log`: the natural log of the prediction (regression with a log link: log-target, Poisson).
 */
export type ExplanationScale = "log-odds" | "softmax-logit" | "raw" | "log";

/** Why the model predicted what it did, as additive contributions of the caller's columns. */
export interface Explanation {
  /** For classification: the class the contributions are for (binary: the positive class). */
  readonly class?: string;
  readonly scale: ExplanationScale;
  /** The expected score over the training data, before any column is known. */
  readonly base: number;
  /** Per input column (datetime parts summed into their column). */
  readonly contributions: Record<string, number>;
}

export interface Prediction {
  /** The class label, or the predicted value for regression. */
  readonly prediction: string | number;
  /** Probability per class label, for classification. */
  readonly probabilities?: Record<string, number>;
  /** Present when asked for with `explain`. */
  readonly explanation?: Explanation;
}

export interface PredictOptions extends EncodeOptions {
  /** Also explain the prediction (exact SHAP values). Needs {@link Predictor.canExplain}. */
  readonly explain?: boolean;
}

/** The model cannot explain its predictions (an imported or older model without explainRow). */
export class ExplainUnsupportedError extends Error {
  constructor() {
    super("This model cannot explain its predictions");
    this.name = "ExplainUnsupportedError";
  }
}

export class Predictor {
  readonly recipe: CompiledRecipe;
  readonly model: TrainedModel;
  private readonly row: Float64Array;
  private readonly out: Float64Array;
  /** Explanation buffer, allocated on the first explained request. */
  private contributions: Float64Array | undefined;
  /** The input column each matrix feature comes from. */
  private readonly featureColumns: readonly string[];

  constructor(readonly artifact: ModelArtifact) {
    this.recipe = new CompiledRecipe(artifact.header.recipe);
    this.model = loadModel(artifact.model);
    this.row = new Float64Array(this.recipe.width);
    this.out = new Float64Array(this.model.outputSize);
    this.featureColumns = artifact.header.recipe.inputs.flatMap((input) =>
      Array.from({ length: featureWidth(input) }, () => input.column),
    );
  }

  static fromBytes(bytes: Uint8Array): Predictor {
    return new Predictor(decodeArtifact(bytes));
  }

  get task() {
    return this.artifact.header.task;
  }

  /**
   * The row the last `predict` encoded (the recipe's width), valid until the next call: the
   * model runner copies it for drift, which then need not encode the record again.
   */
  get encodedRow(): Float64Array {
    return this.row;
  }

  /**
   * Run the model once on a row of missing values, so work a model defers to its first
   * prediction (the GBDT compiles its prediction kernel then: up to a few hundred ms for
   * large forests) happens when an app is loaded, not inside a caller's request.
   */
  warm(): void {
    this.row.fill(Number.NaN);
    this.model.predictRow(this.row, this.out);
  }

  /** Whether `predict(record, { explain: true })` works for this model. */
  get canExplain(): boolean {
    return this.model.explainRow !== undefined;
  }

  /**
   * Predict one record. Throws EncodeError (naming the field) for a value it cannot use, and
   * ExplainUnsupportedError when asked to explain a model that cannot.
   */
  predict(record: Readonly<Record<string, unknown>>, options: PredictOptions = {}): Prediction {
    this.recipe.encodeRecord(record, this.row, options);
    this.model.predictRow(this.row, this.out);
    const prediction = this.interpret(this.out);
    if (options.explain !== true) return prediction;
    return { ...prediction, explanation: this.explain() };
  }

  private interpret(out: Float64Array): Prediction {
    const task = this.artifact.header.task;
    if (task.kind === "regression") return { prediction: out[0] ?? Number.NaN };
    const classes = this.artifact.header.recipe.target.classes ?? [];
    const probabilities: Record<string, number> = {};
    const best = this.predictedClass(out);
    if (task.kind === "binary") {
      const p1 = out[0] ?? 0;
      probabilities[classes[0] ?? "0"] = 1 - p1;
      probabilities[classes[1] ?? "1"] = p1;
    } else {
      for (let k = 0; k < classes.length; k++) probabilities[classes[k] ?? String(k)] = out[k] ?? 0;
    }
    return { prediction: classes[best] ?? String(best), probabilities };
  }

  /** Index of the predicted class: the first most probable one (binary: p ≥ 0.5 is class 1). */
  private predictedClass(out: Float64Array): number {
    const task = this.artifact.header.task;
    if (task.kind === "binary") return (out[0] ?? 0) >= 0.5 ? 1 : 0;
    let best = 0;
    for (let k = 1; k < out.length; k++) if ((out[k] ?? 0) > (out[best] ?? 0)) best = k;
    return best;
  }

  /**
   * Explain the row in `this.row`, whose prediction is in `this.out`: binary models explain
   * the positive class, multiclass models the predicted class.
   */
  private explain(): Explanation {
    const model = this.model;
    if (!model.explainRow) throw new ExplainUnsupportedError();
    const width = this.recipe.width;
    const size = (width + 1) * model.outputSize;
    if (this.contributions?.length !== size) this.contributions = new Float64Array(size);
    const phi = this.contributions;
    model.explainRow(this.row, phi);
    const task = this.artifact.header.task;
    const classes = this.artifact.header.recipe.target.classes ?? [];
    const output = task.kind === "multiclass" ? this.predictedClass(this.out) : 0;
    const offset = output * (width + 1);
    const contributions: Record<string, number> = {};
    let total = phi[offset + width] ?? 0;
    for (let f = 0; f < width; f++) {
      const column = this.featureColumns[f] ?? String(f);
      const value = phi[offset + f] ?? 0;
      contributions[column] = (contributions[column] ?? 0) + value;
      total += value;
    }
    const base = phi[offset + width] ?? 0;
    if (task.kind === "binary")
      return { class: classes[1] ?? "1", scale: "log-odds", base, contributions };
    if (task.kind === "multiclass") {
      return {
        class: classes[output] ?? String(output),
        scale: "softmax-logit",
        base,
        contributions,
      };
    }
    return { scale: regressionScale(total, this.out[0] ?? Number.NaN), base, contributions };
  }
}

/**
 * A regression model either predicts its margin directly or exp(margin) (log-target models,
 * Poisson GBDT). The numbers tell which without knowing the learner: the margin t equals the
 * prediction y or log(y), and never both, since x − log(x) ≥ 1 for every x > 0.
 */
function regressionScale(total: number, prediction: number): ExplanationScale {
  if (!(prediction > 0)) return "raw";
  return Math.abs(total - Math.log(prediction)) < Math.abs(total - prediction) ? "log" : "raw";
}
