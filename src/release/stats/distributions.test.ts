import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  normalCdf,
  normalQuantile,
  regularizedIncompleteBeta,
  studentTCdf,
  studentTQuantile,
} from "./distributions.ts";

// Reference values were computed once with Debian bookworm's /usr/bin/python3 (scipy 1.10.1,
// mpmath 1.2.1 at mp.dps = 40) and pasted here; the tests never run python. Where scipy 1.10
// itself strays (its betainc at a = 500 by 9e-13, its far normal tail by 6e-14) the reference
// is mpmath's arbitrary-precision value, printed as the nearest double.

function relativeError(actual: number, expected: number): number {
  if (expected === 0) return Math.abs(actual);
  return Math.abs(actual - expected) / Math.abs(expected);
}

describe("normalCdf", () => {
  // float(mpmath.ncdf(z)) with mp.dps = 40; scipy.stats.norm.cdf(z) (1.10) agrees within 6e-14.
  const cases: ReadonlyArray<readonly [number, number]> = [
    [-37.5, 4.605353009581955e-308],
    [-30, 4.906713927148187e-198],
    [-20, 2.7536241186062337e-89],
    [-10, 7.619853024160525e-24],
    [-5, 2.866515718791939e-7],
    [-1.96, 0.024997895148220435],
    [-1, 0.15865525393145705],
    [-0.3, 0.3820885778110474],
    [-1e-8, 0.4999999960105772],
    [0, 0.5],
    [0.25, 0.5987063256829237],
    [1, 0.8413447460685429],
    [2.5, 0.9937903346742238],
    [5, 0.9999997133484281],
    [8, 0.9999999999999993],
  ];

  it("matches mpmath to 1e-14 relative, far lower tail included", () => {
    for (const [z, expected] of cases) {
      expect(relativeError(normalCdf(z), expected), `z=${z}`).toBeLessThan(1e-14);
    }
  });

  it("saturates at the ends and passes NaN through", () => {
    expect(normalCdf(-40)).toBe(0);
    expect(normalCdf(Number.NEGATIVE_INFINITY)).toBe(0);
    expect(normalCdf(40)).toBe(1);
    expect(normalCdf(Number.POSITIVE_INFINITY)).toBe(1);
    expect(normalCdf(Number.NaN)).toBeNaN();
  });

  it("is symmetric: Φ(z) + Φ(-z) = 1", () => {
    fc.assert(
      fc.property(fc.double({ min: -30, max: 30, noNaN: true }), (z) => {
        expect(Math.abs(normalCdf(z) + normalCdf(-z) - 1)).toBeLessThan(1e-15);
      }),
    );
  });

  it("is non-decreasing", () => {
    fc.assert(
      fc.property(
        fc.double({ min: -38, max: 9, noNaN: true }),
        fc.double({ min: -38, max: 9, noNaN: true }),
        (a, b) => {
          const [lo, hi] = a <= b ? [a, b] : [b, a];
          expect(normalCdf(lo)).toBeLessThanOrEqual(normalCdf(hi));
        },
      ),
    );
  });
});

describe("normalQuantile", () => {
  // scipy.stats.norm.ppf(p) (cephes ndtri, a different algorithm from AS 241).
  const cases: ReadonlyArray<readonly [number, number]> = [
    [1e-300, -37.0470962993612],
    [1e-20, -9.262340089798409],
    [1e-10, -6.361340902404056],
    [0.001, -3.090232306167813],
    [0.025, -1.9599639845400545],
    [0.1, -1.2815515655446004],
    [0.3, -0.5244005127080409],
    [0.5, 0],
    [0.7, 0.5244005127080407],
    [0.975, 1.959963984540054],
    [0.999, 3.090232306167813],
    [1 - 1e-10, 6.361340889697422],
  ];

  it("matches scipy's norm.ppf to 1e-14 relative", () => {
    for (const [p, expected] of cases) {
      expect(relativeError(normalQuantile(p), expected), `p=${p}`).toBeLessThan(1e-14);
    }
  });

  it("throws a RangeError outside (0, 1)", () => {
    for (const p of [0, 1, -0.1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => normalQuantile(p), `p=${p}`).toThrow(RangeError);
    }
  });

  it("inverts normalCdf: normalQuantile(normalCdf(z)) ≈ z", () => {
    // Above z ≈ 5 Φ(z) is within 3e-7 of 1, where rounding p loses the digits of z.
    fc.assert(
      fc.property(fc.double({ min: -37, max: 5, noNaN: true }), (z) => {
        const back = normalQuantile(normalCdf(z));
        expect(Math.abs(back - z)).toBeLessThan(1e-9 * Math.max(1, Math.abs(z)));
      }),
    );
  });

  it("and normalCdf inverts it: normalCdf(normalQuantile(p)) ≈ p", () => {
    fc.assert(
      fc.property(fc.double({ min: 1e-300, max: 0.999999, noNaN: true }), (p) => {
        expect(relativeError(normalCdf(normalQuantile(p)), p)).toBeLessThan(1e-12);
      }),
    );
  });
});

describe("studentTCdf", () => {
  // Lower tails: float(0.5 * mpmath.betainc(df/2, 0.5, 0, df/(df+t*t), regularized=True)),
  // upper ones: 1 minus that, mp.dps = 40. scipy.stats.t.cdf(t, df) agrees within 1e-14.
  const cases: ReadonlyArray<readonly [number, number, number]> = [
    [-2.5, 3, 0.04385332350403277],
    [1.3, 7.4, 0.8836862089806407],
    [-40, 2.2, 0.00017115773828230282],
    [0.01, 1, 0.5031829927649083],
    [2, 1e6, 0.9772497330743404],
    [-6, 12.7, 2.4518589136392853e-5],
    [3, 0.5, 0.8163459220070283],
    [-3.2, 1e9, 0.0006871379593535693],
    [-12, 50000, 1.97298894585513e-33],
    [-1e5, 4, 2.999999998e-20],
    [0.5, 30, 0.6896384975574363],
  ];

  it("matches mpmath to 1e-12 relative, non-integer and huge df included", () => {
    for (const [t, df, expected] of cases) {
      expect(relativeError(studentTCdf(t, df), expected), `t=${t} df=${df}`).toBeLessThan(1e-12);
    }
  });

  it("matches the closed forms for 1, 2 and 3 degrees of freedom", () => {
    // Cauchy: ½ + atan(t)/π; t₂: ½ + t/(2√(2+t²)); t₃: ½ + (t/(√3(1+t²/3)) + atan(t/√3))/π.
    fc.assert(
      fc.property(fc.double({ min: -1e4, max: 1e4, noNaN: true }), (t) => {
        expect(Math.abs(studentTCdf(t, 1) - (0.5 + Math.atan(t) / Math.PI))).toBeLessThan(1e-14);
        const two = 0.5 + t / (2 * Math.sqrt(2 + t * t));
        expect(Math.abs(studentTCdf(t, 2) - two)).toBeLessThan(1e-14);
        const three =
          0.5 + (t / (Math.sqrt(3) * (1 + (t * t) / 3)) + Math.atan(t / Math.sqrt(3))) / Math.PI;
        expect(Math.abs(studentTCdf(t, 3) - three)).toBeLessThan(1e-14);
      }),
    );
  });

  it("is symmetric, F(t) + F(-t) = 1, and non-decreasing in t", () => {
    fc.assert(
      fc.property(
        fc.double({ min: -1e3, max: 1e3, noNaN: true }),
        fc.double({ min: -1e3, max: 1e3, noNaN: true }),
        fc.double({ min: 0.05, max: 1e8, noNaN: true }),
        (a, b, df) => {
          expect(Math.abs(studentTCdf(a, df) + studentTCdf(-a, df) - 1)).toBeLessThan(1e-14);
          const [lo, hi] = a <= b ? [a, b] : [b, a];
          expect(studentTCdf(lo, df)).toBeLessThanOrEqual(studentTCdf(hi, df) + 1e-15);
        },
      ),
    );
  });

  it("approaches the normal CDF as df grows", () => {
    for (const z of [-4, -1.5, 0.3, 2.2]) {
      expect(Math.abs(studentTCdf(z, 1e12) - normalCdf(z))).toBeLessThan(1e-12);
      expect(studentTCdf(z, Number.POSITIVE_INFINITY)).toBe(normalCdf(z));
    }
  });

  it("handles infinite and NaN t, and refuses a df that is not positive", () => {
    expect(studentTCdf(Number.NEGATIVE_INFINITY, 3)).toBe(0);
    expect(studentTCdf(Number.POSITIVE_INFINITY, 3)).toBe(1);
    expect(studentTCdf(0, 3.5)).toBe(0.5);
    expect(studentTCdf(Number.NaN, 3)).toBeNaN();
    for (const df of [0, -1, Number.NaN]) {
      expect(() => studentTCdf(1, df), `df=${df}`).toThrow(RangeError);
    }
  });
});

describe("studentTQuantile", () => {
  // mpmath.findroot(lambda t: 0.5 * mpmath.betainc(df/2, 0.5, 0, df/(df+t*t),
  // regularized=True) - min(p, 1-p), -abs(scipy.stats.t.ppf(p, df))), sign flipped for p > ½,
  // mp.dps = 40. Not scipy's t.ppf itself: scipy 1.10 misses by up to 2e-9 relative (df = 4).
  // The first df is Welch's for the two arrays in ab-test.test.ts.
  const cases: ReadonlyArray<readonly [number, number, number]> = [
    [0.975, 8.761305892150032, 2.2715867865851416],
    [0.95, 4, 2.1318467863266495],
    [0.995, 1, 63.656741162871526],
    [0.025, 2, -4.302652729749464],
    [0.999, 2.5, 13.82219311086596],
    [0.975, 9610.940982288446, 1.960210845376877],
    [1e-8, 5, -62.40450611096729],
    [0.6, 100, 0.2540221824582278],
  ];

  it("matches mpmath's root of the t CDF to 1e-12 relative", () => {
    for (const [p, df, expected] of cases) {
      const actual = studentTQuantile(p, df);
      expect(relativeError(actual, expected), `p=${p} df=${df}`).toBeLessThan(1e-12);
    }
  });

  it("inverts studentTCdf", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 1e-6, max: 1 - 1e-6, noNaN: true }),
        fc.double({ min: 0.2, max: 1e7, noNaN: true }),
        (p, df) => {
          const t = studentTQuantile(p, df);
          const back = studentTCdf(t, df);
          expect(relativeError(back, p)).toBeLessThan(1e-10);
        },
      ),
    );
  });

  it("throws a RangeError for p outside (0, 1) or a df that is not positive", () => {
    expect(() => studentTQuantile(0, 5)).toThrow(RangeError);
    expect(() => studentTQuantile(1, 5)).toThrow(RangeError);
    expect(() => studentTQuantile(0.5, 0)).toThrow(RangeError);
  });
});

describe("regularizedIncompleteBeta", () => {
  // float(mpmath.betainc(a, b, 0, x, regularized=True)), mp.dps = 40.
  const cases: ReadonlyArray<readonly [number, number, number, number]> = [
    [0.3, 2, 3, 0.3483],
    [0.5, 0.5, 0.5, 0.5],
    [0.9, 10, 0.5, 0.15164090963470997],
    [0.41, 500, 700, 0.3206732726614016],
    [1e-5, 0.1, 50, 0.49107189314612626],
    [0.999, 3.7, 1.2, 0.9988719244812694],
  ];

  it("matches mpmath to 1e-12 relative", () => {
    for (const [x, a, b, expected] of cases) {
      const actual = regularizedIncompleteBeta(x, a, b);
      expect(relativeError(actual, expected), `x=${x} a=${a} b=${b}`).toBeLessThan(1e-12);
    }
  });

  it("matches the closed forms I_x(a, 1) = x^a and I_x(1, b) = 1 - (1-x)^b", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0.05, max: 200, noNaN: true }),
        (x, a) => {
          expect(Math.abs(regularizedIncompleteBeta(x, a, 1) - x ** a)).toBeLessThan(1e-13);
          const expected = 1 - (1 - x) ** a;
          expect(Math.abs(regularizedIncompleteBeta(x, 1, a) - expected)).toBeLessThan(1e-13);
        },
      ),
    );
  });

  it("satisfies I_x(a, b) + I_{1-x}(b, a) = 1 and stays in [0, 1]", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0.05, max: 1e4, noNaN: true }),
        fc.double({ min: 0.05, max: 1e4, noNaN: true }),
        (u, a, b) => {
          // x + y = 1 exactly (Sterbenz), which 1 - u alone is not for tiny u.
          const y = 1 - u;
          const x = 1 - y;
          const left = regularizedIncompleteBeta(x, a, b);
          expect(left).toBeGreaterThanOrEqual(0);
          expect(left).toBeLessThanOrEqual(1);
          expect(Math.abs(left + regularizedIncompleteBeta(y, b, a) - 1)).toBeLessThan(1e-11);
        },
      ),
    );
  });

  it("throws a RangeError naming the bad argument", () => {
    expect(() => regularizedIncompleteBeta(1.2, 1, 1)).toThrow(/\bx\b/);
    expect(() => regularizedIncompleteBeta(Number.NaN, 1, 1)).toThrow(RangeError);
    expect(() => regularizedIncompleteBeta(0.5, 0, 1)).toThrow(/\ba\b/);
    expect(() => regularizedIncompleteBeta(0.5, 1, -2)).toThrow(/\bb\b/);
  });
});
