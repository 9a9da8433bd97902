/**
 * The distribution functions the A/B significance tests need: the normal CDF and quantile,
 * Student's t CDF (with the non-integer degrees of freedom Welch's test produces) and its
 * quantile, and the regularized incomplete beta function behind them.
 *
 * Written here, a few hundred lines without a dependency, because the A/B panel needs what a
 * casual implementation drops: tails that keep their digits (a p-value of 1e-20 must not print
 * as 0), non-integer df, and accuracy at the df of busy apps (10⁵ and more). Each function is
 * checked against scipy and 40-digit mpmath in the tests. Pure and allocation-free.
 */

// W. J. Cody, "Rational Chebyshev approximations for the error function", Math. Comp. 23
// (1969) 631-637, as coded in his SPECFUN routine CALERF (netlib.org/specfun/erf): erf and
// erfc to about 1e-16 relative, the far tail of erfc included.
const CODY_A = [
  3.1611237438705655, 113.86415415105016, 377.485237685302, 3209.3775891384694, 0.18577770618460315,
];
const CODY_B = [23.601290952344122, 244.02463793444417, 1282.6165260773723, 2844.236833439171];
const CODY_C = [
  0.5641884969886701, 8.883149794388377, 66.11919063714163, 298.6351381974001, 881.952221241769,
  1712.0476126340707, 2051.0783778260716, 1230.3393547979972, 2.1531153547440383e-8,
];
const CODY_D = [
  15.744926110709835, 117.6939508913125, 537.1811018620099, 1621.3895745666903, 3290.7992357334597,
  4362.619090143247, 3439.3676741437216, 1230.3393548037495,
];
const CODY_P = [
  0.30532663496123236, 0.36034489994980445, 0.12578172611122926, 0.016083785148742275,
  0.0006587491615298378, 0.016315387137302097,
];
const CODY_Q = [
  2.568520192289822, 1.872952849923467, 0.5279051029514285, 0.06051834131244132,
  0.0023352049762686918,
];
const ONE_OVER_SQRT_PI = 0.5641895835477563;

/** Coefficient `i` of a constant table (the tables are fixed, so the index is always valid). */
function at(table: readonly number[], i: number): number {
  return table[i] as number;
}

/** erfc(y)·e^{y²} for y > 0.46875: Cody's two outer ranges. */
function erfcScaled(y: number): number {
  if (y <= 4) {
    let num = at(CODY_C, 8) * y;
    let den = y;
    for (let i = 0; i < 7; i++) {
      num = (num + at(CODY_C, i)) * y;
      den = (den + at(CODY_D, i)) * y;
    }
    return (num + at(CODY_C, 7)) / (den + at(CODY_D, 7));
  }
  const inv = 1 / (y * y);
  let num = at(CODY_P, 5) * inv;
  let den = inv;
  for (let i = 0; i < 4; i++) {
    num = (num + at(CODY_P, i)) * inv;
    den = (den + at(CODY_Q, i)) * inv;
  }
  const r = (inv * (num + at(CODY_P, 4))) / (den + at(CODY_Q, 4));
  return (ONE_OVER_SQRT_PI - r) / y;
}

/** erf(x) for |x| ≤ 0.46875: Cody's rational function of x². */
function erfSmall(x: number): number {
  const ysq = Math.abs(x) > 1.11e-16 ? x * x : 0;
  let num = at(CODY_A, 4) * ysq;
  let den = ysq;
  for (let i = 0; i < 3; i++) {
    num = (num + at(CODY_A, i)) * ysq;
    den = (den + at(CODY_B, i)) * ysq;
  }
  return (x * (num + at(CODY_A, 3))) / (den + at(CODY_B, 3));
}

/**
 * Φ(z), the standard normal CDF, as ½·erfc(-z/√2) with Cody's rational Chebyshev erfc (see
 * the citation above). Relative error below 1e-15 from z = 8.6 down to Φ(-37) ≈ 6e-300
 * (measured against 40-digit mpmath), so two-sided p-values 2·Φ(-|z|) keep their digits when
 * tiny. NaN in, NaN out.
 */
export function normalCdf(z: number): number {
  if (Number.isNaN(z)) return Number.NaN;
  const x = -z / Math.SQRT2;
  const y = Math.abs(x);
  // Near 0, erfc = 1 - erf loses nothing since |erf| ≤ 0.5 there.
  if (y <= 0.46875) return 0.5 * (1 - erfSmall(x));
  // erfc(y) = e^{-y²}·erfcScaled(y) with e^{-y²} = e^{-z²/2}, formed from z rather than the
  // rounded y and split as e^{-s²/2}·e^{-(|z|-s)(|z|+s)/2}, s = |z| cut to 1/16, so the large
  // exponent is exact (Cody's trick) and the tail keeps its relative precision. Beyond
  // |z| ≈ 38.6 (y = 27.3) even a subnormal underflows to 0.
  let tail = 0;
  if (y < 27.3) {
    const w = Math.abs(z);
    const s = Math.trunc(w * 16) / 16;
    tail = Math.exp((-s * s) / 2) * Math.exp(-((w - s) * (w + s)) / 2) * erfcScaled(y);
  }
  return 0.5 * (x < 0 ? 2 - tail : tail);
}

// M. J. Wichura, "Algorithm AS 241: The percentage points of the normal distribution",
// Applied Statistics 37 (1988) 477-484, PPND16: relative error about 1e-16.
const AS241_A = [
  3.3871328727963665, 133.14166789178438, 1971.5909503065513, 13731.69376550946, 45921.95393154987,
  67265.7709270087, 33430.57558358813, 2509.0809287301227,
];
const AS241_B = [
  1, 42.31333070160091, 687.1870074920579, 5394.196021424751, 21213.794301586597, 39307.89580009271,
  28729.085735721943, 5226.495278852854,
];
const AS241_C = [
  1.4234371107496835, 4.630337846156546, 5.769497221460691, 3.6478483247632045, 1.2704582524523684,
  0.2417807251774506, 0.022723844989269184, 0.0007745450142783414,
];
const AS241_D = [
  1, 2.053191626637759, 1.6763848301838038, 0.6897673349851, 0.14810397642748008,
  0.015198666563616457, 0.0005475938084995345, 1.0507500716444169e-9,
];
const AS241_E = [
  6.657904643501103, 5.463784911164114, 1.7848265399172913, 0.29656057182850487,
  0.026532189526576124, 0.0012426609473880784, 0.000027115555687434876, 2.0103343992922881e-7,
];
const AS241_F = [
  1, 0.599832206555888, 0.1369298809227358, 0.014875361290850615, 0.0007868691311456133,
  0.000018463183175100548, 1.421511758316446e-7, 2.0442631033899397e-15,
];

/** c[0] + c[1]·x + … + c[7]·x⁷ by Horner's rule. */
function poly8(c: readonly number[], x: number): number {
  let sum = at(c, 7);
  for (let i = 6; i >= 0; i--) sum = sum * x + at(c, i);
  return sum;
}

/**
 * Φ⁻¹(p), the standard normal quantile, by Wichura's AS 241 (PPND16, ~1e-16 relative): the
 * critical values z_{1-α/2} and z_{1-β} of the sample-size formulas and the confidence
 * intervals. Throws a RangeError unless 0 < p < 1: the infinite quantiles at 0 and 1 would
 * silently turn a sample size into Infinity or NaN.
 */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normalQuantile: p must be in (0, 1), got ${p}`);
  const q = p - 0.5;
  if (Math.abs(q) <= 0.425) {
    const r = 0.180625 - q * q;
    return (q * poly8(AS241_A, r)) / poly8(AS241_B, r);
  }
  // The tail in terms of the smaller of p and 1 - p, so the lower tail keeps its precision.
  let r = Math.sqrt(-Math.log(q < 0 ? p : 1 - p));
  let value: number;
  if (r <= 5) {
    r -= 1.6;
    value = poly8(AS241_C, r) / poly8(AS241_D, r);
  } else {
    r -= 5;
    value = poly8(AS241_E, r) / poly8(AS241_F, r);
  }
  return q < 0 ? -value : value;
}

// Lanczos approximation of Γ (g = 7, n = 9, Godfrey's coefficients): ~15 significant digits.
const LANCZOS = [
  0.9999999999998099, 676.5203681218851, -1259.1392167224028, 771.3234287776531, -176.6150291621406,
  12.507343278686905, -0.13857109526572012, 0.000009984369578019572, 1.5056327351493116e-7,
];
const LOG_SQRT_2PI = 0.9189385332046728;

/** ln Γ(x) for x > 0. */
function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let sum = at(LANCZOS, 0);
  for (let i = 1; i < 9; i++) sum += at(LANCZOS, i) / (z + i);
  const t = z + 7.5;
  return LOG_SQRT_2PI + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}

/**
 * ln Γ(x) - Stirling's approximation, for x ≥ 10: the Stirling series through x⁻¹³, whose next
 * term is below 3e-17 there.
 */
function stirlingCorrection(x: number): number {
  const inv = 1 / x;
  const inv2 = inv * inv;
  return (
    inv *
    (1 / 12 +
      inv2 *
        (-1 / 360 +
          inv2 *
            (1 / 1260 +
              inv2 * (-1 / 1680 + inv2 * (1 / 1188 + inv2 * (-691 / 360360 + inv2 / 156))))))
  );
}

/**
 * ln B(a, b). Subtracting three large ln Γ values would cancel away most digits when a or b is
 * large (Welch's df reaches 10⁶ on busy apps), so the large arguments go through Stirling's
 * series with the dominant terms combined analytically, as R's `lbeta` does.
 */
function logBeta(a: number, b: number): number {
  const p = Math.min(a, b);
  const q = Math.max(a, b);
  if (p >= 10) {
    const corr = stirlingCorrection(p) + stirlingCorrection(q) - stirlingCorrection(p + q);
    return (
      -0.5 * Math.log(q) +
      LOG_SQRT_2PI +
      corr +
      (p - 0.5) * Math.log(p / (p + q)) +
      q * Math.log1p(-p / (p + q))
    );
  }
  if (q >= 10) {
    const corr = stirlingCorrection(q) - stirlingCorrection(p + q);
    return logGamma(p) + corr + p - p * Math.log(p + q) + (q - 0.5) * Math.log1p(-p / (p + q));
  }
  return logGamma(p) + logGamma(q) - logGamma(p + q);
}

const TINY = 1e-300;
const CF_EPSILON = 1e-16;
// The continued fraction needs O(√max(a, b)) terms near the mean; this covers a, b up to ~10¹⁰.
const CF_MAX_TERMS = 1_000_000;

/**
 * The continued fraction for I_x(a, b) (Numerical Recipes §6.4, `betacf`), evaluated by the
 * modified Lentz method; converges fast for x < (a + 1)/(a + b + 2).
 */
function betaContinuedFraction(x: number, a: number, b: number): number {
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < TINY) d = TINY;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= CF_MAX_TERMS; m++) {
    const m2 = 2 * m;
    // Even step.
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    h *= d * c;
    // Odd step.
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < CF_EPSILON) return h;
  }
  return h;
}

/**
 * x^a (1-x)^b / (a B(a, b)) · CF: I_x(a, b) where the continued fraction converges. The
 * caller may pass ln x and ln(1 - x) computed from its own inputs: with a ≈ 10⁸ (a huge Welch
 * df) and x within 1e-8 of 1, the rounding of x alone would cost ln x half its digits.
 */
function incompleteBetaDirect(
  x: number,
  a: number,
  b: number,
  logX = Math.log(x),
  log1mX = Math.log1p(-x),
): number {
  const logFront = a * logX + b * log1mX - logBeta(a, b);
  return (Math.exp(logFront) * betaContinuedFraction(x, a, b)) / a;
}

/**
 * I_x(a, b), the regularized incomplete beta function: Student's t CDF (and so every Welch
 * p-value) is one. Continued fraction by the modified Lentz method (Numerical Recipes §6.4),
 * on whichever of I_x(a, b) and 1 - I_{1-x}(b, a) converges. Throws a RangeError unless
 * 0 ≤ x ≤ 1, a > 0 and b > 0.
 */
export function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  if (!(x >= 0 && x <= 1)) {
    throw new RangeError(`regularizedIncompleteBeta: x must be in [0, 1], got ${x}`);
  }
  if (!(a > 0 && a < Number.POSITIVE_INFINITY)) {
    throw new RangeError(`regularizedIncompleteBeta: a must be positive and finite, got ${a}`);
  }
  if (!(b > 0 && b < Number.POSITIVE_INFINITY)) {
    throw new RangeError(`regularizedIncompleteBeta: b must be positive and finite, got ${b}`);
  }
  if (x === 0 || x === 1) return x;
  if (x < (a + 1) / (a + b + 2)) return incompleteBetaDirect(x, a, b);
  return 1 - incompleteBetaDirect(1 - x, b, a);
}

function checkDf(name: string, df: number): void {
  if (!(df > 0)) throw new RangeError(`${name}: df must be positive, got ${df}`);
}

/**
 * From this df on, Hill's normal transformation beats the continued fraction. Against
 * 40-digit mpmath, for t from 10⁻⁴ to 10⁶ in both tails: the continued fraction stays within
 * 3e-13 relative up to df ≈ 10⁴ but then degrades (1e-12 at 2·10⁴, 5e-8 at 10⁹: it needs
 * O(√df) factors, each within an ulp of 1, so it stops early), while Hill's formula is exact to
 * 5e-14 at 1.5·10⁴ and 1e-18 at 10⁵, leaving only the rounding of Φ (~1e-14).
 */
const HILL_MIN_DF = 15_000;

/**
 * The smaller tail of t (or its complement) by G. W. Hill, "Algorithm 395: Student's
 * t-distribution", Comm. ACM 13 (1970) 617-619: t maps to a normal deviate z via
 * z² ≈ (df - ½)·ln(1 + t²/df) with a correction in 1/df², the asymptotic expansion of
 * I_x(df/2, ½) for large df (DiDonato and Morris's BGRAT leading term).
 */
function hillTail(t2: number, df: number, lowerTail: boolean): number {
  const a = df - 0.5;
  const b = 48 * a * a;
  const y = a * Math.log1p(t2 / df);
  const correction =
    ((((-0.4 * y - 3.3) * y - 24) * y - 85.5) / (0.8 * y * y + 100 + b) + y + 3) / b;
  const z = (1 + correction) * Math.sqrt(y);
  return lowerTail ? normalCdf(-z) : normalCdf(z);
}

/**
 * P(T ≤ t) for Student's t with `df` degrees of freedom; `df` may be any positive real, as the
 * Welch-Satterthwaite approximation produces, and Infinity gives the normal CDF. Both tails
 * keep their relative precision (the smaller tail is always computed directly, never as 1
 * minus something), so 2·studentTCdf(-|t|, df) is an accurate two-sided p-value. NaN t gives
 * NaN; a df that is not positive throws a RangeError.
 */
export function studentTCdf(t: number, df: number): number {
  checkDf("studentTCdf", df);
  if (Number.isNaN(t)) return Number.NaN;
  if (!Number.isFinite(t)) return t < 0 ? 0 : 1;
  if (df === Number.POSITIVE_INFINITY) return normalCdf(t);
  const t2 = t * t;
  if (df >= HILL_MIN_DF) return hillTail(t2, df, t < 0);
  const a = df / 2;
  // Near 0 the mass between -|t| and |t| is I_{t²/(df+t²)}(½, df/2) and its continued fraction
  // converges; elsewhere the tail I_{df/(df+t²)}(df/2, ½)/2 does. The split is where the
  // continued fraction of one stops converging and that of the other starts, so both branches
  // evaluate it directly, without 1 - I cancelling away the tail's digits. The logarithms come
  // straight from t and df, never from a rounded ratio.
  const inner = t2 / (df + t2);
  if (inner < 1.5 / (a + 2.5)) {
    if (inner === 0) return 0.5;
    const logInner = Math.log(t2) - Math.log(df + t2);
    const central = 0.5 * incompleteBetaDirect(inner, 0.5, a, logInner, -Math.log1p(t2 / df));
    return t < 0 ? 0.5 - central : 0.5 + central;
  }
  // A finite t whose square overflows lies beyond any representable tail.
  if (!Number.isFinite(t2)) return t < 0 ? 0 : 1;
  const x = df / (df + t2);
  const tail =
    0.5 * incompleteBetaDirect(x, a, 0.5, -Math.log1p(t2 / df), Math.log(t2) - Math.log(df + t2));
  return t < 0 ? tail : 1 - tail;
}

/** Student's t density: the derivative Newton's method uses to invert the CDF. */
function studentTDensity(t: number, df: number): number {
  return Math.exp(
    -0.5 * Math.log(df) - logBeta(df / 2, 0.5) - ((df + 1) / 2) * Math.log1p((t * t) / df),
  );
}

/**
 * The t quantile: the critical value t_{df, 1-α/2} of Welch's confidence interval. Newton's
 * method on `studentTCdf` from the normal quantile, kept inside a bracket that bisection
 * shrinks whenever a Newton step would leave it, so it converges for any df. Works in the
 * lower tail and mirrors, for precision. Throws a RangeError unless 0 < p < 1 and df > 0.
 */
export function studentTQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`studentTQuantile: p must be in (0, 1), got ${p}`);
  checkDf("studentTQuantile", df);
  if (p === 0.5) return 0;
  if (df === Number.POSITIVE_INFINITY) return normalQuantile(p);
  // Exact forms for one and two degrees of freedom (Cauchy; and t₂'s closed-form CDF).
  const lower = p < 0.5 ? p : 1 - p;
  const sign = p < 0.5 ? 1 : -1;
  if (df === 1) return -sign / Math.tan(Math.PI * lower);
  if (df === 2) return (sign * (2 * lower - 1)) / Math.sqrt(2 * lower * (1 - lower));
  // Bracket [lo, hi] with cdf(lo) ≤ lower ≤ cdf(hi), hi = 0 since lower < ½.
  let hi = 0;
  let lo = Math.min(normalQuantile(lower), -1);
  while (lo > -1e300 && studentTCdf(lo, df) > lower) {
    hi = lo;
    lo *= 2;
  }
  let t = normalQuantile(lower);
  if (!(t > lo && t < hi)) t = (lo + hi) / 2;
  for (let i = 0; i < 200; i++) {
    const f = studentTCdf(t, df) - lower;
    if (f === 0) break;
    if (f > 0) hi = t;
    else lo = t;
    let next = t - f / studentTDensity(t, df);
    if (!(next > lo && next < hi)) next = (lo + hi) / 2;
    if (Math.abs(next - t) <= 1e-15 * Math.abs(t)) {
      t = next;
      break;
    }
    t = next;
  }
  return sign * t;
}
