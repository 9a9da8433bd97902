/**
 * Golden suites on every dialect: SQLite (a file in a temp dir) and the real PostgreSQL server
 * (a fresh database per run). PostgreSQL being unreachable fails the suite.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DIALECTS, openTestRegistry } from "../../test/helpers/test-registry.ts";
import { ConflictError, NotFoundError, ValidationError } from "./errors.ts";
import type { GoldenSource, NewGoldenCase } from "./golden-repository.ts";
import { isId } from "./ids.ts";
import type { Registry } from "./registry.ts";

const golden = (overrides: Partial<NewGoldenCase> = {}): NewGoldenCase => ({
  input: { tenure: 3, plan: "pro", note: "Zürich ☃" },
  expected: { label: "churn", probability: 0.82 },
  match: { label: "exact", probability: { tolerance: 0.05 } },
  source: "studio",
  ...overrides,
});

for (const dialect of DIALECTS) {
  describe(`golden suites on ${dialect}`, () => {
    let registry: Registry;
    let cleanup: () => Promise<void> = async () => {};
    let ws: string;

    beforeAll(async () => {
      ({ registry, cleanup } = await openTestRegistry(dialect, "ballast-golden"));
      ws = (await registry.workspaces.create("golden")).id;
    });

    afterAll(async () => {
      await registry?.close();
      await cleanup();
    });

    const app = async (name: string) => (await registry.apps.create(ws, name)).id;
    const names = async (appId: string) =>
      (await registry.golden.listCases(appId)).map((c) => c.name);

    it("adds cases in order, naming the unnamed after the existing ones", async () => {
      const appId = await app("names");
      const added = await registry.golden.addCases(appId, [
        golden(),
        golden({ name: "refund over 500 €", source: "live", requestId: "req-42" }),
        golden({ source: "cli" }),
      ]);
      expect(added.map((c) => c.name)).toEqual(["case-1", "refund over 500 €", "case-2"]);
      expect(added.every((c) => isId("gc", c.id))).toBe(true);
      expect(added[1]).toMatchObject({
        appId,
        input: { tenure: 3, plan: "pro", note: "Zürich ☃" },
        expected: { label: "churn", probability: 0.82 },
        match: { label: "exact", probability: { tolerance: 0.05 } },
        source: "live",
        requestId: "req-42",
      });
      expect(added[0]?.requestId).toBeNull();
      expect(await registry.golden.listCases(appId)).toEqual(added);

      // Three cases exist: the next unnamed one is the fourth, skipping a name given alongside.
      const more = await registry.golden.addCases(appId, [
        golden(),
        golden({ name: "case-5" }),
        golden(),
      ]);
      expect(more.map((c) => c.name)).toEqual(["case-4", "case-5", "case-6"]);
      expect(await names(appId)).toEqual([
        "case-1",
        "refund over 500 €",
        "case-2",
        "case-4",
        "case-5",
        "case-6",
      ]);
      expect(await registry.golden.addCases(appId, [])).toEqual([]);
    });

    it("stores all of a batch or none of it", async () => {
      const appId = await app("atomic");
      await registry.golden.addCases(appId, [golden({ name: "kept" })]);
      const bad = [
        [[golden(), golden(), golden({ name: " padded" })], "cases/2/name"],
        [[golden({ name: "" })], "cases/0/name"],
        [[golden({ name: "x".repeat(101) })], "cases/0/name"],
        [[golden({ name: "tab\there" })], "cases/0/name"],
        [[golden({ name: "twice" }), golden({ name: "twice" })], "cases/1/name"],
        [[golden(), golden({ input: [1, 2] })], "cases/1/input"],
        [[golden({ source: "email" as GoldenSource })], "cases/0/source"],
      ] as const;
      for (const [cases, field] of bad) {
        const error = await registry.golden.addCases(appId, cases).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(ValidationError);
        expect((error as ValidationError).field).toBe(field);
      }
      // A taken name fails the batch after the database was consulted: still nothing stored.
      const taken = await registry.golden
        .addCases(appId, [golden(), golden({ name: "new" }), golden({ name: "kept" })])
        .catch((e: unknown) => e);
      expect(taken).toBeInstanceOf(ConflictError);
      expect((taken as ConflictError).key).toBe("kept");
      expect(await names(appId)).toEqual(["kept"]);
      // Inside a transaction that fails later, the cases go with it.
      await expect(
        registry.transaction(async (tx) => {
          await tx.golden.addCases(appId, [golden({ name: "undone" })]);
          throw new Error("undo");
        }),
      ).rejects.toThrow("undo");
      expect(await names(appId)).toEqual(["kept"]);
      await expect(registry.golden.addCases("app_missing", [golden()])).rejects.toBeInstanceOf(
        NotFoundError,
      );
    });

    it("gives concurrent batches distinct default names", async () => {
      const appId = await app("concurrent");
      await Promise.all(
        Array.from({ length: 4 }, () => registry.golden.addCases(appId, [golden(), golden()])),
      );
      const listed = await names(appId);
      expect([...listed].sort()).toEqual(
        Array.from({ length: 8 }, (_, i) => `case-${i + 1}`).sort(),
      );
    });

    it("deletes a case of its own app only", async () => {
      const appId = await app("delete");
      const otherId = await app("delete-other");
      const [first, second] = await registry.golden.addCases(appId, [golden(), golden()]);
      if (!first || !second) throw new Error("expected two cases");
      await expect(registry.golden.deleteCase(otherId, first.id)).rejects.toBeInstanceOf(
        NotFoundError,
      );
      expect(await registry.golden.deleteCase(appId, first.id)).toEqual(first);
      expect(await registry.golden.listCases(appId)).toEqual([second]);
      await expect(registry.golden.deleteCase(appId, first.id)).rejects.toBeInstanceOf(
        NotFoundError,
      );
      // The next default name still counts past what remains.
      const [next] = await registry.golden.addCases(appId, [golden()]);
      expect(next?.name).toBe("case-3");
    });

    it("records runs per version and answers the latest", async () => {
      const appId = await app("runs");
      const v1 = await registry.apps.createVersion(appId, { spec: {} });
      const v2 = await registry.apps.createVersion(appId, { spec: {} });
      const otherApp = await app("runs-other");
      expect(await registry.golden.latestRun(appId, v1.id)).toBeUndefined();
      const run = (appVersionId: string, passed: number, failed: number) =>
        registry.golden.recordRun({
          appId,
          appVersionId,
          passed,
          failed,
          total: passed + failed,
          results: { cases: [{ name: "case-1", ok: failed === 0 }] },
        });
      const first = await run(v1.id, 3, 1);
      expect(isId("gr", first.id)).toBe(true);
      expect(first).toMatchObject({ appVersion: 1, passed: 3, failed: 1, total: 4, ok: false });
      const second = await run(v1.id, 4, 0);
      expect(second.ok).toBe(true);
      expect(second.createdAt > first.createdAt).toBe(true);
      expect(await registry.golden.latestRun(appId, v1.id)).toEqual(second);
      // An empty suite proves nothing.
      expect((await run(v2.id, 0, 0)).ok).toBe(false);
      expect((await registry.golden.latestRun(appId, v2.id))?.appVersion).toBe(2);
      expect(await registry.golden.latestRun(otherApp, v1.id)).toBeUndefined();

      await expect(
        registry.golden.recordRun({
          appId: otherApp,
          appVersionId: v1.id,
          passed: 1,
          failed: 0,
          total: 1,
          results: {},
        }),
      ).rejects.toBeInstanceOf(NotFoundError);
      for (const [counts, field] of [
        [{ passed: 1, failed: 1, total: 3 }, "total"],
        [{ passed: -1, failed: 1, total: 0 }, "passed"],
        [{ passed: 1, failed: 0.5, total: 1.5 }, "failed"],
      ] as const) {
        const error = await registry.golden
          .recordRun({ appId, appVersionId: v1.id, results: {}, ...counts })
          .catch((e: unknown) => e);
        expect(error).toBeInstanceOf(ValidationError);
        expect((error as ValidationError).field).toBe(field);
      }
    });

    it("goes with its app", async () => {
      const appId = await app("cascade");
      const version = await registry.apps.createVersion(appId, { spec: {} });
      await registry.golden.addCases(appId, [golden(), golden()]);
      await registry.golden.recordRun({
        appId,
        appVersionId: version.id,
        passed: 2,
        failed: 0,
        total: 2,
        results: {},
      });
      await registry.apps.delete(ws, appId);
      for (const table of ["golden_cases", "golden_runs"] as const) {
        const left = await registry.db
          .selectFrom(table)
          .select("id")
          .where("app_id", "=", appId)
          .execute();
        expect(left).toEqual([]);
      }
    });
  });
}
