/**
 * Model quality metrics. AutoML ranks candidates with them and the report shows them, so they
 * follow the usual definitions exactly (AUC by mid-ranks, macro-F1 over the classes present,
 * R² as 1 - SSres/SStot) and can be checked against scikit-learn by hand.
 */
import type { Task, TaskKind } from "./types.ts";

/** Named metric values for one evaluation, e.g. { auc: 0.84, logloss: 0.41, ... }. */
export type Metrics = Readonly<Record<string, number>>;

const EPS = 1e-15;

/**
 * Area under the ROC curve for binary labels (1 = positive) and scores, exact: tied scores
 * get their mid-rank, so a tie between a positive and a negative counts one half. NaN when
 * only one class is present.
 */
export function auc(yTrue: ArrayLike<number>, scores: ArrayLike<number>): number {
  const n = yTrue.length;
  const order = sortedOrder(scores);
  let positives = 0;
  let rankSum = 0;
  let i = 0;
  while (i < n) {
    let j = i;
    const s = scores[order[i] as number] as number;
    while (j + 1 < n && scores[order[j + 1] as number] === s) j++;
    const midRank = (i + j) / 2 + 1;
    for (let t = i; t <= j; t++) {
      if (yTrue[order[t] as number] === 1) {
        positives++;
        rankSum += midRank;
      }
    }
    i = j + 1;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

function sortedOrder(scores: ArrayLike<number>): Uint32Array {
  const order = new Uint32Array(scores.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  order.sort((a, b) => (scores[a] as number) - (scores[b] as number) || a - b);
  return order;
}

/** Points of the ROC curve (one per distinct threshold, from (0,0) to (1,1)) for charts. */
export function rocCurve(
  yTrue: ArrayLike<number>,
  scores: ArrayLike<number>,
): { fpr: Float64Array; tpr: Float64Array; thresholds: Float64Array } {
  const n = yTrue.length;
  const order = sortedOrder(scores).reverse();
  let positives = 0;
  for (let i = 0; i < n; i++) if (yTrue[i] === 1) positives++;
  const negatives = n - positives;
  const fpr: number[] = [0];
  const tpr: number[] = [0];
  const thresholds: number[] = [Number.POSITIVE_INFINITY];
  let tp = 0;
  let fp = 0;
  let i = 0;
  while (i < n) {
    const s = scores[order[i] as number] as number;
    while (i < n && scores[order[i] as number] === s) {
      if (yTrue[order[i] as number] === 1) tp++;
      else fp++;
      i++;
    }
    fpr.push(negatives > 0 ? fp / negatives : 0);
    tpr.push(positives > 0 ? tp / positives : 0);
    thresholds.push(s);
  }
  return {
    fpr: Float64Array.from(fpr),
    tpr: Float64Array.from(tpr),
    thresholds: Float64Array.from(thresholds),
  };
}

/**
 * Mean negative log-likelihood. With classCount 2 and one probability per row, `probabilities`
 * holds P(class 1); otherwise it is row-major rows x classCount. Probabilities are clipped to
 * [1e-15, 1 - 1e-15] so one confident mistake costs a lot but not Infinity.
 */
export function logloss(
  yTrue: ArrayLike<number>,
  probabilities: ArrayLike<number>,
  classCount = 2,
): number {
  const n = yTrue.length;
  if (n === 0) return Number.NaN;
  let sum = 0;
  if (classCount === 2 && probabilities.length === n) {
    for (let i = 0; i < n; i++) {
      const p = clip(probabilities[i] as number);
      sum -= yTrue[i] === 1 ? Math.log(p) : Math.log(1 - p);
    }
  } else {
    for (let i = 0; i < n; i++) {
      const p = clip(probabilities[i * classCount + (yTrue[i] as number)] as number);
      sum -= Math.log(p);
    }
  }
  return sum / n;
}

function clip(p: number): number {
  if (!(p > EPS)) return EPS;
  return Math.min(p, 1 - EPS);
}

/** Share of rows whose predicted class equals the true class. */
export function accuracy(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  const n = yTrue.length;
  if (n === 0) return Number.NaN;
  let hits = 0;
  for (let i = 0; i < n; i++) if (yTrue[i] === yPred[i]) hits++;
  return hits / n;
}

/** Counts: matrix[trueClass][predictedClass]. */
export function confusionMatrix(
  yTrue: ArrayLike<number>,
  yPred: ArrayLike<number>,
  classCount: number,
): number[][] {
  const m: number[][] = Array.from({ length: classCount }, () =>
    new Array<number>(classCount).fill(0),
  );
  for (let i = 0; i < yTrue.length; i++) {
    const row = m[yTrue[i] as number];
    const c = yPred[i] as number;
    if (row !== undefined && c >= 0 && c < classCount) row[c] = (row[c] ?? 0) + 1;
  }
  return m;
}

function f1From(tp: number, fp: number, fn: number): number {
  const denominator = 2 * tp + fp + fn;
  return denominator === 0 ? 0 : (2 * tp) / denominator;
}

/** F1 of one class (default: the positive class 1 of a binary task). */
export function f1(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, positive = 1): number {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < yTrue.length; i++) {
    const t = yTrue[i] === positive;
    const p = yPred[i] === positive;
    if (t && p) tp++;
    else if (p) fp++;
    else if (t) fn++;
  }
  return f1From(tp, fp, fn);
}

/**
 * Unweighted mean of per-class F1 over the classes that occur in yTrue or yPred (as
 * scikit-learn's f1_score(average="macro") does), so rare classes weigh as much as common ones.
 */
export function macroF1(
  yTrue: ArrayLike<number>,
  yPred: ArrayLike<number>,
  classCount: number,
): number {
  const m = confusionMatrix(yTrue, yPred, classCount);
  let sum = 0;
  let present = 0;
  for (let k = 0; k < classCount; k++) {
    let tp = 0;
    let fp = 0;
    let fn = 0;
    for (let j = 0; j < classCount; j++) {
      const fromK = m[k]?.[j] ?? 0;
      const toK = m[j]?.[k] ?? 0;
      if (j === k) tp = fromK;
      else {
        fn += fromK;
        fp += toK;
      }
    }
    if (tp + fp + fn === 0) continue;
    present++;
    sum += f1From(tp, fp, fn);
  }
  return present === 0 ? Number.NaN : sum / present;
}

/** Root mean squared error. */
export function rmse(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  const n = yTrue.length;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const d = (yTrue[i] as number) - (yPred[i] as number);
    sum += d * d;
  }
  return n === 0 ? Number.NaN : Math.sqrt(sum / n);
}

/** Mean absolute error. */
export function mae(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  const n = yTrue.length;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += Math.abs((yTrue[i] as number) - (yPred[i] as number));
  return n === 0 ? Number.NaN : sum / n;
}

/**
 * Coefficient of determination, 1 - SSres/SStot. A constant target gives 1 for a perfect
 * prediction and 0 otherwise (scikit-learn's convention) instead of dividing by zero.
 */
export function r2(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  const n = yTrue.length;
  if (n === 0) return Number.NaN;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += yTrue[i] as number;
  mean /= n;
  let ssRes = 0;
  let ssTot = 0;
  for (let i = 0; i < n; i++) {
    const t = yTrue[i] as number;
    const d = t - (yPred[i] as number);
    ssRes += d * d;
    ssTot += (t - mean) * (t - mean);
  }
  if (ssTot === 0) return ssRes === 0 ? 1 : 0;
  return 1 - ssRes / ssTot;
}

/**
 * Hard class predictions from model outputs: P(class 1) >= 0.5 for binary, the arg-max for
 * multiclass (first class wins ties).
 */
export function predictedClasses(task: Task, predictions: ArrayLike<number>): Float64Array {
  if (task.kind === "binary") {
    const out = new Float64Array(predictions.length);
    for (let i = 0; i < out.length; i++) out[i] = (predictions[i] as number) >= 0.5 ? 1 : 0;
    return out;
  }
  const k = task.classCount;
  const n = Math.floor(predictions.length / k);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    let bestValue = predictions[i * k] as number;
    for (let c = 1; c < k; c++) {
      const v = predictions[i * k + c] as number;
      if (v > bestValue) {
        bestValue = v;
        best = c;
      }
    }
    out[i] = best;
  }
  return out;
}

/**
 * The metrics relevant to a task, from true labels and model outputs (row-major, outputSize
 * per row): binary {auc, logloss, accuracy, f1}; multiclass {accuracy, macroF1, logloss};
 * regression {rmse, mae, r2}.
 */
export function evaluate(
  task: Task,
  yTrue: ArrayLike<number>,
  predictions: ArrayLike<number>,
): Metrics {
  const width = task.kind === "multiclass" ? task.classCount : 1;
  if (predictions.length !== yTrue.length * width) {
    throw new RangeError(
      `expected ${yTrue.length * width} predictions (${yTrue.length} rows x ${width}), got ${predictions.length}`,
    );
  }
  switch (task.kind) {
    case "binary": {
      const classes = predictedClasses(task, predictions);
      return {
        auc: auc(yTrue, predictions),
        logloss: logloss(yTrue, predictions, 2),
        accuracy: accuracy(yTrue, classes),
        f1: f1(yTrue, classes, 1),
      };
    }
    case "multiclass": {
      const classes = predictedClasses(task, predictions);
      return {
        accuracy: accuracy(yTrue, classes),
        macroF1: macroF1(yTrue, classes, task.classCount),
        logloss: logloss(yTrue, predictions, task.classCount),
      };
    }
    case "regression":
      return {
        rmse: rmse(yTrue, predictions),
        mae: mae(yTrue, predictions),
        r2: r2(yTrue, predictions),
      };
  }
}

/** Metric names `evaluate` returns for a task kind. */
export function metricsForTask(kind: TaskKind): readonly string[] {
  switch (kind) {
    case "binary":
      return ["auc", "logloss", "accuracy", "f1"];
    case "multiclass":
      return ["accuracy", "macroF1", "logloss"];
    case "regression":
      return ["rmse", "mae", "r2"];
  }
}

const LOWER_IS_BETTER = new Set(["logloss", "rmse", "mae"]);
const HIGHER_IS_BETTER = new Set(["auc", "accuracy", "f1", "macroF1", "r2"]);

/** Whether a larger value of the named metric is better. Throws on an unknown name. */
export function metricDirection(name: string): "higher" | "lower" {
  if (HIGHER_IS_BETTER.has(name)) return "higher";
  if (LOWER_IS_BETTER.has(name)) return "lower";
  throw new RangeError(`unknown metric "${name}"`);
}

/** True when score `a` is strictly better than `b` under `metric` (NaN is never better). */
export function isBetter(metric: string, a: number, b: number): boolean {
  if (Number.isNaN(a)) return false;
  if (Number.isNaN(b)) return true;
  return metricDirection(metric) === "higher" ? a > b : a < b;
}

/**
 * The metric AutoML optimizes when the user names none: AUC for binary (threshold-free, robust
 * to imbalance), accuracy for multiclass (what people read), and R² for regression (scale-free,
 * so "0.9" means the same on prices and on temperatures, unlike RMSE).
 */
export function defaultMetric(task: Task | TaskKind): string {
  const kind = typeof task === "string" ? task : task.kind;
  switch (kind) {
    case "binary":
      return "auc";
    case "multiclass":
      return "accuracy";
    case "regression":
      return "r2";
  }
}

/** Mean of each metric over several evaluations (e.g. CV folds); NaN values are skipped. */
export function meanMetrics(all: readonly Metrics[]): Metrics {
  const sums: Record<string, number> = {};
  const counts: Record<string, number> = {};
  for (const m of all) {
    for (const [k, v] of Object.entries(m)) {
      if (Number.isNaN(v)) continue;
      sums[k] = (sums[k] ?? 0) + v;
      counts[k] = (counts[k] ?? 0) + 1;
    }
  }
  const out: Record<string, number> = {};
  const keys = new Set(all.flatMap((m) => Object.keys(m)));
  for (const k of keys) out[k] = counts[k] ? (sums[k] ?? 0) / (counts[k] ?? 1) : Number.NaN;
  return out;
}
