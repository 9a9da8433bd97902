import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  AppMetricsRecorder,
  BUCKET_SECONDS,
  MAX_POINTS,
  METRICS_WINDOWS,
  stepSecondsFor,
  windowSeconds,
} from "./app-metrics.ts";

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

describe("AppMetricsRecorder", () => {
  it("rebins every window to at most 120 points whose step is a whole number of buckets", () => {
    for (const window of METRICS_WINDOWS) {
      const step = stepSecondsFor(window);
      expect(step % BUCKET_SECONDS).toBe(0);
      const series = new AppMetricsRecorder({ now: () => T0 }).series("ws", "a", window);
      expect(series.series.length).toBeLessThanOrEqual(MAX_POINTS);
      expect(series.series.length * step).toBeGreaterThanOrEqual(windowSeconds(window));
      expect(series.stepSeconds).toBe(step);
    }
    expect(stepSecondsFor("5m")).toBe(10);
    expect(stepSecondsFor("1h")).toBe(30);
    expect(stepSecondsFor("24h")).toBe(720);
  });

  it("counts requests, 4xx and 5xx per bucket, with rates and the points' start times", () => {
    const c = clock();
    const recorder = new AppMetricsRecorder({ now: c.now });
    for (let i = 0; i < 20; i++) {
      recorder.record({ workspaceId: "ws", app: "churn", status: 200, latencyMs: 2 });
    }
    recorder.record({ workspaceId: "ws", app: "churn", status: 400, latencyMs: 1 });
    recorder.record({ workspaceId: "ws", app: "churn", status: 503, latencyMs: 30 });
    c.advance(10_000);
    recorder.record({ workspaceId: "ws", app: "churn", status: 200, latencyMs: 4 });
    c.advance(5_000);
    const { series, totals } = recorder.series("ws", "churn", "5m");
    expect(series).toHaveLength(30);
    const last = series.at(-1);
    const before = series.at(-2);
    expect(last?.t).toBe(new Date(T0 + 10_000).toISOString());
    expect(last?.requests).toBe(1);
    expect(last?.rps).toBeCloseTo(1 / 5, 9); // 5 s of the current bucket have elapsed
    expect(before).toMatchObject({
      requests: 22,
      errors: 2,
      clientErrors: 1,
      serverErrors: 1,
      errorRate: 2 / 22,
      rps: 2.2,
    });
    expect(before?.p50).toBeCloseTo(2, 1);
    expect(before?.p99).toBeCloseTo(30, 0);
    expect(series.at(-3)).toMatchObject({ requests: 0, errorRate: 0, p50: null, p99: null });
    expect(totals).toMatchObject({ requests: 23, errors: 2, clientErrors: 1, serverErrors: 1 });
  });

  it("keeps apps and workspaces apart", () => {
    const recorder = new AppMetricsRecorder({ now: () => T0 });
    recorder.record({ workspaceId: "ws1", app: "a", status: 200, latencyMs: 1 });
    recorder.record({ workspaceId: "ws2", app: "a", status: 200, latencyMs: 1 });
    recorder.record({ workspaceId: "ws2", app: "a", status: 200, latencyMs: 1 });
    recorder.record({ workspaceId: "ws1", app: "b", status: 500, latencyMs: 1 });
    expect(recorder.series("ws1", "a", "5m").totals.requests).toBe(1);
    expect(recorder.series("ws2", "a", "5m").totals.requests).toBe(2);
    expect(recorder.series("ws1", "b", "5m").totals.serverErrors).toBe(1);
    expect(recorder.series("ws1", "nothing", "5m").totals.requests).toBe(0);
    const lifetime = recorder.lifetime();
    expect(lifetime.map((l) => `${l.workspaceId}/${l.app}:${l.requests}`).sort()).toEqual([
      "ws1/a:1",
      "ws1/b:1",
      "ws2/a:2",
    ]);
  });

  it("forgets what is older than the window, and older than 24 hours entirely", () => {
    const c = clock();
    const recorder = new AppMetricsRecorder({ now: c.now });
    recorder.record({ workspaceId: "ws", app: "a", status: 200, latencyMs: 1 });
    c.advance(10 * 60_000);
    recorder.record({ workspaceId: "ws", app: "a", status: 200, latencyMs: 1 });
    expect(recorder.series("ws", "a", "5m").totals.requests).toBe(1);
    expect(recorder.series("ws", "a", "15m").totals.requests).toBe(2);
    // Exactly 24 h after the first request its slot is reused: the old count must not leak in.
    c.set(T0 + 24 * 3600_000);
    recorder.record({ workspaceId: "ws", app: "a", status: 500, latencyMs: 1 });
    const day = recorder.series("ws", "a", "24h").totals;
    expect(day.requests).toBe(2);
    expect(day.serverErrors).toBe(1);
    // Lifetime counters never forget.
    expect(recorder.lifetime()[0]?.requests).toBe(3);
  });

  it("records into the live bucket when the clock steps back", () => {
    const c = clock();
    const recorder = new AppMetricsRecorder({ now: c.now });
    recorder.record({ workspaceId: "ws", app: "a", status: 200, latencyMs: 1 });
    recorder.record({ workspaceId: "ws", app: "a", status: 200, latencyMs: 1, at: T0 - 60_000 });
    expect(recorder.series("ws", "a", "5m").series.at(-1)?.requests).toBe(2);
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
          const { totals, series } = recorder.series("ws", "a", "5m");
          expect(totals.requests).toBe(samples.length);
          expect(series.reduce((sum, p) => sum + p.requests, 0)).toBe(samples.length);
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

  it("answers a busy day's 24 h series quickly", () => {
    const c = clock();
    const recorder = new AppMetricsRecorder({ now: c.now });
    for (let s = 0; s < 24 * 3600; s += 2) {
      c.advance(2000);
      recorder.record({ workspaceId: "ws", app: "a", status: 200, latencyMs: 1 + (s % 50) });
    }
    const started = performance.now();
    const day = recorder.series("ws", "a", "24h");
    expect(performance.now() - started).toBeLessThan(500);
    expect(day.series).toHaveLength(120);
    // The window is the 8,640 buckets ending with the current one: the first 10 s fall out.
    expect(day.totals.requests).toBe(43_200 - 4);
    expect(day.totals.rps).toBeCloseTo(0.5, 2);
  });
});
