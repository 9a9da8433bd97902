import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createRandom } from "../random.ts";
import { matrixOf } from "../test-support/synthetic.ts";
import { binMatrix, binNumericColumn, numericBin, numericBounds } from "./binning.ts";

describe("binNumericColumn", () => {
  it("bins every value exactly as numericBin does (grid brackets, rounding, extremes)", () => {
    const value = fc.oneof(
      fc.double({ noNaN: false }),
      fc.double({ min: -5, max: 5, noNaN: true }),
      fc.integer({ min: -3, max: 40 }),
      fc.double({ min: 1e15, max: 1e15 + 64, noNaN: true }),
      fc.constantFrom(Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN, 0, -0),
    );
    fc.assert(
      fc.property(
        fc.array(value, { minLength: 1, maxLength: 400 }),
        fc.integer({ min: 1, max: 255 }),
        (values, maxBins) => {
          const column = Float64Array.from(values);
          const sorted = column.filter((v) => !Number.isNaN(v)).sort();
          const upper = numericBounds(sorted, maxBins);
          const out = new Uint8Array(column.length);
          binNumericColumn(column, upper, out);
          column.forEach((v, r) => {
            expect(out[r]).toBe(Number.isNaN(v) ? 0 : numericBin(upper, v));
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("numericBounds", () => {
  it("puts each distinct value in its own bin when there are few", () => {
    const bounds = numericBounds(Float64Array.of(1, 1, 2, 5, 5, 5), 255);
    expect(Array.from(bounds)).toEqual([1.5, 3.5, Number.POSITIVE_INFINITY]);
    expect(numericBin(bounds, 1)).toBe(1);
    expect(numericBin(bounds, 2)).toBe(2);
    expect(numericBin(bounds, 5)).toBe(3);
    expect(numericBin(bounds, 1e9)).toBe(3);
  });

  it("uses about equal-frequency bins when there are many values", () => {
    const values = Float64Array.from({ length: 10_000 }, (_, i) => i).sort();
    const bounds = numericBounds(values, 16);
    expect(bounds.length).toBe(16);
    const counts = new Array(17).fill(0);
    for (const v of values) counts[numericBin(bounds, v)]++;
    for (let b = 1; b <= 16; b++) {
      expect(counts[b]).toBeGreaterThan(500);
      expect(counts[b]).toBeLessThan(750);
    }
  });

  it("never puts a bound on or above the next value (adjacent floats)", () => {
    const a = 1;
    const b = 1 + Number.EPSILON;
    const bounds = numericBounds(Float64Array.of(a, b), 255);
    expect(numericBin(bounds, a)).toBe(1);
    expect(numericBin(bounds, b)).toBe(2);
  });
});

describe("binMatrix", () => {
  it("bins missing values to 0 and categories to code + 1", () => {
    const X = matrixOf([
      { name: "x", values: [0.5, Number.NaN, 2] },
      { name: "c", values: [2, Number.NaN, 7], kind: "categorical", cardinality: 3 },
    ]);
    const binned = binMatrix(X, 255, "native", createRandom(1));
    expect(Array.from(binned.bins)).toEqual([1, 0, 2, 3, 0, 0]);
    expect(binned.features[1]?.binCount).toBe(4);
    expect(Array.from(binned.offsets)).toEqual([0, 3]);
    expect(binned.totalBins).toBe(7);
  });

  it("gives the most frequent codes of a huge vocabulary their own bins", () => {
    const n = 3000;
    const random = createRandom(2);
    const codes = Float64Array.from({ length: n }, (_, i) =>
      i < 1000 ? 400 : random.nextInt(1000),
    );
    const X = matrixOf([{ name: "c", values: codes, kind: "categorical", cardinality: 1001 }]);
    const binned = binMatrix(X, 255, "native", createRandom(1));
    const fb = binned.features[0];
    expect(fb?.binCount).toBe(256);
    expect(fb?.codeToBin[400]).toBe(1);
    expect(Math.max(...Array.from(binned.bins))).toBe(255);
  });
});
