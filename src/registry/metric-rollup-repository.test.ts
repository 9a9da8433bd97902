/**
 * Metric rollups on every dialect: SQLite (a file in a temp dir) and the real PostgreSQL server
 * (a fresh database per run). PostgreSQL being unreachable fails the suite.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DIALECTS, openTestRegistry } from "../../test/helpers/test-registry.ts";
import { ValidationError } from "./errors.ts";
import type { MetricRollup } from "./metric-rollup-repository.ts";
import type { Registry } from "./registry.ts";

/** 2025-01-01T12:00Z as an epoch minute. */
const M0 = Date.UTC(2025, 0, 1, 12) / 60_000;

const row = (overrides: Partial<MetricRollup> = {}): MetricRollup => ({
  workspaceId: "ws_1",
  app: "churn",
  version: 1,
  minute: M0,
  replica: "host-a:1:abcd",
  requests: 10,
  ok: 7,
  clientError: 1,
  shed: 0,
  rateLimited: 1,
  timeout: 0,
  error: 1,
  cacheHits: 3,
  latency: "AQIDBA==",
  modelLatency: "",
  ...overrides,
});

for (const dialect of DIALECTS) {
  describe(`metric rollups on ${dialect}`, () => {
    let registry: Registry;
    let cleanup: () => Promise<void> = async () => {};

    beforeAll(async () => {
      ({ registry, cleanup } = await openTestRegistry(dialect, "ballast-rollups"));
    });

    afterAll(async () => {
      await registry?.close();
      await cleanup();
    });

    it("writes rows and reads a range back, oldest first, every field intact", async () => {
      const rows = [
        row({ app: "range", minute: M0 + 2 }),
        row({ app: "range", minute: M0, version: 2, latency: "", modelLatency: "AQID" }),
        row({ app: "range", minute: M0, replica: "host-b:2:ef01", requests: 0, ok: 0 }),
        row({ app: "range", minute: M0 + 5 }),
        row({ app: "other", minute: M0 + 1 }),
        row({ app: "range", workspaceId: "ws_2", minute: M0 + 1 }),
      ];
      await registry.metricRollups.upsert(rows);
      const got = await registry.metricRollups.range({
        workspaceId: "ws_1",
        app: "range",
        fromMinute: M0,
        toMinute: M0 + 4,
      });
      expect(got).toEqual([rows[2], rows[1], rows[0]]);
      // Sorted by minute, then version, then replica.
      expect(got.map((r) => [r.minute - M0, r.version, r.replica])).toEqual([
        [0, 1, "host-b:2:ef01"],
        [0, 2, "host-a:1:abcd"],
        [2, 1, "host-a:1:abcd"],
      ]);
      const v2 = await registry.metricRollups.range({
        workspaceId: "ws_1",
        app: "range",
        fromMinute: M0,
        toMinute: M0 + 10,
        version: 2,
      });
      expect(v2).toEqual([rows[1]]);
    });

    it("replaces a row written again for the same minute, version and replica", async () => {
      await registry.metricRollups.upsert([row({ app: "again", requests: 5, ok: 5 })]);
      await registry.metricRollups.upsert([
        row({ app: "again", requests: 9, ok: 8, error: 1, latency: "AQEB" }),
        row({ app: "again", replica: "host-b:2:ef01", requests: 1, ok: 1 }),
      ]);
      const got = await registry.metricRollups.range({
        workspaceId: "ws_1",
        app: "again",
        fromMinute: M0,
        toMinute: M0,
      });
      expect(got.map((r) => [r.replica, r.requests, r.ok, r.error, r.latency])).toEqual([
        ["host-a:1:abcd", 9, 8, 1, "AQEB"],
        ["host-b:2:ef01", 1, 1, 1, "AQIDBA=="],
      ]);
    });

    it("writes a large batch in several statements", async () => {
      const many = Array.from({ length: 1234 }, (_, i) =>
        row({ app: "many", minute: M0 + i, requests: i, ok: i }),
      );
      await registry.metricRollups.upsert(many);
      const got = await registry.metricRollups.range({
        workspaceId: "ws_1",
        app: "many",
        fromMinute: M0,
        toMinute: M0 + 2000,
      });
      expect(got).toHaveLength(1234);
      expect(got.reduce((s, r) => s + r.requests, 0)).toBe((1233 * 1234) / 2);
    });

    it("refuses bad rows before writing any", async () => {
      const bad = [row({ app: "bad" }), row({ app: "bad", minute: M0 + 1, requests: -1 })];
      await expect(registry.metricRollups.upsert(bad)).rejects.toThrow(ValidationError);
      await expect(
        registry.metricRollups.upsert([row({ app: "bad", ok: 2 ** 31 })]),
      ).rejects.toThrow(/ok/);
      await expect(
        registry.metricRollups.upsert([row({ app: "bad" }), row({ app: "bad" })]),
      ).rejects.toThrow(/Duplicate/);
      const none = await registry.metricRollups.range({
        workspaceId: "ws_1",
        app: "bad",
        fromMinute: 0,
        toMinute: M0 * 2,
      });
      expect(none).toEqual([]);
    });

    it("deletes rows older than the retention, and only those", async () => {
      await registry.metricRollups.upsert([
        row({ app: "old", minute: M0 - 100 }),
        row({ app: "old", minute: M0 - 99, version: 3 }),
        row({ app: "old", minute: M0 }),
      ]);
      const before = await registry.metricRollups.range({
        workspaceId: "ws_1",
        app: "old",
        fromMinute: 0,
        toMinute: M0 * 2,
      });
      expect(before).toHaveLength(3);
      const deleted = await registry.metricRollups.deleteOlderThan(M0 - 99);
      expect(deleted).toBeGreaterThanOrEqual(1);
      const after = await registry.metricRollups.range({
        workspaceId: "ws_1",
        app: "old",
        fromMinute: 0,
        toMinute: M0 * 2,
      });
      expect(after.map((r) => r.minute - M0)).toEqual([-99, 0]);
    });
  });
}
