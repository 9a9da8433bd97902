import { afterEach, describe, expect, it } from "vitest";
import { ProcessMetrics } from "./process-metrics.ts";

/** Keep the CPU busy for `ms` on this thread (also blocks the event loop that long). */
function spin(ms: number): void {
  const until = performance.now() + ms;
  let x = 0;
  while (performance.now() < until) x += Math.sqrt(x + 1);
  if (x < 0) throw new Error("unreachable");
}

const running: ProcessMetrics[] = [];
afterEach(() => {
  for (const p of running.splice(0)) p.stop();
});

describe("ProcessMetrics", () => {
  it("samples CPU, memory, event-loop delay and GC pauses of the interval", async () => {
    const p = new ProcessMetrics({ intervalMs: 60_000 });
    running.push(p);
    p.start();
    // Let the loop-delay histogram take a few samples, then block the loop and burn CPU.
    await new Promise((r) => setTimeout(r, 100));
    spin(150);
    await new Promise((r) => setTimeout(r, 50));
    // Enough short-lived garbage to make the young generation collect a few times.
    let junk: { i: number; s: string }[] = [];
    let made = 0;
    for (let i = 0; i < 300_000; i++) {
      junk.push({ i, s: String(i) });
      made++;
      if (junk.length === 10_000) junk = [];
    }
    expect(made + junk.length).toBe(300_000);
    await new Promise((r) => setTimeout(r, 50)); // GC entries reach the observer asynchronously
    const s = p.sample();
    expect(s.cpuPercent).toBeGreaterThan(20);
    expect(s.rssMb).toBeGreaterThan(10);
    expect(s.heapUsedMb).toBeGreaterThan(1);
    expect(s.rssMb).toBeGreaterThan(s.heapUsedMb);
    expect(s.eventLoopP99Ms).toBeGreaterThanOrEqual(100);
    expect(s.gcPauseMs).toBeGreaterThan(0);
    // The next interval starts afresh: no blocking since, so no large delay.
    await new Promise((r) => setTimeout(r, 100));
    const next = p.sample();
    expect(next.eventLoopP99Ms).toBeLessThan(100);
    expect(p.samples()).toEqual([s, next]);
  });

  it("rebins samples into at most 120 points, only intervals that have samples", () => {
    let now = Date.UTC(2025, 0, 1, 12, 0, 0);
    const p = new ProcessMetrics({ intervalMs: 10_000, now: () => now });
    for (let i = 0; i < 400; i++) {
      now += 10_000;
      p.sample();
    }
    const hour = p.series("1h");
    expect(hour.stepSeconds).toBe(30);
    expect(hour.points.length).toBeLessThanOrEqual(120);
    expect(hour.points.length).toBeGreaterThanOrEqual(119);
    const five = p.series("5m");
    expect(five.stepSeconds).toBe(10);
    expect(five.points.length).toBeGreaterThanOrEqual(29);
    expect(five.points.length).toBeLessThanOrEqual(30);
    for (let i = 1; i < hour.points.length; i++) {
      const gap = Date.parse(hour.points[i]?.t ?? "") - Date.parse(hour.points[i - 1]?.t ?? "");
      expect(gap).toBe(30_000);
    }
    // Only the last hour is kept.
    expect(p.samples()).toHaveLength(360);
    const fresh = new ProcessMetrics({ now: () => now });
    expect(fresh.series("15m").points).toEqual([]);
    expect(() => new ProcessMetrics({ intervalMs: 0 })).toThrow(RangeError);
  });
});
