import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type AbTestResult,
  meanArmOf,
  type ProportionArm,
  twoProportionZTest,
  welchTTest,
} from "./ab-test.ts";
import { normalCdf, normalQuantile } from "./distributions.ts";

// Reference values were computed once with Debian bookworm's /usr/bin/python3 (scipy 1.10.1,
// statsmodels 0.13.5) and pasted here; the tests never run python. Imports used below:
//   from scipy import stats; import numpy as np
//   from statsmodels.stats.proportion import proportions_ztest, confint_proportions_2indep
//   from statsmodels.stats.weightstats import ttest_ind, DescrStatsW, CompareMeans

function relativeError(actual: number, expected: number): number {
  if (expected === 0) return Math.abs(actual);
  return Math.abs(actual - expected) / Math.abs(expected);
}

interface Expected {
  readonly statistic: number;
  readonly pValue: number;
  readonly df?: number;
  readonly ci: readonly [number, number];
}

/**
 * Statistic and p-value to 1e-12 relative. The interval to `ciTolerance` relative: statsmodels
 * takes Welch's critical value from scipy 1.10's t.ppf, which is itself off by up to 3e-11.
 */
function expectMatches(result: AbTestResult, expected: Expected, ciTolerance = 1e-12): void {
  expect(result.statistic).not.toBeNull();
  expect(result.pValue).not.toBeNull();
  expect(relativeError(result.statistic ?? Number.NaN, expected.statistic)).toBeLessThan(1e-12);
  expect(relativeError(result.pValue ?? Number.NaN, expected.pValue)).toBeLessThan(1e-12);
  if (expected.df !== undefined) {
    expect(relativeError(result.df ?? Number.NaN, expected.df)).toBeLessThan(1e-12);
  }
  const [lo, hi] = result.ci95 ?? [Number.NaN, Number.NaN];
  expect(relativeError(lo, expected.ci[0])).toBeLessThan(ciTolerance);
  expect(relativeError(hi, expected.ci[1])).toBeLessThan(ciTolerance);
}

describe("twoProportionZTest", () => {
  it("200/1000 vs 240/1000 matches statsmodels", () => {
    const result = twoProportionZTest({ n: 1000, conversions: 200 }, { n: 1000, conversions: 240 });
    // proportions_ztest([240, 200], [1000, 1000]);
    // confint_proportions_2indep(240, 1000, 200, 1000, method='wald', compare='diff')
    expectMatches(result, {
      statistic: 2.1591675854376513,
      pValue: 0.030837167828904312,
      ci: [0.003732721356494495, 0.07626727864350547],
    });
    expect(result.test).toBe("two-proportion-z");
    expect(result.control).toEqual({ n: 1000, value: 0.2 });
    expect(result.treatment).toEqual({ n: 1000, value: 0.24 });
    expect(result.difference).toBeCloseTo(0.04, 15);
    expect(result.relativeLift).toBeCloseTo(0.2, 14);
    expect(result.df).toBeNull();
    expect(result.significant).toBe(true);
    // Fleiss: p1, p2 = 0.2, 0.24; pb = 0.22; za, zb = stats.norm.ppf(0.975), stats.norm.ppf(0.8)
    // (za*np.sqrt(2*pb*(1-pb)) + zb*np.sqrt(p1*(1-p1)+p2*(1-p2)))**2 / 0.04**2 = 1682.405…
    expect(result.requiredPerArm).toBe(1683);
    expect(result.remainingPerArm).toBe(683);
  });

  it("the same data at alpha 0.01 is not significant, and sizes for the given effect", () => {
    const result = twoProportionZTest(
      { n: 1000, conversions: 200 },
      { n: 1000, conversions: 240 },
      { alpha: 0.01, power: 0.9, minDetectableEffect: 0.02 },
    );
    expect(result.pValue).toBeCloseTo(0.030837167828904312, 14);
    expect(result.significant).toBe(false);
    // As above with p2 = 0.22, norm.ppf(0.995), norm.ppf(0.9): 12339.979…
    expect(result.requiredPerArm).toBe(12340);
    expect(result.remainingPerArm).toBe(11340);
  });

  it("unequal arms at alpha 0.1 match statsmodels", () => {
    const result = twoProportionZTest(
      { n: 500, conversions: 45 },
      { n: 620, conversions: 80 },
      { alpha: 0.1 },
    );
    // proportions_ztest([80, 45], [620, 500]);
    // confint_proportions_2indep(80, 620, 45, 500, method='wald', compare='diff', alpha=0.1)
    expectMatches(result, {
      statistic: 2.0622769507099985,
      pValue: 0.039181376160264014,
      ci: [0.00847767750777001, 0.06958683862126225],
    });
    // Fleiss with p1 = 0.09, delta = 80/620 - 45/500, norm.ppf(0.95), norm.ppf(0.8): 790.46…
    expect(result.requiredPerArm).toBe(791);
    expect(result.remainingPerArm).toBe(291);
  });

  it("large arms match statsmodels", () => {
    const result = twoProportionZTest(
      { n: 100_000, conversions: 10_123 },
      { n: 100_000, conversions: 10_456 },
    );
    // proportions_ztest([10456, 10123], [100000, 100000]); confint_proportions_2indep(…, 'wald')
    expectMatches(result, {
      statistic: 2.450814613915688,
      pValue: 0.014253334134555597,
      ci: [0.0006669743983934093, 0.00599302560160659],
    });
    // Fleiss with p1 = 0.10123, delta = 0.00333: 130672.09…
    expect(result.requiredPerArm).toBe(130673);
    expect(result.remainingPerArm).toBe(30673);
  });

  it("a small, non-significant, negative difference at alpha 0.01 matches statsmodels", () => {
    const result = twoProportionZTest(
      { n: 40, conversions: 3 },
      { n: 35, conversions: 1 },
      { alpha: 0.01 },
    );
    // proportions_ztest([1, 3], [35, 40]);
    // confint_proportions_2indep(1, 35, 3, 40, method='wald', compare='diff', alpha=0.01)
    expectMatches(result, {
      statistic: -0.8927313794727797,
      pValue: 0.37200104175520254,
      ci: [-0.1759233247613913, 0.08306618190424844],
    });
    expect(result.significant).toBe(false);
  });

  it("a p-value far in the tail keeps its digits", () => {
    const result = twoProportionZTest({ n: 50, conversions: 0 }, { n: 50, conversions: 50 });
    // proportions_ztest([50, 0], [50, 50]) → (10.0, 1.523970604832094e-23); the Wald interval
    // (confint_proportions_2indep(50, 50, 0, 50, method='wald')) collapses to (1.0, 1.0).
    expectMatches(result, { statistic: 10, pValue: 1.523970604832094e-23, ci: [1, 1] });
    expect(result.relativeLift).toBeNull();
  });

  it("one sample per arm is still computable with the pooled error", () => {
    const result = twoProportionZTest({ n: 1, conversions: 1 }, { n: 1, conversions: 0 });
    // proportions_ztest([0, 1], [1, 1]) → (-1.414213562373095, 0.15729920705028516): z = -√2
    expectMatches(result, {
      statistic: -Math.SQRT2,
      pValue: 0.15729920705028516,
      ci: [-1, -1],
    });
  });

  it("identical arms give z = 0 and p = 1", () => {
    const result = twoProportionZTest({ n: 1000, conversions: 120 }, { n: 1000, conversions: 120 });
    // proportions_ztest([120, 120], [1000, 1000]) → (0.0, 1.0); Wald interval ±0.028483611128…
    expect(result.statistic).toBe(0);
    expect(result.pValue).toBe(1);
    expect(result.significant).toBe(false);
    const [lo, hi] = result.ci95 ?? [Number.NaN, Number.NaN];
    expect(relativeError(lo, -0.02848361112869293)).toBeLessThan(1e-12);
    expect(relativeError(hi, 0.02848361112869293)).toBeLessThan(1e-12);
    expect(result.requiredPerArm).toBeNull(); // no observed effect to size for
    expect(result.remainingPerArm).toBeNull();
  });

  it("no variation (nobody converted) or an empty arm gives no statistic", () => {
    const none = twoProportionZTest({ n: 300, conversions: 0 }, { n: 250, conversions: 0 });
    expect(none.statistic).toBeNull();
    expect(none.pValue).toBeNull();
    expect(none.ci95).toBeNull();
    expect(none.significant).toBe(false);

    const empty = twoProportionZTest({ n: 0, conversions: 0 }, { n: 10, conversions: 4 });
    expect(empty.statistic).toBeNull();
    expect(empty.control).toEqual({ n: 0, value: 0 });
    expect(empty.relativeLift).toBeNull();
    expect(empty.requiredPerArm).toBeNull(); // baseline rate unknown
    const noTreatment = twoProportionZTest(
      { n: 500, conversions: 50 },
      { n: 0, conversions: 0 },
      { minDetectableEffect: 0.03 },
    );
    expect(noTreatment.statistic).toBeNull();
    // The baseline is known, so the size is too: Fleiss with p1 = 0.1, p2 = 0.13: 1773.98…
    expect(noTreatment.requiredPerArm).toBe(1774);
    expect(noTreatment.remainingPerArm).toBe(1774);
  });

  it("sizes an effect that would leave [0, 1] in the other direction", () => {
    // Fleiss with p1 = 0.98, delta = -0.05 (0.98 + 0.05 > 1): 268.66…
    const high = twoProportionZTest(
      { n: 100, conversions: 98 },
      { n: 100, conversions: 97 },
      { minDetectableEffect: 0.05 },
    );
    expect(high.requiredPerArm).toBe(269);
    // Fleiss with p1 = 0, delta = 0.01: 779.78…
    const zero = twoProportionZTest(
      { n: 500, conversions: 0 },
      { n: 500, conversions: 3 },
      { minDetectableEffect: 0.01 },
    );
    expect(zero.requiredPerArm).toBe(780);
    expect(zero.remainingPerArm).toBe(280);
    // An effect of 0 or one no baseline can take (|δ| > max(p, 1 - p)) has no size.
    const arms: [ProportionArm, ProportionArm] = [
      { n: 100, conversions: 50 },
      { n: 100, conversions: 60 },
    ];
    expect(twoProportionZTest(...arms, { minDetectableEffect: 0 }).requiredPerArm).toBeNull();
    expect(twoProportionZTest(...arms, { minDetectableEffect: 0.6 }).requiredPerArm).toBeNull();
  });

  it("refuses bad input with a RangeError naming the argument", () => {
    const ok = { n: 10, conversions: 2 };
    expect(() => twoProportionZTest({ n: -1, conversions: 0 }, ok)).toThrow(/control\.n/);
    expect(() => twoProportionZTest(ok, { n: 5, conversions: 6 })).toThrow(
      /treatment\.conversions/,
    );
    expect(() => twoProportionZTest(ok, { n: 5, conversions: Number.NaN })).toThrow(
      /treatment\.conversions/,
    );
    expect(() => twoProportionZTest({ n: 2.5, conversions: 1 }, ok)).toThrow(/control\.n/);
    expect(() => twoProportionZTest(ok, { n: 10, conversions: -1 })).toThrow(RangeError);
    expect(() => twoProportionZTest(ok, ok, { alpha: 0 })).toThrow(/alpha/);
    expect(() => twoProportionZTest(ok, ok, { alpha: Number.NaN })).toThrow(/alpha/);
    expect(() => twoProportionZTest(ok, ok, { power: 1 })).toThrow(/power/);
    expect(() => twoProportionZTest(ok, ok, { minDetectableEffect: Number.NaN })).toThrow(
      /minDetectableEffect/,
    );
  });

  const proportionArm = fc
    .tuple(fc.integer({ min: 1, max: 100_000 }), fc.double({ min: 0, max: 1, noNaN: true }))
    .map(([n, share]): ProportionArm => ({ n, conversions: Math.round(n * share) }));

  it("p is in [0, 1]; swapping arms flips z and the interval and keeps p", () => {
    fc.assert(
      fc.property(proportionArm, proportionArm, (a, b) => {
        const forward = twoProportionZTest(a, b);
        const backward = twoProportionZTest(b, a);
        if (forward.pValue === null) {
          expect(backward.pValue).toBeNull();
          return;
        }
        expect(forward.pValue).toBeGreaterThanOrEqual(0);
        expect(forward.pValue).toBeLessThanOrEqual(1);
        // A sum, not toBe(-z): z = 0 would compare +0 with -0.
        expect((backward.statistic ?? Number.NaN) + (forward.statistic ?? Number.NaN)).toBe(0);
        expect(backward.pValue).toBe(forward.pValue);
        const [lo, hi] = forward.ci95 ?? [Number.NaN, Number.NaN];
        const [backLo, backHi] = backward.ci95 ?? [Number.NaN, Number.NaN];
        expect(backLo).toBeCloseTo(-hi, 14);
        expect(backHi).toBeCloseTo(-lo, 14);
      }),
    );
  });

  it("z² is Pearson's chi-square of the 2×2 table (no continuity correction)", () => {
    fc.assert(
      fc.property(proportionArm, proportionArm, (a, b) => {
        const z = twoProportionZTest(a, b).statistic;
        if (z === null) return;
        const table = [
          [a.conversions, a.n - a.conversions],
          [b.conversions, b.n - b.conversions],
        ];
        const total = a.n + b.n;
        let chi2 = 0;
        for (let row = 0; row < 2; row++) {
          for (let col = 0; col < 2; col++) {
            const rowSum = (table[row]?.[0] ?? 0) + (table[row]?.[1] ?? 0);
            const colSum = (table[0]?.[col] ?? 0) + (table[1]?.[col] ?? 0);
            const expected = (rowSum * colSum) / total;
            chi2 += ((table[row]?.[col] ?? 0) - expected) ** 2 / expected;
          }
        }
        expect(relativeError(z * z, chi2)).toBeLessThan(1e-9);
      }),
    );
  });

  it("the required size reaches the requested power and one fewer does not", () => {
    // Power of Fleiss's test at n per arm: Φ((|δ|√n - z_{α/2}√(2p̄q̄)) / √(p1q1 + p2q2)).
    fc.assert(
      fc.property(
        fc.double({ min: 0.01, max: 0.9, noNaN: true }),
        fc.double({ min: 0.005, max: 0.09, noNaN: true }),
        fc.constantFrom(0.01, 0.05, 0.1),
        fc.constantFrom(0.8, 0.9),
        (p1, delta, alpha, power) => {
          const conversions = Math.round(p1 * 10_000);
          const rate = conversions / 10_000;
          const required = twoProportionZTest(
            { n: 10_000, conversions },
            { n: 10_000, conversions },
            { alpha, power, minDetectableEffect: delta },
          ).requiredPerArm;
          expect(required).not.toBeNull();
          const n = required ?? 0;
          const p2 = rate + delta;
          const mean = (rate + p2) / 2;
          const achieved = (k: number) =>
            normalCdf(
              (delta * Math.sqrt(k) -
                normalQuantile(1 - alpha / 2) * Math.sqrt(2 * mean * (1 - mean))) /
                Math.sqrt(rate * (1 - rate) + p2 * (1 - p2)),
            );
          expect(achieved(n)).toBeGreaterThanOrEqual(power - 1e-12);
          expect(achieved(n - 1)).toBeLessThan(power);
        },
      ),
    );
  });
});

describe("welchTTest", () => {
  const a = [12.1, 14.3, 11.8, 13.5, 12.9, 15.2];
  const b = [14.8, 16.1, 13.9, 15.5, 17.2];

  it("two short arrays match scipy and statsmodels", () => {
    const result = welchTTest(meanArmOf(a), meanArmOf(b));
    // stats.ttest_ind(b, a, equal_var=False); ttest_ind(b, a, usevar='unequal')[2] for df;
    // CompareMeans(DescrStatsW(b), DescrStatsW(a)).tconfint_diff(usevar='unequal')
    expectMatches(
      result,
      {
        statistic: 2.844140729684571,
        pValue: 0.01978746780397873,
        df: 8.761305892150032,
        ci: [0.44288197902223225, 3.957118020977763],
      },
      1e-9,
    );
    expect(result.test).toBe("welch-t");
    // np.mean(a), np.mean(b)
    expect(relativeError(result.control.value, 13.300000000000002)).toBeLessThan(1e-15);
    expect(result.treatment.value).toBeCloseTo(15.5, 14);
    expect(result.control.n).toBe(6);
    expect(result.treatment.n).toBe(5);
    expect(result.significant).toBe(true);
    // 2*(stats.norm.ppf(0.975)+stats.norm.ppf(0.8))**2*((1.7+1.575)/2)/2.2**2 = 5.31…
    expect(result.requiredPerArm).toBe(6);
    expect(result.remainingPerArm).toBe(1);
  });

  it("the interval follows alpha", () => {
    const result = welchTTest(meanArmOf(a), meanArmOf(b), { alpha: 0.1 });
    // CompareMeans(DescrStatsW(b), DescrStatsW(a)).tconfint_diff(alpha=0.1, usevar='unequal')
    const [lo, hi] = result.ci95 ?? [Number.NaN, Number.NaN];
    expect(relativeError(lo, 0.7776394669769353)).toBeLessThan(1e-9);
    expect(relativeError(hi, 3.62236053302306)).toBeLessThan(1e-9);
  });

  it("a noisier treatment with nearly the same mean matches scipy", () => {
    const c = [0.52, 0.61, 0.47, 0.55, 0.58, 0.49, 0.6, 0.53];
    const d = [0.5, 0.72, 0.31, 0.66, 0.44, 0.81, 0.29, 0.58, 0.62, 0.35, 0.77];
    // stats.ttest_ind(d, c, equal_var=False); ttest_ind(d, c, usevar='unequal'); tconfint_diff
    expectMatches(
      welchTTest(meanArmOf(c), meanArmOf(d)),
      {
        statistic: 0.10662749058407549,
        pValue: 0.9168482636031167,
        df: 11.986843513312117,
        ci: [-0.12147726792573466, 0.1339772679257346],
      },
      1e-9,
    );
  });

  it("two and three values match scipy", () => {
    // stats.ttest_ind([1.5, 2.5, 3.5], [1.0, 2.0], equal_var=False) and the same statsmodels calls
    expectMatches(
      welchTTest(meanArmOf([1, 2]), meanArmOf([1.5, 2.5, 3.5])),
      {
        statistic: 1.3093073414159544,
        pValue: 0.28502284001427436,
        df: 2.88235294117647,
        ci: [-1.4877337982061594, 3.4877337982061594],
      },
      1e-9,
    );
  });

  it("a constant control arm still gives a test, with the treatment's n - 1 as df", () => {
    // stats.ttest_ind([4, 6, 5, 7, 8], [5, 5, 5, 5], equal_var=False) → (1.414213562373095,
    // 0.23019964108049873): t = √2; statsmodels as above
    expectMatches(
      welchTTest(meanArmOf([5, 5, 5, 5]), meanArmOf([4, 6, 5, 7, 8])),
      {
        statistic: Math.SQRT2,
        pValue: 0.23019964108049873,
        df: 4,
        ci: [-0.963243161477561, 2.963243161477561],
      },
      1e-9,
    );
  });

  it("summaries of thousands of samples match scipy's ttest_ind_from_stats", () => {
    const result = welchTTest(
      { n: 5000, mean: 3.2, variance: 4.1 },
      { n: 4800, mean: 3.3, variance: 5.0 },
    );
    // stats.ttest_ind_from_stats(3.3, np.sqrt(5.0), 4800, 3.2, np.sqrt(4.1), 5000,
    // equal_var=False); df = (s1+s2)**2/(s1**2/4999+s2**2/4799) with s1, s2 = 4.1/5000, 5.0/4800;
    // interval 0.1 ∓ stats.t.ppf(0.975, df)*np.sqrt(s1+s2)
    expectMatches(
      result,
      {
        statistic: 2.3176563348138046,
        pValue: 0.02048890188493019,
        df: 9610.940982288446,
        ci: [0.015422713198143381, 0.18457728680185664],
      },
      1e-9,
    );
    // 2*(norm.ppf(0.975)+norm.ppf(0.8))**2*4.55/0.1**2 = 7142.48…
    expect(result.requiredPerArm).toBe(7143);
    expect(result.remainingPerArm).toBe(2343);
    // Same formula with norm.ppf(0.995), norm.ppf(0.95), delta 0.05: 64843.56…
    const sized = welchTTest(
      { n: 5000, mean: 3.2, variance: 4.1 },
      { n: 4800, mean: 3.3, variance: 5.0 },
      { alpha: 0.01, power: 0.95, minDetectableEffect: 0.05 },
    );
    expect(sized.requiredPerArm).toBe(64844);
    expect(sized.remainingPerArm).toBe(60044);
  });

  it("huge arms (df ≈ 10⁵) match scipy", () => {
    // stats.ttest_ind_from_stats(10.02, np.sqrt(9.0), 50000, 10.0, np.sqrt(8.0), 50000,
    // equal_var=False); df and interval as in the previous case
    expectMatches(
      welchTTest({ n: 50_000, mean: 10, variance: 8 }, { n: 50_000, mean: 10.02, variance: 9 }),
      {
        statistic: 1.0846522890932577,
        pValue: 0.2780783106205104,
        df: 99653.17931034481,
        ci: [-0.01614038913312305, 0.05614038913312305],
      },
      1e-9,
    );
  });

  it("identical arms give t = 0 and p = 1", () => {
    const result = welchTTest(meanArmOf(a), meanArmOf(a));
    expect(result.statistic).toBe(0);
    expect(result.pValue).toBe(1);
    expect(result.significant).toBe(false);
    expect(result.requiredPerArm).toBeNull();
  });

  it("zero variance in both arms, or fewer than two samples, gives no statistic", () => {
    for (const [control, treatment] of [
      [meanArmOf([5, 5, 5]), meanArmOf([6, 6, 6, 6])],
      [meanArmOf([3]), meanArmOf(b)],
      [meanArmOf(a), meanArmOf([])],
    ] as const) {
      const result = welchTTest(control, treatment);
      expect(result.statistic).toBeNull();
      expect(result.df).toBeNull();
      expect(result.pValue).toBeNull();
      expect(result.ci95).toBeNull();
      expect(result.significant).toBe(false);
      expect(result.requiredPerArm).toBeNull();
      expect(result.remainingPerArm).toBeNull();
    }
    const empty = welchTTest(meanArmOf([]), meanArmOf(b));
    expect(empty.control).toEqual({ n: 0, value: 0 });
    expect(empty.relativeLift).toBeNull();
  });

  it("refuses bad input with a RangeError naming the argument", () => {
    const ok = { n: 10, mean: 1, variance: 2 };
    expect(() => welchTTest({ n: -2, mean: 1, variance: 1 }, ok)).toThrow(/control\.n/);
    expect(() => welchTTest(ok, { n: 3, mean: Number.NaN, variance: 1 })).toThrow(
      /treatment\.mean/,
    );
    expect(() => welchTTest(ok, { n: 3, mean: 1, variance: -1 })).toThrow(/treatment\.variance/);
    expect(() => welchTTest({ n: 3, mean: 1, variance: Number.NaN }, ok)).toThrow(
      /control\.variance/,
    );
    expect(() => welchTTest(ok, ok, { power: 0 })).toThrow(/power/);
    expect(() => welchTTest(ok, ok, { alpha: 1.5 })).toThrow(/alpha/);
  });

  const meanArm = fc.record({
    n: fc.integer({ min: 2, max: 10_000 }),
    mean: fc.double({ min: -1e3, max: 1e3, noNaN: true }),
    variance: fc.double({ min: 1e-6, max: 1e4, noNaN: true }),
  });

  it("p is in [0, 1]; swapping arms flips t and the interval and keeps p and df", () => {
    fc.assert(
      fc.property(meanArm, meanArm, (x, y) => {
        const forward = welchTTest(x, y);
        const backward = welchTTest(y, x);
        expect(forward.pValue).toBeGreaterThanOrEqual(0);
        expect(forward.pValue).toBeLessThanOrEqual(1);
        expect((backward.statistic ?? Number.NaN) + (forward.statistic ?? Number.NaN)).toBe(0);
        expect(backward.pValue).toBe(forward.pValue);
        expect(backward.df).toBe(forward.df);
        const [lo, hi] = forward.ci95 ?? [Number.NaN, Number.NaN];
        const [backLo, backHi] = backward.ci95 ?? [Number.NaN, Number.NaN];
        expect(Math.abs(backLo + hi)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(hi)));
        expect(Math.abs(backHi + lo)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(lo)));
      }),
    );
  });

  it("is significant exactly when the interval excludes 0", () => {
    fc.assert(
      fc.property(meanArm, meanArm, fc.constantFrom(0.01, 0.05, 0.2), (x, y, alpha) => {
        const result = welchTTest(x, y, { alpha });
        const p = result.pValue ?? Number.NaN;
        if (Math.abs(p - alpha) < 1e-9 * alpha) return; // on the boundary either answer is fine
        const [lo, hi] = result.ci95 ?? [Number.NaN, Number.NaN];
        expect(result.significant).toBe(lo > 0 || hi < 0);
      }),
    );
  });

  it("with equal sizes and variances reduces to Student's test: df = 2(n - 1)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 5000 }),
        fc.double({ min: 1e-3, max: 1e3, noNaN: true }),
        fc.double({ min: -10, max: 10, noNaN: true }),
        (n, variance, shift) => {
          const result = welchTTest({ n, mean: 0, variance }, { n, mean: shift, variance });
          expect(relativeError(result.df ?? Number.NaN, 2 * (n - 1))).toBeLessThan(1e-12);
          // Student's pooled t: shift / √(2·variance/n).
          const student = shift / Math.sqrt((2 * variance) / n);
          expect(Math.abs((result.statistic ?? Number.NaN) - student)).toBeLessThanOrEqual(
            1e-12 * Math.max(1, Math.abs(student)),
          );
        },
      ),
    );
  });
});

describe("meanArmOf", () => {
  it("keeps the variance of large, close values (Welford)", () => {
    // np.var([1e9+4, 1e9+7, 1e9+13, 1e9+16], ddof=1) = 30.0; the mean 1000000010.0
    const arm = meanArmOf([1e9 + 4, 1e9 + 7, 1e9 + 13, 1e9 + 16]);
    expect(arm).toEqual({ n: 4, mean: 1e9 + 10, variance: 30 });
  });

  it("reads typed arrays and reports 0 variance below two values", () => {
    expect(meanArmOf(new Float64Array([2, 4, 9]))).toEqual({ n: 3, mean: 5, variance: 13 });
    expect(meanArmOf([7])).toEqual({ n: 1, mean: 7, variance: 0 });
    expect(meanArmOf([])).toEqual({ n: 0, mean: 0, variance: 0 });
  });

  it("refuses non-finite values with a RangeError naming them", () => {
    expect(() => meanArmOf([1, Number.NaN])).toThrow(/values\[1\]/);
    expect(() => meanArmOf([Number.POSITIVE_INFINITY])).toThrow(RangeError);
  });

  it("agrees with the two-pass mean and variance", () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 2, maxLength: 200 }),
        (values) => {
          const n = values.length;
          const mean = values.reduce((sum, v) => sum + v, 0) / n;
          const variance = values.reduce((sum, v) => sum + (v - mean) ** 2, 0) / (n - 1);
          const arm = meanArmOf(values);
          expect(arm.n).toBe(n);
          expect(Math.abs(arm.mean - mean)).toBeLessThanOrEqual(1e-9);
          expect(Math.abs(arm.variance - variance)).toBeLessThanOrEqual(
            1e-9 * Math.max(1, variance),
          );
        },
      ),
    );
  });
});
