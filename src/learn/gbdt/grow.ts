/**
 * Leaf-wise (best-first) growth of one regression tree on gradients: always split the leaf
 * whose best split gains most, until maxLeaves, maxDepth or no useful split stops it. Rows of
 * each leaf are a contiguous, ascending segment of one index array (partitioned in place as
 * leaves split); each split builds the histogram of its smaller child only and derives the
 * larger one by subtraction from the parent.
 */
import type { BinnedMatrix } from "./binning.ts";
import type { NodeDraft } from "./forest.ts";
import type { HistogramBuilder } from "./histogram.ts";
import { histogramLayout, SerialHistogramBuilder } from "./histogram.ts";
import type { SplitInfo, SplitParams } from "./split.ts";
import { findBestSplit, leafValue } from "./split.ts";

/** Split constraints plus the tree's size bounds. */
export interface GrowthParams extends SplitParams {
  readonly maxLeaves: number;
  /** 0 = unlimited. */
  readonly maxDepth: number;
}

/** A grown tree: its nodes (root first) and, per leaf, the segment of `rows` it holds. */
export interface GrownTree {
  readonly nodes: NodeDraft[];
  readonly leaves: readonly {
    readonly node: number;
    readonly start: number;
    readonly count: number;
  }[];
  /** Row indices, partitioned so that each leaf's rows are rows[start .. start+count). */
  readonly rows: Uint32Array;
}

interface Leaf {
  node: number;
  start: number;
  count: number;
  sumG: number;
  sumH: number;
  depth: number;
  hist: Float64Array | null;
  split: SplitInfo | null;
}

/** Add each leaf's value to the scores of the rows in it (the in-bag score update). */
export function addLeafValues(tree: GrownTree, scores: Float64Array): void {
  const rows = tree.rows;
  for (const leaf of tree.leaves) {
    const v = tree.nodes[leaf.node]?.value ?? 0;
    const end = leaf.start + leaf.count;
    for (let i = leaf.start; i < end; i++) {
      const r = rows[i] as number;
      scores[r] = (scores[r] as number) + v;
    }
  }
}

/**
 * Reusable buffers for growing many trees on one binned matrix. Histograms come from a
 * HistogramBuilder: the serial one by default, or one that spreads the work over worker
 * threads (parallel/); both give the same bits, so the tree does not depend on the choice.
 */
export class TreeGrower {
  private readonly rows: Uint32Array;
  /** The final partition, copied out of the arena for the score update (see histogram.ts). */
  private readonly rowsOut: Uint32Array;
  /** A histogram copied out of the arena for split finding. */
  private readonly histOut: Float64Array;
  /** Row counts of all rows, for roots of trees on all rows (HistogramKernel.countTemplate). */
  private rootCounts: Float64Array | null = null;
  private readonly catScratch = new Float64Array(256);
  private readonly keyScratch = new Float64Array(256);

  constructor(
    private readonly binned: BinnedMatrix,
    private readonly params: GrowthParams,
    private readonly histograms: HistogramBuilder = new SerialHistogramBuilder(
      histogramLayout(binned),
    ),
  ) {
    this.rows = histograms.layout.rows;
    this.rowsOut = new Uint32Array(binned.rowCount);
    this.histOut = new Float64Array(binned.totalBins * 3);
  }

  /**
   * Grow one tree on the rows bag[0 .. bagSize) using the sampled `features` (ascending);
   * leaf values are the regularized Newton steps times `learningRate`.
   */
  grow(
    grad: Float64Array,
    hess: Float64Array,
    bag: Uint32Array,
    bagSize: number,
    features: Int32Array,
    learningRate: number,
  ): GrownTree {
    const { params } = this;
    for (let j = 1; j < features.length; j++) {
      if ((features[j] as number) <= (features[j - 1] as number)) {
        throw new RangeError("gbdt: tree features must be strictly ascending");
      }
    }
    const pool = this.histograms.pool;
    // A tree on all rows in order (no row sampling) starts its root from the row counts,
    // which are the same for every such tree.
    const n = this.binned.rowCount;
    let allRows = bagSize === n;
    for (let i = 0; allRows && i < n; i++) allRows = bag[i] === i;
    if (allRows) this.rootCounts ??= this.histograms.kernel.countTemplate();
    this.histograms.kernel.stage(grad, hess);
    this.rows.set(bag.subarray(0, bagSize));
    let sumG = 0;
    let sumH = 0;
    for (let i = 0; i < bagSize; i++) {
      const r = bag[i] as number;
      sumG += grad[r] as number;
      sumH += hess[r] as number;
    }
    const nodes: NodeDraft[] = [draftLeaf(sumG, sumH, bagSize, params, learningRate)];
    const root: Leaf = {
      node: 0,
      start: 0,
      count: bagSize,
      sumG,
      sumH,
      depth: 0,
      hist: null,
      split: null,
    };
    const open: Leaf[] = [root];
    if (this.canSplit(root)) {
      root.hist = pool.acquire();
      this.histograms.build(
        root.hist,
        features,
        0,
        bagSize,
        null,
        allRows ? this.rootCounts : null,
      );
      this.evaluate(root, features);
    }
    let leafCount = 1;
    while (leafCount < params.maxLeaves) {
      let bestIndex = -1;
      let bestGain = 0;
      for (let i = 0; i < open.length; i++) {
        const split = open[i]?.split;
        if (split && split.feature >= 0 && (bestIndex < 0 || split.gain > bestGain)) {
          bestIndex = i;
          bestGain = split.gain;
        }
      }
      if (bestIndex < 0) break;
      const leaf = open[bestIndex] as Leaf;
      const split = leaf.split as SplitInfo;
      const leftCount = this.partition(leaf, split);
      const leftNode = nodes.length;
      const rightNode = leftNode + 1;
      nodes.push(draftLeaf(split.leftG, split.leftH, leftCount, params, learningRate));
      nodes.push(
        draftLeaf(split.rightG, split.rightH, leaf.count - leftCount, params, learningRate),
      );
      const parent = nodes[leaf.node] as NodeDraft;
      this.toInternal(parent, split, leftNode, rightNode);
      const left: Leaf = {
        node: leftNode,
        start: leaf.start,
        count: leftCount,
        sumG: split.leftG,
        sumH: split.leftH,
        depth: leaf.depth + 1,
        hist: null,
        split: null,
      };
      const right: Leaf = {
        node: rightNode,
        start: leaf.start + leftCount,
        count: leaf.count - leftCount,
        sumG: split.rightG,
        sumH: split.rightH,
        depth: leaf.depth + 1,
        hist: null,
        split: null,
      };
      open[bestIndex] = left;
      open.push(right);
      leafCount++;
      this.childHistograms(leaf, left, right, features, leafCount);
    }
    for (const leaf of open) if (leaf.hist) pool.release(leaf.hist);
    const leaves = open.map((l) => ({ node: l.node, start: l.start, count: l.count }));
    this.rowsOut.set(this.rows.subarray(0, bagSize));
    return { nodes, leaves, rows: this.rowsOut };
  }

  private canSplit(leaf: Leaf): boolean {
    const p = this.params;
    if (p.maxDepth > 0 && leaf.depth >= p.maxDepth) return false;
    return leaf.count >= 2 * p.minDataInLeaf && leaf.sumH >= 2 * p.minChildWeight;
  }

  private evaluate(leaf: Leaf, features: Int32Array): void {
    const hist = leaf.hist as Float64Array;
    // Split finding loops over the bins: on a copy outside WebAssembly memory, which V8 reads
    // faster (the sampled features' span only).
    const m = features.length;
    if (m === 0) return;
    const { offsets, binCounts } = this.binned;
    const first = features[0] as number;
    const last = features[m - 1] as number;
    const lo = (offsets[first] as number) * 3;
    const hi = ((offsets[last] as number) + (binCounts[last] as number)) * 3;
    this.histOut.set(hist.subarray(lo, hi), lo);
    leaf.split = findBestSplit(
      this.histOut,
      this.binned,
      features,
      leaf.sumG,
      leaf.sumH,
      leaf.count,
      this.params,
      this.catScratch,
      this.keyScratch,
    );
  }

  /** Histograms for both children: build the smaller, subtract for the larger. */
  private childHistograms(
    parent: Leaf,
    left: Leaf,
    right: Leaf,
    features: Int32Array,
    leafCount: number,
  ): void {
    const pool = this.histograms.pool;
    const parentHist = parent.hist as Float64Array;
    parent.hist = null;
    parent.split = null;
    const room = leafCount < this.params.maxLeaves;
    const splitLeft = room && this.canSplit(left);
    const splitRight = room && this.canSplit(right);
    if (!splitLeft && !splitRight) {
      pool.release(parentHist);
      return;
    }
    const smallIsLeft = left.count <= right.count;
    const small = smallIsLeft ? left : right;
    const large = smallIsLeft ? right : left;
    const smallHist = pool.acquire();
    // Only the smaller child's rows are read; the larger child's histogram is the parent's
    // minus it (skipped when neither child would use it).
    const largeSplits = smallIsLeft ? splitRight : splitLeft;
    this.histograms.build(
      smallHist,
      features,
      small.start,
      small.count,
      largeSplits ? parentHist : null,
    );
    small.hist = smallHist;
    large.hist = parentHist;
    if (splitLeft) this.evaluate(left, features);
    else this.drop(left);
    if (splitRight) this.evaluate(right, features);
    else this.drop(right);
  }

  private drop(leaf: Leaf): void {
    if (leaf.hist) this.histograms.pool.release(leaf.hist);
    leaf.hist = null;
  }

  /** Stable in-place partition of the leaf's rows by the split; returns how many went left. */
  private partition(leaf: Leaf, split: SplitInfo): number {
    const direction = this.histograms.layout.direction;
    const binCount = this.binned.binCounts[split.feature] as number;
    if (split.categorical) {
      const leftBins = split.leftBins as Uint8Array;
      for (let b = 0; b < binCount; b++) direction[b] = leftBins[b] === 1 ? 1 : 0;
    } else {
      direction[0] = split.defaultLeft ? 1 : 0;
      for (let b = 1; b < binCount; b++) direction[b] = b <= split.thresholdBin ? 1 : 0;
    }
    return this.histograms.kernel.partition(leaf.start, leaf.count, split.feature);
  }

  /** Turn a leaf draft into the internal node of `split`, in raw-value terms. */
  private toInternal(node: NodeDraft, split: SplitInfo, left: number, right: number): void {
    const fb = this.binned.features[split.feature];
    node.feature = split.feature;
    node.left = left;
    node.right = right;
    node.gain = split.gain;
    node.defaultLeft = split.defaultLeft;
    node.value = 0;
    if (split.categorical && fb) {
      const leftBins = split.leftBins as Uint8Array;
      const codes: number[] = [];
      for (let c = 0; c < fb.cardinality; c++)
        if (leftBins[fb.codeToBin[c] as number] === 1) codes.push(c);
      node.leftCodes = Uint32Array.from(codes);
      node.threshold = 0;
    } else {
      node.leftCodes = null;
      node.threshold = fb?.upper[split.thresholdBin - 1] ?? Number.POSITIVE_INFINITY;
    }
  }
}

function draftLeaf(
  g: number,
  h: number,
  count: number,
  params: SplitParams,
  learningRate: number,
): NodeDraft {
  return {
    feature: -1,
    threshold: 0,
    leftCodes: null,
    defaultLeft: false,
    left: -1,
    right: -1,
    value: leafValue(g, h, params.lambda, params.alpha) * learningRate,
    gain: 0,
    cover: count,
  };
}
