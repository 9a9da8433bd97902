/**
 * How the linear learners see a FeatureMatrix: numeric features standardized with training
 * mean and standard deviation (missing → the mean, i.e. 0, plus a 0/1 missing-indicator
 * column when training had missing values); categorical features one-hot encoded, one column
 * per code including the unknown bucket, plus a missing column when training had missing
 * values (otherwise missing and invalid codes count as unknown). Every row then has the same
 * number of (column, value) entries, stored as a fixed-width sparse matrix. Numeric values
 * are clamped to the training range first, so a linear model never extrapolates wildly from
 * an input far outside what it was fitted on (one huge value cannot produce an absurd score).
 */
import type { FeatureMatrix } from "../types.ts";

export const KIND_NUMERIC = 0;
export const KIND_CATEGORICAL = 1;

/** The fitted encoding; all arrays are per original feature. */
export interface LinearEncoding {
  readonly kinds: Uint8Array;
  readonly mean: Float64Array;
  /** 1 / standard deviation (0 for a constant or all-missing column). */
  readonly scale: Float64Array;
  /** Smallest and largest training value of numeric features (inputs are clamped to them). */
  readonly low: Float64Array;
  readonly high: Float64Array;
  /** numeric: the value column; categorical: the column of code 0. */
  readonly column: Int32Array;
  /** The missing-indicator column, or -1. */
  readonly missingColumn: Int32Array;
  readonly cardinality: Int32Array;
  /** Design columns (without the intercept). */
  readonly width: number;
}

/** Design matrix rows: entries [r * perRow, (r + 1) * perRow) of index and value. */
export interface SparseDesign {
  readonly rowCount: number;
  readonly perRow: number;
  readonly index: Int32Array;
  readonly value: Float64Array;
}

/** Learn means, scales and column layout from training data. */
export function fitEncoding(X: FeatureMatrix): LinearEncoding {
  const n = X.rowCount;
  const width = X.features.length;
  const kinds = new Uint8Array(width);
  const mean = new Float64Array(width);
  const scale = new Float64Array(width);
  const low = new Float64Array(width);
  const high = new Float64Array(width);
  const column = new Int32Array(width);
  const missingColumn = new Int32Array(width).fill(-1);
  const cardinality = new Int32Array(width);
  let next = 0;
  for (let f = 0; f < width; f++) {
    const info = X.features[f];
    let missing = 0;
    if (info?.kind === "categorical") {
      kinds[f] = KIND_CATEGORICAL;
      const card = info.cardinality ?? 1;
      cardinality[f] = card;
      for (let r = 0; r < n; r++) if (Number.isNaN(X.data[f * n + r])) missing++;
      column[f] = next;
      next += card;
    } else {
      let sum = 0;
      let count = 0;
      let min = Number.POSITIVE_INFINITY;
      let max = Number.NEGATIVE_INFINITY;
      for (let r = 0; r < n; r++) {
        const v = X.data[f * n + r] as number;
        if (!Number.isFinite(v)) missing++;
        else {
          sum += v;
          count++;
          if (v < min) min = v;
          if (v > max) max = v;
        }
      }
      low[f] = count > 0 ? min : 0;
      high[f] = count > 0 ? max : 0;
      const m = count > 0 ? sum / count : 0;
      let ss = 0;
      for (let r = 0; r < n; r++) {
        const v = X.data[f * n + r] as number;
        if (Number.isFinite(v)) ss += (v - m) * (v - m);
      }
      const std = count > 0 ? Math.sqrt(ss / count) : 0;
      mean[f] = m;
      scale[f] = std > 0 && Number.isFinite(std) ? 1 / std : 0;
      column[f] = next++;
    }
    if (missing > 0) missingColumn[f] = next++;
  }
  return { kinds, mean, scale, low, high, column, missingColumn, cardinality, width: next };
}

/** Standardized value of a finite numeric input, clamped to the training range. */
export function standardize(encoding: LinearEncoding, f: number, x: number): number {
  const lo = encoding.low[f] as number;
  const hi = encoding.high[f] as number;
  const v = Math.min(Math.max(x, lo), hi);
  return (v - (encoding.mean[f] as number)) * (encoding.scale[f] as number);
}

/** Entries every encoded row has: one per feature, plus one per missing indicator of numerics. */
export function entriesPerRow(encoding: LinearEncoding): number {
  let perRow = 0;
  for (let f = 0; f < encoding.kinds.length; f++) {
    perRow +=
      encoding.kinds[f] === KIND_NUMERIC && (encoding.missingColumn[f] as number) >= 0 ? 2 : 1;
  }
  return perRow;
}

/** The one-hot column a categorical value activates. */
export function categoricalColumn(encoding: LinearEncoding, f: number, x: number): number {
  const card = encoding.cardinality[f] as number;
  const start = encoding.column[f] as number;
  if (x >>> 0 === x && x < card) return start + x;
  const missing = encoding.missingColumn[f] as number;
  if (Number.isNaN(x) && missing >= 0) return missing;
  return start + card - 1;
}

/** Encode a matrix into the fixed-width sparse design. */
export function encodeMatrix(encoding: LinearEncoding, X: FeatureMatrix): SparseDesign {
  const n = X.rowCount;
  const perRow = entriesPerRow(encoding);
  const index = new Int32Array(n * perRow);
  const value = new Float64Array(n * perRow);
  let slot = 0;
  for (let f = 0; f < encoding.kinds.length; f++) {
    const col = X.data.subarray(f * n, (f + 1) * n);
    if (encoding.kinds[f] === KIND_CATEGORICAL) {
      for (let r = 0; r < n; r++) {
        index[r * perRow + slot] = categoricalColumn(encoding, f, col[r] as number);
        value[r * perRow + slot] = 1;
      }
      slot++;
      continue;
    }
    const c = encoding.column[f] as number;
    const mc = encoding.missingColumn[f] as number;
    for (let r = 0; r < n; r++) {
      const v = col[r] as number;
      const missing = !Number.isFinite(v);
      index[r * perRow + slot] = c;
      value[r * perRow + slot] = missing ? 0 : standardize(encoding, f, v);
      if (mc >= 0) {
        index[r * perRow + slot + 1] = mc;
        value[r * perRow + slot + 1] = missing ? 1 : 0;
      }
    }
    slot += mc >= 0 ? 2 : 1;
  }
  return { rowCount: n, perRow, index, value };
}
