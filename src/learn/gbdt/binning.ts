/**
 * Quantile binning: every feature becomes at most 256 small integers so that histograms, not
 * sorted columns, drive split finding. Bin 0 of every feature is "missing"; numeric values
 * fill bins 1..m by quantiles (each bin's upper bound is a raw threshold the compiled trees
 * compare against), and category codes map to their own bins.
 */
import type { Random } from "../random.ts";
import type { FeatureMatrix } from "../types.ts";
import type { SharedArena } from "./arena.ts";

/** Most rows looked at when choosing bin bounds; beyond this a seeded sample is used. */
const BIN_SAMPLE_ROWS = 200_000;

/** How one feature's raw values map to bins. */
export interface FeatureBinning {
  /** "categorical" only for natively split categories; ordinal codes are numeric here. */
  readonly kind: "numeric" | "categorical";
  /** Bins including the missing bin 0 (1 for a feature that is always missing). */
  readonly binCount: number;
  /**
   * numeric: upper[j] is the inclusive upper bound of value bin j + 1; the last is +Infinity.
   * A value v lands in the first bin whose bound is >= v.
   */
  readonly upper: Float64Array;
  /** categorical: bin of each code 0..cardinality-1 (rare codes of huge vocabularies share one). */
  readonly codeToBin: Uint8Array;
  /** categorical: number of codes (cardinality); 0 for numeric. */
  readonly cardinality: number;
}

/**
 * The training matrix in bins: bins[f * rowCount + r] (column-major, like the FeatureMatrix),
 * plus each feature's histogram slot. When binned into a SharedArena, the histogram kernels
 * (WebAssembly, worker threads) read `bins` where it is, without a copy.
 */
export interface BinnedMatrix {
  readonly rowCount: number;
  readonly bins: Uint8Array;
  readonly features: readonly FeatureBinning[];
  /** First histogram bin of each feature; histograms are `totalBins` bins long. */
  readonly offsets: Int32Array;
  /** binCount of each feature, as a typed array for the histogram kernels. */
  readonly binCounts: Int32Array;
  readonly totalBins: number;
  /** The arena `bins` lives in, if any. */
  readonly arena?: SharedArena;
}

/** Value bin bounds for the sorted non-missing values of one numeric feature. */
export function numericBounds(sorted: Float64Array, maxBins: number): Float64Array {
  const n = sorted.length;
  if (n === 0) return new Float64Array(0);
  const distinct: number[] = [];
  const counts: number[] = [];
  for (let i = 0; i < n; i++) {
    const v = sorted[i] as number;
    if (distinct.length > 0 && distinct[distinct.length - 1] === v) {
      counts[counts.length - 1] = (counts[counts.length - 1] as number) + 1;
    } else {
      distinct.push(v);
      counts.push(1);
    }
  }
  const bounds: number[] = [];
  if (distinct.length <= maxBins) {
    for (let i = 0; i + 1 < distinct.length; i++) {
      bounds.push(between(distinct[i] as number, distinct[i + 1] as number));
    }
  } else {
    // Greedy equal-frequency bins: close a bin once it holds its share of what remains, so a
    // value repeated many times gets a bin of its own and the rest share the other bins.
    let binsLeft = maxBins;
    let remaining = n;
    let acc = 0;
    for (let i = 0; i + 1 < distinct.length && binsLeft > 1; i++) {
      acc += counts[i] as number;
      const target = remaining / binsLeft;
      const next = counts[i + 1] as number;
      if (acc >= target || acc + next / 2 > target) {
        bounds.push(between(distinct[i] as number, distinct[i + 1] as number));
        remaining -= acc;
        acc = 0;
        binsLeft--;
      }
    }
  }
  bounds.push(Number.POSITIVE_INFINITY);
  return Float64Array.from(bounds);
}

/** A threshold t with a <= t < b, as close to the midpoint as floating point allows. */
function between(a: number, b: number): number {
  const mid = a + (b - a) / 2;
  return mid >= b || !Number.isFinite(mid) ? a : mid;
}

/** The value bin (1..m) of a non-missing numeric value: first bound >= v. */
export function numericBin(upper: Float64Array, v: number): number {
  let lo = 0;
  let hi = upper.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (v <= (upper[mid] as number)) hi = mid;
    else lo = mid + 1;
  }
  return lo + 1;
}

/**
 * out[r] = the bin of column[r] (0 for missing): numericBin for every value, but fast. A
 * uniform grid over the finite bounds' range gives each value a bracket of a bin or two to
 * search; a bracket that rounding made wrong is caught and the full search done instead, so
 * the result is exactly numericBin's.
 */
export function binNumericColumn(column: Float64Array, upper: Float64Array, out: Uint8Array): void {
  const n = column.length;
  const m = upper.length;
  const lo = m >= 2 ? (upper[0] as number) : 0;
  const hi = m >= 2 ? (upper[m - 2] as number) : 0;
  const cells = 4 * m;
  const scale = cells / (hi - lo);
  if (m < 3 || !Number.isFinite(scale) || scale <= 0) {
    for (let r = 0; r < n; r++) {
      const v = column[r] as number;
      out[r] = Number.isNaN(v) ? 0 : numericBin(upper, v);
    }
    return;
  }
  // edge[c] = index (bin - 1) of the value at the start of cell c.
  const edge = new Int32Array(cells + 1);
  for (let c = 0; c <= cells; c++) edge[c] = numericBin(upper, lo + c / scale) - 1;
  for (let r = 0; r < n; r++) {
    const v = column[r] as number;
    if (Number.isNaN(v)) {
      out[r] = 0;
      continue;
    }
    if (v <= lo) {
      out[r] = 1;
      continue;
    }
    if (v > hi) {
      out[r] = m;
      continue;
    }
    let c = Math.floor((v - lo) * scale);
    c = Math.min(Math.max(c, 1), cells - 2);
    let a = edge[c - 1] as number;
    let b = edge[c + 2] as number;
    // The answer is the first index i with v <= upper[i]; check it lies in [a, b].
    if (!((a === 0 || v > (upper[a - 1] as number)) && v <= (upper[b] as number))) {
      a = 0;
      b = m - 1;
    }
    while (a < b) {
      const mid = (a + b) >>> 1;
      if (v <= (upper[mid] as number)) b = mid;
      else a = mid + 1;
    }
    out[r] = a + 1;
  }
}

/** True when v is a valid category code for a feature with `cardinality` codes. */
export function isValidCode(v: number, cardinality: number): boolean {
  return v >>> 0 === v && v < cardinality;
}

function categoricalBinning(column: Float64Array, cardinality: number): FeatureBinning {
  const codeToBin = new Uint8Array(cardinality);
  if (cardinality <= 255) {
    for (let c = 0; c < cardinality; c++) codeToBin[c] = c + 1;
    return {
      kind: "categorical",
      binCount: cardinality + 1,
      upper: new Float64Array(0),
      codeToBin,
      cardinality,
    };
  }
  // Huge vocabularies: the 254 most frequent codes keep a bin each, the rest share bin 255.
  const counts = new Float64Array(cardinality);
  for (let i = 0; i < column.length; i++) {
    const v = column[i] as number;
    if (isValidCode(v, cardinality)) counts[v] = (counts[v] as number) + 1;
  }
  const order = Array.from({ length: cardinality }, (_, c) => c);
  order.sort((a, b) => (counts[b] as number) - (counts[a] as number) || a - b);
  codeToBin.fill(255);
  for (let i = 0; i < 254; i++) codeToBin[order[i] as number] = i + 1;
  return { kind: "categorical", binCount: 256, upper: new Float64Array(0), codeToBin, cardinality };
}

/**
 * Choose bins for every feature and bin the matrix. Bounds come from the training rows only
 * (a seeded sample of BIN_SAMPLE_ROWS when there are more), so they are deterministic.
 * With `arena`, the bins are allocated in it.
 */
export function binMatrix(
  X: FeatureMatrix,
  maxBins: number,
  categorical: "native" | "ordinal",
  random: Random,
  arena?: SharedArena,
): BinnedMatrix {
  const n = X.rowCount;
  const width = X.features.length;
  const bins = arena ? arena.u8(n * width) : new Uint8Array(n * width);
  const features: FeatureBinning[] = [];
  const offsets = new Int32Array(width);
  const binCounts = new Int32Array(width);
  let sample: Uint32Array | undefined;
  if (n > BIN_SAMPLE_ROWS) {
    const all = new Uint32Array(n);
    for (let i = 0; i < n; i++) all[i] = i;
    random.shuffle(all);
    sample = all.subarray(0, BIN_SAMPLE_ROWS).sort();
  }
  let totalBins = 0;
  // Bin each column into ordinary memory, then copy it into the arena: V8 writes arrays in
  // WebAssembly memory slowly from TypeScript loops (see histogram.ts).
  const scratch = arena ? new Uint8Array(n) : null;
  // The non-missing values a numeric feature's bounds come from.
  const values = new Float64Array(Math.min(n, BIN_SAMPLE_ROWS));
  for (let f = 0; f < width; f++) {
    const info = X.features[f];
    const column = X.data.subarray(f * n, (f + 1) * n);
    const out = scratch ?? bins.subarray(f * n, (f + 1) * n);
    let binning: FeatureBinning;
    if (info?.kind === "categorical" && categorical === "native") {
      binning = categoricalBinning(column, info.cardinality ?? 1);
      const { codeToBin, cardinality } = binning;
      for (let r = 0; r < n; r++) {
        const v = column[r] as number;
        out[r] = isValidCode(v, cardinality) ? (codeToBin[v] as number) : 0;
      }
    } else {
      let count = 0;
      if (sample) {
        for (let i = 0; i < sample.length; i++) {
          const v = column[sample[i] as number] as number;
          if (!Number.isNaN(v)) values[count++] = v;
        }
      } else {
        for (let r = 0; r < n; r++) {
          const v = column[r] as number;
          if (!Number.isNaN(v)) values[count++] = v;
        }
      }
      const sorted = values.subarray(0, count).sort();
      const upper = numericBounds(sorted, maxBins);
      binning = {
        kind: "numeric",
        binCount: upper.length + 1,
        upper,
        codeToBin: new Uint8Array(0),
        cardinality: 0,
      };
      binNumericColumn(column, upper, out);
    }
    if (scratch) bins.set(scratch, f * n);
    features.push(binning);
    offsets[f] = totalBins;
    binCounts[f] = binning.binCount;
    totalBins += binning.binCount;
  }
  return arena
    ? { rowCount: n, bins, features, offsets, binCounts, totalBins, arena }
    : { rowCount: n, bins, features, offsets, binCounts, totalBins };
}
