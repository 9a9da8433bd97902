/**
 * The distances Evidently switches to on large windows, where any test's p-value flags
 * differences too small to matter: the Wasserstein distance for numbers (normed by the
 * baseline's standard deviation, so 0.1 means "a tenth of a standard deviation of mass moved")
 * and the Jensen-Shannon distance for categories.
 */

/**
 * Jensen-Shannon distance (natural log, the square root of the divergence, as scipy's
 * `jensenshannon`): 0 for identical distributions, at most √ln 2 ≈ 0.83. Both sides are
 * normalized to sum 1; zeros need no smoothing.
 */
export function jensenShannonDistance(p: ArrayLike<number>, q: ArrayLike<number>): number {
  if (p.length !== q.length) throw new RangeError("jensenShannon: the bins differ in number");
  let sp = 0;
  let sq = 0;
  for (let i = 0; i < p.length; i++) {
    sp += p[i] as number;
    sq += q[i] as number;
  }
  if (!(sp > 0) || !(sq > 0)) return 0;
  let divergence = 0;
  for (let i = 0; i < p.length; i++) {
    const a = (p[i] as number) / sp;
    const b = (q[i] as number) / sq;
    const m = (a + b) / 2;
    if (a > 0) divergence += a * Math.log(a / m);
    if (b > 0) divergence += b * Math.log(b / m);
  }
  return Math.sqrt(Math.max(0, divergence / 2));
}

/**
 * ∫ |A(x) − B(x)| dx over [points[0], points[K−1]] for two CDFs that are linear between the
 * points and may jump at them: each is given at every point (`at`) and just below it (`before`).
 * Between two points A − B is linear, so each piece integrates in closed form.
 */
export function piecewiseLinearL1(
  points: ArrayLike<number>,
  aAt: ArrayLike<number>,
  aBefore: ArrayLike<number>,
  bAt: ArrayLike<number>,
  bBefore: ArrayLike<number>,
): number {
  let total = 0;
  for (let j = 1; j < points.length; j++) {
    const width = (points[j] as number) - (points[j - 1] as number);
    const start = (aAt[j - 1] as number) - (bAt[j - 1] as number);
    const end = (aBefore[j] as number) - (bBefore[j] as number);
    total += width * meanAbsLinear(start, end);
  }
  return total;
}

/** The mean of |f| over an interval where f goes linearly from s to e. */
export function meanAbsLinear(s: number, e: number): number {
  if ((s >= 0 && e >= 0) || (s <= 0 && e <= 0)) return (Math.abs(s) + Math.abs(e)) / 2;
  // f crosses zero: two triangles.
  return (s * s + e * e) / (2 * (Math.abs(s) + Math.abs(e)));
}

/** Wasserstein-1 over the baseline's std, the distance Evidently's threshold 0.1 applies to. */
export function normedWasserstein(distance: number, baselineStd: number): number {
  return distance / Math.max(baselineStd, 1e-12);
}
