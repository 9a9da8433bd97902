import { describe, expect, it } from "vitest";
import { sketchNumeric } from "../../models/baseline.ts";
import { wassersteinOf } from "./compare.ts";
import { jensenShannonDistance, meanAbsLinear, piecewiseLinearL1 } from "./distance.ts";
import { numericBins } from "./feature-bins.ts";
import { reference, relativeError } from "./fixtures/reference.ts";

describe("distances", () => {
  it("Jensen-Shannon matches scipy's jensenshannon", () => {
    for (const { p, q, distance } of reference.jensenshannon) {
      expect(jensenShannonDistance(p, q)).toBeCloseTo(distance, 12);
    }
    // Disjoint supports: the maximum, √ln 2.
    expect(jensenShannonDistance([1, 0], [0, 1])).toBeCloseTo(Math.sqrt(Math.LN2), 14);
  });

  it("integrates |A − B| of piecewise-linear CDFs in closed form", () => {
    expect(meanAbsLinear(1, 1)).toBe(1);
    expect(meanAbsLinear(-1, 1)).toBe(0.5);
    expect(meanAbsLinear(-1, 3)).toBeCloseTo((1 * 0.25 + 3 * 0.75) / 2, 14);
    // A uniform on [0, 1] against B uniform on [0, 2] (as a CDF on points 0, 1, 2): W1 = 0.5.
    const points = [0, 1, 2];
    const a = [0, 1, 1];
    const b = [0, 0.5, 1];
    expect(piecewiseLinearL1(points, a, a, b, b)).toBeCloseTo(0.5, 14);
    // Against a brute-force Riemann sum for a crossing pair.
    const c = [0, 0.2, 1];
    const d = [0, 0.6, 1];
    let riemann = 0;
    const steps = 200_000;
    for (let i = 0; i < steps; i++) {
      const x = ((i + 0.5) / steps) * 2;
      const lerp = (y: number[]) =>
        x < 1
          ? (y[0] as number) + ((y[1] as number) - (y[0] as number)) * x
          : (y[1] as number) + ((y[2] as number) - (y[1] as number)) * (x - 1);
      riemann += Math.abs(lerp(c) - lerp(d)) * (2 / steps);
    }
    expect(piecewiseLinearL1(points, c, c, d, d)).toBeCloseTo(riemann, 8);
  });

  it("Wasserstein from a percentile baseline and live cells is within 5% of scipy's exact distance", () => {
    const { baseline, live, distance } = reference.wasserstein;
    const bins = numericBins(sketchNumeric("x", baseline));
    const counts = new Float64Array(bins.cellCount + 1);
    let tailBelow = 0;
    let tailAbove = 0;
    const first = bins.points[0] as number;
    const last = bins.points[bins.points.length - 1] as number;
    for (const v of live) {
      const c = bins.cellOf(v);
      counts[c] = (counts[c] as number) + 1;
      if (v < first) tailBelow += first - v;
      if (v > last) tailAbove += v - last;
    }
    const w = wassersteinOf(bins, { counts, tailBelow, tailAbove }, live.length);
    // 2.7% here: the widest cells (the last percentile of a skewed distribution) are the error.
    expect(relativeError(w, distance)).toBeLessThan(0.05);
  });
});
