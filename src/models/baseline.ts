/**
 * Baseline statistics of the training data, carried inside every model artifact so that live
 * traffic can later be compared with what the model learned from (drift), without keeping the
 * training data around. Numbers get quantile bins, categories their frequencies.
 */
import type { FeatureMatrix } from "../learn/types.ts";

/** Bins per numeric feature: deciles, the usual resolution for PSI. */
export const BASELINE_BINS = 10;

/**
 * Steps of the fine quantile grid (percentiles): enough to know the training CDF within about
 * 1% for the Kolmogorov-Smirnov test, at ~300 numbers per feature in the artifact. A multiple of
 * {@link BASELINE_BINS}, so the decile edges are grid points and PSI bins are unions of grid cells.
 */
export const GRID_STEPS = 100;

/**
 * The training CDF at the 0th..100th percentiles (deduplicated), with the exact share at or below
 * and below each point, so a point that carries a lump of equal values (an integer feature, a
 * popular price) is known as a jump rather than smeared over its neighbours.
 */
export interface QuantileGrid {
  /** Ascending distinct values: min, the percentiles, max. */
  readonly values: readonly number[];
  /** P(X ≤ values[j]) among non-missing training values. */
  readonly atOrBelow: readonly number[];
  /** P(X < values[j]) among non-missing training values. */
  readonly below: readonly number[];
}

export interface NumericSketch {
  readonly kind: "numeric";
  readonly feature: string;
  readonly count: number;
  readonly missingRate: number;
  readonly mean: number;
  readonly std: number;
  readonly min: number;
  readonly max: number;
  /** Inner cut points (ascending, deduplicated); bin i is (edges[i-1], edges[i]]. */
  readonly edges: readonly number[];
  /** Share of non-missing values in each of edges.length + 1 bins. */
  readonly proportions: readonly number[];
  /** Distinct non-missing values (absent in artifacts made before drift tests needed it). */
  readonly distinct?: number;
  /** The fine CDF grid for KS (absent in older artifacts: KS then falls back to the deciles). */
  readonly grid?: QuantileGrid;
}

export interface CategoricalSketch {
  readonly kind: "categorical";
  readonly feature: string;
  readonly count: number;
  readonly missingRate: number;
  /** Share of non-missing values per code (code = index; the last is the unknown bucket). */
  readonly proportions: readonly number[];
}

export type FeatureSketch = NumericSketch | CategoricalSketch;

export interface Baseline {
  readonly rows: number;
  readonly features: readonly FeatureSketch[];
  /** Sketch of the model's output on held-out rows (probability of class 1, class, or value). */
  readonly prediction?: FeatureSketch;
}

/** Sketch one column of values (NaN = missing). */
export function sketchNumeric(feature: string, values: ArrayLike<number>): NumericSketch {
  const present: number[] = [];
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (Number.isNaN(v)) continue;
    present.push(v);
    sum += v;
  }
  const n = present.length;
  const sorted = Float64Array.from(present).sort();
  const mean = n ? sum / n : 0;
  let sq = 0;
  for (const v of sorted) sq += (v - mean) * (v - mean);
  const edges: number[] = [];
  for (let b = 1; b < BASELINE_BINS && n > 0; b++) {
    const q = sorted[Math.min(n - 1, Math.floor((b * n) / BASELINE_BINS))] as number;
    if (edges.length === 0 || q > (edges[edges.length - 1] as number)) edges.push(q);
  }
  const counts = new Array<number>(edges.length + 1).fill(0);
  for (const v of sorted) counts[binOf(edges, v)] = (counts[binOf(edges, v)] ?? 0) + 1;
  let distinct = 0;
  for (let i = 0; i < n; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) distinct++;
  return {
    kind: "numeric",
    feature,
    count: values.length,
    missingRate: values.length ? (values.length - n) / values.length : 0,
    mean,
    std: n > 1 ? Math.sqrt(sq / (n - 1)) : 0,
    min: n ? (sorted[0] as number) : 0,
    max: n ? (sorted[n - 1] as number) : 0,
    edges,
    proportions: counts.map((c) => (n ? c / n : 0)),
    distinct,
    ...(n > 0 ? { grid: quantileGrid(sorted) } : {}),
  };
}

/**
 * The grid of sorted values: the value at index floor(p·n/100) for p = 0..100 (the same rule as
 * the decile edges, so every edge is a grid point), with the exact shares at or below and below.
 */
function quantileGrid(sorted: Float64Array): QuantileGrid {
  const n = sorted.length;
  const values: number[] = [];
  const atOrBelow: number[] = [];
  const below: number[] = [];
  for (let p = 0; p <= GRID_STEPS; p++) {
    const v = sorted[Math.min(n - 1, Math.floor((p * n) / GRID_STEPS))] as number;
    if (values.length > 0 && v <= (values[values.length - 1] as number)) continue;
    values.push(v);
    atOrBelow.push(upperBound(sorted, v) / n);
    below.push(lowerBound(sorted, v) / n);
  }
  return { values, atOrBelow, below };
}

/** Index of the first element ≥ v. */
function lowerBound(sorted: Float64Array, v: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((sorted[mid] as number) < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the first element > v. */
function upperBound(sorted: Float64Array, v: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((sorted[mid] as number) <= v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The bin of v: the first edge >= v (binary search), so bins are right-closed. */
export function binOf(edges: readonly number[], v: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (v <= (edges[mid] as number)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

export function sketchCategorical(
  feature: string,
  codes: ArrayLike<number>,
  cardinality: number,
): CategoricalSketch {
  const counts = new Array<number>(cardinality).fill(0);
  let present = 0;
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i] as number;
    if (Number.isNaN(c)) continue;
    present++;
    const k = Math.min(cardinality - 1, Math.max(0, c));
    counts[k] = (counts[k] ?? 0) + 1;
  }
  return {
    kind: "categorical",
    feature,
    count: codes.length,
    missingRate: codes.length ? (codes.length - present) / codes.length : 0,
    proportions: counts.map((c) => (present ? c / present : 0)),
  };
}

/** Sketch every feature of a training matrix. */
export function baselineOf(X: FeatureMatrix): FeatureSketch[] {
  return X.features.map((info, f) => {
    const column = X.data.subarray(f * X.rowCount, (f + 1) * X.rowCount);
    return info.kind === "categorical"
      ? sketchCategorical(info.name, column, info.cardinality ?? 1)
      : sketchNumeric(info.name, column);
  });
}
