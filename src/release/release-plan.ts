/**
 * A release plan: everything a rollout follows, resolved once when it starts from the
 * candidate's `release` section and the promoter's overrides, and stored with the release so
 * that every replica and a restarted controller judge it the same way.
 */
import type { AppRelease } from "../spec/app-spec.ts";
import { parseManualSteps, parseSteps } from "../spec/release.ts";

export type RolloutStrategy = "direct" | "canary" | "shadow" | "ab";
export const ROLLOUT_STRATEGIES: readonly RolloutStrategy[] = ["direct", "canary", "shadow", "ab"];

export interface CanaryGates {
  readonly minRequests: number;
  readonly maxErrorRate: number;
  /** 0: no absolute p95 limit. */
  readonly maxP95Ms: number;
  /** 0: not compared with the stable version. */
  readonly maxP95Ratio: number;
  readonly requireGolden: boolean;
  /** "" for no outcome gate. */
  readonly outcomeEvent: string;
  readonly minOutcomeRatio: number;
}

export interface ReleasePlan {
  readonly strategy: RolloutStrategy;
  /** Canary: the traffic percentages in order, ending at 100. Other strategies: [their share]. */
  readonly steps: readonly number[];
  readonly intervalSeconds: number;
  readonly gates: CanaryGates;
  /** Steps that wait for a person once their gates pass. */
  readonly manualSteps: readonly number[];
  readonly shadow: { readonly percent: number; readonly maxInFlight: number };
  readonly ab: {
    readonly percent: number;
    readonly splitHeader: string;
    readonly conversionEvent: string;
    readonly valueEvent: string;
    readonly alpha: number;
    readonly power: number;
  };
}

/** What a promoter may override for one release (the API body's fields, all optional). */
export interface PlanOverrides {
  readonly steps?: string | readonly number[];
  readonly intervalSeconds?: number;
  readonly minRequests?: number;
  readonly maxErrorRate?: number;
  readonly maxP95Ms?: number;
  readonly maxP95Ratio?: number;
  readonly requireGolden?: boolean;
  readonly manualSteps?: string | readonly number[];
  readonly outcomeEvent?: string;
  readonly minOutcomeRatio?: number;
  readonly percent?: number;
  readonly splitHeader?: string;
  readonly conversionEvent?: string;
  readonly valueEvent?: string;
}

/** A plan problem, named by the override field (or the spec path) that caused it. */
export class PlanError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

const list = (v: string | readonly number[]): string => (typeof v === "string" ? v : v.join(","));

/** The plan for a release of `strategy`, from the candidate's settings and the overrides. */
export function resolvePlan(
  strategy: RolloutStrategy,
  release: AppRelease,
  overrides: PlanOverrides = {},
): ReleasePlan {
  const canary = release.canary;
  let steps: number[];
  try {
    steps = parseSteps(list(overrides.steps ?? canary.steps));
  } catch (error) {
    throw new PlanError("steps", `steps: ${(error as Error).message}`);
  }
  let manualSteps: number[];
  try {
    manualSteps = parseManualSteps(list(overrides.manualSteps ?? canary.manualSteps), steps);
  } catch (error) {
    throw new PlanError("manualSteps", `manualSteps: ${(error as Error).message}`);
  }
  const percent = overrides.percent;
  if (percent !== undefined && !(percent > 0 && percent <= 100)) {
    throw new PlanError("percent", "percent must be in (0, 100]");
  }
  const shadow = {
    percent: strategy === "shadow" ? (percent ?? release.shadow.percent) : release.shadow.percent,
    maxInFlight: release.shadow.maxInFlight,
  };
  const ab = {
    percent: strategy === "ab" ? (percent ?? release.ab.percent) : release.ab.percent,
    splitHeader: (overrides.splitHeader ?? release.ab.splitHeader).toLowerCase(),
    conversionEvent: overrides.conversionEvent ?? release.ab.conversionEvent,
    valueEvent: overrides.valueEvent ?? release.ab.valueEvent,
    alpha: release.ab.alpha,
    power: release.ab.power,
  };
  if (!/^[a-z0-9-]{1,64}$/.test(ab.splitHeader)) {
    throw new PlanError("splitHeader", "splitHeader must be a header name (letters, digits, -)");
  }
  const planSteps =
    strategy === "canary"
      ? steps
      : strategy === "shadow"
        ? [shadow.percent]
        : strategy === "ab"
          ? [ab.percent]
          : [100];
  return {
    strategy,
    steps: planSteps,
    intervalSeconds: overrides.intervalSeconds ?? canary.intervalSeconds,
    gates: {
      minRequests: overrides.minRequests ?? canary.minRequests,
      maxErrorRate: overrides.maxErrorRate ?? canary.maxErrorRate,
      maxP95Ms: overrides.maxP95Ms ?? canary.maxP95Ms,
      maxP95Ratio: overrides.maxP95Ratio ?? canary.maxP95Ratio,
      requireGolden: overrides.requireGolden ?? canary.requireGolden,
      outcomeEvent: overrides.outcomeEvent ?? canary.outcomeEvent,
      minOutcomeRatio: overrides.minOutcomeRatio ?? canary.minOutcomeRatio,
    },
    manualSteps: strategy === "canary" ? manualSteps : [],
    shadow,
    ab,
  };
}

/** A stored plan read back (the registry holds it as JSON written by `resolvePlan`). */
export function planOf(json: unknown): ReleasePlan {
  return json as ReleasePlan;
}
