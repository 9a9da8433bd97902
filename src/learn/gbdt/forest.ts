/**
 * The compiled ensemble: every tree's nodes in flat typed arrays, so prediction is a tight
 * loop over numbers and the model serializes as raw bytes. Node i is a leaf when
 * feature[i] < 0 (value[i] is its output); otherwise a row goes to left[i] when
 *   - the value is missing (NaN) or an invalid category code: flags bit DEFAULT_LEFT,
 *   - numeric node: value <= threshold[i],
 *   - categorical node (flags bit CATEGORICAL): bit `code` of the bitset starting at word
 *     threshold[i] of catBits is set,
 * and to right[i] otherwise. Tree t starts at node roots[t]; with K outputs, tree t adds to
 * output t % K.
 */

export const FLAG_DEFAULT_LEFT = 1;
export const FLAG_CATEGORICAL = 2;

/** Flat arrays of a whole ensemble. */
export interface Forest {
  readonly feature: Int32Array;
  readonly threshold: Float64Array;
  readonly left: Int32Array;
  readonly right: Int32Array;
  readonly value: Float64Array;
  readonly flags: Uint8Array;
  /** Split gain of internal nodes (0 for leaves), for importance. */
  readonly gain: Float64Array;
  /** Training rows that reached the node (cover), for explanations. */
  readonly cover: Float64Array;
  readonly catBits: Uint32Array;
  readonly roots: Int32Array;
  /** Cardinality of each feature split as a category (0 for numeric). */
  readonly cardinality: Int32Array;
}

/**
 * Index of the leaf that the row reaches in the tree rooted at `node`. The row's feature f is
 * data[base + f * stride]: stride 1 for a single row, stride rowCount for a column-major matrix.
 */
export function leafIndex(
  forest: Forest,
  node: number,
  data: Float64Array,
  base: number,
  stride: number,
): number {
  const { feature, threshold, left, right, flags, catBits, cardinality } = forest;
  let i = node;
  let f = feature[i] as number;
  while (f >= 0) {
    const x = data[base + f * stride] as number;
    const flag = flags[i] as number;
    let goLeft: boolean;
    if (Number.isNaN(x)) {
      goLeft = (flag & FLAG_DEFAULT_LEFT) !== 0;
    } else if ((flag & FLAG_CATEGORICAL) !== 0) {
      if (x >>> 0 === x && x < (cardinality[f] as number)) {
        const word = catBits[(threshold[i] as number) + (x >>> 5)] as number;
        goLeft = ((word >>> (x & 31)) & 1) === 1;
      } else {
        goLeft = (flag & FLAG_DEFAULT_LEFT) !== 0;
      }
    } else {
      goLeft = x <= (threshold[i] as number);
    }
    i = goLeft ? (left[i] as number) : (right[i] as number);
    f = feature[i] as number;
  }
  return i;
}

/** A node of a tree as growth produces it, before it is appended to the flat arrays. */
export interface NodeDraft {
  feature: number;
  threshold: number;
  /** categorical: category codes that go left. */
  leftCodes: Uint32Array | null;
  defaultLeft: boolean;
  left: number;
  right: number;
  value: number;
  gain: number;
  cover: number;
}

/** Append-only forest with amortized growth, used while boosting and then frozen. */
export class ForestBuilder {
  private nodes = 0;
  private words = 0;
  private trees = 0;
  private feature = new Int32Array(256);
  private threshold = new Float64Array(256);
  private left = new Int32Array(256);
  private right = new Int32Array(256);
  private value = new Float64Array(256);
  private flags = new Uint8Array(256);
  private gain = new Float64Array(256);
  private cover = new Float64Array(256);
  private catBits = new Uint32Array(64);
  private roots = new Int32Array(64);
  /** Node and word counts after each tree, so the forest can be cut back to a prefix. */
  private nodeEnds: number[] = [];
  private wordEnds: number[] = [];

  constructor(readonly cardinality: Int32Array) {}

  get treeCount(): number {
    return this.trees;
  }

  /** Append one tree (nodes indexed from 0, root first); returns its tree index. */
  addTree(nodes: readonly NodeDraft[]): number {
    this.reserve(this.nodes + nodes.length);
    const base = this.nodes;
    for (let j = 0; j < nodes.length; j++) {
      const d = nodes[j] as NodeDraft;
      const i = base + j;
      this.feature[i] = d.feature;
      this.left[i] = d.feature >= 0 ? base + d.left : -1;
      this.right[i] = d.feature >= 0 ? base + d.right : -1;
      this.value[i] = d.value;
      this.gain[i] = d.gain;
      this.cover[i] = d.cover;
      let flag = d.defaultLeft ? FLAG_DEFAULT_LEFT : 0;
      if (d.leftCodes !== null) {
        flag |= FLAG_CATEGORICAL;
        const card = this.cardinality[d.feature] as number;
        const wordCount = (card + 31) >>> 5;
        this.reserveWords(this.words + wordCount);
        const start = this.words;
        this.catBits.fill(0, start, start + wordCount);
        for (const code of d.leftCodes) {
          const w = start + (code >>> 5);
          this.catBits[w] = ((this.catBits[w] as number) | (1 << (code & 31))) >>> 0;
        }
        this.threshold[i] = start;
        this.words += wordCount;
      } else {
        this.threshold[i] = d.threshold;
      }
      this.flags[i] = flag;
    }
    this.nodes += nodes.length;
    if (this.trees === this.roots.length) this.roots = grow(this.roots, this.trees * 2);
    this.roots[this.trees] = base;
    this.trees++;
    this.nodeEnds.push(this.nodes);
    this.wordEnds.push(this.words);
    return this.trees - 1;
  }

  /** Keep only the first `treeCount` trees (early stopping's best iteration). */
  truncate(treeCount: number): void {
    if (treeCount >= this.trees) return;
    this.trees = treeCount;
    this.nodes = treeCount === 0 ? 0 : (this.nodeEnds[treeCount - 1] as number);
    this.words = treeCount === 0 ? 0 : (this.wordEnds[treeCount - 1] as number);
    this.nodeEnds.length = treeCount;
    this.wordEnds.length = treeCount;
  }

  /** A live view of the forest so far (valid until the next addTree). */
  view(): Forest {
    return {
      feature: this.feature,
      threshold: this.threshold,
      left: this.left,
      right: this.right,
      value: this.value,
      flags: this.flags,
      gain: this.gain,
      cover: this.cover,
      catBits: this.catBits,
      roots: this.roots,
      cardinality: this.cardinality,
    };
  }

  /** Exact-size copies of the arrays: the forest the model keeps. */
  freeze(): Forest {
    const n = this.nodes;
    return {
      feature: this.feature.slice(0, n),
      threshold: this.threshold.slice(0, n),
      left: this.left.slice(0, n),
      right: this.right.slice(0, n),
      value: this.value.slice(0, n),
      flags: this.flags.slice(0, n),
      gain: this.gain.slice(0, n),
      cover: this.cover.slice(0, n),
      catBits: this.catBits.slice(0, this.words),
      roots: this.roots.slice(0, this.trees),
      cardinality: this.cardinality.slice(),
    };
  }

  private reserve(size: number): void {
    if (size <= this.feature.length) return;
    const capacity = Math.max(size, this.feature.length * 2);
    this.feature = grow(this.feature, capacity);
    this.threshold = grow(this.threshold, capacity);
    this.left = grow(this.left, capacity);
    this.right = grow(this.right, capacity);
    this.value = grow(this.value, capacity);
    this.flags = grow(this.flags, capacity);
    this.gain = grow(this.gain, capacity);
    this.cover = grow(this.cover, capacity);
  }

  private reserveWords(size: number): void {
    if (size > this.catBits.length)
      this.catBits = grow(this.catBits, Math.max(size, this.catBits.length * 2));
  }
}

type TypedArray = Int32Array | Float64Array | Uint8Array | Uint32Array;

function grow<T extends TypedArray>(array: T, capacity: number): T {
  const next = new (array.constructor as new (length: number) => T)(capacity);
  next.set(array);
  return next;
}
