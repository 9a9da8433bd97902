/**
 * The forest compiled for prediction in TypeScript: the fallback scorer where the WebAssembly
 * kernel of wasm-predict.ts cannot run (see compileForest below). The serialized `Forest`
 * arrays stay the source of truth (SHAP and ONNX export read them); this module lays the same
 * trees out again for speed:
 *
 * - Each tree is written depth-first (pre-order), so a node's left child is the next node and
 *   only the right child's index is stored. A node is one 16-byte record, so a step touches
 *   one cache line: Int32 words `[meta, right]`, then the threshold as a Float64 (so every
 *   comparison is the reference's) or, for a categorical node, the word offset of its bitset
 *   in `catBits` as an Int32. meta = feature << 2 | kind; kind bit 0: missing values go left,
 *   bit 1: categorical split. `words` (Int32) and `values` (Float64) view the same buffer:
 *   node i is words[4i] (meta), words[4i + 1] (right), values[2i + 1] (threshold) or
 *   words[4i + 2] (bitset offset).
 * - A leaf is a node that always goes right to itself (numeric, threshold NaN, right = own
 *   index); its output is in `leafValues`. A walk of a tree is then exactly `depth` steps with
 *   no exit test, and each step is branch-free for numeric nodes:
 *   left = (x <= t) | (isNaN(x) & missingLeft), next = left ? i + 1 : right, done with
 *   integer masks. NaN fails every comparison, so it goes right unless the node sends missing
 *   values left; leaves compare against NaN and so stay put.
 * - A CPU that waits on each step's loads would idle, so trees are walked GROUP (8) at a time
 *   with eight independent walks interleaved (instruction-level parallelism); the group's
 *   depth is its deepest tree's. The last group is padded with a dummy leaf (the record after
 *   the last node) whose result is not added.
 * - Batch prediction copies BLOCK (64) rows at a time from the column-major matrix into a
 *   row-major scratch block (a row's features then share cache lines) and takes the block
 *   through one tree group after another, so a group's nodes stay in cache for the whole
 *   block. It allocates only its result; one row allocates nothing.
 *
 * Each row's trees are added to its running sum one at a time in tree order, exactly as the
 * reference traversal (`leafIndex` over the serialized arrays) does, so the raw scores are
 * identical to the bit.
 */
import type { Forest } from "./forest.ts";
import { FLAG_CATEGORICAL, FLAG_DEFAULT_LEFT } from "./forest.ts";
import { WasmForest } from "./wasm-predict.ts";

/**
 * What a model predicts with: the WebAssembly kernel over coded rows (wasm-predict.ts), or
 * this module's TypeScript kernel where that cannot run (no WebAssembly, BALLAST_GBDT_WASM=0,
 * a forest the coding cannot express). Both give the reference's scores to the bit.
 */
export interface ForestScorer {
  /** Trees in the forest. */
  readonly trees: number;
  /** Raw scores per row. */
  readonly outputs: number;
  /** Add every tree's output for row[base .. base + width) to out[at .. at + outputs). */
  addRow(row: Float64Array, base: number, out: Float64Array, at?: number): void;
  /** addRow for feature f at data[base + f * stride]. */
  addStrided(
    data: Float64Array,
    base: number,
    stride: number,
    out: Float64Array,
    at?: number,
  ): void;
  /** Raw scores of a column-major matrix of n rows into out (row-major), from baseScore. */
  scoreMatrix(data: Float64Array, n: number, baseScore: Float64Array, out: Float64Array): void;
}

/** The fastest scorer that runs here for `forest`. */
export function compileForest(forest: Forest, outputs: number): ForestScorer {
  return WasmForest.create(forest, outputs) ?? new CompiledForest(forest, outputs);
}

/** Rows per block in batch prediction. */
export const BLOCK = 64;
/** Trees walked together (the kernel below is unrolled for exactly this many). */
export const GROUP = 8;

const MISSING_LEFT = 1;
const CATEGORICAL = 2;
const KIND_BITS = 2;
const MAX_FEATURES = 1 << 28;

/** The compact, depth-first, prediction-only layout of a forest (see the module comment). */
export class CompiledForest implements ForestScorer {
  /**
   * Node i's meta (feature << 2 | kind) is words[4i], its right child words[4i + 1], and a
   * categorical node's bitset offset words[4i + 2].
   */
  readonly words: Int32Array;
  /** A numeric node i's threshold (NaN for leaves) is values[2i + 1]. */
  readonly values: Float64Array;
  /** Output of each leaf node (0 for internal nodes). */
  readonly leafValues: Float64Array;
  /** Trees in the forest. */
  readonly trees: number;
  /**
   * Compiled index of each tree's root; tree t adds to output t % outputs. Padded to whole
   * groups with the dummy leaf at the end of the records.
   */
  readonly roots: Int32Array;
  /** Steps to walk each tree (its depth). */
  readonly depths: Int32Array;
  /** Steps to walk each group of GROUP trees (their maximum depth). */
  readonly groupDepths: Int32Array;
  readonly catBits: Uint32Array;
  readonly cardinality: Int32Array;
  /** Features per row. */
  readonly width: number;
  /** Scratch sums for one block of rows (BLOCK * outputs). */
  private readonly blockSums: Float64Array;
  /** Scratch rows: a row-major copy of one block (BLOCK * width). */
  private readonly block: Float64Array;
  /** Scratch: the leaf nodes one group of trees reached. */
  private readonly leaves: Int32Array;

  constructor(
    forest: Forest,
    /** Raw scores per row (1, or K for multiclass). */
    readonly outputs: number,
  ) {
    const { feature, threshold, left, right, flags, value, roots } = forest;
    if (forest.cardinality.length >= MAX_FEATURES)
      throw new RangeError("gbdt: too many features to compile");
    const count = feature.length;
    this.trees = roots.length;
    const groups = Math.ceil(roots.length / GROUP);
    // One more record at the end: a dummy leaf that pads the last group of trees.
    const records = new ArrayBuffer(16 * (count + 1));
    this.words = new Int32Array(records);
    this.values = new Float64Array(records);
    this.leafValues = new Float64Array(count + 1);
    this.words[4 * count + 1] = count;
    this.values[2 * count + 1] = Number.NaN;
    this.roots = new Int32Array(groups * GROUP).fill(count);
    this.leaves = new Int32Array(GROUP);
    this.depths = new Int32Array(roots.length);
    this.catBits = forest.catBits;
    this.cardinality = forest.cardinality;
    this.width = forest.cardinality.length;
    this.blockSums = new Float64Array(BLOCK * outputs);
    this.block = new Float64Array(BLOCK * this.width);
    // Pre-order walk with an explicit stack of (source node, depth, compiled slot of the
    // parent's right pointer or −1 for a left child or root, which needs no pointer).
    const stack = new Int32Array(3 * (count + 1));
    let next = 0;
    for (let t = 0; t < roots.length; t++) {
      this.roots[t] = next;
      let maxDepth = 0;
      let top = 0;
      stack[top++] = roots[t] as number;
      stack[top++] = 0;
      stack[top++] = -1;
      while (top > 0) {
        const patch = stack[--top] as number;
        const depth = stack[--top] as number;
        const src = stack[--top] as number;
        const at = next++;
        if (at >= count) throw new Error("gbdt model trees share nodes; cannot compile");
        if (patch >= 0) this.words[patch] = at;
        const f = feature[src] as number;
        if (f < 0) {
          this.words[4 * at] = 0;
          this.words[4 * at + 1] = at;
          this.values[2 * at + 1] = Number.NaN;
          this.leafValues[at] = value[src] as number;
          if (depth > maxDepth) maxDepth = depth;
          continue;
        }
        const flag = flags[src] as number;
        const kind =
          ((flag & FLAG_DEFAULT_LEFT) !== 0 ? MISSING_LEFT : 0) |
          ((flag & FLAG_CATEGORICAL) !== 0 ? CATEGORICAL : 0);
        this.words[4 * at] = (f << KIND_BITS) | kind;
        // A categorical node's value slot holds its bitset's word offset as an Int32.
        if ((kind & CATEGORICAL) === 0) this.values[2 * at + 1] = threshold[src] as number;
        else this.words[4 * at + 2] = threshold[src] as number;
        // Push right first so the left subtree is emitted next (left child = at + 1).
        stack[top++] = right[src] as number;
        stack[top++] = depth + 1;
        stack[top++] = 4 * at + 1;
        stack[top++] = left[src] as number;
        stack[top++] = depth + 1;
        stack[top++] = -1;
      }
      this.depths[t] = maxDepth;
    }
    this.groupDepths = new Int32Array(groups);
    for (let t = 0; t < roots.length; t++) {
      const g = Math.floor(t / GROUP);
      this.groupDepths[g] = Math.max(this.groupDepths[g] as number, this.depths[t] as number);
    }
  }

  /**
   * Add every tree's output for one row-major row (feature f at row[base + f]) to
   * out[at .. at + outputs), which holds the starting scores. Allocates nothing.
   */
  addRow(row: Float64Array, base: number, out: Float64Array, at = 0): void {
    this.addTrees(0, this.trees, row, base, out, at);
  }

  /** addRow for a row stored with a stride (feature f at data[base + f * stride]). */
  addStrided(data: Float64Array, base: number, stride: number, out: Float64Array, at = 0): void {
    if (stride === 1) {
      this.addTrees(0, this.trees, data, base, out, at);
      return;
    }
    const row = this.block;
    for (let f = 0; f < this.width; f++) row[f] = data[base + f * stride] as number;
    this.addTrees(0, this.trees, row, 0, out, at);
  }

  /**
   * Raw scores of every row of a column-major matrix (n rows) into `out`, row-major
   * (out[r * outputs + c]), starting from `baseScore`. Blocks of BLOCK rows are copied to a
   * row-major scratch block, then go through one group of trees after another.
   */
  scoreMatrix(data: Float64Array, n: number, baseScore: Float64Array, out: Float64Array): void {
    const k = this.outputs;
    const w = this.width;
    const trees = this.trees;
    const sums = this.blockSums;
    const block = this.block;
    for (let start = 0; start < n; start += BLOCK) {
      const size = Math.min(BLOCK, n - start);
      for (let f = 0; f < w; f++) {
        const column = f * n + start;
        for (let r = 0; r < size; r++) block[r * w + f] = data[column + r] as number;
      }
      for (let r = 0; r < size; r++)
        for (let c = 0; c < k; c++) sums[r * k + c] = baseScore[c] as number;
      for (let t = 0; t < trees; t += GROUP) {
        const end = Math.min(t + GROUP, trees);
        for (let r = 0; r < size; r++) this.addTrees(t, end, block, r * w, sums, r * k);
      }
      out.set(sums.subarray(0, size * k), start * k);
    }
  }

  /**
   * Add trees [from, to) for the row-major row at data[base ..] to out[at ..]; `from` is a
   * multiple of GROUP. Trees past the last one walk a dummy leaf and are not added.
   */
  private addTrees(
    from: number,
    to: number,
    data: Float64Array,
    base: number,
    out: Float64Array,
    at: number,
  ): void {
    const { leafValues: leaf, leaves } = this;
    const k = this.outputs;
    let c = k === 1 ? 0 : from % k;
    for (let t = from; t < to; t += GROUP) {
      walkGroup(
        this.words,
        this.values,
        this.catBits,
        this.cardinality,
        this.roots,
        t,
        this.groupDepths[t / GROUP] as number,
        data,
        base,
        leaves,
      );
      const end = Math.min(GROUP, to - t);
      if (k === 1) {
        let s = out[at] as number;
        for (let j = 0; j < end; j++) s += leaf[leaves[j] as number] as number;
        out[at] = s;
      } else {
        for (let j = 0; j < end; j++) {
          out[at + c] = (out[at + c] as number) + (leaf[leaves[j] as number] as number);
          c = c + 1 === k ? 0 : c + 1;
        }
      }
    }
  }
}

/**
 * Walk the GROUP trees rooted at roots[t ..] for the row-major row at data[base ..], `depth`
 * steps each, and store the leaf nodes reached in leaves[0 .. GROUP). The eight walks are
 * interleaved so the CPU overlaps their loads, and written out by hand with no calls: a call
 * anywhere in this loop (even on the rare categorical path) makes V8 re-check every typed
 * array after it and spill the walk state, which costs several times the work.
 */
function walkGroup(
  words: Int32Array,
  values: Float64Array,
  cat: Uint32Array,
  card: Int32Array,
  roots: Int32Array,
  t: number,
  depth: number,
  data: Float64Array,
  base: number,
  leaves: Int32Array,
): void {
  let i0 = roots[t] as number;
  let i1 = roots[t + 1] as number;
  let i2 = roots[t + 2] as number;
  let i3 = roots[t + 3] as number;
  let i4 = roots[t + 4] as number;
  let i5 = roots[t + 5] as number;
  let i6 = roots[t + 6] as number;
  let i7 = roots[t + 7] as number;
  let m = 0;
  let x = 0;
  let l = 0;
  let r = 0;
  let code = 0;
  let w = 0;
  for (let d = depth; d > 0; d--) {
    m = words[4 * i0] as number;
    x = data[base + (m >> KIND_BITS)] as number;
    l =
      ((x <= (values[2 * i0 + 1] as number)) as unknown as number) |
      ((Number.isNaN(x) as unknown as number) & m);
    if ((m & CATEGORICAL) !== 0) {
      code = x >>> 0;
      if (code === x && code < (card[m >> KIND_BITS] as number)) {
        w = cat[(words[4 * i0 + 2] as number) + (code >>> 5)] as number;
        l = (w >>> (code & 31)) & 1;
      } else {
        l = m & MISSING_LEFT;
      }
    }
    r = words[4 * i0 + 1] as number;
    i0 = r ^ ((r ^ (i0 + 1)) & -l);
    m = words[4 * i1] as number;
    x = data[base + (m >> KIND_BITS)] as number;
    l =
      ((x <= (values[2 * i1 + 1] as number)) as unknown as number) |
      ((Number.isNaN(x) as unknown as number) & m);
    if ((m & CATEGORICAL) !== 0) {
      code = x >>> 0;
      if (code === x && code < (card[m >> KIND_BITS] as number)) {
        w = cat[(words[4 * i1 + 2] as number) + (code >>> 5)] as number;
        l = (w >>> (code & 31)) & 1;
      } else {
        l = m & MISSING_LEFT;
      }
    }
    r = words[4 * i1 + 1] as number;
    i1 = r ^ ((r ^ (i1 + 1)) & -l);
    m = words[4 * i2] as number;
    x = data[base + (m >> KIND_BITS)] as number;
    l =
      ((x <= (values[2 * i2 + 1] as number)) as unknown as number) |
      ((Number.isNaN(x) as unknown as number) & m);
    if ((m & CATEGORICAL) !== 0) {
      code = x >>> 0;
      if (code === x && code < (card[m >> KIND_BITS] as number)) {
        w = cat[(words[4 * i2 + 2] as number) + (code >>> 5)] as number;
        l = (w >>> (code & 31)) & 1;
      } else {
        l = m & MISSING_LEFT;
      }
    }
    r = words[4 * i2 + 1] as number;
    i2 = r ^ ((r ^ (i2 + 1)) & -l);
    m = words[4 * i3] as number;
    x = data[base + (m >> KIND_BITS)] as number;
    l =
      ((x <= (values[2 * i3 + 1] as number)) as unknown as number) |
      ((Number.isNaN(x) as unknown as number) & m);
    if ((m & CATEGORICAL) !== 0) {
      code = x >>> 0;
      if (code === x && code < (card[m >> KIND_BITS] as number)) {
        w = cat[(words[4 * i3 + 2] as number) + (code >>> 5)] as number;
        l = (w >>> (code & 31)) & 1;
      } else {
        l = m & MISSING_LEFT;
      }
    }
    r = words[4 * i3 + 1] as number;
    i3 = r ^ ((r ^ (i3 + 1)) & -l);
    m = words[4 * i4] as number;
    x = data[base + (m >> KIND_BITS)] as number;
    l =
      ((x <= (values[2 * i4 + 1] as number)) as unknown as number) |
      ((Number.isNaN(x) as unknown as number) & m);
    if ((m & CATEGORICAL) !== 0) {
      code = x >>> 0;
      if (code === x && code < (card[m >> KIND_BITS] as number)) {
        w = cat[(words[4 * i4 + 2] as number) + (code >>> 5)] as number;
        l = (w >>> (code & 31)) & 1;
      } else {
        l = m & MISSING_LEFT;
      }
    }
    r = words[4 * i4 + 1] as number;
    i4 = r ^ ((r ^ (i4 + 1)) & -l);
    m = words[4 * i5] as number;
    x = data[base + (m >> KIND_BITS)] as number;
    l =
      ((x <= (values[2 * i5 + 1] as number)) as unknown as number) |
      ((Number.isNaN(x) as unknown as number) & m);
    if ((m & CATEGORICAL) !== 0) {
      code = x >>> 0;
      if (code === x && code < (card[m >> KIND_BITS] as number)) {
        w = cat[(words[4 * i5 + 2] as number) + (code >>> 5)] as number;
        l = (w >>> (code & 31)) & 1;
      } else {
        l = m & MISSING_LEFT;
      }
    }
    r = words[4 * i5 + 1] as number;
    i5 = r ^ ((r ^ (i5 + 1)) & -l);
    m = words[4 * i6] as number;
    x = data[base + (m >> KIND_BITS)] as number;
    l =
      ((x <= (values[2 * i6 + 1] as number)) as unknown as number) |
      ((Number.isNaN(x) as unknown as number) & m);
    if ((m & CATEGORICAL) !== 0) {
      code = x >>> 0;
      if (code === x && code < (card[m >> KIND_BITS] as number)) {
        w = cat[(words[4 * i6 + 2] as number) + (code >>> 5)] as number;
        l = (w >>> (code & 31)) & 1;
      } else {
        l = m & MISSING_LEFT;
      }
    }
    r = words[4 * i6 + 1] as number;
    i6 = r ^ ((r ^ (i6 + 1)) & -l);
    m = words[4 * i7] as number;
    x = data[base + (m >> KIND_BITS)] as number;
    l =
      ((x <= (values[2 * i7 + 1] as number)) as unknown as number) |
      ((Number.isNaN(x) as unknown as number) & m);
    if ((m & CATEGORICAL) !== 0) {
      code = x >>> 0;
      if (code === x && code < (card[m >> KIND_BITS] as number)) {
        w = cat[(words[4 * i7 + 2] as number) + (code >>> 5)] as number;
        l = (w >>> (code & 31)) & 1;
      } else {
        l = m & MISSING_LEFT;
      }
    }
    r = words[4 * i7 + 1] as number;
    i7 = r ^ ((r ^ (i7 + 1)) & -l);
  }
  leaves[0] = i0;
  leaves[1] = i1;
  leaves[2] = i2;
  leaves[3] = i3;
  leaves[4] = i4;
  leaves[5] = i5;
  leaves[6] = i6;
  leaves[7] = i7;
}
