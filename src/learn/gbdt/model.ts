/**
 * A trained GBDT: the flat forest plus the constant base score, predicting with no allocation
 * per row. Serializes to a JSON header and the forest's typed arrays, and loads back to a
 * model whose predictions are bit-for-bit the same. Prediction runs on a scorer compiled from
 * the serialized arrays on first use (the WebAssembly kernel of wasm-predict.ts, or the
 * TypeScript one of compiled.ts where that cannot run).
 */
import { checkSameFeatures } from "../feature-matrix.ts";
import { sigmoid } from "../link.ts";
import type { FeatureInfo, FeatureMatrix, SerializedModel, Task, TrainedModel } from "../types.ts";
import type { ForestScorer } from "./compiled.ts";
import { compileForest } from "./compiled.ts";
import type { Forest } from "./forest.ts";
import { FLAG_CATEGORICAL } from "./forest.ts";
import type { RegressionObjective } from "./objective.ts";
import { treeShapOf } from "./shap.ts";

/**
 * How raw scores become outputs: logistic (binary), softmax (multiclass), exp (Poisson
 * regression, log link) or identity (other regression losses).
 */
export type GbdtLink = "logistic" | "softmax" | "exp" | "identity";

/** The link of a model trained on `task` with the regression objective (from its params). */
export function linkOf(task: Task, objective: unknown): GbdtLink {
  if (task.kind === "binary") return "logistic";
  if (task.kind === "multiclass") return "softmax";
  return objective === ("poisson" satisfies RegressionObjective) ? "exp" : "identity";
}

/** What the fit recorded about itself, kept in the serialized header. */
export interface GbdtTrainingInfo {
  /** Boosting rounds kept in the model (the best iteration when early stopping ran). */
  readonly rounds: number;
  /** Rounds actually run before stopping. */
  readonly roundsRun: number;
  /** The resolved parameters the model was trained with. */
  readonly params: Readonly<Record<string, unknown>>;
  /** Best validation loss, when a validation set was given. */
  readonly validationLoss?: number;
}

const FORMAT_VERSION = 1;

export class GbdtModel implements TrainedModel {
  readonly learner = "gbdt";
  readonly outputSize: number;
  /** Raw scores → outputs; "exp" for Poisson models (ONNX export needs it too). */
  readonly link: GbdtLink;
  private scorer: ForestScorer | null = null;

  constructor(
    readonly task: Task,
    readonly features: readonly FeatureInfo[],
    readonly forest: Forest,
    /** Raw score of each output before any tree. */
    readonly baseScore: Float64Array,
    readonly info: GbdtTrainingInfo,
  ) {
    this.outputSize = baseScore.length;
    this.link = linkOf(task, info.params.objective);
  }

  /**
   * The prediction layout of `forest`, compiled on first use: models that are only trained and
   * serialized (AutoML candidates, worker results) never pay for it.
   */
  /** Whether the prediction kernel has been built yet (it is built on first prediction). */
  get isCompiled(): boolean {
    return this.scorer !== null;
  }

  get compiled(): ForestScorer {
    if (this.scorer === null) this.scorer = compileForest(this.forest, this.outputSize);
    return this.scorer;
  }

  /** Boosting rounds in the model (AutoML reuses it when refitting without validation). */
  get rounds(): number {
    return this.info.rounds;
  }

  /** Raw (pre-link) scores of one row into out; feature f of the row is data[base + f*stride]. */
  rawScores(data: Float64Array, base: number, stride: number, out: Float64Array): void {
    const k = this.outputSize;
    for (let c = 0; c < k; c++) out[c] = this.baseScore[c] as number;
    this.compiled.addStrided(data, base, stride, out);
  }

  /** Raw (pre-link) scores of every row of X, row-major (rowCount * outputSize). */
  rawBatch(X: FeatureMatrix): Float64Array {
    checkSameFeatures(X, this.features.length);
    const result = new Float64Array(X.rowCount * this.outputSize);
    this.compiled.scoreMatrix(X.data, X.rowCount, this.baseScore, result);
    return result;
  }

  /** One row (length = feature count) into out (length = outputSize), allocating nothing. */
  predictRow(row: Float64Array, out: Float64Array): void {
    const k = this.outputSize;
    for (let c = 0; c < k; c++) out[c] = this.baseScore[c] as number;
    this.compiled.addRow(row, 0, out);
    this.applyLink(out, 0);
  }

  /** Every row of X, row-major; allocates only the result. */
  predictBatch(X: FeatureMatrix): Float64Array {
    const result = this.rawBatch(X);
    const k = this.outputSize;
    for (let at = 0; at < result.length; at += k) this.applyLink(result, at);
    return result;
  }

  /** The link, in place, on the scores out[at .. at + outputSize). */
  private applyLink(out: Float64Array, at: number): void {
    switch (this.link) {
      case "logistic":
        out[at] = sigmoid(out[at] as number);
        return;
      case "exp":
        out[at] = Math.exp(out[at] as number);
        return;
      case "softmax": {
        // Same operations, in the same order, as link.ts softmaxInPlace.
        const end = at + this.outputSize;
        let max = Number.NEGATIVE_INFINITY;
        for (let i = at; i < end; i++) if ((out[i] as number) > max) max = out[i] as number;
        let sum = 0;
        for (let i = at; i < end; i++) {
          const e = Math.exp((out[i] as number) - max);
          out[i] = e;
          sum += e;
        }
        for (let i = at; i < end; i++) out[i] = (out[i] as number) / sum;
        return;
      }
      case "identity":
        return;
    }
  }

  /** Exact TreeSHAP contributions of one row, summing to its raw score (see shap.ts). */
  explainRow(row: Float64Array, out: Float64Array): void {
    treeShapOf(this.forest, this.baseScore, this.features.length).explainRow(row, out);
  }

  /** Total split gain per feature over all trees. */
  featureImportance(): Float64Array {
    const importance = new Float64Array(this.features.length);
    const { feature, gain } = this.forest;
    for (let i = 0; i < feature.length; i++) {
      const f = feature[i] as number;
      if (f >= 0) importance[f] = (importance[f] as number) + (gain[i] as number);
    }
    return importance;
  }

  serialize(): SerializedModel {
    const f = this.forest;
    return {
      learner: this.learner,
      meta: {
        version: FORMAT_VERSION,
        task: { kind: this.task.kind, classCount: this.task.classCount },
        features: this.features.map((x) => ({ ...x })),
        info: { ...this.info },
      },
      arrays: {
        baseScore: this.baseScore.slice(),
        feature: f.feature.slice(),
        threshold: f.threshold.slice(),
        left: f.left.slice(),
        right: f.right.slice(),
        value: f.value.slice(),
        flags: f.flags.slice(),
        gain: f.gain.slice(),
        cover: f.cover.slice(),
        catBits: f.catBits.slice(),
        roots: f.roots.slice(),
        cardinality: f.cardinality.slice(),
      },
    };
  }

  /** Restore a model from `serialize()` output, checking shapes so a corrupt file fails loudly. */
  static fromSerialized(serialized: SerializedModel): GbdtModel {
    if (serialized.learner !== "gbdt") throw new Error(`not a gbdt model: ${serialized.learner}`);
    const meta = serialized.meta;
    if (meta.version !== FORMAT_VERSION)
      throw new Error(`unsupported gbdt model version ${String(meta.version)}`);
    const task = meta.task as Task;
    const features = meta.features as FeatureInfo[];
    const info = meta.info as GbdtTrainingInfo;
    if (!task || !Array.isArray(features) || !info)
      throw new Error("gbdt model header is incomplete");
    const a = serialized.arrays;
    const forest: Forest = {
      feature: typed(a.feature, Int32Array, "feature"),
      threshold: typed(a.threshold, Float64Array, "threshold"),
      left: typed(a.left, Int32Array, "left"),
      right: typed(a.right, Int32Array, "right"),
      value: typed(a.value, Float64Array, "value"),
      flags: typed(a.flags, Uint8Array, "flags"),
      gain: typed(a.gain, Float64Array, "gain"),
      cover: typed(a.cover, Float64Array, "cover"),
      catBits: typed(a.catBits, Uint32Array, "catBits"),
      roots: typed(a.roots, Int32Array, "roots"),
      cardinality: typed(a.cardinality, Int32Array, "cardinality"),
    };
    const baseScore = typed(a.baseScore, Float64Array, "baseScore");
    checkForest(forest, features.length);
    return new GbdtModel(task, features, forest, baseScore, info);
  }
}

function typed<T extends Int32Array | Float64Array | Uint8Array | Uint32Array>(
  value: unknown,
  type: { new (length: number): T; prototype: T },
  name: string,
): T {
  if (!(value instanceof type))
    throw new Error(`gbdt model array "${name}" is missing or has the wrong type`);
  return value;
}

/** Reject forests whose indices point outside their arrays (a truncated or tampered file). */
function checkForest(forest: Forest, width: number): void {
  const n = forest.feature.length;
  for (const arr of [forest.threshold, forest.left, forest.right, forest.value, forest.flags]) {
    if (arr.length !== n) throw new Error("gbdt model node arrays differ in length");
  }
  if (forest.cardinality.length !== width)
    throw new Error("gbdt model cardinality does not match features");
  for (const root of forest.roots)
    if (!(root >= 0 && root < n)) throw new Error("gbdt model tree root out of range");
  for (let i = 0; i < n; i++) {
    const f = forest.feature[i] as number;
    if (f < 0) continue;
    const l = forest.left[i] as number;
    const r = forest.right[i] as number;
    // Children always come after their parent, so traversal terminates.
    if (f >= width || !(l > i && l < n) || !(r > i && r < n))
      throw new Error(`gbdt model node ${i} is malformed`);
    if (((forest.flags[i] as number) & FLAG_CATEGORICAL) !== 0) {
      const words = ((forest.cardinality[f] as number) + 31) >>> 5;
      const start = forest.threshold[i] as number;
      if (!(Number.isInteger(start) && start >= 0 && start + words <= forest.catBits.length)) {
        throw new Error(`gbdt model node ${i} has a bad category bitset`);
      }
    }
  }
}
