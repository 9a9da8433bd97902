/**
 * The rollup writer and reader against a real registry on both dialects (SQLite file,
 * PostgreSQL): minutes written once closed, rewritten whole, merged across replicas with
 * percentiles exact to HDR precision, windows answered from memory or rollups, retention.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestPostgresDatabase } from "../../test/registry-postgres-setup.ts";
import type { Predictor } from "../models/predictor.ts";
import type { MetricRollup } from "../registry/metric-rollup-repository.ts";
import { openRegistry, type Registry } from "../registry/registry.ts";
import { AppMetricsRecorder } from "./app-metrics.ts";
import {
  compress,
  encodePairs,
  newRecordingHistogram,
  percentileMs,
  toMicros,
} from "./latency-histogram.ts";
import { MetricRollups } from "./metric-rollups.ts";
import { observationsAt, servedVersion, tinyPredictor } from "./test-support/served-version.ts";

const DIALECTS = ["sqlite", "postgres"] as const;
/** A minute boundary. */
const T0 = Date.UTC(2025, 2, 3, 9, 0, 0);
const M0 = T0 / 60_000;

function clock(start: number) {
  let now = start;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

let predictor: Predictor;
beforeAll(async () => {
  predictor = await tinyPredictor();
});

for (const dialect of DIALECTS) {
  describe(`metric rollups on ${dialect}`, () => {
    let registry: Registry;
    let cleanup: () => Promise<void> = async () => {};

    beforeAll(async () => {
      if (dialect === "sqlite") {
        const dir = await mkdtemp(join(tmpdir(), "ballast-metric-rollups-"));
        registry = await openRegistry({ sqlitePath: join(dir, "registry.db") });
        cleanup = () => rm(dir, { recursive: true, force: true });
      } else {
        const database = await createTestPostgresDatabase();
        registry = await openRegistry({ url: database.url });
        cleanup = () => database.drop();
      }
    });

    afterAll(async () => {
      await registry?.close();
      await cleanup();
    });

    /** A replica: its own recorder and writer on the shared registry and clock. */
    function replica(name: string, now: () => number, memoryMinutes = 60) {
      const recorder = new AppMetricsRecorder({ now, memoryMinutes });
      const rollups = new MetricRollups({
        recorder,
        repository: registry.metricRollups,
        replica: name,
        now,
      });
      return { recorder, rollups };
    }

    const rows = (app: string) =>
      registry.metricRollups.range({ workspaceId: "ws", app, fromMinute: 0, toMinute: M0 * 2 });

    it("writes each minute once it has closed, the current one only when asked, then whole", async () => {
      const c = clock(T0 + 10_000);
      const obs = observationsAt(c.now);
      const { recorder, rollups } = replica("r1", c.now);
      const v1 = servedVersion(predictor, 1, "writes");
      for (let i = 0; i < 5; i++) recorder.observe(obs(v1, 200, 3));
      expect(await rollups.flush()).toBe(0); // minute 0 is still in progress
      expect(await rows("writes")).toEqual([]);

      expect(await rollups.flush({ includeCurrent: true })).toBe(1);
      expect((await rows("writes")).map((r) => [r.minute - M0, r.requests])).toEqual([[0, 5]]);
      // Read between two flushes: the partial row is not added to the memory it came from.
      expect((await rollups.series("ws", "writes", "6h")).totals.requests).toBe(5);
      recorder.observe(obs(v1, 504, 900));
      expect((await rollups.series("ws", "writes", "6h")).totals.requests).toBe(6);

      c.advance(60_000); // minute 0 has closed
      recorder.observe(obs(v1, 200, 2));
      expect(await rollups.flush()).toBe(1);
      const written = await rows("writes");
      expect(written).toHaveLength(1);
      expect(written[0]).toMatchObject({
        minute: M0,
        version: 1,
        replica: "r1",
        requests: 6,
        ok: 5,
        timeout: 1,
      });
      expect(written[0]?.latency).not.toBe("");
      expect(written[0]?.modelLatency).toBe("");
      const six = await rollups.series("ws", "writes", "6h");
      expect(six.source).toBe("rollups");
      expect(six.totals.requests).toBe(7);
      expect(six.totals.outcomes.timeout).toBe(1);
      // Nothing new: flushing again writes nothing.
      expect(await rollups.flush()).toBe(0);
    });

    it("merges replicas and minutes: counts add up, percentiles equal one histogram of all", async () => {
      const c = clock(T0 - 3 * 3600_000);
      const obs = observationsAt(c.now);
      const a = replica("replica-a", c.now);
      const b = replica("replica-b", c.now);
      const v1 = servedVersion(predictor, 1, "merged");
      const v2 = servedVersion(predictor, 2, "merged");
      const everything = newRecordingHistogram();
      let requests = 0;
      let errors = 0;
      // Three hours, one request per replica every 20 s, each flushing every minute.
      for (let s = 0; s < 3 * 3600; s += 20) {
        const latency = 1 + ((s * 37) % 500) / 7;
        const version = s < 7200 ? v1 : v2;
        const status = s % 200 === 0 ? 500 : 200;
        a.recorder.observe(obs(version, status, latency, { modelMs: latency / 3 }));
        b.recorder.observe(obs(version, 200, latency * 2, { cacheHit: s % 60 === 0 }));
        everything.recordValue(toMicros(latency));
        everything.recordValue(toMicros(latency * 2));
        requests += 2;
        if (status === 500) errors++;
        c.advance(20_000);
        if (s % 60 === 40) {
          await a.rollups.flush();
          await b.rollups.flush();
        }
      }
      // Replica b's last minutes are not written yet: a sees them only once b flushes.
      const day = await a.rollups.series("ws", "merged", "24h");
      expect(day.source).toBe("rollups");
      expect(day.stepSeconds).toBe(720);
      expect(day.points).toHaveLength(120);
      expect(day.versions).toEqual([2, 1]);
      await b.rollups.flush({ includeCurrent: true });
      const all = await a.rollups.series("ws", "merged", "7d");
      expect(all.totals.requests).toBe(requests);
      expect(all.totals.outcomes.error).toBe(errors);
      expect(all.totals.cacheHits).toBe(180);
      expect(all.points.reduce((sum, p) => sum + p.requests, 0)).toBe(requests);
      for (const p of [50, 95, 99] as const) {
        expect(all.totals[`p${p}`]).toBe(percentileMs(everything, p));
      }
      expect(all.totals.modelP50).not.toBeNull();
      const onlyV2 = await a.rollups.series("ws", "merged", "7d", { version: 2 });
      expect(onlyV2.versions).toEqual([2]);
      expect(onlyV2.totals.requests).toBe(((3 * 3600 - 7200) / 20) * 2);
      // The SLO counts over 2 hours read the same merged rows: the 120 minutes ending with the
      // current one, which has no requests yet (6 per minute in the 119 before it).
      const counts = await a.rollups.windowCounts("ws", "merged", 2 * 3600, { slowerThanMs: 100 });
      expect(counts.requests).toBe(119 * 6);
      expect(counts.slower).toBeGreaterThan(0);
      expect(counts.slower).toBeLessThan(counts.requests);
      expect(counts.p95).not.toBeNull();
    });

    it("reads a month through merged hours exactly as through every minute, as hours settle", async () => {
      // Two other replicas wrote a sparse month (every 7th minute); this one only reads.
      const c = clock(T0 + 30 * 86400_000 + 17 * 60_000);
      const written: MetricRollup[] = [];
      const write = (minute: number, replica: string, n: number) => {
        const h = newRecordingHistogram();
        for (let i = 0; i < n; i++) {
          const latency = 1 + ((minute * 13 + i * 7) % 400) / 3;
          h.recordValue(toMicros(latency));
        }
        written.push({
          workspaceId: "ws",
          app: "month",
          version: minute % 2 === 0 ? 1 : 2,
          minute,
          replica,
          requests: n,
          ok: n - 1,
          clientError: 0,
          shed: 0,
          rateLimited: 1,
          timeout: 0,
          error: 0,
          cacheHits: 0,
          latency: encodePairs(compress(h)),
          modelLatency: "",
        });
      };
      const now = () => Math.floor(c.now() / 60_000);
      const window = 30 * 24 * 60;
      for (let m = now() - window - 100; m <= now() - 2; m += 7) {
        write(m, "replica-x", 3 + (m % 5));
        write(m, "replica-y", 2);
      }
      await registry.metricRollups.upsert(written);
      const expected = (from: number) => {
        const h = newRecordingHistogram();
        let n = 0;
        let limited = 0;
        for (const r of written.filter((w) => w.minute >= from)) {
          for (let i = 0; i < r.requests; i++) {
            const latency = 1 + ((r.minute * 13 + i * 7) % 400) / 3;
            h.recordValue(toMicros(latency));
          }
          n += r.requests;
          limited += r.rateLimited;
        }
        return { h, n, limited };
      };
      const inWindow = expected(now() - window + 1);

      const { rollups } = replica("reader", c.now);
      await rollups.flush(); // nothing to write; from now on its past minutes are final
      for (let pass = 0; pass < 2; pass++) {
        const counts = await rollups.windowCounts("ws", "month", window * 60, { slowerThanMs: 50 });
        expect(counts.requests).toBe(inWindow.n);
        expect(counts.outcomes.rate_limited).toBe(inWindow.limited);
        expect(counts.p95).toBe(percentileMs(inWindow.h, 95));
      }
      const month = await rollups.series("ws", "month", "30d");
      expect(month.stepSeconds).toBe(21_600);
      expect(Date.parse(month.points[0]?.t ?? "") % 21_600_000).toBe(0); // 6 h boundaries
      const first = Date.parse(month.points[0]?.t ?? "") / 60_000;
      const inSeries = expected(first);
      expect(month.totals.requests).toBe(inSeries.n);
      expect(month.totals.p99).toBe(percentileMs(inSeries.h, 99));
      expect(month.versions).toEqual([2, 1]);
      const v2 = await rollups.series("ws", "month", "30d", { version: 2 });
      expect(v2.totals.requests).toBe(
        written
          .filter((w) => w.minute >= first && w.version === 2)
          .reduce((s, w) => s + w.requests, 0),
      );

      // Three hours later, with new minutes written: the window slides over the cache.
      c.advance(3 * 3600_000);
      const later = written.length;
      for (let m = now() - 190; m <= now() - 2; m += 7) write(m, "replica-x", 4);
      await registry.metricRollups.upsert(written.slice(later));
      await rollups.flush();
      const slid = await rollups.windowCounts("ws", "month", window * 60);
      const want = expected(now() - window + 1);
      expect(slid.requests).toBe(want.n);
      expect(slid.p95).toBe(percentileMs(want.h, 95));
    });

    it("answers short windows from this replica's memory", async () => {
      const c = clock(T0 + 3600_000);
      const obs = observationsAt(c.now);
      const { recorder, rollups } = replica("r-mem", c.now);
      const v1 = servedVersion(predictor, 1, "short");
      for (let i = 0; i < 20; i++) recorder.observe(obs(v1, i < 4 ? 429 : 200, i * 10));
      const counts = await rollups.windowCounts("ws", "short", 300, { slowerThanMs: 100 });
      expect(counts.requests).toBe(20);
      expect(counts.outcomes.rate_limited).toBe(4);
      expect(counts.slower).toBe(9); // 110 ms to 190 ms
      const hour = await rollups.series("ws", "short", "1h");
      expect(hour.source).toBe("memory");
      expect(hour.totals.requests).toBe(20);
      // Without a threshold nothing is counted as slow.
      expect((await rollups.windowCounts("ws", "short", 300)).slower).toBe(0);
    });

    it("deletes rows older than the retention, and writes what is left on close", async () => {
      const c = clock(T0 - 10 * 86400_000);
      const obs = observationsAt(c.now);
      const old = replica("r-old", c.now);
      old.recorder.observe(obs(servedVersion(predictor, 1, "retention"), 200, 1));
      await old.rollups.close();
      expect(await rows("retention")).toHaveLength(1);
      await old.rollups.close(); // twice is harmless

      c.advance(10 * 86400_000);
      const recorder = new AppMetricsRecorder({ now: c.now });
      const rollups = new MetricRollups({
        recorder,
        repository: registry.metricRollups,
        replica: "r-new",
        retentionDays: 5,
        now: c.now,
      });
      recorder.observe(obs(servedVersion(predictor, 1, "retention"), 200, 1));
      expect(await rollups.purge()).toBeGreaterThanOrEqual(1);
      expect(await rows("retention")).toEqual([]);
      await rollups.close();
      expect((await rows("retention")).map((r) => r.replica)).toEqual(["r-new"]);
      expect(
        () => new MetricRollups({ recorder, repository: registry.metricRollups, retentionDays: 0 }),
      ).toThrow(RangeError);
    });
  });
}
