/**
 * One-sample Kolmogorov-Smirnov: the live window's values against the training CDF the baseline
 * sketch describes. The baseline is a sketch, not a sample, so the test is one-sample: it asks
 * whether the live values could come from the training distribution, and its power is set by
 * the live window's size n alone.
 *
 * p-values:
 * - n ≤ {@link KS_EXACT_MAX_N}: exact, by Marsaglia, Tsang and Wang (2003), "Evaluating
 *   Kolmogorov's distribution", J. Stat. Softw. 8(18): P(D_n < d) as an element of the n-th
 *   power of a (2k−1)² matrix, k = ⌈n·d⌉, with their exponent tracking against underflow
 *   (matches scipy's `kstwo.sf` to 1e-7 relative). When the matrix would pass 65 rows (k > 33,
 *   which for n ≤ 140 means n·d² > 7.3, p < 10⁻⁶) it uses their closed form for the far tail,
 *   2·exp(−(2.000071 + 0.331/√n + 1.409/n)·n·d²) (within 10% relative there), so the exact p-value
 *   costs a few milliseconds at worst.
 * - n > {@link KS_EXACT_MAX_N}: asymptotic, Kolmogorov's limit distribution evaluated at the
 *   corrected λ = √n·D + 1/(6√n) + (√n·D − 1)/(4n) (Vrbik 2018, "Small-sample corrections to
 *   Kolmogorov-Smirnov test statistic"). Against scipy's exact distribution for n = 141..5000 it
 *   is within 0.7% relative for p ≥ 0.001 and 2.5% below; Stephens' (1970) better-known
 *   λ = (√n + 0.12 + 0.11/√n)·D is off by up to 1.5% at p ≈ 0.5 in the same check.
 *
 * Both assume a continuous CDF; against a CDF with jumps (integers, prices with ties) the test is
 * conservative (the true p-value is smaller), so it errs towards not flagging.
 */

/** Largest live window whose p-value is computed exactly (as Simard and L'Ecuyer recommend, 2011). */
export const KS_EXACT_MAX_N = 140;

/** A CDF as the KS statistic needs it: its value at x and just before x (they differ at a jump). */
export interface Cdf {
  at(x: number): number;
  before(x: number): number;
}

/**
 * D = sup |F_n − F| of ascending values against a CDF. Between two live values F_n is flat and F
 * rises, so the supremum is reached at a live value (F_n(u) − F(u)) or just before one
 * (F(u⁻) − F_n(u⁻)); ties are taken as one step.
 */
export function ksStatistic(sorted: ArrayLike<number>, cdf: Cdf): number {
  const n = sorted.length;
  let d = 0;
  let i = 0;
  while (i < n) {
    const u = sorted[i] as number;
    let j = i + 1;
    while (j < n && sorted[j] === u) j++;
    const above = j / n - cdf.at(u);
    const beneath = cdf.before(u) - i / n;
    if (above > d) d = above;
    if (beneath > d) d = beneath;
    i = j;
  }
  return d;
}

/** The p-value of D for a live window of n values, and how it was computed. */
export function ksPValue(n: number, d: number): { pValue: number; method: "exact" | "asymptotic" } {
  if (n <= KS_EXACT_MAX_N) return { pValue: kolmogorovExactSf(n, d), method: "exact" };
  const sqrtN = Math.sqrt(n);
  const t = sqrtN * d;
  return { pValue: kolmogorovSf(t + 1 / (6 * sqrtN) + (t - 1) / (4 * n)), method: "asymptotic" };
}

/**
 * Kolmogorov's limit distribution: P(K > λ). Two series, each fast where the other is slow:
 * 1 − (√(2π)/λ)·Σ exp(−(2k−1)²π²/(8λ²)) below λ = 1.18, 2·Σ (−1)^(k−1)·exp(−2k²λ²) above.
 */
export function kolmogorovSf(lambda: number): number {
  if (!(lambda > 0)) return 1;
  if (lambda < 1.18) {
    if (lambda < 0.04) return 1;
    const w = (-Math.PI * Math.PI) / (8 * lambda * lambda);
    let sum = 0;
    for (let k = 1; k <= 20; k++) {
      const term = Math.exp((2 * k - 1) * (2 * k - 1) * w);
      sum += term;
      if (term < 1e-17 * sum) break;
    }
    return clamp01(1 - (Math.sqrt(2 * Math.PI) / lambda) * sum);
  }
  let sum = 0;
  let sign = 1;
  for (let k = 1; k <= 100; k++) {
    const term = Math.exp(-2 * k * k * lambda * lambda);
    sum += sign * term;
    sign = -sign;
    if (term < 1e-17) break;
  }
  return clamp01(2 * sum);
}

/** Largest k = ⌊n·d⌋ + 1 done with the matrix (2k − 1 = 65 rows); beyond, p < 10⁻⁶ at n ≤ 140. */
const MTW_MAX_K = 33;

/** P(D_n ≥ d) for a sample of n from a continuous CDF (Marsaglia-Tsang-Wang; see the module). */
export function kolmogorovExactSf(n: number, d: number): number {
  if (!(n >= 1) || !Number.isInteger(n)) throw new RangeError("kolmogorovExactSf: n must be ≥ 1");
  if (d >= 1) return 0;
  // D_n is never below 1/(2n): P(D_n ≥ d) = 1 there.
  if (d <= 1 / (2 * n)) return 1;
  // Exact closed form near d = 1 (every value on one side of the CDF).
  if (d >= 1 - 1 / n) return clamp01(2 * (1 - d) ** n);
  if (Math.floor(n * d) + 1 > MTW_MAX_K) {
    return clamp01(2 * Math.exp(-(2.000071 + 0.331 / Math.sqrt(n) + 1.409 / n) * d * d * n));
  }
  return clamp01(1 - mtwCdf(n, d));
}

/** P(D_n < d): Marsaglia, Tsang and Wang's matrix method, transcribed from their C. */
function mtwCdf(n: number, d: number): number {
  const k = Math.floor(n * d) + 1;
  const m = 2 * k - 1;
  const h = k - n * d;
  const H = new Float64Array(m * m);
  for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) H[i * m + j] = i - j + 1 < 0 ? 0 : 1;
  for (let i = 0; i < m; i++) {
    H[i * m] = (H[i * m] as number) - h ** (i + 1);
    H[(m - 1) * m + i] = (H[(m - 1) * m + i] as number) - h ** (m - i);
  }
  H[(m - 1) * m] = (H[(m - 1) * m] as number) + (2 * h - 1 > 0 ? (2 * h - 1) ** m : 0);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m; j++) {
      if (i - j + 1 > 0) {
        let v = H[i * m + j] as number;
        for (let g = 1; g <= i - j + 1; g++) v /= g;
        H[i * m + j] = v;
      }
    }
  }
  const { matrix: Q, exponent } = matrixPower(H, m, n);
  let s = Q[(k - 1) * m + k - 1] as number;
  let e = exponent;
  for (let i = 1; i <= n; i++) {
    s = (s * i) / n;
    if (s < 1e-140) {
      s *= 1e140;
      e -= 140;
    }
  }
  return s * 10 ** e;
}

/** A^n by squaring; the result is matrix · 10^exponent, rescaled when the centre grows past 1e140. */
function matrixPower(
  A: Float64Array,
  m: number,
  n: number,
): { matrix: Float64Array; exponent: number } {
  if (n === 1) return { matrix: Float64Array.from(A), exponent: 0 };
  const half = matrixPower(A, m, Math.floor(n / 2));
  const squared = multiply(half.matrix, half.matrix, m);
  let V: Float64Array;
  let e: number;
  if (n % 2 === 0) {
    V = squared;
    e = 2 * half.exponent;
  } else {
    V = multiply(A, squared, m);
    e = 2 * half.exponent;
  }
  const centre = Math.floor(m / 2) * m + Math.floor(m / 2);
  if ((V[centre] as number) > 1e140) {
    for (let i = 0; i < m * m; i++) V[i] = (V[i] as number) * 1e-140;
    e += 140;
  }
  return { matrix: V, exponent: e };
}

function multiply(A: Float64Array, B: Float64Array, m: number): Float64Array {
  const C = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let k = 0; k < m; k++) {
      const a = A[i * m + k] as number;
      if (a === 0) continue;
      const row = k * m;
      const out = i * m;
      for (let j = 0; j < m; j++) C[out + j] = (C[out + j] as number) + a * (B[row + j] as number);
    }
  }
  return C;
}

function clamp01(p: number): number {
  return Math.min(Math.max(p, 0), 1);
}
