/**
 * Pearson's chi-squared goodness of fit of a live window's category counts against the baseline's
 * shares: the test for categorical features (and numbers with at most a handful of values) on
 * small windows. With two categories it is the square of the one-sample z-test for a proportion,
 * so it also stands in for Evidently's z-test on binary features.
 *
 * The p-value is the chi-squared survival function, Q(df/2, X²/2), with Q the regularized upper
 * incomplete gamma function (series below a + 1, Lentz's continued fraction above, as in
 * Numerical Recipes §6.2), accurate to ~1e-14 relative.
 */

export interface ChiSquaredResult {
  readonly statistic: number;
  readonly df: number;
  readonly pValue: number;
}

/**
 * Categories the baseline never saw get half a training row's share (Haldane's 0.5 pseudo-count)
 * rather than 0, so one unexpected row does not make the statistic infinite.
 *
 * @param expected baseline shares per category (summing to 1)
 * @param observed live counts per category
 * @param baselineRows rows behind the baseline shares (for the pseudo-count)
 */
export function chiSquaredTest(
  expected: ArrayLike<number>,
  observed: ArrayLike<number>,
  baselineRows: number,
): ChiSquaredResult {
  if (expected.length !== observed.length) throw new RangeError("chi2: the bins differ in number");
  const floor = 0.5 / Math.max(1, baselineRows);
  let n = 0;
  let mass = 0;
  let used = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i] as number;
    const o = observed[i] as number;
    if (e <= 0 && o <= 0) continue;
    n += o;
    mass += Math.max(e, floor);
    used++;
  }
  if (used < 2 || n <= 0) return { statistic: 0, df: Math.max(0, used - 1), pValue: 1 };
  let statistic = 0;
  for (let i = 0; i < expected.length; i++) {
    const e0 = expected[i] as number;
    const o = observed[i] as number;
    if (e0 <= 0 && o <= 0) continue;
    const e = (n * Math.max(e0, floor)) / mass;
    statistic += ((o - e) * (o - e)) / e;
  }
  const df = used - 1;
  return { statistic, df, pValue: chiSquaredSf(statistic, df) };
}

/** P(X > x) for X ~ χ²(df). */
export function chiSquaredSf(x: number, df: number): number {
  if (!(x > 0)) return 1;
  return regularizedGammaQ(df / 2, x / 2);
}

/** Q(a, x) = Γ(a, x) / Γ(a), the regularized upper incomplete gamma function. */
export function regularizedGammaQ(a: number, x: number): number {
  if (!(a > 0)) throw new RangeError("regularizedGammaQ: a must be > 0");
  if (!(x > 0)) return 1;
  if (x < a + 1) return 1 - gammaSeries(a, x);
  return gammaContinuedFraction(a, x);
}

/** P(a, x) by its series; converges quickly for x < a + 1. */
function gammaSeries(a: number, x: number): number {
  let ap = a;
  let sum = 1 / a;
  let del = sum;
  for (let i = 0; i < 10_000; i++) {
    ap += 1;
    del *= x / ap;
    sum += del;
    if (Math.abs(del) < Math.abs(sum) * 1e-16) break;
  }
  return sum * Math.exp(-x + a * Math.log(x) - logGamma(a));
}

/** Q(a, x) by Lentz's continued fraction; converges quickly for x ≥ a + 1. */
function gammaContinuedFraction(a: number, x: number): number {
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 10_000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-16) break;
  }
  return Math.exp(-x + a * Math.log(x) - logGamma(a)) * h;
}

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
  -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
  1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9: ~15 significant digits). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let sum = LANCZOS[0] as number;
  for (let i = 1; i < 9; i++) sum += (LANCZOS[i] as number) / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}
