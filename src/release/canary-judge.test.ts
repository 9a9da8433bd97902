import { describe, expect, it } from "vitest";
import type { WindowCounts } from "../monitor/sources.ts";
import { errorRate, judgeStep } from "./canary-judge.ts";
import type { CanaryGates } from "./release-plan.ts";

const gates: CanaryGates = {
  minRequests: 50,
  maxErrorRate: 0.02,
  maxP95Ms: 0,
  maxP95Ratio: 2,
  requireGolden: true,
  outcomeEvent: "",
  minOutcomeRatio: 0.9,
};

function counts(
  ok: number,
  error: number,
  p95: number | null,
  extra: Partial<WindowCounts["outcomes"]> = {},
): WindowCounts {
  const outcomes = { ok, client_error: 0, shed: 0, rate_limited: 0, timeout: 0, error, ...extra };
  const requests = Object.values(outcomes).reduce((a, b) => a + b, 0);
  return { requests, outcomes, slower: 0, p95 };
}

const stable = counts(1000, 0, 10);
// Stable versions answering in under a millisecond, as most in-process models do.
const fastStable = counts(1000, 0, 0.4);

describe("judgeStep", () => {
  it("fails at once, inside the interval, when the error rate is over the limit on enough data", () => {
    const d = judgeStep(gates, { candidate: counts(80, 20, 10), stable, golden: true }, false);
    expect(d.kind).toBe("fail");
    if (d.kind === "fail") {
      expect(d.failed.gate).toBe("error_rate");
      expect(d.failed.value).toBeCloseTo(0.2, 12);
    }
  });

  it("does not count the caller's mistakes or rate limiting as the version's errors", () => {
    const c = counts(60, 1, 10, { client_error: 30, rate_limited: 9 });
    expect(errorRate(c)).toBeCloseTo(1 / 61, 12);
  });

  it("fails a p95 ten times the stable version's", () => {
    const d = judgeStep(gates, { candidate: counts(100, 0, 100), stable, golden: true }, false);
    expect(d.kind === "fail" && d.failed.gate).toBe("p95_ratio");
  });

  it("judges the relative gate against at least its floor", () => {
    const noise = judgeStep(
      gates,
      { candidate: counts(100, 0, 2), stable: fastStable, golden: true },
      true,
    );
    expect(noise.kind).toBe("pass");
    const slow = judgeStep(
      gates,
      { candidate: counts(100, 0, 30), stable: fastStable, golden: true },
      false,
    );
    expect(slow.kind === "fail" && slow.failed.value).toBeCloseTo(75, 9);
    // 15 ms is 37.5× a 0.4 ms stable version, but only 1.5× the 10 ms floor: it passes.
    const jitter = judgeStep(
      gates,
      { candidate: counts(100, 0, 15), stable: fastStable, golden: true },
      true,
    );
    expect(jitter.kind).toBe("pass");
  });

  it("holds on too little data inside the interval, and fails on it at the end", () => {
    const m = { candidate: counts(10, 0, 10), stable, golden: true };
    expect(judgeStep(gates, m, false).kind).toBe("hold");
    const end = judgeStep(gates, m, true);
    expect(end.kind).toBe("fail");
    if (end.kind === "fail") expect(end.failed.message).toMatch(/too little data/);
  });

  it("passes a healthy step at the end of the interval", () => {
    const d = judgeStep(gates, { candidate: counts(200, 1, 12), stable, golden: true }, true);
    expect(d.kind).toBe("pass");
    expect(d.gates.map((g) => g.status)).toEqual(["pass", "pass", "pass"]);
  });

  it("a failed or missing golden run never passes", () => {
    expect(
      judgeStep(gates, { candidate: counts(200, 0, 10), stable, golden: false }, false).kind,
    ).toBe("fail");
    expect(
      judgeStep(gates, { candidate: counts(200, 0, 10), stable, golden: null }, true).kind,
    ).toBe("fail");
  });

  it("judges the outcome gate by conversion ratio once both arms have enough predictions", () => {
    const g = { ...gates, outcomeEvent: "renewed" };
    const base = { candidate: counts(200, 0, 10), stable, golden: true };
    const low = judgeStep(
      g,
      {
        ...base,
        outcome: {
          candidate: { predictions: 100, conversions: 10 },
          stable: { predictions: 100, conversions: 20 },
        },
      },
      true,
    );
    expect(low.kind === "fail" && low.failed.gate).toBe("outcome");
    const fine = judgeStep(
      g,
      {
        ...base,
        outcome: {
          candidate: { predictions: 100, conversions: 19 },
          stable: { predictions: 100, conversions: 20 },
        },
      },
      true,
    );
    expect(fine.kind).toBe("pass");
  });
});
