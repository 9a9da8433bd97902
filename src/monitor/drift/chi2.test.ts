import { describe, expect, it } from "vitest";
import { chiSquaredSf, chiSquaredTest, logGamma, regularizedGammaQ } from "./chi2.ts";
import { reference, relativeError } from "./fixtures/reference.ts";

describe("chi-squared", () => {
  it("ln Γ matches known values", () => {
    expect(logGamma(1)).toBeCloseTo(0, 14);
    expect(logGamma(5)).toBeCloseTo(Math.log(24), 13);
    expect(logGamma(0.5)).toBeCloseTo(0.5 * Math.log(Math.PI), 13);
    expect(logGamma(100)).toBeCloseTo(359.1342053695754, 9);
  });

  it("the regularized upper incomplete gamma matches scipy's gammaincc", () => {
    for (const { a, x, q } of reference.gammaincc) {
      const got = regularizedGammaQ(a, x);
      if (q > 1e-300) expect(relativeError(got, q), `a=${a} x=${x}`).toBeLessThan(1e-10);
      else expect(got).toBeLessThan(1e-290);
    }
  });

  it("the survival function matches scipy's chi2.sf, including the 5% critical value", () => {
    for (const { x, df, sf } of reference.chi2_sf) {
      expect(relativeError(chiSquaredSf(x, df), sf), `x=${x} df=${df}`).toBeLessThan(1e-10);
    }
    expect(chiSquaredSf(3.841458820694124, 1)).toBeCloseTo(0.05, 12);
  });

  it("the goodness-of-fit test matches scipy's chisquare", () => {
    for (const c of reference.chisquare) {
      const result = chiSquaredTest(c.expected, c.observed, 1_000_000);
      expect(result.statistic).toBeCloseTo(c.statistic, 10);
      expect(relativeError(result.pValue, c.pvalue)).toBeLessThan(1e-10);
      expect(result.df).toBe(c.expected.length - 1);
    }
  });

  it("is the square of the one-sample z-test with two categories", () => {
    // Baseline 30% yes; 100 live rows with 42 yes: z = (0.42 − 0.3) / √(0.3·0.7/100).
    const z = (0.42 - 0.3) / Math.sqrt((0.3 * 0.7) / 100);
    const result = chiSquaredTest([0.7, 0.3], [58, 42], 10_000);
    expect(result.statistic).toBeCloseTo(z * z, 10);
  });

  it("a category the baseline never saw gets half a training row, not an infinite statistic", () => {
    const result = chiSquaredTest([0.5, 0.5, 0], [50, 49, 1], 1000);
    expect(Number.isFinite(result.statistic)).toBe(true);
    expect(result.df).toBe(2);
    // Expected for the new category: 100 · 0.0005 / 1.0005; its term dominates.
    const e = (100 * 0.0005) / 1.0005;
    expect(result.statistic).toBeGreaterThan(((1 - e) * (1 - e)) / e);
    // Categories empty on both sides are left out of the degrees of freedom.
    expect(chiSquaredTest([0.5, 0.5, 0], [50, 50, 0], 1000).df).toBe(1);
  });
});
