/**
 * Leaf-wise (best-first) growth of one regression tree on gradients: always split the leaf
 * whose best split gains most, until maxLeaves, maxDepth or no useful split stops it. Rows of
 * each leaf are a contiguous, ascending segment of one index array (partitioned in place as
 * leaves split); each split builds the histogram of its smaller child only and derives the
 * larger one by subtraction from the parent.
 */
import type { BinnedMatrix } from "./binning.ts";
import type { NodeDraft } from "./forest.ts";
import { buildHistogram, HistogramPool, subtractHistogram } from "./histogram.ts";
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

/** Reusable buffers for growing many trees on one binned matrix. */
export class TreeGrower {
  private readonly pool: HistogramPool;
  private readonly rows: Uint32Array;
  private readonly scratch: Uint32Array;
  private readonly gOrdered: Float64Array;
  private readonly hOrdered: Float64Array;
  private readonly catScratch = new Float64Array(256);
  private readonly keyScratch = new Float64Array(256);

  constructor(
    private readonly binned: BinnedMatrix,
    private readonly params: GrowthParams,
  ) {
    const n = binned.rowCount;
    this.pool = new HistogramPool(binned.totalBins * 3);
    this.rows = new Uint32Array(n);
    this.scratch = new Uint32Array(n);
    this.gOrdered = new Float64Array(n);
    this.hOrdered = new Float64Array(n);
  }

  /**
   * Grow one tree on the rows bag[0 .. bagSize) using the sampled `features`; leaf values are
   * the regularized Newton steps times `learningRate`.
   */
  grow(
    grad: Float64Array,
    hess: Float64Array,
    bag: Uint32Array,
    bagSize: number,
    features: Int32Array,
    learningRate: number,
  ): GrownTree {
    const { params, binned } = this;
    const rows = this.rows;
    rows.set(bag.subarray(0, bagSize));
    let sumG = 0;
    let sumH = 0;
    for (let i = 0; i < bagSize; i++) {
      const r = rows[i] as number;
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
      root.hist = this.pool.acquire();
      buildHistogram(
        root.hist,
        binned,
        features,
        rows,
        0,
        bagSize,
        grad,
        hess,
        this.gOrdered,
        this.hOrdered,
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
      this.childHistograms(leaf, left, right, features, grad, hess, leafCount);
    }
    for (const leaf of open) if (leaf.hist) this.pool.release(leaf.hist);
    const leaves = open.map((l) => ({ node: l.node, start: l.start, count: l.count }));
    return { nodes, leaves, rows };
  }

  private canSplit(leaf: Leaf): boolean {
    const p = this.params;
    if (p.maxDepth > 0 && leaf.depth >= p.maxDepth) return false;
    return leaf.count >= 2 * p.minDataInLeaf && leaf.sumH >= 2 * p.minChildWeight;
  }

  private evaluate(leaf: Leaf, features: Int32Array): void {
    const hist = leaf.hist as Float64Array;
    leaf.split = findBestSplit(
      hist,
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
    grad: Float64Array,
    hess: Float64Array,
    leafCount: number,
  ): void {
    const parentHist = parent.hist as Float64Array;
    parent.hist = null;
    parent.split = null;
    const room = leafCount < this.params.maxLeaves;
    const splitLeft = room && this.canSplit(left);
    const splitRight = room && this.canSplit(right);
    if (!splitLeft && !splitRight) {
      this.pool.release(parentHist);
      return;
    }
    const [small, large] = left.count <= right.count ? [left, right] : [right, left];
    const smallHist = this.pool.acquire();
    buildHistogram(
      smallHist,
      this.binned,
      features,
      this.rows,
      small.start,
      small.count,
      grad,
      hess,
      this.gOrdered,
      this.hOrdered,
    );
    subtractHistogram(parentHist, smallHist, this.binned, features);
    small.hist = smallHist;
    large.hist = parentHist;
    for (const child of [left, right]) {
      if (child === left ? splitLeft : splitRight) {
        this.evaluate(child, features);
      } else {
        this.pool.release(child.hist as Float64Array);
        child.hist = null;
      }
    }
  }

  /** Stable in-place partition of the leaf's rows; returns how many went left. */
  private partition(leaf: Leaf, split: SplitInfo): number {
    const { rows, scratch } = this;
    const n = this.binned.rowCount;
    const bins = this.binned.bins;
    const base = split.feature * n;
    const end = leaf.start + leaf.count;
    let l = leaf.start;
    let r = 0;
    if (split.categorical) {
      const leftBins = split.leftBins as Uint8Array;
      for (let i = leaf.start; i < end; i++) {
        const row = rows[i] as number;
        if (leftBins[bins[base + row] as number] === 1) rows[l++] = row;
        else scratch[r++] = row;
      }
    } else {
      const t = split.thresholdBin;
      const missingLeft = split.defaultLeft;
      for (let i = leaf.start; i < end; i++) {
        const row = rows[i] as number;
        const b = bins[base + row] as number;
        if (b === 0 ? missingLeft : b <= t) rows[l++] = row;
        else scratch[r++] = row;
      }
    }
    rows.set(scratch.subarray(0, r), l);
    return l - leaf.start;
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
