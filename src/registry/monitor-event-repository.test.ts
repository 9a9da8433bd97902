/**
 * Monitor events on every dialect: SQLite (a file in a temp dir) and the real PostgreSQL
 * server (a fresh database per run). PostgreSQL being unreachable fails the suite.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestPostgresDatabase } from "../../test/registry-postgres-setup.ts";
import { NotFoundError, ValidationError } from "./errors.ts";
import { isId } from "./ids.ts";
import type { MonitorEventKind, NewMonitorEvent } from "./monitor-event-repository.ts";
import { type OpenRegistryOptions, openRegistry, type Registry } from "./registry.ts";

const DIALECTS = ["sqlite", "postgres"] as const;

const alert = (overrides: Partial<NewMonitorEvent> = {}): NewMonitorEvent => ({
  app: "churn",
  version: 2,
  kind: "alert",
  severity: "critical",
  rule: "slo:latency_p95",
  message: "p95 latency breached",
  details: { burn: { "1h": 20, "5m": 20 }, note: "Zürich ☃" },
  ...overrides,
});

for (const dialect of DIALECTS) {
  describe(dialect, () => {
    let options: OpenRegistryOptions;
    let cleanup: () => Promise<void> = async () => {};
    let registry: Registry;
    let ws: string;
    let other: string;

    beforeAll(async () => {
      if (dialect === "sqlite") {
        const dir = await mkdtemp(join(tmpdir(), "ballast-events-"));
        options = { sqlitePath: join(dir, "registry.db") };
        cleanup = () => rm(dir, { recursive: true, force: true });
      } else {
        const database = await createTestPostgresDatabase();
        options = { url: database.url };
        cleanup = () => database.drop();
      }
      registry = await openRegistry(options);
      ws = (await registry.workspaces.create("events")).id;
      other = (await registry.workspaces.create("events-other")).id;
    });

    afterAll(async () => {
      await registry?.close();
      await cleanup();
    });

    it("records an alert once: the same rule again is not news until it recovers", async () => {
      const first = await registry.monitorEvents.record(ws, alert({ app: "once" }));
      expect(first).toBeDefined();
      expect(isId("evt", first?.id ?? "")).toBe(true);
      expect(first).toMatchObject({
        workspaceId: ws,
        app: "once",
        version: 2,
        kind: "alert",
        severity: "critical",
        rule: "slo:latency_p95",
        details: { burn: { "1h": 20, "5m": 20 }, note: "Zürich ☃" },
        deliveries: [],
        resolvedAt: null,
      });
      expect(await registry.monitorEvents.record(ws, alert({ app: "once" }))).toBeUndefined();
      // A less severe alert of a firing rule is not news either.
      expect(
        await registry.monitorEvents.record(ws, alert({ app: "once", severity: "warning" })),
      ).toBeUndefined();
      // Another rule, app or workspace is its own alert.
      expect(
        await registry.monitorEvents.record(ws, alert({ app: "once", rule: "drift:dataset" })),
      ).toBeDefined();
      expect(await registry.monitorEvents.record(other, alert({ app: "once" }))).toBeDefined();

      const firing = await registry.monitorEvents.firing({ workspaceId: ws, app: "once" });
      expect(firing.map((e) => e.rule)).toEqual(["slo:latency_p95", "drift:dataset"]);

      const recovery = await registry.monitorEvents.record(
        ws,
        alert({ app: "once", kind: "recovery", severity: "info", message: "back to normal" }),
      );
      expect(recovery?.kind).toBe("recovery");
      const closed = await registry.monitorEvents.get(ws, first?.id ?? "");
      expect(closed.resolvedAt).toBe(recovery?.at);
      expect(closed.resolvedBy).toBe(recovery?.id);
      expect(
        (await registry.monitorEvents.firing({ workspaceId: ws, app: "once" })).map((e) => e.rule),
      ).toEqual(["drift:dataset"]);
      // Nothing open: a second recovery is not news, and the rule can fire again.
      expect(
        await registry.monitorEvents.record(
          ws,
          alert({ app: "once", kind: "recovery", severity: "info" }),
        ),
      ).toBeUndefined();
      expect(await registry.monitorEvents.record(ws, alert({ app: "once" }))).toBeDefined();
    });

    it("announces an escalation and closes the warning it replaces", async () => {
      const warning = await registry.monitorEvents.record(
        ws,
        alert({ app: "escalate", severity: "warning" }),
      );
      const critical = await registry.monitorEvents.record(ws, alert({ app: "escalate" }));
      expect(critical?.severity).toBe("critical");
      const replaced = await registry.monitorEvents.get(ws, warning?.id ?? "");
      expect(replaced.resolvedBy).toBe(critical?.id);
      const firing = await registry.monitorEvents.firing({ workspaceId: ws, app: "escalate" });
      expect(firing.map((e) => e.id)).toEqual([critical?.id]);
    });

    it("lets only one of racing evaluators open the same alert", async () => {
      const results = await Promise.all(
        Array.from({ length: 6 }, () => registry.monitorEvents.record(ws, alert({ app: "race" }))),
      );
      expect(results.filter((r) => r !== undefined)).toHaveLength(1);
      expect(await registry.monitorEvents.firing({ workspaceId: ws, app: "race" })).toHaveLength(1);
    });

    it("always records rollbacks and info events", async () => {
      for (let i = 0; i < 2; i++) {
        const rollback = await registry.monitorEvents.record(
          ws,
          alert({ app: "rollbacks", kind: "rollback", rule: "release:rollback" }),
        );
        expect(rollback?.kind).toBe("rollback");
      }
      // They never count as firing.
      expect(await registry.monitorEvents.firing({ workspaceId: ws, app: "rollbacks" })).toEqual(
        [],
      );
    });

    it("lists newest first, filtered, scoped to the workspace, in pages", async () => {
      const kinds: MonitorEventKind[] = ["info", "rollback", "info", "info", "rollback"];
      for (const kind of kinds) {
        await registry.monitorEvents.record(ws, alert({ app: "paged", kind, rule: `r-${kind}` }));
      }
      const all = await registry.monitorEvents.list(ws, { app: "paged" });
      expect(all).toHaveLength(5);
      const keys = all.map((e) => `${e.at}|${e.id}`);
      expect(keys).toEqual([...keys].sort().reverse());
      expect(
        (await registry.monitorEvents.list(ws, { app: "paged", kind: "rollback" })).length,
      ).toBe(2);
      expect((await registry.monitorEvents.list(ws, { rule: "r-info", app: "paged" })).length).toBe(
        3,
      );
      expect(await registry.monitorEvents.list(other, { app: "paged" })).toEqual([]);

      // Pages of two, each continuing after the last event of the previous one.
      const seen: string[] = [];
      let before: { at: string; id: string } | undefined;
      for (;;) {
        const page = await registry.monitorEvents.list(ws, {
          app: "paged",
          limit: 2,
          ...(before ? { before } : {}),
        });
        if (page.length === 0) break;
        seen.push(...page.map((e) => e.id));
        const last = page[page.length - 1];
        if (!last) break;
        before = { at: last.at, id: last.id };
      }
      expect(seen).toEqual(all.map((e) => e.id));

      // By time alone: strictly before the oldest's timestamp leaves nothing older.
      const oldest = all[all.length - 1];
      expect(
        (await registry.monitorEvents.list(ws, { app: "paged", before: { at: oldest?.at ?? "" } }))
          .length,
      ).toBe(0);
    });

    it("keeps the webhook's delivery result on the event", async () => {
      const event = await registry.monitorEvents.record(
        ws,
        alert({ app: "deliveries", deliveries: [{ channel: "log", ok: true }] }),
      );
      await registry.monitorEvents.setDeliveries(event?.id ?? "", [
        { channel: "log", ok: true },
        { channel: "webhook", ok: false, attempts: 4, status: 500, error: "HTTP 500" },
      ]);
      const stored = await registry.monitorEvents.get(ws, event?.id ?? "");
      expect(stored.deliveries).toEqual([
        { channel: "log", ok: true },
        { channel: "webhook", ok: false, attempts: 4, status: 500, error: "HTTP 500" },
      ]);
      await expect(registry.monitorEvents.setDeliveries("evt_missing", [])).rejects.toBeInstanceOf(
        NotFoundError,
      );
    });

    it("refuses malformed events and lookups naming the field", async () => {
      const bad = [
        [alert({ kind: "page" as MonitorEventKind }), "kind"],
        [alert({ severity: "fatal" as NewMonitorEvent["severity"] }), "severity"],
        [alert({ rule: "" }), "rule"],
        [alert({ version: 0 }), "version"],
        [alert({ app: "" }), "app"],
      ] as const;
      for (const [event, field] of bad) {
        const error = await registry.monitorEvents.record(ws, event).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(ValidationError);
        expect((error as ValidationError).field).toBe(field);
      }
      await expect(
        registry.monitorEvents.list(ws, { kind: "nope" as MonitorEventKind }),
      ).rejects.toBeInstanceOf(ValidationError);
      await expect(registry.monitorEvents.list(ws, { limit: 0 })).rejects.toBeInstanceOf(
        ValidationError,
      );
      await expect(registry.monitorEvents.get(other, "evt_nope")).rejects.toBeInstanceOf(
        NotFoundError,
      );
      await expect(
        registry.monitorEvents.record("ws_doesnotexist0000000000", alert()),
      ).rejects.toBeInstanceOf(NotFoundError);
    });
  });
}
