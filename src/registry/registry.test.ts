/**
 * One suite, every dialect: each repository test runs on SQLite (a file in a temp dir) and
 * on the real PostgreSQL server (a fresh database per run), as Kysely tests its dialects.
 * PostgreSQL being unreachable fails the suite; it is never skipped.
 */
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestPostgresDatabase } from "../../test/registry-postgres-setup.ts";
import type { Profile, Schema } from "../data/frame.ts";
import { ConflictError, NotFoundError, RegistryError, ValidationError } from "./errors.ts";
import { isId, newId } from "./ids.ts";
import { MIGRATIONS } from "./migrations/index.ts";
import {
  migrateToLatest,
  type OpenRegistryOptions,
  openRegistry,
  type Registry,
} from "./registry.ts";

const DIALECTS = ["sqlite", "postgres"] as const;

function sha(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

function suffix(): string {
  return randomBytes(4).toString("hex");
}

const SCHEMA: Schema = {
  columns: [
    { name: "tenure", type: "number", nullable: false, sourceType: "BIGINT" },
    { name: "churn", type: "boolean", nullable: false, labels: ["No", "Yes"] },
    { name: "city ☃", type: "category", nullable: true },
  ],
};

const PROFILE: Profile = {
  rowCount: 7043,
  columns: [
    {
      name: "tenure",
      type: "number",
      count: 7043,
      missing: 0,
      missingPct: 0,
      distinct: 73,
      min: 0,
      max: 72,
      mean: 32.371,
      std: 24.559,
      histogram: { edges: [0, 36, 72], counts: [4000, 3043] },
    },
    {
      name: "city ☃",
      type: "category",
      count: 7043,
      missing: 11,
      missingPct: 0.156,
      distinct: 3,
      top: [
        { value: 'Zürich "HQ"', count: 5000 },
        { value: "東京", count: 2032 },
      ],
    },
  ],
};

function newDataset(name: string, blob = sha(name)) {
  return {
    name,
    format: "csv",
    fileName: `${name}.csv`,
    blobSha256: blob,
    sizeBytes: 5_000_000_123, // wider than 32 bits on purpose
    rowCount: 7043,
    schema: SCHEMA,
    profile: PROFILE,
  };
}

function modelFields(overrides: { datasetId?: string | null; artifact?: string } = {}) {
  return {
    artifactSha256: overrides.artifact ?? sha(`artifact-${suffix()}`),
    task: "binary" as const,
    target: "churn",
    learner: "gbdt",
    metrics: { auc: 0.912, logloss: 0.301, folds: [0.9, 0.91, 0.93], note: null },
    datasetId: overrides.datasetId ?? null,
  };
}

for (const dialect of DIALECTS) {
  describe(dialect, () => {
    let options: OpenRegistryOptions;
    let cleanup: () => Promise<void> = async () => {};
    let registry: Registry;

    beforeAll(async () => {
      if (dialect === "sqlite") {
        const dir = await mkdtemp(join(tmpdir(), "ballast-registry-"));
        options = { sqlitePath: join(dir, "data", "registry.db") };
        cleanup = () => rm(dir, { recursive: true, force: true });
      } else {
        const database = await createTestPostgresDatabase();
        options = { url: database.url };
        cleanup = () => database.drop();
      }
      registry = await openRegistry(options);
    });

    afterAll(async () => {
      await registry?.close();
      await cleanup();
    });

    async function workspace() {
      return registry.workspaces.create(`ws-${suffix()}`);
    }

    describe("migrations", () => {
      it("uses the expected dialect", () => {
        expect(registry.dialect).toBe(dialect);
      });

      it("is idempotent: a second open sees the same data and applies nothing", async () => {
        const ws = await workspace();
        const again = await openRegistry(options);
        try {
          expect((await again.workspaces.get(ws.id)).name).toBe(ws.name);
          expect(await migrateToLatest(again.db)).toEqual([]);
          const applied = await sql<{ name: string }>`select name from kysely_migration`.execute(
            again.db,
          );
          expect(applied.rows.map((r) => r.name)).toEqual(Object.keys(MIGRATIONS).sort());
        } finally {
          await again.close();
        }
      });

      if (dialect === "sqlite") {
        it("enables WAL and foreign keys on SQLite", async () => {
          const mode = await sql<{ journal_mode: string }>`pragma journal_mode`.execute(
            registry.db,
          );
          expect(mode.rows[0]?.journal_mode).toBe("wal");
          const fk = await sql<{ foreign_keys: number }>`pragma foreign_keys`.execute(registry.db);
          expect(fk.rows[0]?.foreign_keys).toBe(1);
        });

        it("numbers versions correctly when several processes share the file", async () => {
          const ws = await workspace();
          const sqlitePath = options.sqlitePath ?? "";
          const child = (): Promise<number[]> =>
            new Promise((resolve, reject) => {
              const script = `
                import { openRegistry } from ${JSON.stringify(new URL("./registry.ts", import.meta.url).href)};
                const registry = await openRegistry({ sqlitePath: process.env.REGISTRY_PATH });
                const versions = await Promise.all(Array.from({ length: 8 }, (_, i) =>
                  registry.models.createModelVersion(process.env.WORKSPACE_ID, "shared", {
                    artifactSha256: "${"a".repeat(64)}", task: "binary", target: "t",
                    learner: "gbdt", metrics: { i } })));
                await registry.close();
                process.stdout.write(JSON.stringify(versions.map((v) => v.version)));`;
              execFile(
                process.execPath,
                ["--import", "tsx", "--input-type=module", "--eval", script],
                { env: { ...process.env, REGISTRY_PATH: sqlitePath, WORKSPACE_ID: ws.id } },
                (error, stdout, stderr) => {
                  if (error) reject(new Error(`child failed: ${stderr}`, { cause: error }));
                  else resolve(JSON.parse(stdout) as number[]);
                },
              );
            });
          const local = Promise.all(
            Array.from({ length: 8 }, () =>
              registry.models.createModelVersion(ws.id, "shared", modelFields()),
            ),
          ).then((versions) => versions.map((v) => v.version));
          const all = (await Promise.all([child(), child(), local])).flat();
          expect(all.sort((a, b) => a - b)).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
        }, 30_000);
      }

      if (dialect === "postgres") {
        it("migrates once when several replicas start together on an empty database", async () => {
          const fresh = await createTestPostgresDatabase();
          const opened: Registry[] = [];
          try {
            const results = await Promise.allSettled(
              Array.from({ length: 4 }, () => openRegistry({ url: fresh.url, poolSize: 2 })),
            );
            for (const r of results) if (r.status === "fulfilled") opened.push(r.value);
            expect(results.map((r) => r.status)).toEqual(Array(4).fill("fulfilled"));
            const [first] = opened;
            if (!first) throw new Error("no registry opened");
            const applied = await sql<{ name: string }>`select name from kysely_migration`.execute(
              first.db,
            );
            expect(applied.rows.map((r) => r.name)).toEqual(Object.keys(MIGRATIONS).sort());
          } finally {
            await Promise.all(opened.map((r) => r.close()));
            await fresh.drop();
          }
        });
      }

      it("rejects unusable options", async () => {
        await expect(openRegistry({})).rejects.toBeInstanceOf(ValidationError);
        await expect(openRegistry({ url: "mysql://x" })).rejects.toBeInstanceOf(ValidationError);
      });
    });

    describe("workspaces", () => {
      it("creates, finds and lists workspaces", async () => {
        const ws = await workspace();
        expect(isId("ws", ws.id)).toBe(true);
        expect(ws.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        expect(await registry.workspaces.get(ws.id)).toEqual(ws);
        expect(await registry.workspaces.getByName(ws.name)).toEqual(ws);
        expect(await registry.workspaces.findByName("no-such-ws")).toBeUndefined();
        expect((await registry.workspaces.list()).map((w) => w.id)).toContain(ws.id);
        await expect(registry.workspaces.get(newId("ws"))).rejects.toBeInstanceOf(NotFoundError);
      });

      it("raises ConflictError, not a driver error, for a taken name", async () => {
        const ws = await workspace();
        const error = await registry.workspaces.create(ws.name).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(ConflictError);
        expect(error).toMatchObject({ entity: "workspace", key: ws.name, code: "CONFLICT" });
      });

      it("validates names", async () => {
        for (const bad of ["", "Default", "-x", "x-", "a_b", "a".repeat(64), newId("ws")]) {
          await expect(registry.workspaces.create(bad)).rejects.toBeInstanceOf(ValidationError);
        }
      });

      it("ensureDefaultWorkspace creates once, even when raced", async () => {
        const all = await Promise.all(
          Array.from({ length: 5 }, () => registry.ensureDefaultWorkspace()),
        );
        expect(new Set(all.map((w) => w.id)).size).toBe(1);
        expect(all[0]?.name).toBe("default");
        expect((await registry.ensureDefaultWorkspace()).id).toBe(all[0]?.id);
      });
    });

    describe("api keys", () => {
      it("creates a key shown once and verifies it", async () => {
        const ws = await workspace();
        const { key, record } = await registry.apiKeys.createKey(ws.id, {
          name: "CI deploys",
          role: "builder",
        });
        expect(key).toMatch(/^blst_[A-Za-z0-9_-]{43}$/);
        expect(isId("key", record.id)).toBe(true);
        expect(record).toMatchObject({
          workspaceId: ws.id,
          name: "CI deploys",
          role: "builder",
          prefix: key.slice(0, 13),
          lastUsedAt: null,
          revokedAt: null,
        });
        expect(Object.keys(record)).not.toContain("hash");
        expect(await registry.apiKeys.verifyKey(key)).toEqual({
          keyId: record.id,
          workspaceId: ws.id,
          role: "builder",
        });
        // Only the hash is stored.
        const stored = await registry.db
          .selectFrom("api_keys")
          .selectAll()
          .where("id", "=", record.id)
          .executeTakeFirstOrThrow();
        expect(stored.hash).toBe(sha(key));
        expect(JSON.stringify(stored)).not.toContain(key.slice(5));
      });

      it("rejects wrong, altered and malformed keys", async () => {
        const ws = await workspace();
        const { key } = await registry.apiKeys.createKey(ws.id, { name: "k", role: "viewer" });
        const altered = key.slice(0, -1) + (key.endsWith("A") ? "B" : "A");
        const random = `blst_${randomBytes(32).toString("base64url")}`;
        for (const wrong of [
          altered,
          random,
          "",
          "blst_",
          key.slice(5),
          `${key} `,
          `Bearer ${key}`,
        ]) {
          expect(await registry.apiKeys.verifyKey(wrong)).toBeUndefined();
        }
      });

      it("lists, touches and revokes keys", async () => {
        const ws = await workspace();
        const a = await registry.apiKeys.createKey(ws.id, { name: "a", role: "admin" });
        const b = await registry.apiKeys.createKey(ws.id, { name: "b", role: "invoker" });
        const listed = await registry.apiKeys.listKeys(ws.id);
        expect(listed.map((k) => k.id).sort()).toEqual([a.record.id, b.record.id].sort());

        const at = new Date("2030-01-02T03:04:05.678Z");
        await registry.apiKeys.touchKey(a.record.id, at);
        expect((await registry.apiKeys.getKey(ws.id, a.record.id)).lastUsedAt).toBe(
          at.toISOString(),
        );

        const revoked = await registry.apiKeys.revokeKey(ws.id, a.record.id);
        expect(revoked.revokedAt).not.toBeNull();
        expect(await registry.apiKeys.verifyKey(a.key)).toBeUndefined();
        expect(await registry.apiKeys.verifyKey(b.key)).toBeDefined();
        const again = await registry.apiKeys.revokeKey(ws.id, a.record.id);
        expect(again.revokedAt).toBe(revoked.revokedAt);
        expect(
          (await registry.apiKeys.listKeys(ws.id, { includeRevoked: false })).map((k) => k.id),
        ).toEqual([b.record.id]);
      });

      it("scopes keys to their workspace and validates input", async () => {
        const ws = await workspace();
        const other = await workspace();
        const { record } = await registry.apiKeys.createKey(ws.id, { name: "k", role: "admin" });
        await expect(registry.apiKeys.revokeKey(other.id, record.id)).rejects.toBeInstanceOf(
          NotFoundError,
        );
        await expect(
          registry.apiKeys.createKey(newId("ws"), { name: "k", role: "admin" }),
        ).rejects.toBeInstanceOf(NotFoundError);
        await expect(
          // @ts-expect-error: an unknown role must be refused at run time too
          registry.apiKeys.createKey(ws.id, { name: "k", role: "root" }),
        ).rejects.toBeInstanceOf(ValidationError);
        await expect(
          registry.apiKeys.createKey(ws.id, { name: "  ", role: "admin" }),
        ).rejects.toBeInstanceOf(ValidationError);
      });
    });

    describe("datasets", () => {
      it("round-trips metadata, schema and profile JSON", async () => {
        const ws = await workspace();
        const created = await registry.datasets.create(ws.id, newDataset("churn"));
        expect(isId("ds", created.id)).toBe(true);
        const loaded = await registry.datasets.get(ws.id, created.id);
        expect(loaded).toEqual(created);
        expect(loaded.schema).toEqual(SCHEMA);
        expect(loaded.profile).toEqual(PROFILE);
        expect(loaded.sizeBytes).toBe(5_000_000_123);
        expect(typeof loaded.rowCount).toBe("number");
        expect(await registry.datasets.getByName(ws.id, "churn")).toEqual(created);
        expect(await registry.datasets.resolve(ws.id, created.id)).toEqual(created);
        expect(await registry.datasets.resolve(ws.id, "churn")).toEqual(created);
      });

      it("keeps names unique per workspace only", async () => {
        const ws = await workspace();
        const other = await workspace();
        await registry.datasets.create(ws.id, newDataset("Churn Q3.csv"));
        await expect(
          registry.datasets.create(ws.id, newDataset("Churn Q3.csv")),
        ).rejects.toBeInstanceOf(ConflictError);
        await expect(
          registry.datasets.create(other.id, newDataset("Churn Q3.csv")),
        ).resolves.toMatchObject({ workspaceId: other.id });
        await expect(registry.datasets.getByName(other.id, "nope")).rejects.toBeInstanceOf(
          NotFoundError,
        );
      });

      it("lists by name, deletes, and validates", async () => {
        const ws = await workspace();
        await registry.datasets.create(ws.id, newDataset("b"));
        const a = await registry.datasets.create(ws.id, newDataset("a"));
        expect((await registry.datasets.list(ws.id)).map((d) => d.name)).toEqual(["a", "b"]);
        await registry.datasets.delete(ws.id, a.id);
        await expect(registry.datasets.get(ws.id, a.id)).rejects.toBeInstanceOf(NotFoundError);
        await expect(registry.datasets.delete(ws.id, a.id)).rejects.toBeInstanceOf(NotFoundError);
        for (const bad of [
          { ...newDataset("x"), name: " padded" },
          { ...newDataset("x"), name: "a/b" },
          { ...newDataset("x"), blobSha256: "not-a-sha" },
          { ...newDataset("x"), sizeBytes: -1 },
          { ...newDataset("x"), rowCount: 1.5 },
        ]) {
          await expect(registry.datasets.create(ws.id, bad)).rejects.toBeInstanceOf(
            ValidationError,
          );
        }
      });
    });

    describe("models", () => {
      it("numbers versions and resolves every kind of reference", async () => {
        const ws = await workspace();
        const dataset = await registry.datasets.create(ws.id, newDataset("train"));
        const v1 = await registry.models.createModelVersion(
          ws.id,
          "churn",
          modelFields({ datasetId: dataset.id }),
        );
        const v2 = await registry.models.createModelVersion(ws.id, "churn", modelFields());
        expect([v1.version, v2.version]).toEqual([1, 2]);
        expect(isId("mv", v1.id)).toBe(true);
        expect(v1).toMatchObject({ modelName: "churn", workspaceId: ws.id, datasetId: dataset.id });
        expect(v1.metrics).toEqual({
          auc: 0.912,
          logloss: 0.301,
          folds: [0.9, 0.91, 0.93],
          note: null,
        });

        const resolve = (ref: string) => registry.models.getVersion(ws.id, ref);
        expect((await resolve("churn")).id).toBe(v2.id);
        expect((await resolve("churn@latest")).id).toBe(v2.id);
        expect(await resolve("churn@1")).toEqual(v1);
        expect(await resolve("churn:1")).toEqual(v1);
        expect(await resolve(v1.id)).toEqual(v1);
        await expect(resolve("churn@3")).rejects.toBeInstanceOf(NotFoundError);
        await expect(resolve("nope")).rejects.toBeInstanceOf(NotFoundError);
        await expect(resolve("churn@0")).rejects.toBeInstanceOf(ValidationError);
        await expect(resolve("churn@x")).rejects.toBeInstanceOf(ValidationError);

        const other = await workspace();
        await expect(registry.models.getVersion(other.id, v1.id)).rejects.toBeInstanceOf(
          NotFoundError,
        );
        await expect(registry.models.getVersion(other.id, "churn")).rejects.toBeInstanceOf(
          NotFoundError,
        );

        expect((await registry.models.listVersions(ws.id, "churn")).map((v) => v.version)).toEqual([
          2, 1,
        ]);
        await expect(registry.models.listVersions(ws.id, "nope")).rejects.toBeInstanceOf(
          NotFoundError,
        );
        const model = await registry.models.get(ws.id, "churn");
        expect(model).toMatchObject({ name: "churn", latestVersion: 2 });
        expect(await registry.models.list(ws.id)).toEqual([model]);

        // Deleting the training data keeps the model and drops the link.
        await registry.datasets.delete(ws.id, dataset.id);
        expect((await resolve("churn@1")).datasetId).toBeNull();
      });

      it("gives concurrent creators distinct, consecutive versions", async () => {
        const ws = await workspace();
        const versions = await Promise.all(
          Array.from({ length: 10 }, () =>
            registry.models.createModelVersion(ws.id, "raced", modelFields()),
          ),
        );
        expect(versions.map((v) => v.version).sort((a, b) => a - b)).toEqual([
          1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
        ]);
        expect(new Set(versions.map((v) => v.modelId)).size).toBe(1);
        expect((await registry.models.get(ws.id, "raced")).latestVersion).toBe(10);
      });

      it("validates input", async () => {
        const ws = await workspace();
        for (const name of ["", "a@b", "a:b", "has space", "-lead", newId("mv")]) {
          await expect(
            registry.models.createModelVersion(ws.id, name, modelFields()),
          ).rejects.toBeInstanceOf(ValidationError);
        }
        await expect(
          registry.models.createModelVersion(ws.id, "m", { ...modelFields(), artifactSha256: "x" }),
        ).rejects.toBeInstanceOf(ValidationError);
        await expect(
          // @ts-expect-error: an unknown task must be refused at run time too
          registry.models.createModelVersion(ws.id, "m", { ...modelFields(), task: "forecast" }),
        ).rejects.toBeInstanceOf(ValidationError);
        await expect(
          registry.models.createModelVersion(ws.id, "m", {
            ...modelFields(),
            metrics: [1, 2] as unknown as object,
          }),
        ).rejects.toBeInstanceOf(ValidationError);
        await expect(
          registry.models.createModelVersion(newId("ws"), "m", modelFields()),
        ).rejects.toBeInstanceOf(NotFoundError);
      });

      it("refuses to delete a model that an app serves", async () => {
        const ws = await workspace();
        const served = await registry.models.createModelVersion(ws.id, "served", modelFields());
        await registry.models.createModelVersion(ws.id, "unused", modelFields());
        const app = await registry.apps.create(ws.id, "scorer");
        await registry.apps.createVersion(app.id, { spec: {}, modelVersionId: served.id });
        await expect(registry.models.delete(ws.id, "served")).rejects.toBeInstanceOf(ConflictError);
        expect((await registry.models.getVersion(ws.id, "served")).id).toBe(served.id);
        await registry.models.delete(ws.id, "unused");
        await expect(registry.models.get(ws.id, "unused")).rejects.toBeInstanceOf(NotFoundError);
        await expect(registry.models.getVersion(ws.id, "unused")).rejects.toBeInstanceOf(
          NotFoundError,
        );
      });
    });

    describe("apps", () => {
      it("validates names as DNS labels", async () => {
        const ws = await workspace();
        for (const bad of ["", "Churn", "churn_api", "-churn", "churn-", "a".repeat(64), "ü"]) {
          await expect(registry.apps.create(ws.id, bad)).rejects.toBeInstanceOf(ValidationError);
        }
        await expect(registry.apps.create(ws.id, "a".repeat(63))).resolves.toBeDefined();
        await expect(registry.apps.create(ws.id, "churn-api-2")).resolves.toBeDefined();
        await expect(registry.apps.create(ws.id, "7")).resolves.toBeDefined();
      });

      it("keeps names unique per workspace and looks apps up", async () => {
        const ws = await workspace();
        const app = await registry.apps.create(ws.id, "churn-api");
        expect(isId("app", app.id)).toBe(true);
        await expect(registry.apps.create(ws.id, "churn-api")).rejects.toBeInstanceOf(
          ConflictError,
        );
        expect(await registry.apps.ensure(ws.id, "churn-api")).toEqual(app);
        expect(await registry.apps.resolve(ws.id, "churn-api")).toEqual(app);
        expect(await registry.apps.resolve(ws.id, app.id)).toEqual(app);
        const other = await workspace();
        await expect(registry.apps.get(other.id, app.id)).rejects.toBeInstanceOf(NotFoundError);
        expect((await registry.apps.list(ws.id)).map((a) => a.name)).toEqual(["churn-api"]);
      });

      it("freezes specs as numbered versions and round-trips them", async () => {
        const ws = await workspace();
        const mv = await registry.models.createModelVersion(ws.id, "m", modelFields());
        const app = await registry.apps.create(ws.id, "svc");
        const spec = {
          name: "svc",
          steps: [{ id: "model", type: "model", model: "m@1", options: { threshold: 0.5 } }],
          policies: { rateLimit: { perMinute: 600 }, timeoutMs: 250, cache: false },
          description: 'Ünïcödé ✓ "quoted" \n newline',
          empty: {},
          nothing: null,
        };
        const v1 = await registry.apps.createVersion(app.id, { spec, modelVersionId: mv.id });
        const v2 = await registry.apps.createVersion(app.id, { spec: { ...spec, name: "v2" } });
        expect([v1.version, v2.version]).toEqual([1, 2]);
        expect(isId("av", v1.id)).toBe(true);
        expect(v2.modelVersionId).toBeNull();
        expect((await registry.apps.getVersion(app.id, 1)).spec).toEqual(spec);
        expect(await registry.apps.getVersionById(app.id, v1.id)).toEqual(v1);
        expect((await registry.apps.latestVersion(app.id))?.id).toBe(v2.id);
        expect((await registry.apps.listVersions(app.id)).map((v) => v.version)).toEqual([2, 1]);
        await expect(registry.apps.getVersion(app.id, 3)).rejects.toBeInstanceOf(NotFoundError);
        expect((await registry.apps.get(ws.id, app.id)).latestVersion).toBe(2);

        const versions = await Promise.all(
          Array.from({ length: 6 }, (_, i) => registry.apps.createVersion(app.id, { spec: { i } })),
        );
        expect(versions.map((v) => v.version).sort((a, b) => a - b)).toEqual([3, 4, 5, 6, 7, 8]);
      });

      it("refuses a model version from another workspace", async () => {
        const ws = await workspace();
        const other = await workspace();
        const foreign = await registry.models.createModelVersion(other.id, "m", modelFields());
        const app = await registry.apps.create(ws.id, "svc");
        await expect(
          registry.apps.createVersion(app.id, { spec: {}, modelVersionId: foreign.id }),
        ).rejects.toBeInstanceOf(NotFoundError);
        await expect(
          registry.apps.createVersion(newId("app"), { spec: {} }),
        ).rejects.toBeInstanceOf(NotFoundError);
      });
    });

    describe("deployments", () => {
      async function appWithVersions(count: number) {
        const ws = await workspace();
        const app = await registry.apps.create(ws.id, "svc");
        const versions = [];
        for (let i = 0; i < count; i++) {
          versions.push(await registry.apps.createVersion(app.id, { spec: { i } }));
        }
        return { ws, app, versions };
      }

      it("replaces the live deployment and keeps history", async () => {
        const { ws, app, versions } = await appWithVersions(2);
        const [v1, v2] = versions;
        if (!v1 || !v2) throw new Error("setup");
        expect(await registry.deployments.currentDeployment(app.id, "production")).toBeUndefined();

        const d1 = await registry.deployments.deploy(app.id, "production", v1.id);
        expect(isId("dep", d1.id)).toBe(true);
        expect(d1).toMatchObject({
          appName: "svc",
          workspaceId: ws.id,
          appVersion: 1,
          replacedAt: null,
        });
        const d2 = await registry.deployments.deploy(app.id, "production", v2.id);
        expect(await registry.deployments.currentDeployment(app.id, "production")).toEqual(d2);

        const rollback = await registry.deployments.deploy(app.id, "production", v1.id);
        const history = await registry.deployments.history(app.id);
        expect(history.map((d) => d.id)).toEqual([rollback.id, d2.id, d1.id]);
        expect(history.map((d) => d.appVersion)).toEqual([1, 2, 1]);
        expect(history[1]?.replacedAt).toBe(rollback.createdAt);
        expect(history[2]?.replacedAt).toBe(d2.createdAt);
        expect(history[0]?.replacedAt).toBeNull();

        // Deploying the live version again changes nothing.
        expect(await registry.deployments.deploy(app.id, "production", v1.id)).toEqual(rollback);
        expect(await registry.deployments.history(app.id)).toHaveLength(3);

        // Environments are independent.
        const staging = await registry.deployments.deploy(app.id, "staging", v2.id);
        expect((await registry.deployments.currentDeployment(app.id, "staging"))?.id).toBe(
          staging.id,
        );
        expect((await registry.deployments.currentDeployment(app.id, "production"))?.id).toBe(
          rollback.id,
        );
        expect(
          (await registry.deployments.history(app.id, { environment: "staging" })).map((d) => d.id),
        ).toEqual([staging.id]);
        expect(
          (await registry.deployments.listCurrent({ workspaceId: ws.id })).map((d) => d.id).sort(),
        ).toEqual([rollback.id, staging.id].sort());
        expect(
          (
            await registry.deployments.listCurrent({ workspaceId: ws.id, environment: "staging" })
          ).map((d) => d.id),
        ).toEqual([staging.id]);
      });

      it("refuses foreign versions and unknown environments without changing anything", async () => {
        const { app, versions } = await appWithVersions(1);
        const other = await appWithVersions(1);
        const [v1] = versions;
        const [foreign] = other.versions;
        if (!v1 || !foreign) throw new Error("setup");
        const live = await registry.deployments.deploy(app.id, "production", v1.id);
        await expect(
          registry.deployments.deploy(app.id, "production", foreign.id),
        ).rejects.toBeInstanceOf(NotFoundError);
        await expect(
          registry.deployments.deploy(newId("app"), "production", v1.id),
        ).rejects.toBeInstanceOf(NotFoundError);
        await expect(
          // @ts-expect-error: an unknown environment must be refused at run time too
          registry.deployments.deploy(app.id, "qa", v1.id),
        ).rejects.toBeInstanceOf(ValidationError);
        expect(await registry.deployments.currentDeployment(app.id, "production")).toEqual(live);
        expect(await registry.deployments.history(app.id)).toEqual([live]);
      });

      it("leaves exactly one live deployment after concurrent deploys", async () => {
        const { app, versions } = await appWithVersions(6);
        await Promise.all(
          versions.map((v) => registry.deployments.deploy(app.id, "production", v.id)),
        );
        const history = await registry.deployments.history(app.id);
        expect(history).toHaveLength(6);
        expect(history.filter((d) => d.replacedAt === null)).toHaveLength(1);
        const current = await registry.deployments.currentDeployment(app.id, "production");
        expect(current?.id).toBe(history[0]?.id);
        // Each replaced deployment was replaced exactly when its successor started.
        for (let i = 1; i < history.length; i++) {
          expect(history[i]?.replacedAt).toBe(history[i - 1]?.createdAt);
        }
      });
    });

    describe("jobs", () => {
      it("walks the lifecycle and round-trips JSON", async () => {
        const ws = await workspace();
        const job = await registry.jobs.create(ws.id, {
          kind: "train",
          input: { datasetId: "ds_x", target: "churn", options: { folds: 5, learners: ["gbdt"] } },
        });
        expect(isId("job", job.id)).toBe(true);
        expect(job).toMatchObject({ status: "queued", progress: null, result: null, error: null });
        expect(job.input).toEqual({
          datasetId: "ds_x",
          target: "churn",
          options: { folds: 5, learners: ["gbdt"] },
        });

        const claimed = await registry.jobs.claimNext({ kinds: ["train"] });
        expect(claimed?.id).toBe(job.id);
        expect(claimed?.status).toBe("running");

        const progressed = await registry.jobs.update(job.id, {
          progress: { fraction: 0.4, message: "fold 2 of 5" },
        });
        expect(progressed.status).toBe("running");
        expect(progressed.progress).toEqual({ fraction: 0.4, message: "fold 2 of 5" });

        const done = await registry.jobs.update(job.id, {
          status: "succeeded",
          progress: { fraction: 1 },
          result: { modelVersionId: "mv_y", metrics: { auc: 0.9 } },
        });
        expect(await registry.jobs.get(ws.id, job.id)).toEqual(done);
        expect(done.updatedAt >= job.createdAt).toBe(true);

        await expect(
          registry.jobs.update(job.id, { progress: { fraction: 0.5 } }),
        ).rejects.toBeInstanceOf(ConflictError);
        await expect(registry.jobs.cancel(ws.id, job.id)).rejects.toBeInstanceOf(ConflictError);
      });

      it("records failures and cancellations, and enforces transitions", async () => {
        const ws = await workspace();
        const failing = await registry.jobs.create(ws.id, { kind: "import", input: {} });
        await expect(
          registry.jobs.update(failing.id, { status: "succeeded" }),
        ).rejects.toBeInstanceOf(ConflictError);
        await registry.jobs.update(failing.id, { status: "running" });
        const failed = await registry.jobs.update(failing.id, {
          status: "failed",
          error: {
            message: 'Column "churn" not found',
            code: "E_TARGET",
            details: { columns: ["a"] },
          },
        });
        expect((await registry.jobs.get(ws.id, failing.id)).error).toEqual({
          message: 'Column "churn" not found',
          code: "E_TARGET",
          details: { columns: ["a"] },
        });
        expect(failed.status).toBe("failed");

        const queued = await registry.jobs.create(ws.id, { kind: "import", input: {} });
        expect((await registry.jobs.cancel(ws.id, queued.id)).status).toBe("cancelled");
        await expect(registry.jobs.claimNext({ kinds: ["import"] })).resolves.toBeUndefined();
        await expect(registry.jobs.get(newId("ws"), queued.id)).rejects.toBeInstanceOf(
          NotFoundError,
        );
        await expect(registry.jobs.update(newId("job"), {})).rejects.toBeInstanceOf(NotFoundError);
      });

      it("lists with filters, newest first", async () => {
        const ws = await workspace();
        const a = await registry.jobs.create(ws.id, { kind: "train", input: { n: 1 } });
        const b = await registry.jobs.create(ws.id, { kind: "import", input: { n: 2 } });
        const c = await registry.jobs.create(ws.id, { kind: "train", input: { n: 3 } });
        await registry.jobs.update(c.id, { status: "cancelled" });
        const all = await registry.jobs.list(ws.id);
        expect(new Set(all.map((j) => j.id))).toEqual(new Set([a.id, b.id, c.id]));
        for (let i = 1; i < all.length; i++) {
          expect((all[i - 1]?.createdAt ?? "") >= (all[i]?.createdAt ?? "")).toBe(true);
        }
        expect(
          (await registry.jobs.list(ws.id, { kind: "train", status: "queued" })).map((j) => j.id),
        ).toEqual([a.id]);
        expect(await registry.jobs.list(ws.id, { limit: 2 })).toHaveLength(2);
        expect(await registry.jobs.list(ws.id, { limit: 2, offset: 2 })).toHaveLength(1);
        await expect(registry.jobs.list(ws.id, { limit: 0 })).rejects.toBeInstanceOf(
          ValidationError,
        );
      });

      it("never hands one job to two workers", async () => {
        const ws = await workspace();
        const kind = `claim-${suffix()}`;
        const jobs = [];
        for (let i = 0; i < 5; i++)
          jobs.push(await registry.jobs.create(ws.id, { kind, input: { i } }));
        const claims = await Promise.all(
          Array.from({ length: 8 }, () => registry.jobs.claimNext({ kinds: [kind] })),
        );
        const claimed = claims.filter((j) => j !== undefined).map((j) => j.id);
        expect(claimed.sort()).toEqual(jobs.map((j) => j.id).sort());
        expect(claims.filter((j) => j === undefined)).toHaveLength(3);
      });
    });

    describe("transactions", () => {
      it("rolls back every write when the work fails", async () => {
        const name = `ws-${suffix()}`;
        const error = await registry
          .transaction(async (tx) => {
            const ws = await tx.workspaces.create(name);
            const app = await tx.apps.create(ws.id, "svc");
            await tx.apps.createVersion(app.id, { spec: {} });
            throw new Error("boom");
          })
          .catch((e: unknown) => e);
        expect(error).toEqual(new Error("boom"));
        expect(await registry.workspaces.findByName(name)).toBeUndefined();
      });

      it("commits every write when the work succeeds", async () => {
        const ws = await workspace();
        const deployment = await registry.transaction(async (tx) => {
          const app = await tx.apps.create(ws.id, "svc");
          const version = await tx.apps.createVersion(app.id, { spec: { ok: true } });
          return tx.deployments.deploy(app.id, "production", version.id);
        });
        const app = await registry.apps.getByName(ws.id, "svc");
        expect((await registry.deployments.currentDeployment(app.id, "production"))?.id).toBe(
          deployment.id,
        );
      });

      it("leaves nothing behind when a multi-row write fails midway", async () => {
        const ws = await workspace();
        // The model row is inserted before the dataset check fails: both must vanish.
        await expect(
          registry.models.createModelVersion(
            ws.id,
            "ghost",
            modelFields({ datasetId: newId("ds") }),
          ),
        ).rejects.toBeInstanceOf(NotFoundError);
        await expect(registry.models.get(ws.id, "ghost")).rejects.toBeInstanceOf(NotFoundError);

        // The version counter is bumped before the model check fails: it must roll back.
        const app = await registry.apps.create(ws.id, "svc");
        await expect(
          registry.apps.createVersion(app.id, { spec: {}, modelVersionId: newId("mv") }),
        ).rejects.toBeInstanceOf(NotFoundError);
        expect((await registry.apps.get(ws.id, app.id)).latestVersion).toBe(0);
        expect((await registry.apps.createVersion(app.id, { spec: {} })).version).toBe(1);
      });
    });

    describe("cleanup", () => {
      it("knows which blobs are still referenced", async () => {
        const ws = await workspace();
        const blob = sha(`blob-${suffix()}`);
        const artifact = sha(`artifact-${suffix()}`);
        expect(await registry.isBlobReferenced(blob)).toBe(false);
        const dataset = await registry.datasets.create(ws.id, newDataset("d", blob));
        await registry.models.createModelVersion(ws.id, "m", modelFields({ artifact }));
        expect(await registry.isBlobReferenced(blob)).toBe(true);
        expect(await registry.isBlobReferenced(artifact)).toBe(true);
        await registry.datasets.delete(ws.id, dataset.id);
        expect(await registry.isBlobReferenced(blob)).toBe(false);
      });

      it("deletes a workspace with everything in it", async () => {
        const ws = await workspace();
        await registry.apiKeys.createKey(ws.id, { name: "k", role: "admin" });
        const dataset = await registry.datasets.create(ws.id, newDataset("d"));
        const mv = await registry.models.createModelVersion(
          ws.id,
          "m",
          modelFields({ datasetId: dataset.id }),
        );
        const app = await registry.apps.create(ws.id, "svc");
        const av = await registry.apps.createVersion(app.id, { spec: {}, modelVersionId: mv.id });
        await registry.deployments.deploy(app.id, "production", av.id);
        await registry.jobs.create(ws.id, { kind: "train", input: {} });

        await registry.workspaces.delete(ws.id);
        await expect(registry.workspaces.get(ws.id)).rejects.toBeInstanceOf(NotFoundError);
        for (const table of ["api_keys", "datasets", "models", "apps", "jobs"] as const) {
          const rows = await registry.db
            .selectFrom(table)
            .select("id")
            .where("workspace_id", "=", ws.id)
            .execute();
          expect(rows, table).toEqual([]);
        }
        const deployments = await registry.db
          .selectFrom("deployments")
          .select("id")
          .where("app_id", "=", app.id)
          .execute();
        expect(deployments).toEqual([]);
        await expect(registry.workspaces.delete(ws.id)).rejects.toBeInstanceOf(NotFoundError);
      });

      it("every typed error is a RegistryError", () => {
        expect(new NotFoundError("app", "x")).toBeInstanceOf(RegistryError);
        expect(new ConflictError("app", "x").message).toBe('App "x" already exists');
        expect(new NotFoundError("model version", "m@2").message).toBe(
          'Model version "m@2" not found',
        );
      });
    });
  });
}
