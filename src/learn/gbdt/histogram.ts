/**
 * Gradient histograms: for one tree node, the sum of gradients, hessians and the row count in
 * every bin of every feature. Layout: one Float64Array of totalBins * 3 values,
 * [g, h, count] for bin b of feature f at index (offsets[f] + b) * 3. Only the features sampled
 * for the current tree are filled; the rest of the array is stale and never read.
 */
import type { BinnedMatrix } from "./binning.ts";

/** Values stored per bin: gradient sum, hessian sum, row count. */
export const HIST_STRIDE = 3;

/**
 * Fill `hist` for the rows rows[start .. start+count) over `features`. Gradients are first
 * gathered into row order (gOrdered/hOrdered, at least `count` long) so the inner loop reads
 * them sequentially and only the bin lookups are indirect.
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
  gOrdered: Float64Array,
  hOrdered: Float64Array,
): void {
  const { bins, rowCount: n, offsets } = binned;
  for (let i = 0; i < count; i++) {
    const r = rows[start + i] as number;
    gOrdered[i] = grad[r] as number;
    hOrdered[i] = hess[r] as number;
  }
  const bc = binned.features;
  let j = 0;
  // Four features per pass over the rows: the row index and gradients are loaded once, and
  // the four independent accumulations overlap instead of waiting on each other.
  for (; j + 4 <= features.length; j += 4) {
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
    hist.fill(0, o0, o0 + (bc[f0]?.binCount ?? 0) * HIST_STRIDE);
    hist.fill(0, o1, o1 + (bc[f1]?.binCount ?? 0) * HIST_STRIDE);
    hist.fill(0, o2, o2 + (bc[f2]?.binCount ?? 0) * HIST_STRIDE);
    hist.fill(0, o3, o3 + (bc[f3]?.binCount ?? 0) * HIST_STRIDE);
    for (let i = 0; i < count; i++) {
      const r = rows[start + i] as number;
      const g = gOrdered[i] as number;
      const h = hOrdered[i] as number;
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
  for (; j < features.length; j++) {
    const f = features[j] as number;
    const base = f * n;
    const off = (offsets[f] as number) * HIST_STRIDE;
    hist.fill(0, off, off + (bc[f]?.binCount ?? 0) * HIST_STRIDE);
    for (let i = 0; i < count; i++) {
      const idx = off + (bins[base + (rows[start + i] as number)] as number) * HIST_STRIDE;
      hist[idx] = (hist[idx] as number) + (gOrdered[i] as number);
      hist[idx + 1] = (hist[idx + 1] as number) + (hOrdered[i] as number);
      hist[idx + 2] = (hist[idx + 2] as number) + 1;
    }
  }
}

/**
 * The histogram trick: a parent's histogram minus its smaller child's is its larger child's.
 * Done in place, so the parent's array becomes the sibling's and no new array is needed.
 */
export function subtractHistogram(
  parent: Float64Array,
  child: Float64Array,
  binned: BinnedMatrix,
  features: Int32Array,
): void {
  for (let j = 0; j < features.length; j++) {
    const f = features[j] as number;
    const off = (binned.offsets[f] as number) * HIST_STRIDE;
    const end = off + (binned.features[f]?.binCount ?? 0) * HIST_STRIDE;
    for (let i = off; i < end; i++) parent[i] = (parent[i] as number) - (child[i] as number);
  }
}

/** Recycles histogram arrays across nodes and trees so growth allocates almost nothing. */
export class HistogramPool {
  private readonly free: Float64Array[] = [];

  constructor(private readonly length: number) {}

  acquire(): Float64Array {
    return this.free.pop() ?? new Float64Array(this.length);
  }

  release(hist: Float64Array): void {
    this.free.push(hist);
  }
}
