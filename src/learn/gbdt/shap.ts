/**
 * Exact TreeSHAP (Lundberg, Erion & Lee 2018, "Consistent Individualized Feature Attribution
 * for Tree Ensembles", Algorithm 2): the Shapley values of one prediction of the forest, in
 * polynomial time (O(trees · leaves · depth²) per row) instead of enumerating feature subsets.
 *
 * The game is the path-dependent conditional expectation: v(S) is the forest's raw score when
 * the features in S take the row's values and every other split is averaged over its children,
 * weighted by the training rows that went each way (the forest's `cover`). Its Shapley values
 * sum, per output, to the raw margin (log-odds for binary, the class score for multiclass, the
 * prediction before any inverse link for regression) minus v(∅), the expected value, which the
 * explanation reports as the bias. Missing values and categorical splits follow the same
 * decision rule as prediction (`leafIndex` in forest.ts), so "the row's path" is the path the
 * model actually takes.
 *
 * The recursion keeps the paper's unique-path arrays (feature, zero fraction, one fraction,
 * permutation weight) in four typed arrays preallocated from the forest's maximum depth, so
 * explaining a row allocates nothing.
 */
import type { Forest } from "./forest.ts";
import { FLAG_CATEGORICAL, FLAG_DEFAULT_LEFT } from "./forest.ts";

/** Whether node `i` (internal) sends a row whose split feature is `x` to its left child. */
function goesLeft(forest: Forest, i: number, f: number, x: number): boolean {
  const flag = forest.flags[i] as number;
  if (Number.isNaN(x)) return (flag & FLAG_DEFAULT_LEFT) !== 0;
  if ((flag & FLAG_CATEGORICAL) !== 0) {
    if (x >>> 0 === x && x < (forest.cardinality[f] as number)) {
      const word = forest.catBits[(forest.threshold[i] as number) + (x >>> 5)] as number;
      return ((word >>> (x & 31)) & 1) === 1;
    }
    return (flag & FLAG_DEFAULT_LEFT) !== 0;
  }
  return x <= (forest.threshold[i] as number);
}

/**
 * Share of node `i`'s training cover that went to its left child: cover(left) over the
 * children's total cover (one half when neither child saw a training row). Using the children's
 * sum, not the node's own cover, keeps the two shares summing to exactly 1.
 */
export function leftShare(forest: Forest, i: number): number {
  const l = forest.cover[forest.left[i] as number] as number;
  const r = forest.cover[forest.right[i] as number] as number;
  const total = l + r;
  return total > 0 ? l / total : 0.5;
}

/**
 * Expected raw score of every node's subtree under the cover weights (v(∅) of the subtree),
 * computed back to front: children always come after their parent in the flat arrays.
 */
function nodeExpectations(forest: Forest): Float64Array {
  const n = forest.feature.length;
  const expected = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    if ((forest.feature[i] as number) < 0) {
      expected[i] = forest.value[i] as number;
    } else {
      const share = leftShare(forest, i);
      expected[i] =
        share * (expected[forest.left[i] as number] as number) +
        (1 - share) * (expected[forest.right[i] as number] as number);
    }
  }
  return expected;
}

/**
 * Depth of the deepest node (a single leaf has depth 0), and the work of explaining one row:
 * Σ over leaves of (depth + 1)² (the unwound sums) plus Σ over nodes of (depth + 1) (path
 * copies and extensions), in units of inner-loop steps.
 */
function shapeOf(forest: Forest): { maxDepth: number; cost: number } {
  const n = forest.feature.length;
  const depth = new Int32Array(n);
  let maxDepth = 0;
  let cost = 0;
  for (let i = 0; i < n; i++) {
    const d = depth[i] as number;
    if (d > maxDepth) maxDepth = d;
    cost += d + 1;
    if ((forest.feature[i] as number) < 0) {
      cost += (d + 1) * (d + 1);
      continue;
    }
    const l = forest.left[i] as number;
    const r = forest.right[i] as number;
    if ((depth[l] as number) < d + 1) depth[l] = d + 1;
    if ((depth[r] as number) < d + 1) depth[r] = d + 1;
  }
  return { maxDepth, cost };
}

/** Placeholder for the row and output buffers between calls (so they are not kept alive). */
const EMPTY = new Float64Array(0);

/**
 * TreeSHAP explainer of one forest. It owns scratch buffers, so one call must finish before the
 * next starts (calls are synchronous, so within one thread they always do).
 */
export class TreeShap {
  /** Output count K: tree t adds to output t % K. */
  readonly outputSize: number;
  /** v(∅) per output: the base score plus every tree's cover-weighted expected value. */
  readonly expectedValue: Float64Array;
  /**
   * Work per explained row in inner-loop steps (roughly 10 ns each), so callers can size a
   * sample of rows to a time budget deterministically.
   */
  readonly costPerRow: number;
  // Unique-path arrays: one segment per recursion level, each a copy of its parent's.
  private readonly pathFeature: Int32Array;
  private readonly pathZero: Float64Array;
  private readonly pathOne: Float64Array;
  private readonly pathWeight: Float64Array;
  /** inverse[i] = 1 / i, for the path weight updates. */
  private readonly inverse: Float64Array;
  // The row being explained and where its contributions go, set per call.
  private data: Float64Array = EMPTY;
  private base = 0;
  private stride = 1;
  private phi: Float64Array = EMPTY;
  private phiOffset = 0;

  constructor(
    readonly forest: Forest,
    baseScore: Float64Array,
    /** Features of a row (the width of the matrix the forest was trained on). */
    readonly featureCount: number,
  ) {
    this.outputSize = baseScore.length;
    if (this.outputSize < 1) throw new RangeError("TreeShap needs at least one output");
    const expected = nodeExpectations(forest);
    this.expectedValue = Float64Array.from(baseScore);
    const roots = forest.roots;
    for (let t = 0; t < roots.length; t++) {
      const c = t % this.outputSize;
      this.expectedValue[c] =
        (this.expectedValue[c] as number) + (expected[roots[t] as number] as number);
    }
    // Level d's segment starts after levels 0..d-1 (at most d+1 entries each), plus the unused
    // slot 0 the root's parent segment occupies: (D + 2)(D + 3) / 2 entries cover depth D.
    const shape = shapeOf(forest);
    this.costPerRow = shape.cost;
    const depth = shape.maxDepth;
    const size = ((depth + 2) * (depth + 3)) / 2;
    this.pathFeature = new Int32Array(size);
    this.pathZero = new Float64Array(size);
    this.pathOne = new Float64Array(size);
    this.pathWeight = new Float64Array(size);
    this.inverse = Float64Array.from({ length: depth + 3 }, (_, i) => (i > 0 ? 1 / i : 0));
  }

  /** Values written per row: (featureCount + 1) per output. */
  get contributionSize(): number {
    return (this.featureCount + 1) * this.outputSize;
  }

  /**
   * SHAP values of one row (length featureCount) into `out` (length {@link contributionSize}):
   * for output c, out[c·(F+1) + f] is feature f's contribution and out[c·(F+1) + F] the
   * expected value; together they sum to the raw score of output c.
   */
  explainRow(row: Float64Array, out: Float64Array): void {
    this.explain(row, 0, 1, out);
  }

  /** {@link explainRow} for a row stored strided: feature f of the row is data[base + f·stride]. */
  explain(data: Float64Array, base: number, stride: number, out: Float64Array): void {
    const k = this.outputSize;
    const width = this.featureCount + 1;
    if (out.length < width * k) throw new RangeError("explain: output buffer is too small");
    out.fill(0, 0, width * k);
    this.data = data;
    this.base = base;
    this.stride = stride;
    this.phi = out;
    const roots = this.forest.roots;
    for (let t = 0; t < roots.length; t++) {
      this.phiOffset = (t % k) * width;
      this.recurse(roots[t] as number, 0, 0, 1, 1, -1);
    }
    for (let c = 0; c < k; c++) out[c * width + width - 1] = this.expectedValue[c] as number;
    this.data = this.phi = EMPTY;
  }

  /**
   * One step of Algorithm 2. The parent's path occupies entries [parentStart, parentStart +
   * depth) of the path arrays; this node copies it to the segment right after and extends it
   * with the split that led here (feature `feature`, fractions `zero` and `one`).
   */
  private recurse(
    node: number,
    parentStart: number,
    depth: number,
    zero: number,
    one: number,
    feature: number,
  ): void {
    const forest = this.forest;
    const start = parentStart + depth + 1;
    // Plain loops: copyWithin costs a runtime call, far more than copying a few entries.
    const pathFeature = this.pathFeature;
    const pathZero = this.pathZero;
    const pathOne = this.pathOne;
    const pathWeight = this.pathWeight;
    for (let i = 0; i < depth; i++) {
      pathFeature[start + i] = pathFeature[parentStart + i] as number;
      pathZero[start + i] = pathZero[parentStart + i] as number;
      pathOne[start + i] = pathOne[parentStart + i] as number;
      pathWeight[start + i] = pathWeight[parentStart + i] as number;
    }
    this.extend(start, depth, zero, one, feature);

    const f = forest.feature[node] as number;
    if (f < 0) {
      const value = forest.value[node] as number;
      const phi = this.phi;
      const offset = this.phiOffset;
      for (let i = 1; i <= depth; i++) {
        const at = start + i;
        const w = this.unwoundSum(start, depth, i);
        const target = offset + (this.pathFeature[at] as number);
        phi[target] =
          (phi[target] as number) +
          w * ((this.pathOne[at] as number) - (this.pathZero[at] as number)) * value;
      }
      return;
    }

    const x = this.data[this.base + f * this.stride] as number;
    const left = forest.left[node] as number;
    const right = forest.right[node] as number;
    const share = leftShare(forest, node);
    const hotIsLeft = goesLeft(forest, node, f, x);
    const hot = hotIsLeft ? left : right;
    const cold = hotIsLeft ? right : left;
    const hotZero = hotIsLeft ? share : 1 - share;
    const coldZero = hotIsLeft ? 1 - share : share;

    // A feature already split on higher up: undo its entry, then redo it with both splits.
    let incomingZero = 1;
    let incomingOne = 1;
    let d = depth;
    for (let i = 0; i <= d; i++) {
      if ((this.pathFeature[start + i] as number) === f) {
        incomingZero = this.pathZero[start + i] as number;
        incomingOne = this.pathOne[start + i] as number;
        this.unwind(start, d, i);
        d--;
        break;
      }
    }
    // A branch with no weight either way contributes nothing (and would divide 0 by 0).
    if (hotZero * incomingZero !== 0 || incomingOne !== 0)
      this.recurse(hot, start, d + 1, hotZero * incomingZero, incomingOne, f);
    if (coldZero * incomingZero !== 0)
      this.recurse(cold, start, d + 1, coldZero * incomingZero, 0, f);
  }

  /** EXTEND: add a split to the path at `start` (which holds `depth` entries) and update weights. */
  private extend(start: number, depth: number, zero: number, one: number, feature: number): void {
    const w = this.pathWeight;
    const at = start + depth;
    this.pathFeature[at] = feature;
    this.pathZero[at] = zero;
    this.pathOne[at] = one;
    w[at] = depth === 0 ? 1 : 0;
    // Multiplications by precomputed factors instead of divisions: the loops below are
    // latency-bound, and division is several times slower than multiplication.
    const inverse = 1 / (depth + 1);
    const up = one * inverse;
    const down = zero * inverse;
    for (let i = depth - 1; i >= 0; i--) {
      const wi = w[start + i] as number;
      w[start + i + 1] = (w[start + i + 1] as number) + up * wi * (i + 1);
      w[start + i] = down * wi * (depth - i);
    }
  }

  /** UNWIND: remove entry `index` from the path at `start` (with entries 0..depth). */
  private unwind(start: number, depth: number, index: number): void {
    const w = this.pathWeight;
    const one = this.pathOne[start + index] as number;
    const zero = this.pathZero[start + index] as number;
    const inv = this.inverse;
    const denom = depth + 1;
    if (one !== 0) {
      const scale = denom / one;
      const back = zero / denom;
      let next = w[start + depth] as number;
      for (let i = depth - 1; i >= 0; i--) {
        const tmp = w[start + i] as number;
        const wi = next * scale * (inv[i + 1] as number);
        w[start + i] = wi;
        next = tmp - wi * back * (depth - i);
      }
    } else {
      const scale = denom / zero;
      for (let i = depth - 1; i >= 0; i--)
        w[start + i] = (w[start + i] as number) * scale * (inv[depth - i] as number);
    }
    for (let i = index; i < depth; i++) {
      this.pathFeature[start + i] = this.pathFeature[start + i + 1] as number;
      this.pathZero[start + i] = this.pathZero[start + i + 1] as number;
      this.pathOne[start + i] = this.pathOne[start + i + 1] as number;
    }
  }

  /** Total permutation weight of the path with entry `index` unwound, without changing it. */
  private unwoundSum(start: number, depth: number, index: number): number {
    const w = this.pathWeight;
    const one = this.pathOne[start + index] as number;
    const zero = this.pathZero[start + index] as number;
    const inv = this.inverse;
    const denom = depth + 1;
    let total = 0;
    if (one !== 0) {
      const scale = denom / one;
      const back = zero / denom;
      let next = w[start + depth] as number;
      for (let i = depth - 1; i >= 0; i--) {
        // Factors first, so the loop-carried chain through `next` is one multiply-subtract.
        const up = scale * (inv[i + 1] as number);
        const down = up * back * (depth - i);
        total += next * up;
        next = (w[start + i] as number) - next * down;
      }
    } else if (zero !== 0) {
      const scale = denom / zero;
      for (let i = depth - 1; i >= 0; i--)
        total += (w[start + i] as number) * scale * (inv[depth - i] as number);
    }
    return total;
  }
}

/** One explainer per forest, built on first use (its expected values cost a pass over nodes). */
const explainers = new WeakMap<Forest, TreeShap>();

/**
 * The cached {@link TreeShap} of a forest, so a model can offer `explainRow` without keeping
 * state of its own.
 */
export function treeShapOf(
  forest: Forest,
  baseScore: Float64Array,
  featureCount: number,
): TreeShap {
  let shap = explainers.get(forest);
  if (!shap) {
    shap = new TreeShap(forest, baseScore, featureCount);
    explainers.set(forest, shap);
  }
  return shap;
}
