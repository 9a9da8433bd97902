/**
 * Regularized linear models: logistic regression (binary), softmax regression (multiclass)
 * and elastic-net least squares (regression), fitted by L-BFGS / OWL-QN on the encoded design
 * (see encoding.ts). The loss is the mean over rows plus
 * lambda * ((1 - l1Ratio) / 2 * ||w||^2 + l1Ratio * ||w||_1), intercepts unpenalized. Regression
 * targets are standardized during the fit so lambda means the same whatever the target's unit.
 */
import { checkSameFeatures, checkTrainingInput } from "../feature-matrix.ts";
import { linkInPlace, sigmoid } from "../link.ts";
import type {
  FeatureInfo,
  FeatureMatrix,
  FitOptions,
  Labels,
  Learner,
  SerializedModel,
  Task,
  TrainedModel,
} from "../types.ts";
import type { LinearEncoding, SparseDesign } from "./encoding.ts";
import {
  categoricalColumn,
  encodeMatrix,
  fitEncoding,
  KIND_CATEGORICAL,
  standardize,
} from "./encoding.ts";
import { minimize } from "./optimizer.ts";

/** Hyperparameters of the linear learner. */
export interface LinearParams {
  /** Overall regularization strength (on standardized features). Default 1e-4. */
  readonly lambda?: number;
  /** Share of the penalty that is L1: 0 = ridge, 1 = lasso. Default 0. */
  readonly l1Ratio?: number;
  /** Optimizer iterations. Default 500. */
  readonly maxIterations?: number;
  /** Largest gradient component at convergence. Default 1e-6. */
  readonly tolerance?: number;
}

const FORMAT_VERSION = 1;

interface ResolvedLinearParams {
  readonly lambda: number;
  readonly l1Ratio: number;
  readonly maxIterations: number;
  readonly tolerance: number;
}

function resolve(params: LinearParams): ResolvedLinearParams {
  const lambda = params.lambda ?? 1e-4;
  const l1Ratio = params.l1Ratio ?? 0;
  const maxIterations = params.maxIterations ?? 500;
  const tolerance = params.tolerance ?? 1e-6;
  if (!(lambda >= 0 && Number.isFinite(lambda)))
    throw new RangeError("linear: lambda must be >= 0");
  if (!(l1Ratio >= 0 && l1Ratio <= 1)) throw new RangeError("linear: l1Ratio must be in [0, 1]");
  if (!(Number.isInteger(maxIterations) && maxIterations >= 1)) {
    throw new RangeError("linear: maxIterations must be a positive integer");
  }
  if (!(tolerance > 0)) throw new RangeError("linear: tolerance must be > 0");
  return { lambda, l1Ratio, maxIterations, tolerance };
}

/** Regularized logistic / softmax / least-squares regression. */
export const linear: Learner<LinearParams> = {
  name: "linear",
  fit(X, y, task, params, options = {}) {
    return fitLinear(X, y, task, params, options);
  },
};

/** `linear.fit` with the concrete model type. */
export function fitLinear(
  X: FeatureMatrix,
  y: Labels,
  task: Task,
  params: LinearParams = {},
  options: FitOptions = {},
): LinearModel {
  checkTrainingInput(X, y, task);
  const p = resolve(params);
  const encoding = fitEncoding(X);
  const design = encodeMatrix(encoding, X);
  const k = task.kind === "multiclass" ? task.classCount : 1;
  const n = X.rowCount;
  const d = encoding.width;

  let yMean = 0;
  let yScale = 1;
  let target = y;
  if (task.kind === "regression") {
    for (let i = 0; i < n; i++) yMean += y[i] as number;
    yMean /= n;
    let ss = 0;
    for (let i = 0; i < n; i++) ss += ((y[i] as number) - yMean) ** 2;
    const std = Math.sqrt(ss / n);
    yScale = std > 0 ? std : 1;
    target = new Float64Array(n);
    for (let i = 0; i < n; i++) target[i] = ((y[i] as number) - yMean) / yScale;
  }

  const x0 = new Float64Array((d + 1) * k);
  initIntercepts(task, y, x0, d, k);
  const l2 = p.lambda * (1 - p.l1Ratio);
  let l1: Float64Array | undefined;
  if (p.lambda * p.l1Ratio > 0) {
    l1 = new Float64Array(x0.length);
    l1.fill(p.lambda * p.l1Ratio, 0, d * k);
  }
  const scores = new Float64Array(k);
  const residual = new Float64Array(k);
  const objective = (w: Float64Array, grad: Float64Array): number =>
    lossAndGradient(task, design, target, w, grad, d, k, l2, scores, residual);
  const result = minimize(objective, x0, {
    maxIterations: p.maxIterations,
    tolerance: p.tolerance,
    ...(l1 ? { l1 } : {}),
    onIteration: (i) => {
      options.signal?.throwIfAborted();
      if (i % 10 === 0) options.onProgress?.({ fraction: i / p.maxIterations });
    },
  });
  const importance = contributionSpread(design, result.x, encoding, d, k);
  return new LinearModel(
    task,
    X.features,
    encoding,
    result.x,
    yMean,
    yScale,
    importance,
    { params: { ...p }, iterations: result.iterations, converged: result.converged },
    columnMeans(design, d),
  );
}

/** Mean of every design column over the training rows: the reference point of explanations. */
function columnMeans(design: SparseDesign, d: number): Float64Array {
  const { rowCount: n, index, value } = design;
  const means = new Float64Array(d);
  for (let e = 0; e < index.length; e++) {
    const col = index[e] as number;
    means[col] = (means[col] as number) + (value[e] as number);
  }
  if (n > 0) for (let c = 0; c < d; c++) means[c] = (means[c] as number) / n;
  return means;
}

function initIntercepts(task: Task, y: Labels, w: Float64Array, d: number, k: number): void {
  const n = y.length;
  if (task.kind === "binary") {
    let pos = 0;
    for (let i = 0; i < n; i++) pos += y[i] as number;
    const p = Math.min(Math.max(pos / n, 1e-6), 1 - 1e-6);
    w[d] = Math.log(p / (1 - p));
  } else if (task.kind === "multiclass") {
    const counts = new Float64Array(k);
    for (let i = 0; i < n; i++) counts[y[i] as number] = (counts[y[i] as number] as number) + 1;
    for (let c = 0; c < k; c++) w[d * k + c] = Math.log(Math.max((counts[c] as number) / n, 1e-6));
  }
}

/** Mean loss + L2 term and its gradient, for weights laid out w[col * k + c], intercepts last. */
function lossAndGradient(
  task: Task,
  design: SparseDesign,
  y: Labels,
  w: Float64Array,
  grad: Float64Array,
  d: number,
  k: number,
  l2: number,
  scores: Float64Array,
  residual: Float64Array,
): number {
  grad.fill(0);
  const { rowCount: n, perRow, index, value } = design;
  let loss = 0;
  for (let r = 0; r < n; r++) {
    const e0 = r * perRow;
    for (let c = 0; c < k; c++) scores[c] = w[d * k + c] as number;
    for (let e = e0; e < e0 + perRow; e++) {
      const v = value[e] as number;
      if (v === 0) continue;
      const base = (index[e] as number) * k;
      for (let c = 0; c < k; c++) scores[c] = (scores[c] as number) + v * (w[base + c] as number);
    }
    const label = y[r] as number;
    if (task.kind === "binary") {
      const z = scores[0] as number;
      loss += (z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z))) - label * z;
      residual[0] = sigmoid(z) - label;
    } else if (task.kind === "multiclass") {
      let max = Number.NEGATIVE_INFINITY;
      for (let c = 0; c < k; c++) max = Math.max(max, scores[c] as number);
      let sum = 0;
      for (let c = 0; c < k; c++) {
        const ex = Math.exp((scores[c] as number) - max);
        residual[c] = ex;
        sum += ex;
      }
      loss += Math.log(sum) + max - (scores[label] as number);
      for (let c = 0; c < k; c++)
        residual[c] = (residual[c] as number) / sum - (c === label ? 1 : 0);
    } else {
      const diff = (scores[0] as number) - label;
      loss += 0.5 * diff * diff;
      residual[0] = diff;
    }
    for (let c = 0; c < k; c++)
      grad[d * k + c] = (grad[d * k + c] as number) + (residual[c] as number);
    for (let e = e0; e < e0 + perRow; e++) {
      const v = value[e] as number;
      if (v === 0) continue;
      const base = (index[e] as number) * k;
      for (let c = 0; c < k; c++)
        grad[base + c] = (grad[base + c] as number) + v * (residual[c] as number);
    }
  }
  const inv = 1 / n;
  let penalty = 0;
  for (let i = 0; i < d * k; i++) {
    const wi = w[i] as number;
    grad[i] = (grad[i] as number) * inv + l2 * wi;
    penalty += wi * wi;
  }
  for (let i = d * k; i < grad.length; i++) grad[i] = (grad[i] as number) * inv;
  return loss * inv + 0.5 * l2 * penalty;
}

/**
 * Importance of each original feature: the standard deviation over training rows of its
 * contribution to each raw score, summed over outputs (so it is in score units, comparable
 * across numeric and one-hot features).
 */
function contributionSpread(
  design: SparseDesign,
  w: Float64Array,
  encoding: LinearEncoding,
  d: number,
  k: number,
): Float64Array {
  const width = encoding.kinds.length;
  const importance = new Float64Array(width);
  const { rowCount: n, perRow, index, value } = design;
  // Which original feature each design column belongs to.
  const owner = new Int32Array(d);
  for (let f = 0; f < width; f++) {
    const start = encoding.column[f] as number;
    const span = encoding.kinds[f] === KIND_CATEGORICAL ? (encoding.cardinality[f] as number) : 1;
    owner.fill(f, start, start + span);
    const mc = encoding.missingColumn[f] as number;
    if (mc >= 0) owner[mc] = f;
  }
  const sum = new Float64Array(width * k);
  const sumSq = new Float64Array(width * k);
  const contribution = new Float64Array(width * k);
  for (let r = 0; r < n; r++) {
    contribution.fill(0);
    for (let e = r * perRow; e < (r + 1) * perRow; e++) {
      const col = index[e] as number;
      const f = owner[col] as number;
      for (let c = 0; c < k; c++) {
        const at = f * k + c;
        contribution[at] =
          (contribution[at] as number) + (value[e] as number) * (w[col * k + c] as number);
      }
    }
    for (let i = 0; i < width * k; i++) {
      const v = contribution[i] as number;
      sum[i] = (sum[i] as number) + v;
      sumSq[i] = (sumSq[i] as number) + v * v;
    }
  }
  for (let f = 0; f < width; f++) {
    for (let c = 0; c < k; c++) {
      const m = (sum[f * k + c] as number) / n;
      const variance = Math.max((sumSq[f * k + c] as number) / n - m * m, 0);
      importance[f] = (importance[f] as number) + Math.sqrt(variance);
    }
  }
  return importance;
}

/** Facts about the fit, kept in the serialized header. */
export interface LinearTrainingInfo {
  readonly params: Readonly<Record<string, unknown>>;
  readonly iterations: number;
  readonly converged: boolean;
}

/** A fitted linear model; predicts straight from raw feature rows, with no allocation. */
export class LinearModel implements TrainedModel {
  readonly learner = "linear";
  readonly outputSize: number;
  private readonly width: number;
  private readonly scratch: Float64Array;
  private readonly rowBuffer: Float64Array;
  /** Lazily computed by referenceScores (explanations only). */
  private reference: Float64Array | undefined;

  constructor(
    readonly task: Task,
    readonly features: readonly FeatureInfo[],
    readonly encoding: LinearEncoding,
    /** Weights w[col * outputs + c], then one intercept per output. */
    readonly weights: Float64Array,
    /** Regression: raw score s predicts yMean + yScale * s. */
    readonly yMean: number,
    readonly yScale: number,
    private readonly importance: Float64Array,
    readonly info: LinearTrainingInfo,
    /**
     * Mean of each design column over the training rows, the reference of `explainRow`.
     * Models saved before it was recorded explain against zero (see explainRow).
     */
    readonly columnMean?: Float64Array,
  ) {
    this.outputSize = task.kind === "multiclass" ? task.classCount : 1;
    this.width = encoding.width;
    this.scratch = new Float64Array(this.outputSize);
    this.rowBuffer = new Float64Array(features.length);
  }

  predictRow(row: Float64Array, out: Float64Array): void {
    const k = this.outputSize;
    const w = this.weights;
    const enc = this.encoding;
    const d = this.width;
    for (let c = 0; c < k; c++) out[c] = w[d * k + c] as number;
    for (let f = 0; f < enc.kinds.length; f++) {
      const x = row[f] as number;
      if (enc.kinds[f] === KIND_CATEGORICAL) {
        const base = categoricalColumn(enc, f, x) * k;
        for (let c = 0; c < k; c++) out[c] = (out[c] as number) + (w[base + c] as number);
        continue;
      }
      if (Number.isFinite(x)) {
        const z = standardize(enc, f, x);
        const base = (enc.column[f] as number) * k;
        for (let c = 0; c < k; c++) out[c] = (out[c] as number) + z * (w[base + c] as number);
      } else {
        const mc = enc.missingColumn[f] as number;
        if (mc >= 0)
          for (let c = 0; c < k; c++) out[c] = (out[c] as number) + (w[mc * k + c] as number);
      }
    }
    if (this.task.kind === "regression") out[0] = this.yMean + this.yScale * (out[0] as number);
    else linkInPlace(this.task, out);
  }

  predictBatch(X: FeatureMatrix): Float64Array {
    checkSameFeatures(X, this.features.length);
    const n = X.rowCount;
    const k = this.outputSize;
    const width = this.features.length;
    const result = new Float64Array(n * k);
    const row = this.rowBuffer;
    const out = this.scratch;
    for (let r = 0; r < n; r++) {
      for (let f = 0; f < width; f++) row[f] = X.data[f * n + r] as number;
      this.predictRow(row, out);
      for (let c = 0; c < k; c++) result[r * k + c] = out[c] as number;
    }
    return result;
  }

  featureImportance(): Float64Array {
    return this.importance.slice();
  }

  /**
   * Exact SHAP values of the linear score (which are the same under any feature dependence
   * assumption that treats features as independent): each design column contributes
   * w · (x − mean over training rows) in the model's standardized space, and a feature's
   * contribution is the sum over its columns (its value column and missing indicator, or its
   * one-hot group). The bias is the score at the column means. For regression both are scaled
   * back to target units, so they sum to the prediction; for classification they sum to the
   * log-odds (binary) or each class's softmax input. A model loaded from a file that predates
   * the stored means uses mean 0 for every column: numeric columns are centered anyway, and a
   * one-hot column then contributes its full weight.
   */
  explainRow(row: Float64Array, out: Float64Array): void {
    const k = this.outputSize;
    const w = this.weights;
    const enc = this.encoding;
    const d = this.width;
    const width = this.features.length;
    const stride = width + 1;
    const reference = this.referenceScores();
    const factor = this.task.kind === "regression" ? this.yScale : 1;
    for (let f = 0; f < width; f++) {
      const x = row[f] as number;
      // Score of the row's own columns for this feature, minus the feature's reference.
      let col = -1;
      let z = 0;
      let indicator = -1;
      if (enc.kinds[f] === KIND_CATEGORICAL) {
        col = categoricalColumn(enc, f, x);
        z = 1;
      } else if (Number.isFinite(x)) {
        col = enc.column[f] as number;
        z = standardize(enc, f, x);
      } else {
        indicator = enc.missingColumn[f] as number;
      }
      for (let c = 0; c < k; c++) {
        let score = 0;
        if (col >= 0) score += z * (w[col * k + c] as number);
        if (indicator >= 0) score += w[indicator * k + c] as number;
        out[c * stride + f] = factor * (score - (reference[f * k + c] as number));
      }
    }
    for (let c = 0; c < k; c++) {
      let bias = w[d * k + c] as number;
      for (let f = 0; f < width; f++) bias += reference[f * k + c] as number;
      out[c * stride + width] =
        this.task.kind === "regression" ? this.yMean + this.yScale * bias : bias;
    }
  }

  /** Per feature and output, the score of the feature's columns at their training means. */
  private referenceScores(): Float64Array {
    if (this.reference) return this.reference;
    const k = this.outputSize;
    const enc = this.encoding;
    const width = this.features.length;
    const w = this.weights;
    const mean = this.columnMean;
    const reference = new Float64Array(width * k);
    if (mean) {
      for (let f = 0; f < width; f++) {
        const start = enc.column[f] as number;
        const span = enc.kinds[f] === KIND_CATEGORICAL ? (enc.cardinality[f] as number) : 1;
        const mc = enc.missingColumn[f] as number;
        for (let c = 0; c < k; c++) {
          let sum = 0;
          for (let col = start; col < start + span; col++)
            sum += (mean[col] as number) * (w[col * k + c] as number);
          if (mc >= 0) sum += (mean[mc] as number) * (w[mc * k + c] as number);
          reference[f * k + c] = sum;
        }
      }
    }
    this.reference = reference;
    return reference;
  }

  /**
   * Coefficients of numeric features in the original units, per output (row-major features x
   * outputs; NaN for categorical features), and the matching intercepts: for rows without
   * missing values and with every categorical feature at code 0, raw score = intercept + x.w.
   * For regression they are in target units.
   */
  coefficients(): { weights: Float64Array; intercept: Float64Array } {
    const k = this.outputSize;
    const enc = this.encoding;
    const d = this.width;
    const width = this.features.length;
    const factor = this.task.kind === "regression" ? this.yScale : 1;
    const weights = new Float64Array(width * k);
    const intercept = new Float64Array(k);
    for (let c = 0; c < k; c++) intercept[c] = this.weights[d * k + c] as number;
    for (let f = 0; f < width; f++) {
      for (let c = 0; c < k; c++) {
        if (enc.kinds[f] === KIND_CATEGORICAL) {
          weights[f * k + c] = Number.NaN;
          intercept[c] =
            (intercept[c] as number) + (this.weights[(enc.column[f] as number) * k + c] as number);
          continue;
        }
        const wz = this.weights[(enc.column[f] as number) * k + c] as number;
        const s = enc.scale[f] as number;
        weights[f * k + c] = wz * s * factor;
        intercept[c] = (intercept[c] as number) - wz * s * (enc.mean[f] as number);
      }
    }
    if (this.task.kind === "regression")
      intercept[0] = this.yMean + this.yScale * (intercept[0] as number);
    return { weights, intercept };
  }

  serialize(): SerializedModel {
    const e = this.encoding;
    return {
      learner: this.learner,
      meta: {
        version: FORMAT_VERSION,
        task: { kind: this.task.kind, classCount: this.task.classCount },
        features: this.features.map((x) => ({ ...x })),
        width: e.width,
        yMean: this.yMean,
        yScale: this.yScale,
        info: { ...this.info },
      },
      arrays: {
        weights: this.weights.slice(),
        importance: this.importance.slice(),
        ...(this.columnMean ? { columnMean: this.columnMean.slice() } : {}),
        kinds: e.kinds.slice(),
        mean: e.mean.slice(),
        scale: e.scale.slice(),
        low: e.low.slice(),
        high: e.high.slice(),
        column: e.column.slice(),
        missingColumn: e.missingColumn.slice(),
        cardinality: e.cardinality.slice(),
      },
    };
  }

  /** Restore from `serialize()` output, checking shapes so a corrupt file fails loudly. */
  static fromSerialized(serialized: SerializedModel): LinearModel {
    if (serialized.learner !== "linear")
      throw new Error(`not a linear model: ${serialized.learner}`);
    const meta = serialized.meta;
    if (meta.version !== FORMAT_VERSION)
      throw new Error(`unsupported linear model version ${String(meta.version)}`);
    const task = meta.task as Task;
    const features = meta.features as FeatureInfo[];
    const width = meta.width as number;
    if (!task || !Array.isArray(features) || !Number.isInteger(width)) {
      throw new Error("linear model header is incomplete");
    }
    const a = serialized.arrays;
    const encoding: LinearEncoding = {
      kinds: typed(a.kinds, Uint8Array, "kinds"),
      mean: typed(a.mean, Float64Array, "mean"),
      scale: typed(a.scale, Float64Array, "scale"),
      low: typed(a.low, Float64Array, "low"),
      high: typed(a.high, Float64Array, "high"),
      column: typed(a.column, Int32Array, "column"),
      missingColumn: typed(a.missingColumn, Int32Array, "missingColumn"),
      cardinality: typed(a.cardinality, Int32Array, "cardinality"),
      width,
    };
    const weights = typed(a.weights, Float64Array, "weights");
    const columnMean =
      a.columnMean === undefined ? undefined : typed(a.columnMean, Float64Array, "columnMean");
    if (columnMean && columnMean.length !== width)
      throw new Error("linear model column means have the wrong length");
    const k = task.kind === "multiclass" ? task.classCount : 1;
    if (weights.length !== (width + 1) * k)
      throw new Error("linear model weights have the wrong length");
    for (const arr of [
      encoding.kinds,
      encoding.mean,
      encoding.scale,
      encoding.column,
      encoding.missingColumn,
    ]) {
      if (arr.length !== features.length)
        throw new Error("linear model encoding does not match features");
    }
    for (let f = 0; f < features.length; f++) {
      const span = encoding.kinds[f] === KIND_CATEGORICAL ? (encoding.cardinality[f] as number) : 1;
      const start = encoding.column[f] as number;
      const mc = encoding.missingColumn[f] as number;
      if (start < 0 || start + span > width || mc >= width)
        throw new Error("linear model column out of range");
    }
    return new LinearModel(
      task,
      features,
      encoding,
      weights,
      meta.yMean as number,
      meta.yScale as number,
      typed(a.importance, Float64Array, "importance"),
      meta.info as LinearTrainingInfo,
      columnMean,
    );
  }
}

function typed<T extends Int32Array | Float64Array | Uint8Array>(
  value: unknown,
  type: { new (length: number): T; prototype: T },
  name: string,
): T {
  if (!(value instanceof type))
    throw new Error(`linear model array "${name}" is missing or has the wrong type`);
  return value;
}
