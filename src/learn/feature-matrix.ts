/**
 * Helpers over the column-major FeatureMatrix shared by every learner: row subsets (for
 * folds and hold-outs), row extraction, and the input checks all learners need.
 */
import type { FeatureMatrix, Labels, Task } from "./types.ts";

/** A new matrix holding only `rows` (in that order); features are shared, data is copied. */
export function takeRows(X: FeatureMatrix, rows: ArrayLike<number>): FeatureMatrix {
  const n = X.rowCount;
  const m = rows.length;
  const width = X.features.length;
  const data = new Float64Array(width * m);
  for (let f = 0; f < width; f++) {
    const src = f * n;
    const dst = f * m;
    for (let i = 0; i < m; i++) data[dst + i] = X.data[src + (rows[i] as number)] as number;
  }
  return { rowCount: m, features: X.features, data };
}

/** The labels of `rows`, in that order. */
export function takeLabels(y: Labels, rows: ArrayLike<number>): Labels {
  const out = new Float64Array(rows.length);
  for (let i = 0; i < rows.length; i++) out[i] = y[rows[i] as number] as number;
  return out;
}

/** Copy row `r` of a column-major matrix into `out` (length = feature count). */
export function readRow(X: FeatureMatrix, r: number, out: Float64Array): void {
  const n = X.rowCount;
  for (let f = 0; f < X.features.length; f++) out[f] = X.data[f * n + r] as number;
}

/** Output width of a model for a task: K probabilities for multiclass, else one number. */
export function outputSizeOf(task: Task): number {
  return task.kind === "multiclass" ? task.classCount : 1;
}

/**
 * Throw a precise error for inputs no learner can use: a data array of the wrong length,
 * labels of the wrong length, class indices out of range, non-finite regression targets.
 */
export function checkTrainingInput(X: FeatureMatrix, y: Labels, task: Task): void {
  const width = X.features.length;
  if (X.rowCount <= 0) throw new RangeError("cannot fit a model on zero rows");
  if (width === 0) throw new RangeError("cannot fit a model with no features");
  if (X.data.length !== X.rowCount * width) {
    throw new RangeError(
      `feature matrix data has ${X.data.length} values, expected ${X.rowCount} rows x ${width} features`,
    );
  }
  if (y.length !== X.rowCount) {
    throw new RangeError(`labels have ${y.length} values, expected ${X.rowCount}`);
  }
  for (const info of X.features) {
    if (
      info.kind === "categorical" &&
      !(Number.isInteger(info.cardinality) && (info.cardinality ?? 0) >= 1)
    ) {
      throw new RangeError(`categorical feature "${info.name}" needs an integer cardinality >= 1`);
    }
  }
  if (task.kind === "regression") {
    for (let i = 0; i < y.length; i++) {
      if (!Number.isFinite(y[i]))
        throw new RangeError(`regression target at row ${i} is not finite`);
    }
    return;
  }
  const k = task.kind === "binary" ? 2 : task.classCount;
  if (task.kind === "binary" && task.classCount !== 2) {
    throw new RangeError(`binary task must have classCount 2, got ${task.classCount}`);
  }
  if (!(Number.isInteger(k) && k >= 2)) throw new RangeError(`classCount must be >= 2, got ${k}`);
  for (let i = 0; i < y.length; i++) {
    const v = y[i] as number;
    if (!(Number.isInteger(v) && v >= 0 && v < k)) {
      throw new RangeError(`label at row ${i} is ${v}, expected a class index in 0..${k - 1}`);
    }
  }
}

/** Throw if the matrix's features don't match the ones the model was trained on. */
export function checkSameFeatures(X: FeatureMatrix, width: number): void {
  if (X.features.length !== width) {
    throw new RangeError(`model expects ${width} features, matrix has ${X.features.length}`);
  }
  if (X.data.length !== X.rowCount * width) {
    throw new RangeError("feature matrix data length does not match rowCount x features");
  }
}
