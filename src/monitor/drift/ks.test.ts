import { describe, expect, it } from "vitest";
import { reference, relativeError } from "./fixtures/reference.ts";
import {
  type Cdf,
  KS_EXACT_MAX_N,
  kolmogorovExactSf,
  kolmogorovSf,
  ksPValue,
  ksStatistic,
} from "./ks.ts";

/** The piecewise-linear CDF through (grid[i], levels[i]), 0 below and 1 above. */
function interpolated(grid: readonly number[], levels: readonly number[]): Cdf {
  const at = (x: number) => {
    if (x <= (grid[0] as number)) return x < (grid[0] as number) ? 0 : (levels[0] as number);
    if (x >= (grid[grid.length - 1] as number)) return 1;
    let j = 1;
    while ((grid[j] as number) < x) j++;
    const x0 = grid[j - 1] as number;
    const x1 = grid[j] as number;
    const y0 = levels[j - 1] as number;
    const y1 = levels[j] as number;
    return y0 + ((y1 - y0) * (x - x0)) / (x1 - x0);
  };
  return { at, before: at };
}

describe("Kolmogorov-Smirnov", () => {
  it("exact p-values match scipy's kstwo.sf (Marsaglia-Tsang-Wang) for n ≤ 140", () => {
    for (const { n, d, sf } of reference.kstwo_exact) {
      const p = kolmogorovExactSf(n, d);
      // Relative error ≤ 1e-6 from the matrix; the closed-form far tail (p < 1e-6) within 10%.
      const tolerance = Math.floor(n * d) + 1 > 33 ? 0.1 : 1e-6;
      expect(relativeError(p, sf), `n=${n} d=${d}: ${p} vs ${sf}`).toBeLessThan(tolerance);
    }
  });

  it("the limit distribution matches scipy's kstwobign.sf on both sides of the series switch", () => {
    for (const { lambda, sf } of reference.kolmogorov) {
      expect(Math.abs(kolmogorovSf(lambda) - sf), `λ=${lambda}`).toBeLessThan(1e-12);
    }
    expect(kolmogorovSf(1.358)).toBeCloseTo(0.05, 3); // the textbook 5% critical value
  });

  it("the corrected asymptotic p-value stays within 1% of the exact one for n > 140 (p ≥ 0.001)", () => {
    for (const { n, d, sf } of reference.kstwo_large) {
      const { pValue, method } = ksPValue(n, d);
      expect(method).toBe("asymptotic");
      const tolerance = sf >= 1e-3 ? 0.01 : 0.03;
      expect(relativeError(pValue, sf), `n=${n} d=${d}: ${pValue} vs ${sf}`).toBeLessThan(
        tolerance,
      );
    }
    expect(ksPValue(KS_EXACT_MAX_N, 0.1).method).toBe("exact");
  });

  it("statistic and p-value of samples match scipy's kstest against the same CDF", () => {
    const { grid, levels, cases } = reference.ks_samples;
    const cdf = interpolated(grid, levels);
    for (const c of cases) {
      const sorted = Float64Array.from(c.sample).sort();
      const d = ksStatistic(sorted, cdf);
      expect(Math.abs(d - c.statistic)).toBeLessThan(1e-12);
      const { pValue, method } = ksPValue(sorted.length, d);
      if (method === "exact") expect(relativeError(pValue, c.pvalue)).toBeLessThan(1e-6);
      // scipy's asymptotic mode has no small-sample correction; ours is checked against exact.
      else
        expect(Math.abs(pValue - c.exactPvalue)).toBeLessThan(Math.max(0.01 * c.exactPvalue, 1e-6));
    }
  });

  it("handles jumps: a sample equal to a discrete baseline has D = 0", () => {
    // Baseline: 0 with probability 0.3, 1 with 0.7; the sample has exactly those shares.
    const cdf: Cdf = {
      at: (x) => (x < 0 ? 0 : x < 1 ? 0.3 : 1),
      before: (x) => (x <= 0 ? 0 : x <= 1 ? 0.3 : 1),
    };
    const sample = Float64Array.from([0, 0, 0, 1, 1, 1, 1, 1, 1, 1]);
    expect(ksStatistic(sample, cdf)).toBeCloseTo(0, 12);
    const shifted = Float64Array.from([0, 0, 0, 0, 0, 0, 1, 1, 1, 1]);
    expect(ksStatistic(shifted, cdf)).toBeCloseTo(0.3, 12);
  });

  it("edge cases: D = 0 gives p = 1, D ≥ 1 gives p = 0", () => {
    expect(kolmogorovExactSf(10, 0)).toBe(1);
    expect(kolmogorovExactSf(10, 1)).toBe(0);
    expect(kolmogorovSf(0)).toBe(1);
    expect(kolmogorovSf(10)).toBeLessThan(1e-80);
    expect(() => kolmogorovExactSf(0, 0.5)).toThrow(RangeError);
  });
});
