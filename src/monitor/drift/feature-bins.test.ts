import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { sketchCategorical, sketchNumeric } from "../../models/baseline.ts";
import { CellFinder, categoricalBins, type FeatureBins, numericBins } from "./feature-bins.ts";

const value = fc.oneof(
  fc.double({ min: -1e6, max: 1e6, noNaN: true }),
  fc.integer({ min: -3, max: 12 }),
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0),
);

/** One feature's bins of each kind: a number with the fine grid, one with deciles only, a category. */
const featureBins: fc.Arbitrary<FeatureBins> = fc.oneof(
  fc
    .array(fc.oneof(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.integer({ max: 9 })), {
      minLength: 1,
      maxLength: 400,
    })
    .chain((training) =>
      fc.boolean().map((grid) => {
        const sketch = sketchNumeric("x", training);
        if (grid) return numericBins(sketch);
        const { grid: _grid, ...deciles } = sketch;
        return numericBins(deciles);
      }),
    ),
  fc
    .array(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 50 })
    .map((codes) => categoricalBins(sketchCategorical("c", codes, 7))),
);

describe("CellFinder", () => {
  it("property: a row's cells are each feature's cellOf, for training values and any others", () => {
    fc.assert(
      fc.property(
        fc.array(featureBins, { minLength: 1, maxLength: 8 }),
        fc.array(value, { minLength: 1, maxLength: 30 }),
        (bins, probes) => {
          const finder = new CellFinder(bins);
          const values = new Float64Array(bins.length);
          const cells = new Uint16Array(bins.length);
          const expected = new Uint16Array(bins.length);
          // Probes, and every feature's own points (a point is a cell of its own) and next to them.
          const extra = bins.flatMap((b) =>
            b.kind === "numeric"
              ? Array.from(b.points).flatMap((p) => [p, p + 1e-9, p - 1e-9])
              : [],
          );
          const all = [...probes, ...extra];
          for (let i = 0; i < all.length; i++) {
            for (let f = 0; f < bins.length; f++)
              values[f] = all[(i + f * 7) % all.length] as number;
            finder.cellsOf(values, cells);
            for (let f = 0; f < bins.length; f++)
              expected[f] = (bins[f] as FeatureBins).cellOf(values[f] as number);
            expect(Array.from(cells)).toEqual(Array.from(expected));
          }
        },
      ),
    );
  });
});
