/**
 * Population Stability Index: Σ (live − baseline) · ln(live / baseline) over the same bins. It is
 * reported for every feature whatever test decides drift, because it is the number people who
 * run models already read (0.1 = look, 0.25 = act).
 */

/**
 * What an empty bin's share is replaced with before the logarithm: 0.0001, as Evidently does.
 * Without it a bin that one side never saw makes PSI infinite; with it such a bin adds
 * (p − 0.0001) · ln(p / 0.0001), about 6.9 · p, so a whole new range of values still stands out.
 */
export const PSI_EPSILON = 1e-4;

/**
 * PSI of two distributions over the same bins, given as shares (each summing to 1). Bins empty on
 * both sides add nothing.
 */
export function psi(baseline: ArrayLike<number>, live: ArrayLike<number>): number {
  if (baseline.length !== live.length) throw new RangeError("psi: the bins differ in number");
  let total = 0;
  for (let i = 0; i < baseline.length; i++) {
    const e = Math.max(baseline[i] as number, PSI_EPSILON);
    const a = Math.max(live[i] as number, PSI_EPSILON);
    total += (a - e) * Math.log(a / e);
  }
  return total;
}

/** The PSI level against the app's thresholds. */
export function psiLevel(
  value: number,
  thresholds: { readonly psiWarn: number; readonly psiAlert: number },
): "ok" | "warn" | "alert" {
  if (value >= thresholds.psiAlert) return "alert";
  if (value >= thresholds.psiWarn) return "warn";
  return "ok";
}
