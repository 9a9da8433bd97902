/**
 * From live counts to a verdict: one feature's drift (PSI, KS, the test its window size calls
 * for) and the dataset's. Pure functions over {@link FeatureBins} and counts, so the live windows,
 * the benchmark and the tests all judge the same way.
 *
 * The test is chosen as Evidently does, with "sample size" meaning the live window's rows with
 * the feature present (n), not the baseline's:
 *
 * | feature                                      | n ≤ 1000                   | n > 1000                            |
 * | -------------------------------------------- | -------------------------- | ----------------------------------- |
 * | number with > 5 distinct training values     | KS, p < `pValue`           | Wasserstein / baseline std ≥ 0.1    |
 * | category, yes/no, number with ≤ 5 values     | chi-squared, p < `pValue`  | Jensen-Shannon distance ≥ 0.1       |
 *
 * Why n: our baseline is a sketch of the training data, compared with as a known distribution
 * (one-sample tests), so a test's power grows with the live rows only; Evidently switches to
 * distances because tests on thousands of rows flag differences too small to matter, and that is
 * a property of the sample being tested. Counting the baseline's rows instead would fix the test
 * per model (most training sets have > 1000 rows) whatever the traffic.
 */

import type {
  DistributionBinDto,
  DriftTestDto,
  FeatureDriftDto,
} from "../../server/monitor-api-types.ts";
import type { DriftSettings } from "../../spec/monitoring.ts";
import { chiSquaredTest } from "./chi2.ts";
import { jensenShannonDistance, normedWasserstein, piecewiseLinearL1 } from "./distance.ts";
import type { FeatureBins, NumericBins } from "./feature-bins.ts";
import { MISSING_LABEL } from "./feature-bins.ts";
import { type Cdf, ksPValue, ksStatistic } from "./ks.ts";
import { psi, psiLevel } from "./psi.ts";

/** Live windows up to this many rows are judged by a test (KS, chi-squared), larger by a distance. */
export const TEST_MAX_ROWS = 1000;
/** Evidently's default thresholds for the distances. */
export const WASSERSTEIN_THRESHOLD = 0.1;
export const JENSEN_SHANNON_THRESHOLD = 0.1;

/** A feature's live values as counted by a window. */
export interface LiveFeature {
  /** Per cell, then missing (length cellCount + 1). */
  readonly counts: ArrayLike<number>;
  /** Σ (p_0 − x) over live values below the first point, and Σ (x − p_last) above the last. */
  readonly tailBelow: number;
  readonly tailAbove: number;
  /** The present values, ascending, when the window keeps them (exact KS statistic). */
  readonly sorted?: Float64Array;
}

export type DriftThresholds = Pick<DriftSettings, "psiWarn" | "psiAlert" | "pValue" | "minRows">;

/** The baseline CDF a grid describes: exact at the points, linear between them. */
export function gridCdf(bins: NumericBins): Cdf {
  const { points, baseAt, baseBefore } = bins;
  const K = points.length;
  const locate = (x: number) => {
    let lo = 0;
    let hi = K;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (x <= (points[mid] as number)) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };
  const between = (x: number, j: number): number => {
    if (j === 0) return 0;
    if (j === K) return 1;
    const x0 = points[j - 1] as number;
    const x1 = points[j] as number;
    const g0 = baseAt[j - 1] as number;
    const g1 = baseBefore[j] as number;
    return g0 + ((g1 - g0) * (x - x0)) / (x1 - x0);
  };
  return {
    at(x) {
      const j = locate(x);
      return j < K && points[j] === x ? (baseAt[j] as number) : between(x, j);
    },
    before(x) {
      const j = locate(x);
      return j < K && points[j] === x ? (baseBefore[j] as number) : between(x, j);
    },
  };
}

/** The live CDF at each point and just below it, from the cell counts (present values only). */
function liveCdfAtPoints(
  bins: NumericBins,
  counts: ArrayLike<number>,
  present: number,
): { at: Float64Array; before: Float64Array } {
  const K = bins.points.length;
  const at = new Float64Array(K);
  const before = new Float64Array(K);
  let cumulative = 0;
  for (let j = 0; j < K; j++) {
    if (bins.atoms) {
      cumulative += counts[2 * j] as number;
      before[j] = cumulative / present;
      cumulative += counts[2 * j + 1] as number;
      at[j] = cumulative / present;
    } else {
      cumulative += counts[j] as number;
      at[j] = cumulative / present;
      before[j] = at[j] as number;
    }
  }
  return { at, before };
}

interface KsResult {
  readonly statistic: number;
  readonly pValue: number;
  readonly method: "exact" | "asymptotic";
  readonly note?: string;
}

const NOTE_DECILES =
  "Read at the decile edges only: the model was trained before fine baselines were kept, so the statistic is a lower bound (conservative).";
const NOTE_PERCENTILES =
  "Read at the training percentiles (the time window keeps counts, not values): the statistic is a lower bound, within ~1% of the exact one.";

function ksOf(bins: NumericBins, live: LiveFeature, present: number): KsResult {
  let statistic = 0;
  let note: string | undefined;
  if (bins.atoms && live.sorted && live.sorted.length === present) {
    statistic = ksStatistic(live.sorted, gridCdf(bins));
  } else {
    const { at, before } = liveCdfAtPoints(bins, live.counts, present);
    for (let j = 0; j < bins.points.length; j++) {
      if (!bins.exactAt[j]) continue;
      statistic = Math.max(statistic, Math.abs((at[j] as number) - (bins.baseAt[j] as number)));
      if (bins.atoms) {
        const gap = Math.abs((before[j] as number) - (bins.baseBefore[j] as number));
        statistic = Math.max(statistic, gap);
      }
    }
    note = bins.atoms ? NOTE_PERCENTILES : NOTE_DECILES;
  }
  const { pValue, method } = ksPValue(present, statistic);
  return note ? { statistic, pValue, method, note } : { statistic, pValue, method };
}

/** Wasserstein-1 between the live values (spread evenly within each cell) and the baseline. */
export function wassersteinOf(bins: NumericBins, live: LiveFeature, present: number): number {
  const { at, before } = liveCdfAtPoints(bins, live.counts, present);
  const inside = piecewiseLinearL1(bins.points, at, before, bins.baseAt, bins.baseBefore);
  return inside + (live.tailBelow + live.tailAbove) / present;
}

/**
 * @param groups the live counts of present values per PSI bin: the categories' codes, a
 *   handful-of-values number's values, or (older artifacts) the deciles
 */
function chosenTest(
  bins: FeatureBins,
  live: LiveFeature,
  present: number,
  groups: { readonly baseline: ArrayLike<number>; readonly live: Float64Array },
  ks: KsResult | null,
  settings: DriftThresholds,
  judge: boolean,
): DriftTestDto {
  const small = present <= TEST_MAX_ROWS;
  if (bins.kind === "numeric" && !bins.lowCardinality) {
    if (small && ks) {
      return {
        name: "ks",
        statistic: ks.statistic,
        pValue: ks.pValue,
        threshold: settings.pValue,
        drifted: judge && ks.pValue < settings.pValue,
      };
    }
    const statistic =
      present > 0 ? normedWasserstein(wassersteinOf(bins, live, present), bins.sketch.std) : 0;
    return {
      name: "wasserstein",
      statistic,
      pValue: null,
      threshold: WASSERSTEIN_THRESHOLD,
      drifted: judge && statistic >= WASSERSTEIN_THRESHOLD,
    };
  }
  if (small) {
    const result = chiSquaredTest(groups.baseline, groups.live, bins.baselineRows);
    return {
      name: "chi2",
      statistic: result.statistic,
      pValue: result.pValue,
      threshold: settings.pValue,
      drifted: judge && result.pValue < settings.pValue,
    };
  }
  const statistic = jensenShannonDistance(groups.baseline, groups.live);
  return {
    name: "jensenshannon",
    statistic,
    pValue: null,
    threshold: JENSEN_SHANNON_THRESHOLD,
    drifted: judge && statistic >= JENSEN_SHANNON_THRESHOLD,
  };
}

/**
 * One feature's drift. `judge` is false when the window as a whole has too few rows: the numbers
 * are still shown, nothing is flagged. A feature present in fewer than `minRows` live rows is not
 * flagged either.
 */
export function featureDrift(
  bins: FeatureBins,
  live: LiveFeature,
  settings: DriftThresholds,
  judge: boolean,
): FeatureDriftDto {
  const missing = live.counts[bins.cellCount] as number;
  let present = 0;
  for (let c = 0; c < bins.cellCount; c++) present += live.counts[c] as number;
  const total = present + missing;
  const verdict = judge && present >= settings.minRows && present > 0;

  // PSI bins: deciles (or values) for numbers, codes for categories, then missing.
  const baseShares = bins.kind === "numeric" ? bins.psiBase : Array.from(bins.baseCells);
  const liveCounts = new Float64Array(baseShares.length);
  for (let c = 0; c < bins.cellCount; c++) {
    const bin = bins.kind === "numeric" ? (bins.psiOfCell[c] as number) : c;
    liveCounts[bin] = (liveCounts[bin] as number) + (live.counts[c] as number);
  }
  const missingRate = bins.sketch.missingRate;
  const withMissing = missingRate > 0 || missing > 0;
  const size = baseShares.length + (withMissing ? 1 : 0);
  const base = new Float64Array(size);
  const now = new Float64Array(size);
  for (let i = 0; i < baseShares.length; i++) {
    base[i] = (baseShares[i] ?? 0) * (1 - missingRate);
    now[i] = total > 0 ? (liveCounts[i] as number) / total : 0;
  }
  if (withMissing) {
    base[size - 1] = missingRate;
    now[size - 1] = total > 0 ? missing / total : 0;
  }
  const value = total > 0 ? psi(base, now) : 0;
  const bins_: DistributionBinDto[] = [];
  for (let i = 0; i < size; i++) {
    if (!((base[i] as number) > 0 || (now[i] as number) > 0)) continue;
    const label = withMissing && i === size - 1 ? MISSING_LABEL : (bins.psiLabels[i] ?? String(i));
    bins_.push({ label, baseline: base[i] as number, live: now[i] as number });
  }

  const ks = bins.kind === "numeric" && present > 0 ? ksOf(bins, live, present) : null;
  const groups = { baseline: baseShares, live: liveCounts };
  const test = chosenTest(bins, live, present, groups, ks, settings, verdict);
  return {
    feature: bins.feature,
    kind: bins.kind,
    rows: present,
    psi: value,
    psiLevel: verdict ? psiLevel(value, settings) : "ok",
    ks,
    test,
    drifted: test.drifted,
    bins: bins_,
  };
}

/** Drifted first, then by PSI, highest first (the report's order). */
export function rankFeatures(features: FeatureDriftDto[]): FeatureDriftDto[] {
  return features.sort((a, b) => Number(b.drifted) - Number(a.drifted) || b.psi - a.psi);
}

/**
 * Dataset-level drift: at least `datasetShare` of the input features drifted (and at least one;
 * a share of 0 would otherwise call every window drifted). The prediction is not counted: it is
 * reported on its own.
 */
export function datasetVerdict(
  features: readonly FeatureDriftDto[],
  share: number,
  judge: boolean,
): {
  drifted: boolean;
  driftedFeatures: number;
  features: number;
  share: number;
  threshold: number;
} {
  const drifted = features.filter((f) => f.drifted).length;
  const measured = features.length ? drifted / features.length : 0;
  return {
    drifted: judge && drifted > 0 && measured >= share,
    driftedFeatures: drifted,
    features: features.length,
    share: measured,
    threshold: share,
  };
}
