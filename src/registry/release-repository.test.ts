/**
 * Releases on every dialect: SQLite (a file in a temp dir) and the real PostgreSQL server (a
 * fresh database per run). PostgreSQL being unreachable fails the suite.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DIALECTS, openTestRegistry } from "../../test/helpers/test-registry.ts";
import { ConflictError, NotFoundError, ValidationError } from "./errors.ts";
import { isId } from "./ids.ts";
import type { Registry } from "./registry.ts";
import type { NewRelease, ReleaseStrategy } from "./release-repository.ts";

for (const dialect of DIALECTS) {
  describe(`releases on ${dialect}`, () => {
    let registry: Registry;
    let cleanup: () => Promise<void> = async () => {};
    let ws: string;
    let other: string;

    beforeAll(async () => {
      ({ registry, cleanup } = await openTestRegistry(dialect, "ballast-releases"));
      ws = (await registry.workspaces.create("releases")).id;
      other = (await registry.workspaces.create("releases-other")).id;
    });

    afterAll(async () => {
      await registry?.close();
      await cleanup();
    });

    /** An app with versions v1 (stable) and v2 (candidate). */
    async function app(name: string, workspaceId = ws) {
      const created = await registry.apps.create(workspaceId, name);
      const v1 = await registry.apps.createVersion(created.id, { spec: { v: 1 } });
      const v2 = await registry.apps.createVersion(created.id, { spec: { v: 2 } });
      return { id: created.id, v1: v1.id, v2: v2.id };
    }

    const release = (
      a: { id: string; v1: string; v2: string },
      overrides: Partial<NewRelease> = {},
    ): NewRelease => ({
      appId: a.id,
      strategy: "canary",
      candidateVersionId: a.v2,
      stableVersionId: a.v1,
      plan: { steps: [5, 25, 50, 100], gates: { maxErrorRate: 0.01 } },
      percent: 5,
      event: { type: "started", message: "canary v2 started", percent: 5 },
      ...overrides,
    });

    it("starts a release and reads it back whole", async () => {
      const a = await app("start");
      const started = await registry.releases.start(release(a, { percent: 12.5 }));
      expect(isId("rel", started.id)).toBe(true);
      expect(started).toMatchObject({
        appId: a.id,
        appName: "start",
        workspaceId: ws,
        strategy: "canary",
        state: "running",
        candidateVersionId: a.v2,
        candidateVersion: 2,
        stableVersionId: a.v1,
        stableVersion: 1,
        plan: { steps: [5, 25, 50, 100], gates: { maxErrorRate: 0.01 } },
        stepIndex: 0,
        percent: 12.5,
        reason: null,
        endedAt: null,
      });
      expect(started.events).toEqual([
        { at: started.createdAt, type: "started", message: "canary v2 started", percent: 5 },
      ]);
      expect(started.stepStartedAt).toBe(started.createdAt);
      expect(await registry.releases.get(started.id)).toEqual(started);
      expect(await registry.releases.active(a.id)).toEqual(started);
      // A first release has no stable version.
      const b = await app("first");
      const first = await registry.releases.start(release(b, { stableVersionId: null }));
      expect([first.stableVersionId, first.stableVersion]).toEqual([null, null]);
    });

    it("allows one active release per app, racing or not", async () => {
      const a = await app("one-active");
      const first = await registry.releases.start(release(a));
      const error = await registry.releases.start(release(a)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConflictError);
      expect((error as ConflictError).key).toBe("one-active");
      // A paused release is still active.
      const paused = await registry.releases.advance(first.id, first.revision, {
        state: "paused",
        reason: "waiting for approval",
        event: { type: "paused", message: "manual gate" },
      });
      expect(paused?.state).toBe("paused");
      await expect(registry.releases.start(release(a))).rejects.toBeInstanceOf(ConflictError);
      await registry.releases.advance(first.id, paused?.revision ?? 0, {
        state: "rolled_back",
        percent: 0,
        event: { type: "rolled_back", message: "gate failed" },
      });
      expect(await registry.releases.active(a.id)).toBeUndefined();
      const second = await registry.releases.start(release(a));
      expect(second.createdAt > first.createdAt).toBe(true);

      const b = await app("race");
      const results = await Promise.allSettled(
        Array.from({ length: 5 }, () => registry.releases.start(release(b))),
      );
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
      for (const r of results) {
        if (r.status === "rejected") expect(r.reason).toBeInstanceOf(ConflictError);
      }
    });

    it("advances by compare-and-set: a stale revision changes nothing", async () => {
      const a = await app("cas");
      const started = await registry.releases.start(release(a));
      const step = { stepIndex: 1, percent: 25, event: { type: "step", message: "to 25%" } };
      const moved = await registry.releases.advance(started.id, started.revision, step);
      expect(moved?.revision).toBe(started.revision + 1);
      const before = await registry.releases.get(started.id);
      expect(await registry.releases.advance(started.id, started.revision, step)).toBeUndefined();
      expect(await registry.releases.get(started.id)).toEqual(before);

      // Two replicas judging the same step: exactly one wins.
      const racers = await Promise.all(
        Array.from({ length: 4 }, (_, i) =>
          registry.releases.advance(started.id, before.revision, {
            percent: 50 + i,
            event: { type: "step", message: `racer ${i}` },
          }),
        ),
      );
      const winners = racers.filter((r) => r !== undefined);
      expect(winners).toHaveLength(1);
      const after = await registry.releases.get(started.id);
      expect(after.revision).toBe(before.revision + 1);
      expect(after.events).toHaveLength(3);
      expect(after.percent).toBe(winners[0]?.percent);
    });

    it("appends events in order with strictly increasing times", async () => {
      const a = await app("events");
      let current = await registry.releases.start(release(a));
      const types = ["gate_passed", "step", "gate_passed", "step", "paused", "approved"];
      for (const [i, type] of types.entries()) {
        const next = await registry.releases.advance(current.id, current.revision, {
          ...(type === "step" && { stepIndex: i, percent: 10 * i, stepStarted: true }),
          ...(type === "paused" && { state: "paused", reason: "manual" }),
          ...(type === "approved" && { state: "running", reason: null }),
          event: { type, message: `#${i}`, details: { i, nested: { ok: true } } },
        });
        if (!next) throw new Error("lost a race nobody ran");
        current = next;
      }
      expect(current.events.map((e) => e.type)).toEqual(["started", ...types]);
      const times = current.events.map((e) => Date.parse(e.at));
      for (let i = 1; i < times.length; i++) {
        expect(times[i] ?? 0).toBeGreaterThan(times[i - 1] ?? Number.POSITIVE_INFINITY);
      }
      const last = current.events[current.events.length - 1];
      expect(current.updatedAt).toBe(last?.at);
      // The last step (index 3) started at its event's time.
      expect(current.stepIndex).toBe(3);
      expect(current.percent).toBe(30);
      expect(current.stepStartedAt).toBe(current.events[4]?.at);
      expect(current.events[1]?.details).toEqual({ i: 0, nested: { ok: true } });
      expect(current.state).toBe("running");
      expect(current.reason).toBeNull();
      expect(current.revision).toBe(1 + types.length);
    });

    it("ends on a terminal state and refuses every patch after", async () => {
      const a = await app("terminal");
      const started = await registry.releases.start(release(a));
      const done = await registry.releases.advance(started.id, started.revision, {
        state: "succeeded",
        percent: 100,
        event: { type: "promoted", message: "v2 is production" },
      });
      expect(done?.state).toBe("succeeded");
      expect(done?.endedAt).toBe(done?.events[1]?.at);
      const error = await registry.releases
        .advance(started.id, done?.revision ?? 0, {
          state: "running",
          event: { type: "step", message: "again" },
        })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).field).toBe("state");
      expect(await registry.releases.get(started.id)).toEqual(done);
      // Recording a release that is over as it starts (a direct promotion) blocks nothing.
      const direct = await registry.releases.start(
        release(a, { strategy: "direct", state: "succeeded", percent: 100 }),
      );
      expect(direct.endedAt).toBe(direct.createdAt);
      expect(await registry.releases.active(a.id)).toBeUndefined();
    });

    it("lists an app's history newest first and every active release", async () => {
      const a = await app("history");
      const ids: string[] = [];
      for (const strategy of ["direct", "canary", "shadow", "ab"] as ReleaseStrategy[]) {
        const r = await registry.releases.start(release(a, { strategy }));
        ids.push(r.id);
        await registry.releases.advance(r.id, r.revision, {
          state: "aborted",
          event: { type: "aborted", message: "by hand" },
        });
      }
      const listed = await registry.releases.list(a.id);
      expect(listed.map((r) => r.id)).toEqual([...ids].reverse());
      expect((await registry.releases.list(a.id, { limit: 2 })).map((r) => r.id)).toEqual(
        [...ids].reverse().slice(0, 2),
      );

      const x = await app("active-x");
      const y = await app("active-y", other);
      const rx = await registry.releases.start(release(x, { state: "paused" }));
      const ry = await registry.releases.start(release(y, { strategy: "shadow" }));
      const all = await registry.releases.listActive();
      expect(all.map((r) => r.id)).toEqual(expect.arrayContaining([rx.id, ry.id]));
      expect(all.filter((r) => r.state !== "running" && r.state !== "paused")).toEqual([]);
      expect((await registry.releases.listActive({ workspaceId: other })).map((r) => r.id)).toEqual(
        [ry.id],
      );
    });

    it("refuses versions of another app, unknown ids and malformed input", async () => {
      const a = await app("checks");
      const b = await app("checks-b");
      await expect(
        registry.releases.start(release(a, { candidateVersionId: b.v2 })),
      ).rejects.toBeInstanceOf(NotFoundError);
      await expect(
        registry.releases.start(release(a, { stableVersionId: b.v1 })),
      ).rejects.toBeInstanceOf(NotFoundError);
      await expect(
        registry.releases.start(release({ ...a, id: "app_missing" })),
      ).rejects.toBeInstanceOf(NotFoundError);
      await expect(registry.releases.get("rel_missing")).rejects.toBeInstanceOf(NotFoundError);
      await expect(
        registry.releases.advance("rel_missing", 1, { event: { type: "step", message: "" } }),
      ).rejects.toBeInstanceOf(NotFoundError);
      const bad = [
        [{ strategy: "blue-green" as ReleaseStrategy }, "strategy"],
        [{ percent: 100.5 }, "percent"],
        [{ percent: Number.NaN }, "percent"],
        [{ event: { type: "Started!", message: "" } }, "event.type"],
        [{ stableVersionId: a.v2 }, "candidateVersionId"],
      ] as const;
      for (const [overrides, field] of bad) {
        const error = await registry.releases.start(release(a, overrides)).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(ValidationError);
        expect((error as ValidationError).field).toBe(field);
      }
      expect(await registry.releases.list(a.id)).toEqual([]);
    });

    it("works inside a transaction and goes with its app", async () => {
      const a = await app("cascade");
      const started = await registry.transaction((tx) => tx.releases.start(release(a)));
      await expect(
        registry.transaction(async (tx) => {
          await tx.releases.advance(started.id, started.revision, {
            state: "aborted",
            event: { type: "aborted", message: "rolled back with the transaction" },
          });
          throw new Error("undo");
        }),
      ).rejects.toThrow("undo");
      expect((await registry.releases.get(started.id)).state).toBe("running");
      await registry.apps.delete(ws, a.id);
      await expect(registry.releases.get(started.id)).rejects.toBeInstanceOf(NotFoundError);
      const left = await registry.db
        .selectFrom("releases")
        .select("id")
        .where("app_id", "=", a.id)
        .execute();
      expect(left).toEqual([]);
    });
  });
}
