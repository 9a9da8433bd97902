/**
 * The one latency histogram layout every metric reader shares: HDR histograms of microseconds,
 * 1 µs to 10 minutes, 2 significant digits (±1%). Because the layout is fixed, a histogram is
 * fully described by its non-empty (index, count) pairs: 10-second buckets keep them in memory,
 * 1-minute rollups store them as a short varint string, and any number of buckets, minutes and
 * replicas merge by adding counts index by index, so a percentile over merged data is exactly
 * the percentile of one histogram that would have recorded every value (to HDR precision).
 */
import { Float64Histogram, Int32Histogram } from "hdr-histogram-js";

/** Histogram range in microseconds and its precision. */
export const LOWEST_US = 1;
export const HIGHEST_US = 600_000_000;
export const SIGNIFICANT_DIGITS = 2;

/** A histogram to record into (a 10-second bucket never holds 2^31 requests). */
export function newRecordingHistogram(): Int32Histogram {
  return new Int32Histogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS);
}

/** A histogram to merge into: float64 counts, so 30 days of a busy app do not overflow. */
export function newMergeHistogram(): Float64Histogram {
  return new Float64Histogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS);
}

type AnyHistogram = Int32Histogram | Float64Histogram;

const LAYOUT = newRecordingHistogram();
/** Slots in a histogram of this layout: every valid (index, count) pair has index below it. */
export const COUNTS_LENGTH = LAYOUT.countsArrayLength;
const HALF_MAGNITUDE = LAYOUT.subBucketHalfCountMagnitude;
const HALF_COUNT = LAYOUT.subBucketHalfCount;
if (LAYOUT.unitMagnitude !== 0) throw new Error("The latency layout must start at 1 µs");

/**
 * The counts index of a whole number of microseconds (from {@link toMicros}), exactly as
 * `countsArrayIndex` computes it, with integer operations instead of its `log2` and `pow`:
 * the recorder's per-request path counts into plain arrays with it (~100 ns saved per value).
 */
export function indexOfMicros(micros: number): number {
  const bucket = Math.max(31 - Math.clz32(micros) - HALF_MAGNITUDE, 0);
  return ((bucket + 1) << HALF_MAGNITUDE) + (micros >>> bucket) - HALF_COUNT;
}

/** Counts in this layout's index order, for recording without a histogram object. */
export function newCounts(): Uint32Array {
  return new Uint32Array(COUNTS_LENGTH);
}

/** The non-empty entries of a counts array as (index, count) pairs. */
export function compressCounts(counts: Uint32Array): Uint32Array {
  const pairs: number[] = [];
  for (let i = 0; i < counts.length; i++) {
    const count = counts[i] as number;
    if (count > 0) pairs.push(i, count);
  }
  return pairs.length === 0 ? EMPTY : Uint32Array.from(pairs);
}

/** Add a counts array into a merge histogram. */
export function addCounts(into: Float64Histogram, counts: Uint32Array): void {
  let added = 0;
  for (let i = 0; i < counts.length; i++) {
    const count = counts[i] as number;
    if (count > 0) {
      into.addToCountAtIndex(i, count);
      added += count;
    }
  }
  into.addToTotalCount(added);
}

/** Milliseconds to the whole microseconds recorded, clamped to the histogram's range. */
export function toMicros(ms: number): number {
  if (!Number.isFinite(ms) || ms <= 0) return LOWEST_US;
  return Math.min(HIGHEST_US, Math.max(LOWEST_US, Math.round(ms * 1000)));
}

const EMPTY = new Uint32Array(0);

/** The non-empty counts of a histogram as (index, count) pairs, indices ascending. */
export function compress(histogram: AnyHistogram): Uint32Array {
  if (histogram.totalCount === 0) return EMPTY;
  const pairs: number[] = [];
  for (let i = 0; i < histogram.countsArrayLength; i++) {
    const count = histogram.getCountAtIndex(i);
    if (count > 0) pairs.push(i, count);
  }
  return Uint32Array.from(pairs);
}

/** Add (index, count) pairs into a merge histogram. */
export function addPairs(into: Float64Histogram, pairs: Uint32Array): void {
  let added = 0;
  for (let i = 0; i < pairs.length; i += 2) {
    const count = pairs[i + 1] as number;
    into.addToCountAtIndex(pairs[i] as number, count);
    added += count;
  }
  into.addToTotalCount(added);
}

/** Add a whole histogram of the same layout into a merge histogram. */
export function addHistogram(into: Float64Histogram, from: AnyHistogram): void {
  if (from.totalCount === 0) return;
  let added = 0;
  for (let i = 0; i < from.countsArrayLength; i++) {
    const count = from.getCountAtIndex(i);
    if (count > 0) {
      into.addToCountAtIndex(i, count);
      added += count;
    }
  }
  into.addToTotalCount(added);
}

/** A percentile in milliseconds (µs precision), or null for an empty histogram. */
export function percentileMs(histogram: AnyHistogram, percentile: number): number | null {
  if (histogram.totalCount === 0) return null;
  return Math.round(histogram.getValueAtPercentile(percentile)) / 1000;
}

/**
 * How many recorded latencies exceed `ms`. Values in the HDR bucket that holds `ms` itself are
 * within the histogram's 1% of it and count as not slower.
 */
export function countAbove(histogram: AnyHistogram, ms: number): number {
  if (histogram.totalCount === 0) return 0;
  const from = histogram.countsArrayIndex(toMicros(ms)) + 1;
  let above = 0;
  for (let i = from; i < histogram.countsArrayLength; i++) above += histogram.getCountAtIndex(i);
  return above;
}

/** Format byte of the encoded pairs, so a future layout can be told apart from this one. */
const FORMAT = 1;

/**
 * Pairs as compact text for a database column: a format byte, then per pair the index's
 * distance from the previous index and the count, as LEB128 varints, base64. An empty
 * histogram is "". About 4 characters per non-empty HDR bucket: a busy minute spread
 * over a few hundred buckets takes 1-2 KB.
 */
export function encodePairs(pairs: Uint32Array): string {
  if (pairs.length === 0) return "";
  const bytes: number[] = [FORMAT];
  const varint = (n: number) => {
    let v = n;
    while (v >= 0x80) {
      bytes.push((v & 0x7f) | 0x80);
      v = Math.floor(v / 128);
    }
    bytes.push(v);
  };
  let previous = 0;
  for (let i = 0; i < pairs.length; i += 2) {
    const index = pairs[i] as number;
    varint(index - previous);
    varint(pairs[i + 1] as number);
    previous = index;
  }
  return Buffer.from(bytes).toString("base64");
}

/**
 * Walk encoded pairs, calling `visit(index, count)` for each; throws on text that
 * {@link encodePairs} did not produce. One pass over the bytes, nothing allocated per pair:
 * reading a month of rollups decodes tens of millions of pairs.
 */
function walkEncoded(text: string, visit: (index: number, count: number) => void): void {
  if (text === "") return;
  const bytes = Buffer.from(text, "base64");
  const end = bytes.length;
  if (bytes[0] !== FORMAT) throw new Error("Unknown latency histogram encoding");
  let at = 1;
  let index = 0;
  let first = true;
  while (at < end) {
    // Two varints: the index's step from the previous one, then the count.
    let step = 0;
    let scale = 1;
    let byte = 0x80;
    while (byte >= 0x80) {
      if (at >= end) throw new Error("Truncated latency histogram encoding");
      if (scale > 2 ** 35) throw new Error("Malformed latency histogram encoding");
      byte = bytes[at++] as number;
      step += (byte & 0x7f) * scale;
      scale *= 128;
    }
    let count = 0;
    scale = 1;
    byte = 0x80;
    while (byte >= 0x80) {
      if (at >= end) throw new Error("Truncated latency histogram encoding");
      if (scale > 2 ** 35) throw new Error("Malformed latency histogram encoding");
      byte = bytes[at++] as number;
      count += (byte & 0x7f) * scale;
      scale *= 128;
    }
    index += step;
    // Indices ascend strictly (the first may be 0) and stay inside the layout.
    if ((step === 0 && !first) || index >= COUNTS_LENGTH || count > 0xffffffff) {
      throw new Error("Malformed latency histogram encoding");
    }
    first = false;
    visit(index, count);
  }
}

/** The inverse of {@link encodePairs}; throws on text it did not produce. */
export function decodePairs(text: string): Uint32Array {
  if (text === "") return EMPTY;
  const out: number[] = [];
  walkEncoded(text, (index, count) => {
    out.push(index, count);
  });
  return Uint32Array.from(out);
}

/** Add encoded pairs straight into a merge histogram (no intermediate arrays). */
export function addEncoded(into: Float64Histogram, text: string): void {
  let added = 0;
  walkEncoded(text, (index, count) => {
    into.addToCountAtIndex(index, count);
    added += count;
  });
  into.addToTotalCount(added);
}
