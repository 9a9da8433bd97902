/**
 * Gradient histograms: for one tree node, the sum of gradients, hessians and the row count in
 * every bin of every feature. Layout: one Float64Array of totalBins * 3 values,
 * [g, h, count] for bin b of feature f at index (offsets[f] + b) * 3. Only the features sampled
 * for the current tree are filled; the rest of the array is stale and never read.
 *
 * Every bin's sums are accumulated in the node's row order, one feature at a time, whichever
 * other features share the pass and whichever thread runs it. That is what makes the parallel
 * build (parallel/) give the same bits as the single-thread one.
 */
import { SharedArena } from "./arena.ts";
import type { BinnedMatrix } from "./binning.ts";
import type { WasmMemory } from "./wasm-api.ts";
import type { WasmHistogramKernel } from "./wasm-histogram.ts";
import { instantiateHistogramKernel } from "./wasm-histogram.ts";

/** Values stored per bin: gradient sum, hessian sum, row count. */
export const HIST_STRIDE = 3;

/**
 * Copy the node's gradients and hessians into row order, interleaved:
 * gh[2i] = grad[rows[start+i]], gh[2i+1] = hess[rows[start+i]]. The histogram passes then read
 * them sequentially (once per pass) and only the bin lookups stay indirect.
 */
export function gatherGradients(
  gh: Float64Array,
  grad: Float64Array,
  hess: Float64Array,
  rows: Uint32Array,
  start: number,
  count: number,
): void {
  for (let i = 0; i < count; i++) {
    const r = rows[start + i] as number;
    gh[2 * i] = grad[r] as number;
    gh[2 * i + 1] = hess[r] as number;
  }
}

/**
 * The histogram kernel: fill `hist` for features[from .. to) over the rows
 * rows[start .. start+count), whose gradients `gh` already holds in row order (see
 * gatherGradients). `bins` is column-major (bins[f * n + r]); binCounts[f] bins of feature f
 * start at offsets[f]. Eight features share a pass over the rows, then four, then one: the row
 * index and gradients are loaded once per pass and the independent accumulations overlap.
 * Used as is by the worker threads, so it takes plain arrays only.
 */
export function accumulateHistogram(
  hist: Float64Array,
  bins: Uint8Array,
  n: number,
  offsets: Int32Array,
  binCounts: Int32Array,
  features: Int32Array,
  from: number,
  to: number,
  rows: Uint32Array,
  start: number,
  count: number,
  gh: Float64Array,
): void {
  for (let j = from; j < to; j++) {
    const f = features[j] as number;
    const off = (offsets[f] as number) * HIST_STRIDE;
    hist.fill(0, off, off + (binCounts[f] as number) * HIST_STRIDE);
  }
  const end = start + count;
  let j = from;
  for (; j + 8 <= to; j += 8) {
    const f0 = features[j] as number;
    const f1 = features[j + 1] as number;
    const f2 = features[j + 2] as number;
    const f3 = features[j + 3] as number;
    const f4 = features[j + 4] as number;
    const f5 = features[j + 5] as number;
    const f6 = features[j + 6] as number;
    const f7 = features[j + 7] as number;
    const b0 = f0 * n;
    const b1 = f1 * n;
    const b2 = f2 * n;
    const b3 = f3 * n;
    const b4 = f4 * n;
    const b5 = f5 * n;
    const b6 = f6 * n;
    const b7 = f7 * n;
    const o0 = (offsets[f0] as number) * HIST_STRIDE;
    const o1 = (offsets[f1] as number) * HIST_STRIDE;
    const o2 = (offsets[f2] as number) * HIST_STRIDE;
    const o3 = (offsets[f3] as number) * HIST_STRIDE;
    const o4 = (offsets[f4] as number) * HIST_STRIDE;
    const o5 = (offsets[f5] as number) * HIST_STRIDE;
    const o6 = (offsets[f6] as number) * HIST_STRIDE;
    const o7 = (offsets[f7] as number) * HIST_STRIDE;
    for (let i = start, k = 0; i < end; i++, k += 2) {
      const r = rows[i] as number;
      const g = gh[k] as number;
      const h = gh[k + 1] as number;
      let idx = o0 + (bins[b0 + r] as number) * HIST_STRIDE;
      hist[idx] = (hist[idx] as number) + g;
      hist[idx + 1] = (hist[idx + 1] as number) + h;
      hist[idx + 2] = (hist[idx + 2] as number) + 1;
      idx = o1 + (bins[b1 + r] as number) * HIST_STRIDE;
      hist[idx] = (hist[idx] as number) + g;
      hist[idx + 1] = (hist[idx + 1] as number) + h;
      hist[idx + 2] = (hist[idx + 2] as number) + 1;
      idx = o2 + (bins[b2 + r] as number) * HIST_STRIDE;
      hist[idx] = (hist[idx] as number) + g;
      hist[idx + 1] = (hist[idx + 1] as number) + h;
      hist[idx + 2] = (hist[idx + 2] as number) + 1;
      idx = o3 + (bins[b3 + r] as number) * HIST_STRIDE;
      hist[idx] = (hist[idx] as number) + g;
      hist[idx + 1] = (hist[idx + 1] as number) + h;
      hist[idx + 2] = (hist[idx + 2] as number) + 1;
      idx = o4 + (bins[b4 + r] as number) * HIST_STRIDE;
      hist[idx] = (hist[idx] as number) + g;
      hist[idx + 1] = (hist[idx + 1] as number) + h;
      hist[idx + 2] = (hist[idx + 2] as number) + 1;
      idx = o5 + (bins[b5 + r] as number) * HIST_STRIDE;
      hist[idx] = (hist[idx] as number) + g;
      hist[idx + 1] = (hist[idx + 1] as number) + h;
      hist[idx + 2] = (hist[idx + 2] as number) + 1;
      idx = o6 + (bins[b6 + r] as number) * HIST_STRIDE;
      hist[idx] = (hist[idx] as number) + g;
      hist[idx + 1] = (hist[idx + 1] as number) + h;
      hist[idx + 2] = (hist[idx + 2] as number) + 1;
      idx = o7 + (bins[b7 + r] as number) * HIST_STRIDE;
      hist[idx] = (hist[idx] as number) + g;
      hist[idx + 1] = (hist[idx + 1] as number) + h;
      hist[idx + 2] = (hist[idx + 2] as number) + 1;
    }
  }
  for (; j + 4 <= to; j += 4) {
    const f0 = features[j] as number;
    const f1 = features[j + 1] as number;
    const f2 = features[j + 2] as number;
    const f3 = features[j + 3] as number;
    const b0 = f0 * n;
    const b1 = f1 * n;
    const b2 = f2 * n;
    const b3 = f3 * n;
    const o0 = (offsets[f0] as number) * HIST_STRIDE;
    const o1 = (offsets[f1] as number) * HIST_STRIDE;
    const o2 = (offsets[f2] as number) * HIST_STRIDE;
    const o3 = (offsets[f3] as number) * HIST_STRIDE;
    for (let i = start, k = 0; i < end; i++, k += 2) {
      const r = rows[i] as number;
      const g = gh[k] as number;
      const h = gh[k + 1] as number;
      let idx = o0 + (bins[b0 + r] as number) * HIST_STRIDE;
      hist[idx] = (hist[idx] as number) + g;
      hist[idx + 1] = (hist[idx + 1] as number) + h;
      hist[idx + 2] = (hist[idx + 2] as number) + 1;
      idx = o1 + (bins[b1 + r] as number) * HIST_STRIDE;
      hist[idx] = (hist[idx] as number) + g;
      hist[idx + 1] = (hist[idx + 1] as number) + h;
      hist[idx + 2] = (hist[idx + 2] as number) + 1;
      idx = o2 + (bins[b2 + r] as number) * HIST_STRIDE;
      hist[idx] = (hist[idx] as number) + g;
      hist[idx + 1] = (hist[idx + 1] as number) + h;
      hist[idx + 2] = (hist[idx + 2] as number) + 1;
      idx = o3 + (bins[b3 + r] as number) * HIST_STRIDE;
      hist[idx] = (hist[idx] as number) + g;
      hist[idx + 1] = (hist[idx + 1] as number) + h;
      hist[idx + 2] = (hist[idx + 2] as number) + 1;
    }
  }
  for (; j < to; j++) {
    const f = features[j] as number;
    const base = f * n;
    const off = (offsets[f] as number) * HIST_STRIDE;
    for (let i = start, k = 0; i < end; i++, k += 2) {
      const idx = off + (bins[base + (rows[i] as number)] as number) * HIST_STRIDE;
      hist[idx] = (hist[idx] as number) + (gh[k] as number);
      hist[idx + 1] = (hist[idx + 1] as number) + (gh[k + 1] as number);
      hist[idx + 2] = (hist[idx + 2] as number) + 1;
    }
  }
}

/**
 * Stable in-place partition of rows[start .. start+count): rows whose bin (bins[base + row])
 * has direction 1 come first, in order, then the others, in order; returns how many went
 * left. Branch-free: every row is written to both sides and only its side's cursor advances
 * (a data-dependent branch here mispredicts half the time). `scratch` holds count rows.
 */
export function partitionRows(
  rows: Uint32Array,
  scratch: Uint32Array,
  bins: Uint8Array,
  base: number,
  direction: Uint8Array,
  start: number,
  count: number,
): number {
  const end = start + count;
  let l = start;
  let r = 0;
  for (let i = start; i < end; i++) {
    const row = rows[i] as number;
    const d = direction[bins[base + row] as number] as number;
    // l <= i, so rows[l] has been read already.
    rows[l] = row;
    scratch[r] = row;
    l += d;
    r += 1 - d;
  }
  rows.set(scratch.subarray(0, r), l);
  return l - start;
}

/**
 * The histogram trick: a parent's histogram minus its smaller child's is its larger child's.
 * Done in place over features[from .. to), so the parent's array becomes the sibling's.
 */
export function subtractHistogram(
  parent: Float64Array,
  child: Float64Array,
  offsets: Int32Array,
  binCounts: Int32Array,
  features: Int32Array,
  from: number,
  to: number,
): void {
  for (let j = from; j < to; j++) {
    const f = features[j] as number;
    const off = (offsets[f] as number) * HIST_STRIDE;
    const end = off + (binCounts[f] as number) * HIST_STRIDE;
    for (let i = off; i < end; i++) parent[i] = (parent[i] as number) - (child[i] as number);
  }
}

/**
 * Single-threaded convenience: the histogram of rows[start .. start+count) over all of
 * `features`. `gh` is scratch of at least 2 * count numbers.
 */
export function buildHistogram(
  hist: Float64Array,
  binned: BinnedMatrix,
  features: Int32Array,
  rows: Uint32Array,
  start: number,
  count: number,
  grad: Float64Array,
  hess: Float64Array,
  gh: Float64Array,
): void {
  gatherGradients(gh, grad, hess, rows, start, count);
  accumulateHistogram(
    hist,
    binned.bins,
    binned.rowCount,
    binned.offsets,
    binned.binCounts,
    features,
    0,
    features.length,
    rows,
    start,
    count,
    gh,
  );
}

/**
 * Where a fit's histogram builds read and write, all inside one SharedArena: the binned
 * matrix, the row partition, the tree's gradients and the node's gradients in row order. Being
 * in the arena lets the WebAssembly kernels address them and worker threads share them.
 *
 * Only the kernels loop over these arrays. V8 runs TypeScript loops over arrays in WebAssembly
 * memory about three times slower than over ordinary ones, so the TypeScript side copies in
 * and out with `set` (a memcpy) instead: gradients in (stage), histograms out before split
 * finding, the final row partition out for the score update.
 */
export interface HistogramLayout {
  /** The arena's memory, which every array below is a view of. */
  readonly memory: WasmMemory;
  /** The arena itself. */
  readonly arena: SharedArena;
  readonly bins: Uint8Array;
  readonly rowCount: number;
  readonly offsets: Int32Array;
  readonly binCounts: Int32Array;
  readonly totalBins: number;
  /** Row indices, partitioned by the grower so each leaf's rows are contiguous. */
  readonly rows: Uint32Array;
  /** The current node's (gradient, hessian) pairs in row order: 2 * rowCount numbers. */
  readonly gh: Float64Array;
  /** The current tree's gradients and hessians by row (copied in by `stage`). */
  readonly grad: Float64Array;
  readonly hess: Float64Array;
  /** Partition scratch: the right-going rows of the node being split. */
  readonly scratch: Uint32Array;
  /** Partition table: direction[b] = 1 when bin b of the split feature goes left. */
  readonly direction: Uint8Array;
}

/**
 * A layout for growing trees on this thread over a binned matrix: the matrix's own arena when
 * it was binned into one (binMatrix with an arena), otherwise a new arena with a copy of the
 * bins. Each thread that grows trees makes its own; they share the bins.
 */
export function histogramLayout(binned: BinnedMatrix): HistogramLayout {
  const n = binned.rowCount;
  let arena = binned.arena;
  let bins = binned.bins;
  if (!arena) {
    arena = new SharedArena(bins.length + 44 * n + 64 * 8);
    bins = arena.u8(binned.bins.length);
    bins.set(binned.bins);
  }
  return {
    memory: arena.memory,
    arena,
    bins,
    rowCount: n,
    offsets: binned.offsets,
    binCounts: binned.binCounts,
    totalBins: binned.totalBins,
    rows: arena.u32(n),
    gh: arena.f64(2 * n),
    grad: arena.f64(n),
    hess: arena.f64(n),
    scratch: arena.u32(n),
    direction: arena.u8(256),
  };
}

/**
 * Runs the kernels of tree growth over a layout: gathering gradients, histogram accumulation
 * and subtraction, and the row partition, in WebAssembly when the runtime has it and in
 * TypeScript otherwise (same results either way). Main thread and workers each make one.
 */
export class HistogramKernel {
  private readonly wasm: WasmHistogramKernel | null;
  /** The TypeScript path reads the caller's gradients where they are. */
  private grad: Float64Array;
  private hess: Float64Array;

  /** `native: false` forces the TypeScript kernels (tests compare the two). */
  constructor(
    private readonly layout: HistogramLayout,
    native = true,
  ) {
    this.wasm = native ? instantiateHistogramKernel(layout.memory) : null;
    this.grad = layout.grad;
    this.hess = layout.hess;
  }

  /** Whether the WebAssembly kernels run (false: the TypeScript ones). */
  get native(): boolean {
    return this.wasm !== null;
  }

  /** Take the gradients and hessians (by row) of the tree about to grow. */
  stage(grad: Float64Array, hess: Float64Array): void {
    if (this.wasm) {
      this.layout.grad.set(grad);
      this.layout.hess.set(hess);
    } else {
      this.grad = grad;
      this.hess = hess;
    }
  }

  /** The staged gradients of rows[start .. start+count), in row order, into `gh`. */
  gather(start: number, count: number): void {
    const { rows, gh, grad, hess } = this.layout;
    if (this.wasm) {
      this.wasm.gath(
        rows.byteOffset + 4 * start,
        count,
        grad.byteOffset,
        hess.byteOffset,
        gh.byteOffset,
      );
    } else {
      gatherGradients(gh, this.grad, this.hess, rows, start, count);
    }
  }

  /**
   * Fill `hist` (an arena array) for features[from .. to) over rows[start .. start+count),
   * whose gradients `gh` holds in row order (gather). Features must be ascending. With
   * `counts` (see countTemplate), the rows must be start, start+1, ... in order and all of
   * them: the row counts are copied from it instead of counted (same bits, less work).
   */
  accumulate(
    hist: Float64Array,
    features: Int32Array,
    from: number,
    to: number,
    start: number,
    count: number,
    counts: Float64Array | null = null,
  ): void {
    const { bins, rowCount: n, offsets, binCounts, rows, gh } = this.layout;
    const wasm = this.wasm;
    if (!wasm) {
      accumulateHistogram(
        hist,
        bins,
        n,
        offsets,
        binCounts,
        features,
        from,
        to,
        rows,
        start,
        count,
        gh,
      );
      return;
    }
    if (to <= from) return;
    // One fill (or copy) from the first feature's bins to the last one's: features are
    // ascending, so the span holds only these features and unsampled ones (stale, never read).
    const [lo, hi] = this.span(features, from, to);
    if (counts) hist.set(counts.subarray(lo, hi), lo);
    else hist.fill(0, lo, hi);
    const r = counts ? start : rows.byteOffset + 4 * start;
    const g = gh.byteOffset;
    const b = bins.byteOffset;
    const o = hist.byteOffset;
    const col = (j: number): number => b + (features[j] as number) * n;
    const bin0 = (j: number): number => o + (offsets[features[j] as number] as number) * 24;
    const acc8 = counts ? wasm.seq8 : wasm.acc8;
    const acc4 = counts ? wasm.seq4 : wasm.acc4;
    const acc1 = counts ? wasm.seq1 : wasm.acc1;
    let j = from;
    for (; j + 8 <= to; j += 8) {
      acc8(
        r,
        g,
        count,
        col(j),
        bin0(j),
        col(j + 1),
        bin0(j + 1),
        col(j + 2),
        bin0(j + 2),
        col(j + 3),
        bin0(j + 3),
        col(j + 4),
        bin0(j + 4),
        col(j + 5),
        bin0(j + 5),
        col(j + 6),
        bin0(j + 6),
        col(j + 7),
        bin0(j + 7),
      );
    }
    for (; j + 4 <= to; j += 4) {
      acc4(
        r,
        g,
        count,
        col(j),
        bin0(j),
        col(j + 1),
        bin0(j + 1),
        col(j + 2),
        bin0(j + 2),
        col(j + 3),
        bin0(j + 3),
      );
    }
    for (; j < to; j++) acc1(r, g, count, col(j), bin0(j));
  }

  /**
   * The histogram of all rows with zero gradients: every feature's row count per bin, g and h
   * +0. The root of a tree on all rows (in order) starts from it (see accumulate). Uses `gh`
   * and the partition, so call it before a tree's own gather.
   */
  countTemplate(): Float64Array {
    const { arena, rowCount: n, offsets, gh, rows } = this.layout;
    const template = arena.f64(this.layout.totalBins * HIST_STRIDE);
    const all = Int32Array.from({ length: offsets.length }, (_, f) => f);
    for (let r = 0; r < n; r++) rows[r] = r;
    gh.fill(0, 0, 2 * n);
    this.accumulate(template, all, 0, all.length, 0, n);
    return template;
  }

  /** parent -= child over features[from .. to) (the sibling's histogram, in place). */
  subtract(
    parent: Float64Array,
    child: Float64Array,
    features: Int32Array,
    from: number,
    to: number,
  ): void {
    const { offsets, binCounts } = this.layout;
    if (!this.wasm) {
      subtractHistogram(parent, child, offsets, binCounts, features, from, to);
      return;
    }
    if (to <= from) return;
    const [lo, hi] = this.span(features, from, to);
    this.wasm.sub(parent.byteOffset + lo * 8, child.byteOffset + lo * 8, (hi - lo) * 8);
  }

  /** The histogram index range from features[from]'s first bin to features[to - 1]'s last. */
  private span(features: Int32Array, from: number, to: number): [number, number] {
    const { offsets, binCounts } = this.layout;
    const last = features[to - 1] as number;
    return [
      (offsets[features[from] as number] as number) * HIST_STRIDE,
      ((offsets[last] as number) + (binCounts[last] as number)) * HIST_STRIDE,
    ];
  }

  /**
   * Stable in-place partition of rows[start .. start+count) by feature f: a row goes left
   * when the layout's direction[bin] is 1. Returns how many went left (they come first).
   */
  partition(start: number, count: number, feature: number): number {
    const { bins, rowCount: n, rows, scratch, direction } = this.layout;
    const base = feature * n;
    if (this.wasm) {
      return this.wasm.part(
        rows.byteOffset + 4 * start,
        count,
        bins.byteOffset + base,
        direction.byteOffset,
        scratch.byteOffset,
      );
    }
    return partitionRows(rows, scratch, bins, base, direction, start, count);
  }
}

/** Fills node histograms for the tree grower: on this thread, or spread over worker threads. */
export interface HistogramBuilder {
  /** The arrays the grower and the kernels share. */
  readonly layout: HistogramLayout;
  /** The kernels on this thread (the grower stages gradients and partitions rows with it). */
  readonly kernel: HistogramKernel;
  /** Where the grower gets and returns histogram arrays. */
  readonly pool: HistogramPool;
  /**
   * Fill `hist` for the rows rows[start .. start+count) over `features`, from the staged
   * gradients; then, when `parent` is given, subtract `hist` from it in place so that it
   * becomes the sibling's histogram. `counts`: see HistogramKernel.accumulate.
   */
  build(
    hist: Float64Array,
    features: Int32Array,
    start: number,
    count: number,
    parent: Float64Array | null,
    counts?: Float64Array | null,
  ): void;
}

/** The single-threaded HistogramBuilder. */
export class SerialHistogramBuilder implements HistogramBuilder {
  readonly pool: HistogramPool;
  readonly kernel: HistogramKernel;

  /** `native: false` forces the TypeScript kernels (see HistogramKernel). */
  constructor(
    readonly layout: HistogramLayout,
    native = true,
  ) {
    this.pool = new HistogramPool(layout.arena, layout.totalBins * HIST_STRIDE);
    this.kernel = new HistogramKernel(layout, native);
  }

  build(
    hist: Float64Array,
    features: Int32Array,
    start: number,
    count: number,
    parent: Float64Array | null,
    counts: Float64Array | null = null,
  ): void {
    const m = features.length;
    this.kernel.gather(start, count);
    this.kernel.accumulate(hist, features, 0, m, start, count, counts);
    if (parent) this.kernel.subtract(parent, hist, features, 0, m);
  }
}

/** Recycles histogram arrays (allocated in the arena) across nodes and trees. */
export class HistogramPool {
  private readonly free: Float64Array[] = [];

  constructor(
    private readonly arena: SharedArena,
    private readonly length: number,
  ) {}

  acquire(): Float64Array {
    return this.free.pop() ?? this.arena.f64(this.length);
  }

  release(hist: Float64Array): void {
    this.free.push(hist);
  }
}
