/**
 * The significance tests behind an A/B release: per arm (stable = control, candidate =
 * treatment) the outcome metric, whether the difference is significant, and how many more
 * samples each arm needs before it could be. Pure functions of per-arm summaries, so the
 * monitor can keep three numbers per arm (n, conversions or n, mean, variance) instead of
 * every outcome, and the Studio can recompute on every refresh.
 */
import { normalCdf, normalQuantile, studentTCdf, studentTQuantile } from "./distributions.ts";

/** A binary outcome per arm: how many requests were exposed and how many converted. */
export interface ProportionArm {
  readonly n: number;
  readonly conversions: number;
}

/**
 * A numeric outcome per arm, summarized: count, mean and sample variance (n - 1 denominator),
 * which is all Welch's test needs and what an arm can keep incrementally (see `meanArmOf`).
 */
export interface MeanArm {
  readonly n: number;
  readonly mean: number;
  readonly variance: number;
}

/** Test settings; the defaults are the conventions an A/B panel is read against. */
export interface AbTestOptions {
  /** Two-sided significance level, in (0, 1); default 0.05. */
  readonly alpha?: number;
  /** Power the sample size is computed for, in (0, 1); default 0.8. */
  readonly power?: number;
  /**
   * The absolute difference (treatment - control, in the outcome's own units, not relative)
   * the sample size is computed for; default: the observed difference. For proportions its
   * sign picks the direction, flipped when the rate would leave [0, 1] (0.98 cannot rise by
   * 0.05, so that is sized as a fall to 0.93).
   */
  readonly minDetectableEffect?: number;
}

/** What the A/B panel shows for one outcome metric. */
export interface AbTestResult {
  readonly test: "two-proportion-z" | "welch-t";
  /** Conversion rate or mean; 0 for an arm without samples. */
  readonly control: { readonly n: number; readonly value: number };
  readonly treatment: { readonly n: number; readonly value: number };
  /** treatment - control. */
  readonly difference: number;
  /** difference / control value; null if the control value is 0. */
  readonly relativeLift: number | null;
  /** z or t; null when not computable (an empty arm, n < 2 for Welch, zero variance). */
  readonly statistic: number | null;
  /** Welch-Satterthwaite degrees of freedom (t-test only). */
  readonly df: number | null;
  /** Two-sided p-value. */
  readonly pValue: number | null;
  /**
   * Confidence interval of the difference at level 1 - alpha (named for the default):
   * unpooled (Wald) standard error for proportions, Welch's standard error and df for means.
   */
  readonly ci95: readonly [number, number] | null;
  /** pValue !== null && pValue < alpha. */
  readonly significant: boolean;
  /** Samples per arm to detect the effect with the given alpha and power; null if the effect is 0 or unknown. */
  readonly requiredPerArm: number | null;
  /** max(0, requiredPerArm - min(n_control, n_treatment)). */
  readonly remainingPerArm: number | null;
}

interface Settings {
  readonly alpha: number;
  readonly power: number;
  readonly minDetectableEffect: number | undefined;
}

function settingsOf(options: AbTestOptions | undefined): Settings {
  const alpha = options?.alpha ?? 0.05;
  const power = options?.power ?? 0.8;
  const minDetectableEffect = options?.minDetectableEffect;
  if (!(alpha > 0 && alpha < 1)) {
    throw new RangeError(`options.alpha must be in (0, 1), got ${alpha}`);
  }
  if (!(power > 0 && power < 1)) {
    throw new RangeError(`options.power must be in (0, 1), got ${power}`);
  }
  if (minDetectableEffect !== undefined && !Number.isFinite(minDetectableEffect)) {
    throw new RangeError(`options.minDetectableEffect must be finite, got ${minDetectableEffect}`);
  }
  return { alpha, power, minDetectableEffect };
}

function checkCount(name: string, value: number): void {
  if (!(Number.isSafeInteger(value) && value >= 0)) {
    throw new RangeError(`${name} must be a non-negative integer, got ${value}`);
  }
}

function checkProportionArm(name: string, arm: ProportionArm): void {
  checkCount(`${name}.n`, arm.n);
  checkCount(`${name}.conversions`, arm.conversions);
  if (arm.conversions > arm.n) {
    throw new RangeError(`${name}.conversions (${arm.conversions}) exceeds ${name}.n (${arm.n})`);
  }
}

function checkMeanArm(name: string, arm: MeanArm): void {
  checkCount(`${name}.n`, arm.n);
  if (!Number.isFinite(arm.mean)) {
    throw new RangeError(`${name}.mean must be finite, got ${arm.mean}`);
  }
  if (!(Number.isFinite(arm.variance) && arm.variance >= 0)) {
    throw new RangeError(`${name}.variance must be finite and non-negative, got ${arm.variance}`);
  }
}

/** The result fields every test shares, from the per-arm values and what the test computed. */
function assemble(
  test: AbTestResult["test"],
  control: { readonly n: number; readonly value: number },
  treatment: { readonly n: number; readonly value: number },
  computed: {
    readonly statistic: number | null;
    readonly df: number | null;
    readonly pValue: number | null;
    readonly ci: readonly [number, number] | null;
    readonly requiredPerArm: number | null;
  },
  alpha: number,
): AbTestResult {
  const difference = treatment.value - control.value;
  const { requiredPerArm } = computed;
  return {
    test,
    control,
    treatment,
    difference,
    relativeLift: control.value === 0 ? null : difference / control.value,
    statistic: computed.statistic,
    df: computed.df,
    pValue: computed.pValue,
    ci95: computed.ci,
    significant: computed.pValue !== null && computed.pValue < alpha,
    requiredPerArm,
    remainingPerArm:
      requiredPerArm === null
        ? null
        : Math.max(0, requiredPerArm - Math.min(control.n, treatment.n)),
  };
}

/**
 * Per-arm sample size of the two-proportion test (Fleiss's formula, the one textbooks and most
 * online calculators use): n = (z_{1-α/2}·√(2p̄(1-p̄)) + z_{1-β}·√(p1(1-p1) + p2(1-p2)))² / δ²
 * with p2 = p1 + δ, p̄ = (p1 + p2)/2. When p1 + δ leaves [0, 1] the effect is sized the other
 * way (p1 - δ), as the formula only needs its magnitude; null when neither fits.
 */
function proportionSampleSize(
  p1: number,
  delta: number,
  alpha: number,
  power: number,
): number | null {
  if (delta === 0) return null;
  let p2 = p1 + delta;
  if (p2 < 0 || p2 > 1) p2 = p1 - delta;
  if (p2 < 0 || p2 > 1) return null;
  const mean = (p1 + p2) / 2;
  const zAlpha = normalQuantile(1 - alpha / 2);
  const zBeta = normalQuantile(power);
  const root =
    zAlpha * Math.sqrt(2 * mean * (1 - mean)) + zBeta * Math.sqrt(p1 * (1 - p1) + p2 * (1 - p2));
  return Math.ceil((root * root) / (delta * delta));
}

/**
 * The two-proportion z-test for conversions: the standard textbook test with the pooled
 * standard error under H0 (p1 = p2), as statsmodels' `proportions_ztest` computes it, so the
 * numbers agree with what an analyst would check by hand. The confidence interval uses the
 * unpooled (Wald) error, since it is not computed under H0. The statistic is null when an arm
 * is empty or neither arm varies (all converted or none did). Throws a RangeError naming the
 * argument for a negative or fractional count, conversions above n, or bad options.
 */
export function twoProportionZTest(
  control: ProportionArm,
  treatment: ProportionArm,
  options?: AbTestOptions,
): AbTestResult {
  checkProportionArm("control", control);
  checkProportionArm("treatment", treatment);
  const { alpha, power, minDetectableEffect } = settingsOf(options);
  const n1 = control.n;
  const n2 = treatment.n;
  const p1 = n1 === 0 ? 0 : control.conversions / n1;
  const p2 = n2 === 0 ? 0 : treatment.conversions / n2;
  const difference = p2 - p1;

  let statistic: number | null = null;
  let pValue: number | null = null;
  let ci: readonly [number, number] | null = null;
  if (n1 > 0 && n2 > 0) {
    const pooled = (control.conversions + treatment.conversions) / (n1 + n2);
    const pooledSe = Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
    if (pooledSe > 0) {
      statistic = difference / pooledSe;
      pValue = Math.min(1, 2 * normalCdf(-Math.abs(statistic)));
      const se = Math.sqrt((p1 * (1 - p1)) / n1 + (p2 * (1 - p2)) / n2);
      const half = normalQuantile(1 - alpha / 2) * se;
      ci = [difference - half, difference + half];
    }
  }

  // The baseline rate is unknown until the control arm has samples; the observed difference
  // only once both arms have.
  const effect = minDetectableEffect ?? (n1 > 0 && n2 > 0 ? difference : 0);
  const requiredPerArm = n1 > 0 ? proportionSampleSize(p1, effect, alpha, power) : null;

  return assemble(
    "two-proportion-z",
    { n: n1, value: p1 },
    { n: n2, value: p2 },
    { statistic, df: null, pValue, ci, requiredPerArm },
    alpha,
  );
}

/**
 * Welch's t-test for a numeric outcome: unequal variances, so a candidate that changes the
 * spread as well as the mean is still judged fairly, with the Welch-Satterthwaite (usually
 * non-integer) degrees of freedom; as scipy's `ttest_ind(..., equal_var=False)`. The statistic
 * is null when an arm has fewer than two samples or both variances are 0. The sample size is
 * the normal-approximation n = 2(z_{1-α/2} + z_{1-β})²σ²/δ², σ² the mean of the two variances,
 * but at least 2, the fewest the test runs on (null when σ² is 0 or an arm has fewer than two
 * samples: the variance is then unknown). Throws a RangeError naming the
 * argument for a negative or fractional n, a non-finite mean, a negative or non-finite
 * variance, or bad options.
 */
export function welchTTest(
  control: MeanArm,
  treatment: MeanArm,
  options?: AbTestOptions,
): AbTestResult {
  checkMeanArm("control", control);
  checkMeanArm("treatment", treatment);
  const { alpha, power, minDetectableEffect } = settingsOf(options);
  const n1 = control.n;
  const n2 = treatment.n;
  // An empty arm has no mean; report 0 rather than a NaN that JSON would turn into null.
  const m1 = n1 === 0 ? 0 : control.mean;
  const m2 = n2 === 0 ? 0 : treatment.mean;
  const difference = m2 - m1;
  const bothVary = n1 >= 2 && n2 >= 2;

  let statistic: number | null = null;
  let df: number | null = null;
  let pValue: number | null = null;
  let ci: readonly [number, number] | null = null;
  if (bothVary) {
    const s1 = control.variance / n1;
    const s2 = treatment.variance / n2;
    const se2 = s1 + s2;
    if (se2 > 0) {
      const se = Math.sqrt(se2);
      statistic = difference / se;
      df = (se2 * se2) / ((s1 * s1) / (n1 - 1) + (s2 * s2) / (n2 - 1));
      pValue = Math.min(1, 2 * studentTCdf(-Math.abs(statistic), df));
      const half = studentTQuantile(1 - alpha / 2, df) * se;
      ci = [difference - half, difference + half];
    }
  }

  let requiredPerArm: number | null = null;
  const effect = minDetectableEffect ?? difference;
  const variance = (control.variance + treatment.variance) / 2;
  if (bothVary && effect !== 0 && variance > 0) {
    const z = normalQuantile(1 - alpha / 2) + normalQuantile(power);
    requiredPerArm = Math.max(2, Math.ceil((2 * z * z * variance) / (effect * effect)));
  }

  return assemble(
    "welch-t",
    { n: n1, value: m1 },
    { n: n2, value: m2 },
    { statistic, df, pValue, ci, requiredPerArm },
    alpha,
  );
}

/**
 * Summarizes raw outcome values into a `MeanArm` in one pass with Welford's update, which
 * keeps the variance accurate when the values are large and close together (latencies,
 * order totals), where the textbook Σx² - n·x̄² cancels to garbage. The variance is 0 below
 * two values (undefined there; `welchTTest` ignores it). Throws a RangeError naming `values`
 * for a non-finite value.
 */
export function meanArmOf(values: ArrayLike<number>): MeanArm {
  let mean = 0;
  let m2 = 0;
  const n = values.length;
  for (let i = 0; i < n; i++) {
    const x = values[i] as number;
    if (!Number.isFinite(x)) throw new RangeError(`values[${i}] must be finite, got ${x}`);
    const delta = x - mean;
    mean += delta / (i + 1);
    m2 += delta * (x - mean);
  }
  return { n, mean, variance: n >= 2 ? m2 / (n - 1) : 0 };
}
