/**
 * The canary's gates, judged from live metrics of one step. Pure: the controller gathers the
 * numbers, this decides. Two moments matter:
 *
 * - during the step, a gate that already fails on enough data fails the release at once (a
 *   bad version is rolled back within the interval, not at its end);
 * - at the end of the interval every gate must pass; a gate without enough data to judge
 *   counts as not passing, never as passing.
 */
import type { WindowCounts } from "../monitor/sources.ts";
import type { CanaryGates } from "./release-plan.ts";

export type GateName = "error_rate" | "p95" | "p95_ratio" | "golden" | "outcome";
export type GateStatus = "pass" | "fail" | "no_data";

export interface GateVerdict {
  readonly gate: GateName;
  readonly status: GateStatus;
  readonly value: number | null;
  readonly limit: number | null;
  readonly message: string;
}

/** Conversions of one version's logged predictions in the step (the outcome gate). */
export interface OutcomeCounts {
  readonly predictions: number;
  readonly conversions: number;
}

export interface StepMetrics {
  /** The candidate's requests in this step. */
  readonly candidate: WindowCounts;
  /** The stable version's requests over the baseline window (for relative latency). */
  readonly stable: WindowCounts;
  /** Golden suite on the candidate: true passed, false failed, null not run (or not required). */
  readonly golden: boolean | null;
  readonly outcome?: { readonly candidate: OutcomeCounts; readonly stable: OutcomeCounts } | null;
}

export type StepDecision =
  | { readonly kind: "fail"; readonly gates: readonly GateVerdict[]; readonly failed: GateVerdict }
  | { readonly kind: "pass"; readonly gates: readonly GateVerdict[] }
  /** Still inside the interval, nothing failed yet. */
  | { readonly kind: "hold"; readonly gates: readonly GateVerdict[] };

/** Requests the server is accountable for: all but the caller's mistakes and rate limiting. */
export function judgedRequests(c: WindowCounts): number {
  return c.requests - c.outcomes.client_error - c.outcomes.rate_limited;
}

/** Server-side failures (errors and deadlines) among judged requests; null without any. */
export function errorRate(c: WindowCounts): number | null {
  const n = judgedRequests(c);
  return n > 0 ? (c.outcomes.error + c.outcomes.timeout) / n : null;
}

/**
 * The relative latency gate compares the candidate's p95 with the stable version's, or with
 * this floor when the stable one is faster: versions that answer in a few milliseconds differ
 * by scheduling noise, and 3× of 2 ms is no regression anyone would roll back for.
 */
export const P95_RATIO_FLOOR_MS = 10;

const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
const ms = (v: number) => `${Math.round(v)} ms`;

/** Every gate's verdict on the step's numbers. */
export function judgeGates(gates: CanaryGates, m: StepMetrics): GateVerdict[] {
  const out: GateVerdict[] = [];
  const n = judgedRequests(m.candidate);
  const enough = n >= gates.minRequests;
  const tooFew = `${n} of ${gates.minRequests} requests needed to judge`;

  const rate = errorRate(m.candidate);
  out.push(
    !enough || rate === null
      ? {
          gate: "error_rate",
          status: "no_data",
          value: rate,
          limit: gates.maxErrorRate,
          message: tooFew,
        }
      : {
          gate: "error_rate",
          status: rate <= gates.maxErrorRate ? "pass" : "fail",
          value: rate,
          limit: gates.maxErrorRate,
          message: `error rate ${pct(rate)} (limit ${pct(gates.maxErrorRate)})`,
        },
  );

  const p95 = m.candidate.p95;
  if (gates.maxP95Ms > 0) {
    out.push(
      !enough || p95 === null
        ? { gate: "p95", status: "no_data", value: p95, limit: gates.maxP95Ms, message: tooFew }
        : {
            gate: "p95",
            status: p95 <= gates.maxP95Ms ? "pass" : "fail",
            value: p95,
            limit: gates.maxP95Ms,
            message: `p95 ${ms(p95)} (limit ${ms(gates.maxP95Ms)})`,
          },
    );
  }

  if (gates.maxP95Ratio > 0) {
    const base = m.stable.p95;
    const stableEnough = judgedRequests(m.stable) >= gates.minRequests && base !== null && base > 0;
    if (!enough || p95 === null || !stableEnough) {
      out.push({
        gate: "p95_ratio",
        status: "no_data",
        value: null,
        limit: gates.maxP95Ratio,
        message: !stableEnough ? "too little stable traffic to compare latency" : tooFew,
      });
    } else {
      // The value shown is the plain ratio; the verdict compares with at least the floor.
      const ratio = p95 / (base as number);
      const judged = p95 / Math.max(base as number, P95_RATIO_FLOOR_MS);
      const floored = (base as number) < P95_RATIO_FLOOR_MS;
      out.push({
        gate: "p95_ratio",
        status: judged <= gates.maxP95Ratio ? "pass" : "fail",
        value: ratio,
        limit: gates.maxP95Ratio,
        message: floored
          ? `p95 ${ms(p95)} is ${ratio.toFixed(2)}× stable's ${ms(base as number)}, judged against the gate's ${P95_RATIO_FLOOR_MS} ms floor: ${judged.toFixed(2)}× (limit ${gates.maxP95Ratio}×)`
          : `p95 ${ms(p95)} is ${ratio.toFixed(2)}× stable's ${ms(base as number)} (limit ${gates.maxP95Ratio}×)`,
      });
    }
  }

  if (gates.requireGolden) {
    out.push(
      m.golden === null
        ? {
            gate: "golden",
            status: "no_data",
            value: null,
            limit: null,
            message: "the golden suite has not run on this version",
          }
        : {
            gate: "golden",
            status: m.golden ? "pass" : "fail",
            value: null,
            limit: null,
            message: m.golden ? "golden suite passed" : "golden suite failed",
          },
    );
  }

  if (gates.outcomeEvent !== "") {
    const o = m.outcome;
    if (
      !o ||
      o.candidate.predictions < gates.minRequests ||
      o.stable.predictions < gates.minRequests
    ) {
      out.push({
        gate: "outcome",
        status: "no_data",
        value: null,
        limit: gates.minOutcomeRatio,
        message: `too few logged predictions with outcomes for "${gates.outcomeEvent}"`,
      });
    } else {
      const c = o.candidate.conversions / o.candidate.predictions;
      const s = o.stable.conversions / o.stable.predictions;
      const ratio = s > 0 ? c / s : c > 0 ? Number.POSITIVE_INFINITY : 1;
      out.push({
        gate: "outcome",
        status: ratio >= gates.minOutcomeRatio ? "pass" : "fail",
        value: ratio,
        limit: gates.minOutcomeRatio,
        message: `"${gates.outcomeEvent}" conversion ${pct(c)} vs stable ${pct(s)}`,
      });
    }
  }
  return out;
}

/**
 * The step's decision: fail as soon as a gate fails; at the interval's end pass only when
 * every gate passes (no data is a failure then); before it, hold.
 */
export function judgeStep(gates: CanaryGates, m: StepMetrics, intervalOver: boolean): StepDecision {
  const verdicts = judgeGates(gates, m);
  const failed = verdicts.find((v) => v.status === "fail");
  if (failed) return { kind: "fail", gates: verdicts, failed };
  if (!intervalOver) return { kind: "hold", gates: verdicts };
  const missing = verdicts.find((v) => v.status === "no_data");
  if (missing) {
    return {
      kind: "fail",
      gates: verdicts,
      failed: { ...missing, message: `too little data to judge: ${missing.message}` },
    };
  }
  return { kind: "pass", gates: verdicts };
}
