/**
 * Service-level objectives judged the way Google's SRE workbook recommends ("Alerting on
 * SLOs", multiwindow, multi-burn-rate alerts): every objective is turned into good and bad
 * requests with an error budget, and an alert is due when the budget burns fast over a long
 * window AND is still burning over a short one. The long window makes the alert significant
 * (a few slow requests do not page), the short one makes it stop soon after the cause is
 * fixed. Pure functions over window counts, so the evaluator, the API and the tests agree.
 *
 * The SLIs, per request:
 * - `latency_p95` with objective X ms: bad = answered slower than X ms; budget 5% (a p95 of
 *   X ms means at most 5% of requests slower than X).
 * - `error_rate` with objective e: bad = outcomes `error` and `timeout`; budget e.
 * - `availability` with objective a: bad = `error`, `timeout` and `shed`; budget 1 − a.
 *
 * Client errors (4xx) and rate-limited requests (429) count as good: the server answered as
 * it should, the caller sent something wrong or too much. Shedding (503) is the server's
 * choice under overload, so it spends the availability budget but not the error-rate one.
 * Every request in the window is in the denominator.
 */
import type { Outcome } from "../observation.ts";
import type { WindowCounts } from "../sources.ts";

export type SloName = "latency_p95" | "error_rate" | "availability";

/** The SLO settings this module reads (src/spec/monitoring.ts `SloSettings`); 0 turns one off. */
export interface SloObjectives {
  readonly latencyP95Ms: number;
  readonly errorRate: number;
  readonly availability: number;
  readonly periodDays: number;
}

/** One objective turned on, with what makes a request bad and the share of bad allowed. */
export interface Sli {
  readonly name: SloName;
  /** As written in the spec: milliseconds for latency, a share for the others. */
  readonly objective: number;
  /** The error budget: the share of requests allowed to be bad. */
  readonly budget: number;
}

/** Requests slower than the objective are bad; at most this share may be (the "95" in p95). */
export const LATENCY_BUDGET = 0.05;

/**
 * The smallest budget used: an availability objective of 1 (100%) leaves none, and dividing
 * by zero would make every burn rate infinite (and unserializable); this treats it as
 * 99.9999%, so one bad request in a million is already on budget.
 */
export const MIN_BUDGET = 1e-6;

const BAD_OUTCOMES: Readonly<Record<Exclude<SloName, "latency_p95">, readonly Outcome[]>> = {
  error_rate: ["error", "timeout"],
  availability: ["error", "timeout", "shed"],
};

/** The objectives a spec turns on, in a fixed order (latency, error rate, availability). */
export function slisOf(slo: SloObjectives): Sli[] {
  const out: Sli[] = [];
  if (slo.latencyP95Ms > 0)
    out.push({ name: "latency_p95", objective: slo.latencyP95Ms, budget: LATENCY_BUDGET });
  if (slo.errorRate > 0)
    out.push({ name: "error_rate", objective: slo.errorRate, budget: budget(slo.errorRate) });
  if (slo.availability > 0)
    out.push({
      name: "availability",
      objective: slo.availability,
      budget: budget(1 - slo.availability),
    });
  return out;
}

function budget(share: number): number {
  return Math.max(share, MIN_BUDGET);
}

/**
 * Bad requests in a window for one SLI. For latency the counts must have been read with
 * `slowerThanMs` set to the objective (`slower` is 0 otherwise).
 */
export function badRequests(sli: Sli, counts: WindowCounts): number {
  if (sli.name === "latency_p95") return counts.slower;
  let bad = 0;
  for (const outcome of BAD_OUTCOMES[sli.name]) bad += counts.outcomes[outcome];
  return bad;
}

/**
 * How fast the window spent the budget: the bad share divided by the budget. 1 spends exactly
 * the budget over the period; 14.4 spends a 30-day budget in ~2 days. Null without requests:
 * no data is not good news.
 */
export function burnRate(sli: Sli, counts: WindowCounts): number | null {
  if (counts.requests <= 0) return null;
  return badRequests(sli, counts) / counts.requests / sli.budget;
}

/** The measured value of an SLI over a window (p95 ms, error share, available share). */
export function currentValue(sli: Sli, counts: WindowCounts): number | null {
  if (counts.requests <= 0) return null;
  if (sli.name === "latency_p95") return counts.p95;
  const share = badRequests(sli, counts) / counts.requests;
  return sli.name === "availability" ? 1 - share : share;
}

/** A trailing window of the alerting rules. */
export interface BurnWindow {
  /** As the API shows it: "1h", "5m", "6h", "30m". */
  readonly label: string;
  readonly seconds: number;
}

export type AlertSeverity = "warning" | "critical";

/** A multi-window rule: it fires when both windows burn at or above the threshold. */
export interface BurnRatePair {
  /** "fast" (pages within minutes of a big outage), "slow" (a smaller, lasting one), "budget". */
  readonly name: "fast" | "slow" | "budget";
  readonly long: BurnWindow;
  readonly short: BurnWindow;
  readonly threshold: number;
  readonly severity: AlertSeverity;
}

const W5M: BurnWindow = { label: "5m", seconds: 300 };
const W30M: BurnWindow = { label: "30m", seconds: 1800 };
const W1H: BurnWindow = { label: "1h", seconds: 3600 };
const W6H: BurnWindow = { label: "6h", seconds: 21_600 };

/**
 * The workbook's two paging pairs for a 30-day budget, plus a warning:
 * - fast: 1h and 5m at 14.4× (2% of a 30-day budget gone in one hour);
 * - slow: 6h and 30m at 6× (5% gone in six hours);
 * - budget: 6h and 30m at 1× (spending faster than the budget allows: a warning, no page;
 *   the workbook's ticket pair uses 3 days, beyond what the in-memory windows hold).
 * The short window is 1/12 of the long one, as the workbook advises.
 */
export const BURN_RATE_PAIRS: readonly BurnRatePair[] = [
  { name: "fast", long: W1H, short: W5M, threshold: 14.4, severity: "critical" },
  { name: "slow", long: W6H, short: W30M, threshold: 6, severity: "critical" },
  { name: "budget", long: W6H, short: W30M, threshold: 1, severity: "warning" },
];

/** Every window the pairs read, in the order the API lists burn rates. */
export const BURN_WINDOWS: readonly BurnWindow[] = [W1H, W5M, W6H, W30M];

/** The window "current" is measured over. */
export const CURRENT_WINDOW: BurnWindow = W1H;

/** Comparisons tolerate float noise: 0.0144 / 0.001 is 14.399999999999999. */
const EPSILON = 1e-9;

export type SloState = "ok" | "warning" | "breached" | "no_data";

/** An objective judged now: the API's `SloStatusDto`. */
export interface SloStatus {
  readonly name: SloName;
  readonly objective: number;
  readonly current: number | null;
  /** Share of the period's budget left: 1 − the period's burn rate; negative once overspent. */
  readonly budgetRemaining: number | null;
  readonly burnRates: readonly { readonly window: string; readonly rate: number | null }[];
  readonly state: SloState;
}

/** The verdict of the pairs: the worst one firing, or none. */
export interface SloVerdict {
  readonly state: SloState;
  /** The pair that decided a warning or breach. */
  readonly pair?: BurnRatePair;
}

/**
 * The state from the burn rates per window label. A pair fires when both its windows burn at
 * or above its threshold; the worst firing pair decides. No pair firing: ok if at least one
 * pair could be judged (both windows had requests), else no_data.
 */
export function judge(rates: ReadonlyMap<string, number | null>): SloVerdict {
  let judged = false;
  let worst: BurnRatePair | undefined;
  for (const pair of BURN_RATE_PAIRS) {
    const long = rates.get(pair.long.label);
    const short = rates.get(pair.short.label);
    if (long === null || long === undefined || short === null || short === undefined) continue;
    judged = true;
    const limit = pair.threshold * (1 - EPSILON);
    if (long < limit || short < limit) continue;
    if (!worst || (pair.severity === "critical" && worst.severity === "warning")) worst = pair;
  }
  if (worst) return { state: worst.severity === "critical" ? "breached" : "warning", pair: worst };
  return { state: judged ? "ok" : "no_data" };
}

/** Window counts per window label, plus the period's, as `sloStatus` reads them. */
export interface SloCounts {
  /** Keyed by `BurnWindow.label`; every label of `BURN_WINDOWS` must be present. */
  readonly windows: ReadonlyMap<string, WindowCounts>;
  /** The whole budget period (`periodDays`). */
  readonly period: WindowCounts;
}

/** One objective's status from its window counts. */
export function sloStatus(sli: Sli, counts: SloCounts): SloStatus & SloVerdict {
  const rates = new Map<string, number | null>();
  for (const w of BURN_WINDOWS) {
    const c = counts.windows.get(w.label);
    rates.set(w.label, c ? burnRate(sli, c) : null);
  }
  const verdict = judge(rates);
  const periodRate = burnRate(sli, counts.period);
  const current = counts.windows.get(CURRENT_WINDOW.label);
  return {
    name: sli.name,
    objective: sli.objective,
    current: current ? currentValue(sli, current) : null,
    budgetRemaining: periodRate === null ? null : 1 - periodRate,
    burnRates: BURN_WINDOWS.map((w) => ({ window: w.label, rate: rates.get(w.label) ?? null })),
    ...verdict,
  };
}
