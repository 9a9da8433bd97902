import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  addPairs,
  COUNTS_LENGTH,
  compress,
  compressCounts,
  countAbove,
  decodePairs,
  encodePairs,
  indexOfMicros,
  newCounts,
  newMergeHistogram,
  newRecordingHistogram,
  percentileMs,
  toMicros,
} from "./latency-histogram.ts";

const latencies = fc.array(fc.double({ min: 0.001, max: 60_000, noNaN: true }), {
  minLength: 1,
  maxLength: 400,
});

describe("latency histograms", () => {
  it("round-trips any histogram through its text encoding", () => {
    fc.assert(
      fc.property(latencies, (values) => {
        const h = newRecordingHistogram();
        for (const ms of values) h.recordValue(toMicros(ms));
        const pairs = compress(h);
        expect(decodePairs(encodePairs(pairs))).toEqual(pairs);
      }),
      { numRuns: 200, seed: 7 },
    );
    expect(encodePairs(new Uint32Array(0))).toBe("");
    expect(decodePairs("")).toEqual(new Uint32Array(0));
  });

  it("encodes compactly: a busy minute spread over 0.5-370 ms stays under 2 KB", () => {
    const h = newRecordingHistogram();
    for (let i = 0; i < 100_000; i++) h.recordValue(toMicros(0.5 + (i % 997) * 0.37));
    const pairs = compress(h);
    const text = encodePairs(pairs);
    // About 4 bytes of base64 per non-empty HDR bucket, against 8 for the raw pairs.
    expect(text.length).toBeLessThan(2000);
    expect(text.length).toBeLessThan(pairs.byteLength / 1.5);
    expect(addPairsTotal(decodePairs(text))).toBe(100_000);
  });

  it("refuses text it did not write", () => {
    expect(() => decodePairs("AA==")).toThrow(/encoding/); // unknown format byte
    expect(() => decodePairs(Buffer.from([1, 0x80]).toString("base64"))).toThrow(/Truncated/);
    // An index beyond the layout.
    const beyond = Buffer.from([1, 0xff, 0xff, 0x03, 1]).toString("base64");
    expect(() => decodePairs(beyond)).toThrow(/Malformed/);
    // Indices must ascend.
    const repeated = Buffer.from([1, 5, 1, 0, 1]).toString("base64");
    expect(() => decodePairs(repeated)).toThrow(/Malformed/);
    expect(COUNTS_LENGTH).toBeGreaterThan(1000);
  });

  it("merges any split of the values into exactly the histogram of all of them", () => {
    fc.assert(
      fc.property(
        latencies,
        fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 400, maxLength: 400 }),
        (values, parts) => {
          // Record each value into one of six "minutes/replicas", store them encoded, merge.
          const split = Array.from({ length: 6 }, () => newRecordingHistogram());
          const all = newRecordingHistogram();
          values.forEach((ms, i) => {
            split[parts[i] as number]?.recordValue(toMicros(ms));
            all.recordValue(toMicros(ms));
          });
          const merged = newMergeHistogram();
          for (const h of split) addPairs(merged, decodePairs(encodePairs(compress(h))));
          expect(merged.totalCount).toBe(values.length);
          for (const p of [0, 50, 90, 95, 99, 99.9, 100]) {
            expect(percentileMs(merged, p)).toBe(percentileMs(all, p));
          }
        },
      ),
      { numRuns: 150, seed: 11 },
    );
  });

  it("counts the values above a threshold, to the histogram's precision", () => {
    const h = newMergeHistogram();
    const values = [1, 2, 5, 9.5, 10, 10.02, 11, 50, 300];
    for (const ms of values) h.recordValue(toMicros(ms));
    expect(countAbove(h, 10)).toBe(3); // 11, 50, 300 (10.02 shares 10's HDR bucket)
    expect(countAbove(h, 0.5)).toBe(values.length);
    expect(countAbove(h, 1000)).toBe(0);
    expect(countAbove(newMergeHistogram(), 1)).toBe(0);
    expect(percentileMs(newMergeHistogram(), 50)).toBeNull();
  });

  it("computes the counts index exactly as hdr-histogram-js does", () => {
    const h = newRecordingHistogram();
    const check = (micros: number) =>
      expect(indexOfMicros(micros)).toBe(h.countsArrayIndex(micros));
    for (let v = 1; v <= 5000; v++) check(v);
    for (let bit = 0; bit < 30; bit++) for (const d of [-1, 0, 1]) check(Math.max(1, 2 ** bit + d));
    check(600_000_000);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 600_000_000 }), (v) => {
        check(v);
      }),
      { numRuns: 5000, seed: 5 },
    );
    // Counting into a plain array and compressing it equals recording into a histogram.
    const counts = newCounts();
    for (const ms of [0.3, 2, 2, 17.5, 950]) {
      const i = indexOfMicros(toMicros(ms));
      counts[i] = (counts[i] as number) + 1;
      h.recordValue(toMicros(ms));
    }
    expect(compressCounts(counts)).toEqual(compress(h));
  });

  it("clamps latencies into the recorded range", () => {
    expect(toMicros(0)).toBe(1);
    expect(toMicros(-5)).toBe(1);
    expect(toMicros(Number.NaN)).toBe(1);
    expect(toMicros(1.2345)).toBe(1235);
    expect(toMicros(1e12)).toBe(600_000_000);
  });
});

function addPairsTotal(pairs: Uint32Array): number {
  let total = 0;
  for (let i = 1; i < pairs.length; i += 2) total += pairs[i] as number;
  return total;
}
