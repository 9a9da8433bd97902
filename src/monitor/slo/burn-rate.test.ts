import { describe, expect, it } from "vitest";
import type { Outcome } from "../observation.ts";
import type { WindowCounts } from "../sources.ts";
import {
  BURN_WINDOWS,
  badRequests,
  burnRate,
  currentValue,
  judge,
  type Sli,
  slisOf,
  sloStatus,
} from "./burn-rate.ts";

function counts(
  requests: number,
  outcomes: Partial<Record<Outcome, number>> = {},
  slower = 0,
  p95: number | null = requests > 0 ? 10 : null,
): WindowCounts {
  const all: Record<Outcome, number> = {
    ok: 0,
    client_error: 0,
    shed: 0,
    rate_limited: 0,
    timeout: 0,
    error: 0,
    ...outcomes,
  };
  return { requests, outcomes: all, slower, p95 };
}

const SLO_OFF = { latencyP95Ms: 0, errorRate: 0, availability: 0, periodDays: 30 };

function sli(name: Sli["name"]): Sli {
  const all = slisOf({ latencyP95Ms: 200, errorRate: 0.01, availability: 0.999, periodDays: 30 });
  const found = all.find((s) => s.name === name);
  if (!found) throw new Error(name);
  return found;
}

describe("slisOf", () => {
  it("turns on only the objectives above 0, with their budgets", () => {
    expect(slisOf(SLO_OFF)).toEqual([]);
    const all = slisOf({ latencyP95Ms: 200, errorRate: 0.01, availability: 0.999, periodDays: 7 });
    expect(all.map((s) => [s.name, s.objective])).toEqual([
      ["latency_p95", 200],
      ["error_rate", 0.01],
      ["availability", 0.999],
    ]);
    expect(all[0]?.budget).toBe(0.05);
    expect(all[1]?.budget).toBe(0.01);
    expect(all[2]?.budget).toBeCloseTo(0.001, 12);
  });

  it("gives a 100% availability objective the smallest budget instead of none", () => {
    const [a] = slisOf({ ...SLO_OFF, availability: 1 });
    expect(a?.budget).toBe(1e-6);
    // One bad request in 1000: a burn rate of 1000, finite.
    expect(burnRate(a as Sli, counts(1000, { error: 1 }))).toBeCloseTo(1000, 6);
  });
});

describe("bad requests and burn rates", () => {
  const mixed = counts(
    1000,
    { ok: 900, client_error: 40, rate_limited: 20, shed: 10, timeout: 5, error: 25 },
    70,
    250,
  );

  it("counts errors and timeouts against the error rate, shedding too against availability", () => {
    expect(badRequests(sli("error_rate"), mixed)).toBe(30);
    expect(badRequests(sli("availability"), mixed)).toBe(40);
    expect(badRequests(sli("latency_p95"), mixed)).toBe(70);
  });

  it("divides the bad share by the budget", () => {
    // 70 slow of 1000 = 7%, budget 5%: 1.4.
    expect(burnRate(sli("latency_p95"), mixed)).toBeCloseTo(1.4, 12);
    // 30 of 1000 = 3%, budget 1%: 3.
    expect(burnRate(sli("error_rate"), mixed)).toBeCloseTo(3, 12);
    // 40 of 1000 = 4%, budget 0.1%: 40.
    expect(burnRate(sli("availability"), mixed)).toBeCloseTo(40, 9);
  });

  it("reads the current value as p95, error share and available share", () => {
    expect(currentValue(sli("latency_p95"), mixed)).toBe(250);
    expect(currentValue(sli("error_rate"), mixed)).toBeCloseTo(0.03, 12);
    expect(currentValue(sli("availability"), mixed)).toBeCloseTo(0.96, 12);
  });

  it("has no rate and no value without requests", () => {
    expect(burnRate(sli("error_rate"), counts(0))).toBeNull();
    expect(currentValue(sli("latency_p95"), counts(0))).toBeNull();
  });

  it("does not count client errors or rate limiting as failures", () => {
    const c = counts(100, { ok: 50, client_error: 30, rate_limited: 20 });
    expect(burnRate(sli("error_rate"), c)).toBe(0);
    expect(burnRate(sli("availability"), c)).toBe(0);
  });
});

function rates(entries: Record<string, number | null>): Map<string, number | null> {
  return new Map(Object.entries(entries));
}

describe("judge: multi-window, multi-burn-rate", () => {
  it("breaches on the fast pair when both 1h and 5m reach 14.4", () => {
    const v = judge(rates({ "1h": 14.4, "5m": 20, "6h": 2.4, "30m": 3 }));
    expect(v.state).toBe("breached");
    expect(v.pair?.name).toBe("fast");
  });

  it("does not page on a long window alone: the short one must still burn", () => {
    // The outage is over: 1h still high, the last 5m clean.
    expect(judge(rates({ "1h": 20, "5m": 0, "6h": 0.5, "30m": 0.5 })).state).toBe("ok");
  });

  it("does not page on a short spike alone", () => {
    expect(judge(rates({ "1h": 2, "5m": 100, "6h": 0.4, "30m": 0.9 })).state).toBe("ok");
  });

  it("breaches on the slow pair when both 6h and 30m reach 6", () => {
    const v = judge(rates({ "1h": 7, "5m": 7, "6h": 6, "30m": 6.5 }));
    expect(v.state).toBe("breached");
    expect(v.pair?.name).toBe("slow");
  });

  it("warns when 6h and 30m burn at least the budget, under the paging rates", () => {
    const v = judge(rates({ "1h": 1.5, "5m": 1.2, "6h": 1, "30m": 2 }));
    expect(v.state).toBe("warning");
    expect(v.pair?.name).toBe("budget");
    expect(judge(rates({ "1h": 1.5, "5m": 1.2, "6h": 0.99, "30m": 2 })).state).toBe("ok");
  });

  it("takes thresholds hit exactly despite float noise (0.0144 / 0.001)", () => {
    const r = 0.0144 / 0.001;
    expect(r).toBeLessThan(14.4);
    expect(judge(rates({ "1h": r, "5m": r, "6h": 0, "30m": 0 })).state).toBe("breached");
  });

  it("is no_data when no pair has requests in both its windows, never ok", () => {
    expect(judge(rates({ "1h": null, "5m": null, "6h": null, "30m": null })).state).toBe("no_data");
    // Traffic in the 6h window only: nothing can be judged.
    expect(judge(rates({ "1h": null, "5m": null, "6h": 30, "30m": null })).state).toBe("no_data");
    // The slow pair can be judged: ok.
    expect(judge(rates({ "1h": 0, "5m": null, "6h": 0, "30m": 0 })).state).toBe("ok");
  });
});

describe("sloStatus", () => {
  it("reports the burn rates per window, the current value and the budget left", () => {
    const latency = sli("latency_p95");
    // 1h: 100 slow of 1000 (10% → 2×); 5m: 20 of 100 (4×); 6h: 120 of 6000 (0.4×);
    // 30m: 30 of 500 (1.2×); period: 600 of 100,000 (0.6% of 5% → 0.12×, 88% left).
    const status = sloStatus(latency, {
      windows: new Map([
        ["1h", counts(1000, { ok: 1000 }, 100, 310)],
        ["5m", counts(100, { ok: 100 }, 20, 420)],
        ["6h", counts(6000, { ok: 6000 }, 120, 180)],
        ["30m", counts(500, { ok: 500 }, 30, 205)],
      ]),
      period: counts(100_000, { ok: 100_000 }, 600, 150),
    });
    expect(status.name).toBe("latency_p95");
    expect(status.objective).toBe(200);
    expect(status.current).toBe(310);
    expect(status.budgetRemaining).toBeCloseTo(0.88, 12);
    expect(status.burnRates.map((b) => b.window)).toEqual(BURN_WINDOWS.map((w) => w.label));
    expect(status.burnRates.map((b) => b.rate)).toEqual([
      expect.closeTo(2, 12),
      expect.closeTo(4, 12),
      expect.closeTo(0.4, 12),
      expect.closeTo(1.2, 12),
    ]);
    expect(status.state).toBe("ok");
  });

  it("goes negative on budget once the period overspent it", () => {
    const errors = sli("error_rate");
    const bad = counts(1000, { ok: 980, error: 20 });
    const status = sloStatus(errors, {
      windows: new Map(BURN_WINDOWS.map((w) => [w.label, bad])),
      period: bad,
    });
    // 2% against a 1% budget: 2×, so the budget is spent twice over.
    expect(status.budgetRemaining).toBeCloseTo(-1, 12);
    expect(status.state).toBe("warning");
  });

  it("says no_data with nothing measured", () => {
    const status = sloStatus(sli("availability"), {
      windows: new Map(BURN_WINDOWS.map((w) => [w.label, counts(0)])),
      period: counts(0),
    });
    expect(status).toMatchObject({ current: null, budgetRemaining: null, state: "no_data" });
    expect(status.burnRates.every((b) => b.rate === null)).toBe(true);
  });
});
