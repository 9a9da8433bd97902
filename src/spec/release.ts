/**
 * How a new version of the app reaches production: the canary's traffic steps and the gates
 * each step must pass, the share of traffic a shadow release mirrors, and how an A/B test
 * splits callers and what it measures. The spec holds the app's defaults; `ballast promote`
 * (and the API and Studio behind it) may override them for one release. Flat groups, like
 * `policies` and `monitoring`, so the Studio generates one form per group.
 */
import type { JsonSchema } from "./contract.ts";
import {
  filledGroup as filled,
  flagSetting,
  groupsJsonSchema,
  numberSetting,
  type SettingsGroup,
  settingsGroup,
} from "./settings-groups.ts";

/** Traffic steps and the gates a canary must pass at each. */
export interface CanarySettings {
  /** Percentages of traffic sent to the candidate, in order, ending at 100: "5,25,50,100". */
  readonly steps: string;
  /** How long each step is held and judged, in seconds. */
  readonly intervalSeconds: number;
  /** Fewer candidate requests than this in a step: too little data, which never passes. */
  readonly minRequests: number;
  /** Largest share of the candidate's requests failed by the server (5xx, timeouts). */
  readonly maxErrorRate: number;
  /** Largest p95 latency of the candidate, ms; 0: no absolute limit. */
  readonly maxP95Ms: number;
  /** Largest p95 of the candidate as a multiple of the stable version's; 0: not compared. */
  readonly maxP95Ratio: number;
  /** The golden suite must pass on the candidate before any traffic moves. */
  readonly requireGolden: boolean;
  /** Steps (percentages, comma separated) that wait for a person's approval once their gates pass. */
  readonly manualSteps: string;
  /**
   * An outcome gate: the business event whose conversion rate the candidate must keep, "" for
   * none. Judged only once both versions have `minRequests` logged predictions in the step.
   */
  readonly outcomeEvent: string;
  /** The candidate's conversion must be at least this multiple of the stable version's. */
  readonly minOutcomeRatio: number;
}

/** A shadow release: production keeps answering; the candidate sees a copy of the traffic. */
export interface ShadowSettings {
  /** Percentage of production requests also sent to the candidate. */
  readonly percent: number;
  /** Largest candidate calls in flight at once; more are skipped, never queued. */
  readonly maxInFlight: number;
}

/** An A/B test: a sticky split of callers between the stable version and the candidate. */
export interface AbSettings {
  /** Percentage of callers served by the candidate. */
  readonly percent: number;
  /** The request header holding the caller's key (a user id); without it, the request is hashed. */
  readonly splitHeader: string;
  /** The business event whose rate is compared (two-proportion z-test), "" for none. */
  readonly conversionEvent: string;
  /** The business event whose values are compared (Welch's t-test), "" for none. */
  readonly valueEvent: string;
  /** Significance level of both tests. */
  readonly alpha: number;
  /** The power the sample size still needed is computed for. */
  readonly power: number;
}

export interface AppRelease {
  readonly canary: CanarySettings;
  readonly shadow: ShadowSettings;
  readonly ab: AbSettings;
}

export const DEFAULT_RELEASE: AppRelease = {
  canary: {
    steps: "5,25,50,100",
    intervalSeconds: 300,
    minRequests: 50,
    maxErrorRate: 0.02,
    maxP95Ms: 0,
    maxP95Ratio: 2,
    requireGolden: true,
    manualSteps: "",
    outcomeEvent: "",
    minOutcomeRatio: 0.9,
  },
  shadow: { percent: 100, maxInFlight: 64 },
  ab: {
    percent: 50,
    splitHeader: "x-ballast-split-key",
    conversionEvent: "",
    valueEvent: "",
    alpha: 0.05,
    power: 0.8,
  },
};

/** "5, 25,50,100": ascending percentages in (0, 100] ending at 100. */
export const STEPS_PATTERN = "^\\s*\\d+(\\.\\d+)?\\s*(,\\s*\\d+(\\.\\d+)?\\s*)*$";
const EVENT_PATTERN = "^([a-z0-9_.-]{1,64})?$";

export type ReleaseGroup = SettingsGroup<keyof AppRelease>;

const num = numberSetting;
const group = settingsGroup<keyof AppRelease>;
const d = DEFAULT_RELEASE;

const text = (
  title: string,
  description: string,
  defaultValue: string,
  pattern: string,
): JsonSchema => ({
  title,
  description,
  type: "string",
  maxLength: 200,
  pattern,
  default: defaultValue,
});

/** The release groups in the order the Studio shows them. */
export const RELEASE_GROUPS: readonly ReleaseGroup[] = [
  group(
    "canary",
    "Canary",
    "Traffic moves to the new version in steps; each step is held for an interval and judged on live metrics. A failed gate rolls back at once.",
    {
      steps: text(
        "Traffic steps (%)",
        "Percentages of traffic for the new version, in order, ending at 100.",
        d.canary.steps,
        STEPS_PATTERN,
      ),
      intervalSeconds: num(
        "Analysis interval (s)",
        "How long each step is held and judged.",
        d.canary.intervalSeconds,
        1,
        86_400,
        true,
      ),
      minRequests: num(
        "Fewest requests to judge",
        "With fewer requests in a step there is too little data: the step does not pass.",
        d.canary.minRequests,
        1,
        1_000_000,
        true,
      ),
      maxErrorRate: num(
        "Highest error rate",
        "Share of the new version's requests failed by the server.",
        d.canary.maxErrorRate,
        0,
        1,
      ),
      maxP95Ms: num(
        "Highest p95 latency (ms)",
        "0: no absolute limit.",
        d.canary.maxP95Ms,
        0,
        600_000,
        true,
      ),
      maxP95Ratio: num(
        "Highest p95 vs stable",
        "The new version's p95 as a multiple of the stable version's. 0: not compared.",
        d.canary.maxP95Ratio,
        0,
        1000,
      ),
      requireGolden: flagSetting(
        "Golden suite must pass",
        "Run the app's golden cases on the new version before any traffic moves.",
        d.canary.requireGolden,
      ),
      manualSteps: text(
        "Steps that wait for approval (%)",
        "Comma-separated steps that wait for a person once their gates pass. Empty: none.",
        d.canary.manualSteps,
        `^(${STEPS_PATTERN.slice(1, -1)})?$`,
      ),
      outcomeEvent: text(
        "Outcome event",
        "A business event whose conversion the new version must keep. Empty: no outcome gate.",
        d.canary.outcomeEvent,
        EVENT_PATTERN,
      ),
      minOutcomeRatio: num(
        "Lowest conversion vs stable",
        "The new version's conversion as a multiple of the stable version's.",
        d.canary.minOutcomeRatio,
        0,
        10,
      ),
    },
  ),
  group(
    "shadow",
    "Shadow",
    "Production keeps answering; a copy of its traffic goes to the new version off the response path and the answers are compared.",
    {
      percent: num(
        "Mirrored traffic (%)",
        "Share of production requests also sent to the new version.",
        d.shadow.percent,
        0,
        100,
      ),
      maxInFlight: num(
        "Most mirrored in flight",
        "Beyond this many, mirrored calls are skipped, never queued.",
        d.shadow.maxInFlight,
        1,
        10_000,
        true,
      ),
    },
  ),
  group(
    "ab",
    "A/B test",
    "Callers are split between the versions by a key they send (or by request); the outcome of each arm is compared with a significance test.",
    {
      percent: num(
        "New version's share (%)",
        "Share of callers served by the new version.",
        d.ab.percent,
        0,
        100,
      ),
      splitHeader: text(
        "Split key header",
        "The request header that holds the caller's key, e.g. a user id.",
        d.ab.splitHeader,
        "^[a-z0-9-]{1,64}$",
      ),
      conversionEvent: text(
        "Conversion event",
        "A business event whose rate is compared (two-proportion z-test). Empty: none.",
        d.ab.conversionEvent,
        EVENT_PATTERN,
      ),
      valueEvent: text(
        "Value event",
        "A business event whose values are compared (Welch's t-test). Empty: none.",
        d.ab.valueEvent,
        EVENT_PATTERN,
      ),
      alpha: num("Significance level", "The tests' alpha, e.g. 0.05.", d.ab.alpha, 0.0001, 0.5),
      power: num(
        "Power",
        "The power the needed sample size is computed for.",
        d.ab.power,
        0.5,
        0.999,
      ),
    },
  ),
];

/** The published schema of the spec's `release`: every group and field optional. */
export const releaseJsonSchema: JsonSchema = groupsJsonSchema(
  "How new versions reach production",
  RELEASE_GROUPS,
  DEFAULT_RELEASE,
);

/** A spec's `release` (already checked against its schema) with every default filled in. */
export function fillRelease(given: unknown): AppRelease {
  const g = (given ?? {}) as Partial<Record<keyof AppRelease, unknown>>;
  return {
    canary: filled(DEFAULT_RELEASE.canary, g.canary),
    shadow: filled(DEFAULT_RELEASE.shadow, g.shadow),
    ab: filled(DEFAULT_RELEASE.ab, g.ab),
  };
}

/**
 * Canary steps from their text: ascending, each in (0, 100], the last 100. Throws with a
 * message naming the problem (callers prefix the field's path).
 */
export function parseSteps(text: string): number[] {
  const steps = text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")
    .map(Number);
  if (steps.length === 0) throw new Error("needs at least one step");
  for (const [i, s] of steps.entries()) {
    if (!Number.isFinite(s) || s <= 0 || s > 100)
      throw new Error(`step ${i + 1} must be in (0, 100]`);
    if (i > 0 && s <= (steps[i - 1] as number)) throw new Error("steps must be ascending");
  }
  if (steps[steps.length - 1] !== 100) throw new Error("the last step must be 100");
  return steps;
}

/** Manual steps from their text (a subset of the steps); empty text: none. */
export function parseManualSteps(text: string, steps: readonly number[]): number[] {
  const manual = text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")
    .map(Number);
  for (const m of manual) {
    if (!steps.includes(m)) throw new Error(`${m} is not one of the steps ${steps.join(", ")}`);
  }
  return manual;
}
