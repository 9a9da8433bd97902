import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import type { Predictor } from "../models/predictor.ts";
import { AppMetricsRecorder, BUCKET_SECONDS } from "./app-metrics.ts";
import { OUTCOMES } from "./observation.ts";
import {
  CACHE_HITS_INDEX,
  legacyTotals,
  MAX_POINTS,
  OUTCOME_INDEX,
  SERIES_WINDOWS,
  stepSeconds,
  Tally,
  windowSeconds,
} from "./series.ts";
import { observationsAt, servedVersion, tinyPredictor } from "./test-support/served-version.ts";

const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);

function clock(start = T0) {
  let now = start;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
    set: (ms: number) => {
      now = ms;
    },
  };
}

/** Nearest-rank percentile, the definition HDR histograms approximate. */
function exactPercentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] as number;
}

let predictor: Predictor;
beforeAll(async () => {
  predictor = await tinyPredictor();
});

describe("series windows", () => {
  it("keeps the outcome indices in OUTCOMES order, cache hits after them", () => {
    expect(OUTCOMES.map((o) => OUTCOME_INDEX[o])).toEqual([0, 1, 2, 3, 4, 5]);
    expect(CACHE_HITS_INDEX).toBe(OUTCOMES.length);
  });

  it("rebins every window to at most 120 points of whole buckets or minutes", () => {
    for (const window of SERIES_WINDOWS) {
      for (const unit of [BUCKET_SECONDS, 60]) {
        const step = stepSeconds(windowSeconds(window), unit);
        expect(step % unit).toBe(0);
        expect(Math.ceil(windowSeconds(window) / step)).toBeLessThanOrEqual(MAX_POINTS);
      }
    }
    expect(stepSeconds(300, 10)).toBe(10);
    expect(stepSeconds(3600, 10)).toBe(30);
    expect(stepSeconds(6 * 3600, 60)).toBe(180);
    expect(stepSeconds(24 * 3600, 60)).toBe(720);
    expect(stepSeconds(7 * 86400, 60)).toBe(5040);
    expect(stepSeconds(30 * 86400, 60)).toBe(21600);
  });
});

describe("AppMetricsRecorder", () => {
  it("counts each outcome per version, with cache hits and model latency", () => {
    const c = clock();
    const obs = observationsAt(c.now);
    const recorder = new AppMetricsRecorder({ now: c.now });
    const v1 = servedVersion(predictor, 1);
    const v2 = servedVersion(predictor, 2);
    for (let i = 0; i < 10; i++) recorder.observe(obs(v1, 200, 4, { modelMs: 1 }));
    recorder.observe(obs(v1, 200, 0.5, { cacheHit: true }));
    recorder.observe(obs(v1, 400, 1));
    recorder.observe(obs(v1, 429, 0.2));
    recorder.observe(obs(v2, 503, 0.3));
    recorder.observe(obs(v2, 504, 200));
    recorder.observe(obs(v2, 500, 8, { modelMs: 6 }));
    recorder.observe(obs(v2, 200, 3, { modelMs: 2 }));
    c.advance(5_000);

    const all = recorder.series("ws", "churn", "5m");
    expect(all.source).toBe("memory");
    expect(all.version).toBeNull();
    expect(all.versions).toEqual([2, 1]);
    expect(all.totals.outcomes).toEqual({
      ok: 12,
      client_error: 1,
      shed: 1,
      rate_limited: 1,
      timeout: 1,
      error: 1,
    });
    expect(all.totals.requests).toBe(17);
    expect(all.totals.errorRate).toBeCloseTo(5 / 17, 12);
    expect(all.totals.cacheHits).toBe(1);
    expect(all.totals.modelP50).toBeCloseTo(1, 1);
    expect(all.totals.modelP99).toBeCloseTo(6, 1);
    // HDR precision: within 1% of the recorded value.
    expect(all.totals.p99).toBeGreaterThanOrEqual(200);
    expect(all.totals.p99).toBeLessThanOrEqual(202);
    const last = all.points.at(-1);
    expect(last?.t).toBe(new Date(T0).toISOString());
    expect(last?.requests).toBe(17);
    expect(last?.rps).toBeCloseTo(17 / 5, 9); // 5 s of the current bucket have elapsed

    const one = recorder.series("ws", "churn", "5m", { version: 1 });
    expect(one.version).toBe(1);
    expect(one.versions).toEqual([1]);
    expect(one.totals.outcomes).toMatchObject({ ok: 11, client_error: 1, rate_limited: 1 });
    expect(one.totals.requests).toBe(13);
    expect(one.totals.modelP99).toBeCloseTo(1, 1);
    // The older shape is derived exactly: 429 is a 4xx, shedding and timeouts are 5xx.
    expect(legacyTotals(all.totals)).toMatchObject({
      requests: 17,
      errors: 5,
      clientErrors: 2,
      serverErrors: 3,
    });
    // A version that never served, and a model that never ran, read as empty.
    const none = recorder.series("ws", "churn", "5m", { version: 7 });
    expect(none.totals).toMatchObject({ requests: 0, errorRate: 0, p50: null, modelP50: null });
    expect(none.versions).toEqual([]);
  });

  it("keeps apps and workspaces apart", () => {
    const obs = observationsAt(() => T0);
    const recorder = new AppMetricsRecorder({ now: () => T0 });
    recorder.observe(obs(servedVersion(predictor, 1, "a", "ws1"), 200, 1));
    recorder.observe(obs(servedVersion(predictor, 1, "a", "ws2"), 200, 1));
    recorder.observe(obs(servedVersion(predictor, 1, "a", "ws2"), 200, 1));
    recorder.observe(obs(servedVersion(predictor, 1, "b", "ws1"), 500, 1));
    expect(recorder.series("ws1", "a", "5m").totals.requests).toBe(1);
    expect(recorder.series("ws2", "a", "5m").totals.requests).toBe(2);
    expect(recorder.series("ws1", "b", "5m").totals.outcomes.error).toBe(1);
    expect(recorder.series("ws1", "nothing", "5m").totals.requests).toBe(0);
  });

  it("records samples without a version as version 0", () => {
    const recorder = new AppMetricsRecorder({ now: () => T0 });
    recorder.record({ workspaceId: "ws", app: "a", status: 200, latencyMs: 2 });
    recorder.record({ workspaceId: "ws", app: "a", status: 404, latencyMs: 2, version: 3 });
    const s = recorder.series("ws", "a", "5m");
    expect(s.versions).toEqual([3, 0]);
    expect(s.totals.outcomes).toMatchObject({ ok: 1, client_error: 1 });
  });

  it("keeps `memoryMinutes` of buckets: older data is gone, longer windows are refused", () => {
    const c = clock();
    const recorder = new AppMetricsRecorder({ now: c.now, memoryMinutes: 15 });
    expect(recorder.memorySeconds).toBe(900);
    recorder.record({ workspaceId: "ws", app: "a", status: 200, latencyMs: 1 });
    c.advance(10 * 60_000);
    recorder.record({ workspaceId: "ws", app: "a", status: 200, latencyMs: 1 });
    expect(recorder.series("ws", "a", "5m").totals.requests).toBe(1);
    expect(recorder.series("ws", "a", "15m").totals.requests).toBe(2);
    expect(() => recorder.series("ws", "a", "1h")).toThrow(RangeError);
    // Exactly 15 minutes after the first request its slot is reused: nothing old leaks in.
    c.set(T0 + 15 * 60_000);
    recorder.record({ workspaceId: "ws", app: "a", status: 500, latencyMs: 1 });
    const quarter = recorder.series("ws", "a", "15m").totals;
    expect(quarter.requests).toBe(2);
    expect(quarter.outcomes.error).toBe(1);
    expect(() => new AppMetricsRecorder({ memoryMinutes: 0 })).toThrow(RangeError);
  });

  it("records into the live bucket when the clock steps back", () => {
    const recorder = new AppMetricsRecorder({ now: () => T0 });
    recorder.record({ workspaceId: "ws", app: "a", status: 200, latencyMs: 1 });
    recorder.record({ workspaceId: "ws", app: "a", status: 200, latencyMs: 1, at: T0 - 60_000 });
    expect(recorder.series("ws", "a", "5m").points.at(-1)?.requests).toBe(2);
  });

  it("sums whole minutes per version for the rollups, exactly as the buckets hold them", () => {
    const c = clock(T0 + 5_000);
    const obs = observationsAt(c.now);
    const recorder = new AppMetricsRecorder({ now: c.now });
    const v1 = servedVersion(predictor, 1);
    const v2 = servedVersion(predictor, 2);
    for (let s = 0; s < 150; s++) {
      recorder.observe(obs(s % 3 === 0 ? v2 : v1, s % 10 === 0 ? 429 : 200, 1 + s));
      c.advance(1000);
    }
    // Served from 12:00:05 to 12:02:34: minutes 0, 1 and (in progress) 2.
    const m0 = T0 / 60_000;
    const minutes = recorder.minutes(m0, m0 + 2);
    expect(minutes.map((m) => [m.version, m.minute - m0]).sort()).toEqual([
      [1, 0],
      [1, 1],
      [1, 2],
      [2, 0],
      [2, 1],
      [2, 2],
    ]);
    const total = new Tally();
    for (const m of minutes) total.addCounts(m.counts);
    expect(total.requests).toBe(150);
    expect(total.counts[OUTCOME_INDEX.rate_limited]).toBe(15);
    const v2m1 = minutes.find((m) => m.version === 2 && m.minute === m0 + 1);
    // Seconds 55..114 of the run are minute 1; every third (s % 3 === 0) is version 2.
    expect(v2m1?.counts[OUTCOME_INDEX.ok]).toBe(18);
    expect(v2m1?.counts[OUTCOME_INDEX.rate_limited]).toBe(2);
    expect(v2m1?.latency.length).toBeGreaterThan(0);
    expect(
      recorder.minutes(m0, m0 + 2, { workspaceId: "ws", app: "churn", version: 1 }),
    ).toHaveLength(3);
    expect(recorder.minutes(m0 + 3, m0 + 10)).toEqual([]);
  });

  it("tallies the last seconds of memory for the SLO counts", () => {
    const c = clock();
    const obs = observationsAt(c.now);
    const recorder = new AppMetricsRecorder({ now: c.now });
    const v1 = servedVersion(predictor, 1);
    recorder.observe(obs(v1, 200, 50));
    c.advance(120_000);
    for (let i = 0; i < 9; i++) recorder.observe(obs(v1, 200, i < 3 ? 400 : 5));
    recorder.observe(obs(v1, 503, 1));
    const last = new Tally();
    recorder.tallyRecent("ws", "churn", 60, last);
    expect(last.requests).toBe(10);
    expect(last.slowerThan(100)).toBe(3);
    const more = new Tally();
    recorder.tallyRecent("ws", "churn", 300, more);
    expect(more.requests).toBe(11);
    expect(more.counts[OUTCOME_INDEX.shed]).toBe(1);
  });

  it("forgets versions that served nothing within memory", () => {
    const c = clock();
    const obs = observationsAt(c.now);
    const recorder = new AppMetricsRecorder({ now: c.now, memoryMinutes: 5 });
    recorder.observe(obs(servedVersion(predictor, 1), 200, 1));
    c.advance(4 * 60_000);
    recorder.observe(obs(servedVersion(predictor, 2), 200, 1));
    expect(recorder.prune()).toBe(0);
    c.advance(2 * 60_000);
    expect(recorder.prune()).toBe(1);
    expect(recorder.series("ws", "churn", "5m").versions).toEqual([2]);
  });

  it("gives percentiles within 1% of the exact ones, over any latencies and buckets", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            latencyMs: fc.double({ min: 0.01, max: 5_000, noNaN: true }),
            offsetMs: fc.integer({ min: 0, max: 299_000 }),
          }),
          { minLength: 1, maxLength: 300 },
        ),
        (samples) => {
          const recorder = new AppMetricsRecorder({ now: () => T0 + 299_999 });
          for (const s of samples) {
            recorder.record({
              workspaceId: "ws",
              app: "a",
              status: 200,
              latencyMs: s.latencyMs,
              at: T0 + s.offsetMs,
            });
          }
          const { totals, points } = recorder.series("ws", "a", "5m");
          expect(totals.requests).toBe(samples.length);
          expect(points.reduce((sum, p) => sum + p.requests, 0)).toBe(samples.length);
          // The recorder keeps whole microseconds.
          const micros = samples.map((s) => Math.max(1, Math.round(s.latencyMs * 1000)) / 1000);
          for (const p of [50, 95, 99] as const) {
            const exact = exactPercentile(micros, p);
            const got = totals[`p${p}`] as number;
            expect(Math.abs(got - exact)).toBeLessThanOrEqual(exact * 0.01 + 0.001);
          }
        },
      ),
      { numRuns: 200, seed: 42 },
    );
  });

  it("answers a busy hour's series with every request in it", () => {
    const c = clock();
    const obs = observationsAt(c.now);
    const recorder = new AppMetricsRecorder({ now: c.now });
    const v1 = servedVersion(predictor, 1);
    for (let s = 0; s < 3600; s += 2) {
      c.advance(2000);
      recorder.observe(obs(v1, 200, 1 + (s % 50)));
    }
    const hour = recorder.series("ws", "churn", "1h");
    expect(hour.points).toHaveLength(120);
    expect(hour.stepSeconds).toBe(30);
    // The window is the 360 buckets ending with the current one: the first 10 s fall out.
    expect(hour.totals.requests).toBe(1800 - 4);
    expect(hour.totals.rps).toBeCloseTo(0.5, 2);
  });
});
