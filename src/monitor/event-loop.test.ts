import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { startEventLoopMonitor } from "./event-loop.ts";

/** Hold the event loop for `ms` milliseconds, as a CPU-heavy synchronous task would. */
function block(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // busy
  }
}

// Stalls of 300 ms against bounds of 250 ms: far from what a loaded machine adds on its own,
// and a probe that missed the stall would read a few ms.
describe("startEventLoopMonitor", () => {
  it("sees a stall of the loop, in the window it happened in only", async () => {
    const monitor = startEventLoopMonitor({ resolutionMs: 5 });
    try {
      await sleep(20);
      block(300);
      await sleep(20);
      const stalled = monitor.stats();
      expect(stalled.maxMs).toBeGreaterThanOrEqual(250);
      expect(stalled.p99Ms).toBeGreaterThanOrEqual(250);
      expect(stalled.p50Ms).toBeLessThanOrEqual(stalled.p99Ms);
      expect(stalled.utilization).toBeGreaterThan(0.5);
      expect(stalled.utilization).toBeLessThanOrEqual(1);

      await sleep(60);
      const after = monitor.stats();
      expect(after.maxMs).toBeLessThan(250);
      expect(after.utilization).toBeLessThan(stalled.utilization);
    } finally {
      monitor.stop();
    }
  });

  it("counts a stall that starts right after a read (no sample is lost to the reset)", async () => {
    const monitor = startEventLoopMonitor({ resolutionMs: 5 });
    try {
      await sleep(20);
      monitor.stats();
      block(300);
      await sleep(20);
      expect(monitor.stats().maxMs).toBeGreaterThanOrEqual(250);
    } finally {
      monitor.stop();
    }
  });

  it("counts a stall still in progress when it is read, once", async () => {
    const monitor = startEventLoopMonitor({ resolutionMs: 5 });
    try {
      await sleep(20);
      monitor.stats();
      block(300);
      expect(monitor.stats().maxMs).toBeGreaterThanOrEqual(250);
      await sleep(20);
      expect(monitor.stats().maxMs).toBeLessThan(250);
    } finally {
      monitor.stop();
    }
  });

  it("reads no delay once stopped, and refuses a resolution below 1 ms", async () => {
    const monitor = startEventLoopMonitor();
    await sleep(30);
    monitor.stop();
    block(50);
    await sleep(20);
    const stats = monitor.stats();
    expect(stats).toMatchObject({ p50Ms: 0, p99Ms: 0, maxMs: 0 });
    expect(stats.utilization).toBeGreaterThanOrEqual(0);
    expect(() => startEventLoopMonitor({ resolutionMs: 0 })).toThrow(RangeError);
    expect(() => startEventLoopMonitor({ resolutionMs: 2.5 })).toThrow(RangeError);
  });
});
