/**
 * A trained GBDT: the flat forest plus the constant base score, predicting with no allocation
 * per row. Serializes to a JSON header and the forest's typed arrays, and loads back to a
 * model whose predictions are bit-for-bit the same.
 */
import { checkSameFeatures } from "../feature-matrix.ts";
import { linkInPlace } from "../link.ts";
import type { FeatureInfo, FeatureMatrix, SerializedModel, Task, TrainedModel } from "../types.ts";
import type { Forest } from "./forest.ts";
import { FLAG_CATEGORICAL, leafIndex } from "./forest.ts";

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
  private readonly scratch: Float64Array;

  constructor(
    readonly task: Task,
    readonly features: readonly FeatureInfo[],
    readonly forest: Forest,
    /** Raw score of each output before any tree. */
    readonly baseScore: Float64Array,
    readonly info: GbdtTrainingInfo,
  ) {
    this.outputSize = baseScore.length;
    this.scratch = new Float64Array(this.outputSize);
  }

  /** Boosting rounds in the model (AutoML reuses it when refitting without validation). */
  get rounds(): number {
    return this.info.rounds;
  }

  /** Raw (pre-link) scores of one row into out; feature f of the row is data[base + f*stride]. */
  rawScores(data: Float64Array, base: number, stride: number, out: Float64Array): void {
    const k = this.outputSize;
    const forest = this.forest;
    const roots = forest.roots;
    const value = forest.value;
    for (let c = 0; c < k; c++) out[c] = this.baseScore[c] as number;
    let c = 0;
    for (let t = 0; t < roots.length; t++) {
      out[c] =
        (out[c] as number) +
        (value[leafIndex(forest, roots[t] as number, data, base, stride)] as number);
      c = c + 1 === k ? 0 : c + 1;
    }
  }

  predictRow(row: Float64Array, out: Float64Array): void {
    this.rawScores(row, 0, 1, out);
    linkInPlace(this.task, out);
  }

  predictBatch(X: FeatureMatrix): Float64Array {
    checkSameFeatures(X, this.features.length);
    const n = X.rowCount;
    const k = this.outputSize;
    const result = new Float64Array(n * k);
    const out = this.scratch;
    for (let r = 0; r < n; r++) {
      this.rawScores(X.data, r, n, out);
      linkInPlace(this.task, out);
      for (let c = 0; c < k; c++) result[r * k + c] = out[c] as number;
    }
    return result;
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
