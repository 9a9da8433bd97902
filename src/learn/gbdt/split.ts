/**
 * Split finding on a node's histogram. A split's gain is the second-order loss reduction
 * 0.5 * (S(L) + S(R) - S(P)) with S(G, H) = T(G)^2 / (H + lambda) and T the L1 soft threshold
 * (XGBoost's formula). Numeric features scan thresholds in bin order and try sending the
 * missing bin both ways (the learned default direction). Categorical features sort their
 * categories by G / (H + catSmooth) and scan prefixes of that order (LightGBM's method),
 * with the missing bin taking part like any other category.
 */
import type { BinnedMatrix } from "./binning.ts";

/** Values per histogram bin ([g, h, count]); a local copy so hot loops read a constant. */
const STRIDE = 3;

/** The parameters split finding depends on (a subset of the resolved GBDT params). */
export interface SplitParams {
  readonly lambda: number;
  readonly alpha: number;
  readonly minChildWeight: number;
  readonly minDataInLeaf: number;
  readonly minSplitGain: number;
  readonly catSmooth: number;
  readonly catL2: number;
  readonly minDataPerGroup: number;
}

/** The best split found so far for one node; `feature` is -1 while none is found. */
export interface SplitInfo {
  feature: number;
  gain: number;
  categorical: boolean;
  /** numeric: value bins 1..thresholdBin go left. */
  thresholdBin: number;
  /** Where missing values (bin 0) go. */
  defaultLeft: boolean;
  /** categorical: leftBins[b] = 1 when bin b goes left (bins of the feature). */
  leftBins: Uint8Array | null;
  leftG: number;
  leftH: number;
  leftCount: number;
  rightG: number;
  rightH: number;
  rightCount: number;
}

export function emptySplit(): SplitInfo {
  return {
    feature: -1,
    gain: 0,
    categorical: false,
    thresholdBin: 0,
    defaultLeft: false,
    leftBins: null,
    leftG: 0,
    leftH: 0,
    leftCount: 0,
    rightG: 0,
    rightH: 0,
    rightCount: 0,
  };
}

/** L1 soft-thresholding of a gradient sum. */
function threshold(g: number, alpha: number): number {
  if (alpha === 0) return g;
  if (g > alpha) return g - alpha;
  if (g < -alpha) return g + alpha;
  return 0;
}

/** S(G, H): how much loss a leaf with these sums removes, up to a factor of 1/2. */
export function leafScore(g: number, h: number, lambda: number, alpha: number): number {
  const t = threshold(g, alpha);
  return (t * t) / (h + lambda);
}

/** The optimal (unshrunk) leaf value -T(G) / (H + lambda). */
export function leafValue(g: number, h: number, lambda: number, alpha: number): number {
  const denominator = h + lambda;
  return denominator > 0 ? -threshold(g, alpha) / denominator : 0;
}

/** Gain of splitting (G, H) into a left part and the rest, or -Infinity if constraints fail. */
export function splitGain(
  lg: number,
  lh: number,
  lc: number,
  sumG: number,
  sumH: number,
  count: number,
  lambda: number,
  params: SplitParams,
): number {
  const rc = count - lc;
  const rh = sumH - lh;
  if (lc < params.minDataInLeaf || rc < params.minDataInLeaf) return Number.NEGATIVE_INFINITY;
  if (lh < params.minChildWeight || rh < params.minChildWeight) return Number.NEGATIVE_INFINITY;
  const a = params.alpha;
  return (
    0.5 *
    (leafScore(lg, lh, lambda, a) +
      leafScore(sumG - lg, rh, lambda, a) -
      leafScore(sumG, sumH, lambda, a))
  );
}

function accept(best: SplitInfo, gain: number, params: SplitParams): boolean {
  return gain > params.minSplitGain && gain > 0 && (best.feature < 0 || gain > best.gain);
}

function record(
  best: SplitInfo,
  feature: number,
  gain: number,
  lg: number,
  lh: number,
  lc: number,
  sumG: number,
  sumH: number,
  count: number,
): void {
  best.feature = feature;
  best.gain = gain;
  best.leftG = lg;
  best.leftH = lh;
  best.leftCount = lc;
  best.rightG = sumG - lg;
  best.rightH = sumH - lh;
  best.rightCount = count - lc;
}

/**
 * Best threshold of one numeric feature whose histogram starts at `off` (a value index into
 * hist) and has `binCount` bins (bin 0 = missing). Updates `best` when it finds a better split.
 */
export function findNumericSplit(
  hist: Float64Array,
  off: number,
  binCount: number,
  feature: number,
  sumG: number,
  sumH: number,
  count: number,
  params: SplitParams,
  best: SplitInfo,
): void {
  const mg = hist[off] as number;
  const mh = hist[off + 1] as number;
  const mc = hist[off + 2] as number;
  const hasMissing = mc > 0;
  const { lambda, alpha, minDataInLeaf, minChildWeight } = params;
  const parentScore = leafScore(sumG, sumH, lambda, alpha);
  let cg = 0;
  let ch = 0;
  let cc = 0;
  for (let t = 1; t < binCount; t++) {
    const idx = off + t * STRIDE;
    const c = hist[idx + 2] as number;
    // An empty bin moves no row: its threshold splits the node exactly as the previous one
    // did. (Small nodes leave most bins empty, so this saves most of the work there.)
    if (c === 0) continue;
    cg += hist[idx] as number;
    ch += hist[idx + 1] as number;
    cc += c;
    let rc = count - cc;
    // Later thresholds only shrink the right side: no valid split remains.
    if (rc < minDataInLeaf) break;
    // Missing values go right.
    let rh = sumH - ch;
    if (cc >= minDataInLeaf && ch >= minChildWeight && rh >= minChildWeight) {
      const gain =
        0.5 *
        (leafScore(cg, ch, lambda, alpha) + leafScore(sumG - cg, rh, lambda, alpha) - parentScore);
      if (accept(best, gain, params)) {
        record(best, feature, gain, cg, ch, cc, sumG, sumH, count);
        best.categorical = false;
        best.leftBins = null;
        best.thresholdBin = t;
        // With no missing rows here, unseen missing values follow the heavier child.
        best.defaultLeft = !hasMissing && ch > rh;
      }
    }
    if (!hasMissing) continue;
    // Missing values go left.
    const lc = cc + mc;
    const lh = ch + mh;
    const lg = cg + mg;
    rc = count - lc;
    rh = sumH - lh;
    if (
      lc >= minDataInLeaf &&
      rc >= minDataInLeaf &&
      lh >= minChildWeight &&
      rh >= minChildWeight
    ) {
      const gain =
        0.5 *
        (leafScore(lg, lh, lambda, alpha) + leafScore(sumG - lg, rh, lambda, alpha) - parentScore);
      if (accept(best, gain, params)) {
        record(best, feature, gain, lg, lh, lc, sumG, sumH, count);
        best.categorical = false;
        best.leftBins = null;
        best.thresholdBin = t;
        best.defaultLeft = true;
      }
    }
  }
}

/**
 * Best partition of one categorical feature's bins into two groups. Bins with at least
 * minDataPerGroup rows are ordered by G / (H + catSmooth) and every prefix of that order is
 * tried as the left group, rare bins staying with the rest. Empty bins (categories unseen in
 * this node, including an unseen missing) join the heavier side.
 * `scratch` and `keyScratch` must hold at least binCount numbers.
 */
export function findCategoricalSplit(
  hist: Float64Array,
  off: number,
  binCount: number,
  feature: number,
  sumG: number,
  sumH: number,
  count: number,
  params: SplitParams,
  best: SplitInfo,
  scratch: Float64Array,
  keyScratch: Float64Array,
): void {
  let used = 0;
  for (let b = 0; b < binCount; b++) {
    const c = hist[off + b * STRIDE + 2] as number;
    if (c >= params.minDataPerGroup && c > 0) scratch[used++] = b;
  }
  if (used < 2) return;
  // Insertion sort of the used bins by G / (H + catSmooth), ties by bin (few bins, no allocation).
  const order = scratch;
  const keys = keyScratch;
  for (let i = 0; i < used; i++) {
    const b = order[i] as number;
    const idx = off + b * STRIDE;
    const key = (hist[idx] as number) / ((hist[idx + 1] as number) + params.catSmooth);
    let j = i - 1;
    while (
      j >= 0 &&
      ((keys[j] as number) > key || ((keys[j] as number) === key && (order[j] as number) > b))
    ) {
      keys[j + 1] = keys[j] as number;
      order[j + 1] = order[j] as number;
      j--;
    }
    keys[j + 1] = key;
    order[j + 1] = b;
  }
  const lambda = params.lambda + params.catL2;
  let cg = 0;
  let ch = 0;
  let cc = 0;
  let bestPrefix = -1;
  let bestGain = 0;
  let bestLG = 0;
  let bestLH = 0;
  let bestLC = 0;
  for (let i = 0; i < used - 1; i++) {
    const idx = off + (order[i] as number) * STRIDE;
    cg += hist[idx] as number;
    ch += hist[idx + 1] as number;
    cc += hist[idx + 2] as number;
    const gain = splitGain(cg, ch, cc, sumG, sumH, count, lambda, params);
    if (accept(best, gain, params) && (bestPrefix < 0 || gain > bestGain)) {
      bestPrefix = i;
      bestGain = gain;
      bestLG = cg;
      bestLH = ch;
      bestLC = cc;
    }
  }
  if (bestPrefix < 0) return;
  const leftBins = new Uint8Array(binCount);
  for (let i = 0; i <= bestPrefix; i++) leftBins[order[i] as number] = 1;
  if (bestLH > sumH - bestLH) {
    // No training row here decides where empty bins go: send them with the heavier side.
    for (let b = 0; b < binCount; b++) {
      if ((hist[off + b * STRIDE + 2] as number) === 0) leftBins[b] = 1;
    }
  }
  record(best, feature, bestGain, bestLG, bestLH, bestLC, sumG, sumH, count);
  best.categorical = true;
  best.leftBins = leftBins;
  best.thresholdBin = 0;
  best.defaultLeft = leftBins[0] === 1;
}

/**
 * The best split of a node over the sampled `features`, or a split with feature -1 when no
 * split satisfies the constraints and beats minSplitGain.
 */
export function findBestSplit(
  hist: Float64Array,
  binned: BinnedMatrix,
  features: Int32Array,
  sumG: number,
  sumH: number,
  count: number,
  params: SplitParams,
  scratch: Float64Array,
  keyScratch: Float64Array,
): SplitInfo {
  const best = emptySplit();
  for (let j = 0; j < features.length; j++) {
    const f = features[j] as number;
    const fb = binned.features[f];
    if (fb === undefined || fb.binCount < 2) continue;
    const off = (binned.offsets[f] as number) * STRIDE;
    if (fb.kind === "categorical") {
      findCategoricalSplit(
        hist,
        off,
        fb.binCount,
        f,
        sumG,
        sumH,
        count,
        params,
        best,
        scratch,
        keyScratch,
      );
    } else {
      findNumericSplit(hist, off, fb.binCount, f, sumG, sumH, count, params, best);
    }
  }
  return best;
}
