import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BASELINE_BINS, binOf, sketchNumeric } from "./baseline.ts";

describe("numeric baseline sketch", () => {
  it("keeps a percentile grid with exact shares at and below each point", () => {
    // 0..999: the grid is every 10th value; P(X ≤ 9) = 0.01, P(X < 9) = 0.009.
    const values = Array.from({ length: 1000 }, (_, i) => i);
    const sketch = sketchNumeric("x", values);
    const grid = sketch.grid;
    if (!grid) throw new Error("no grid");
    expect(grid.values.length).toBe(101);
    expect(grid.values[0]).toBe(0);
    expect(grid.values[1]).toBe(10);
    expect(grid.values[100]).toBe(999);
    expect(grid.atOrBelow[1]).toBeCloseTo(0.011, 12);
    expect(grid.below[1]).toBeCloseTo(0.01, 12);
    expect(grid.atOrBelow[100]).toBe(1);
    expect(sketch.distinct).toBe(1000);
  });

  it("counts a lump of equal values as a jump at one grid point", () => {
    // 70% zeros, then 1..300: 0 is one point with below 0 and atOrBelow 0.7.
    const values = [
      ...new Array<number>(700).fill(0),
      ...Array.from({ length: 300 }, (_, i) => i + 1),
    ];
    const grid = sketchNumeric("x", values).grid;
    expect(grid?.values[0]).toBe(0);
    expect(grid?.below[0]).toBe(0);
    expect(grid?.atOrBelow[0]).toBeCloseTo(0.7, 12);
    expect(grid?.values.filter((v) => v === 0).length).toBe(1);
  });

  it("ignores missing values and keeps no grid when every value is missing", () => {
    const sketch = sketchNumeric("x", [Number.NaN, 1, 2, Number.NaN]);
    expect(sketch.missingRate).toBe(0.5);
    expect(sketch.grid?.values).toEqual([1, 2]);
    expect(sketchNumeric("y", [Number.NaN]).grid).toBeUndefined();
  });

  it("property: the decile edges are grid points, and the grid is a consistent CDF", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.integer({ min: -5, max: 5 }),
            fc.double({ min: -1e6, max: 1e6, noNaN: true }),
          ),
          {
            minLength: 1,
            maxLength: 400,
          },
        ),
        (values) => {
          const sketch = sketchNumeric("x", values);
          const grid = sketch.grid;
          if (!grid) return false;
          for (const edge of sketch.edges) expect(grid.values).toContain(edge);
          for (let j = 0; j < grid.values.length; j++) {
            const v = grid.values[j] as number;
            if (j > 0) expect(v).toBeGreaterThan(grid.values[j - 1] as number);
            const le = values.filter((x) => x <= v).length / values.length;
            const lt = values.filter((x) => x < v).length / values.length;
            expect(grid.atOrBelow[j]).toBeCloseTo(le, 12);
            expect(grid.below[j]).toBeCloseTo(lt, 12);
          }
          // `+ 0` reads -0 as 0: the same value as data, only Object.is tells them apart.
          expect((grid.values[0] as number) + 0).toBe(sketch.min + 0);
          expect((grid.values[grid.values.length - 1] as number) + 0).toBe(sketch.max + 0);
          expect(sketch.distinct).toBe(new Set(values.map((v) => (Object.is(v, -0) ? 0 : v))).size);
          // The deciles' shares agree with the grid at each edge.
          let cumulative = 0;
          for (let b = 0; b < sketch.edges.length; b++) {
            cumulative += sketch.proportions[b] as number;
            const j = grid.values.indexOf(sketch.edges[b] as number);
            expect(grid.atOrBelow[j]).toBeCloseTo(cumulative, 9);
          }
          expect(sketch.edges.length).toBeLessThan(BASELINE_BINS);
          expect(binOf(sketch.edges, sketch.max)).toBeLessThanOrEqual(sketch.edges.length);
          return true;
        },
      ),
      { numRuns: 200 },
    );
  });
});
