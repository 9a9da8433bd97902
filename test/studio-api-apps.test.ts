/**
 * The Studio's app screens over real HTTP: live metrics of the predict traffic (requests,
 * errors, latency percentiles as the server measured them), app versions saved from the
 * designer (validated, deployed in one transaction, on SQLite and PostgreSQL), and the app
 * spec's JSON Schema, which accepts exactly what parseAppSpec accepts.
 */
import { Ajv2020 } from "ajv/dist/2020.js";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAppSpec } from "../src/spec/app-spec.ts";
import { CHURN_RECORD, publishChurn } from "./helpers/churn.ts";
import { api, type Json, startTestServer, type TestServer } from "./helpers/server.ts";
import {
  createTestPostgresDatabase,
  type TestPostgresDatabase,
} from "./registry-postgres-setup.ts";

const DIALECTS = ["sqlite", "postgres"] as const;

for (const dialect of DIALECTS) {
  describe(`on ${dialect}`, () => {
    let server: TestServer;
    let call: ReturnType<typeof api>;
    let database: TestPostgresDatabase | undefined;

    beforeAll(async () => {
      database =
        dialect === "postgres"
          ? await createTestPostgresDatabase("ballast_studio_apps")
          : undefined;
      server = await startTestServer(database ? { databaseUrl: database.url } : {});
      call = api(server, server.adminKey);
      await publishChurn(server, 2);
      expect((await call("POST", "/v1/apps", { model: "churn@1", app: "quiet" })).status).toBe(201);
    }, 120_000);

    afterAll(async () => {
      await server?.close();
      await database?.drop();
    });

    describe("metrics", () => {
      /** Poll until the recorder has seen `requests` answers (it counts once they are sent). */
      async function metricsAfter(requests: number, query = "window=5m") {
        for (let i = 0; i < 50; i++) {
          const response = await call("GET", `/v1/apps/churn/metrics?${query}`);
          if (response.json.totals.requests >= requests) return response;
          await new Promise((r) => setTimeout(r, 20));
        }
        return call("GET", `/v1/apps/churn/metrics?${query}`);
      }

      it("counts every predict answer with its status and server-side latency", async () => {
        let slowest = 0;
        const predict = async (body: unknown, headers: Record<string, string> = {}) => {
          const started = performance.now();
          const response = await call("POST", "/v1/apps/churn/predict", body, headers);
          slowest = Math.max(slowest, performance.now() - started);
          return response.status;
        };
        const statuses: number[] = [];
        for (let i = 0; i < 30; i++) statuses.push(await predict(CHURN_RECORD));
        for (let i = 0; i < 5; i++) statuses.push(await predict({ ...CHURN_RECORD, tenure: "x" }));
        // Refused before the handler runs (invalid JSON): still an answer of this app.
        statuses.push(await predict("{not json", { "content-type": "application/json" }));
        expect(statuses.filter((s) => s === 200)).toHaveLength(30);
        expect(statuses.filter((s) => s === 400)).toHaveLength(6);
        // No valid key: not attributable to a workspace, not counted.
        await api(server, undefined)("POST", "/v1/apps/churn/predict", CHURN_RECORD);

        const { status, json } = await metricsAfter(36);
        expect(status).toBe(200);
        expect(json.app).toBe("churn");
        expect(json.window).toBe("5m");
        expect(json.stepSeconds).toBe(10);
        expect(json.series).toHaveLength(30);
        expect(json.totals).toMatchObject({
          requests: 36,
          errors: 6,
          clientErrors: 6,
          serverErrors: 0,
        });
        expect(json.totals.errorRate).toBeCloseTo(6 / 36, 9);
        const { p50, p95, p99 } = json.totals;
        expect(p50).toBeGreaterThan(0);
        expect(p50).toBeLessThanOrEqual(p95);
        expect(p95).toBeLessThanOrEqual(p99);
        // The server's own measure cannot exceed what the client waited.
        expect(p99).toBeLessThanOrEqual(slowest);
        const points: Json[] = json.series;
        expect(points.reduce((s, p) => s + p.requests, 0)).toBe(36);
        for (let i = 1; i < points.length; i++) {
          expect(Date.parse(points[i].t) - Date.parse(points[i - 1].t)).toBe(10_000);
        }
        const busy = points.filter((p) => p.requests > 0);
        for (const p of busy) expect(p.rps).toBeGreaterThan(0);
        for (const p of points.filter((q) => q.requests === 0)) expect(p.p50).toBeNull();
      });

      it("rebins longer windows and keeps apps apart", async () => {
        for (const [window, step, points] of [
          ["15m", 10, 90],
          ["1h", 30, 120],
          ["6h", 180, 120],
          ["24h", 720, 120],
        ] as const) {
          const { json } = await call("GET", `/v1/apps/churn/metrics?window=${window}`);
          expect(json.stepSeconds).toBe(step);
          expect(json.series).toHaveLength(points);
          expect(json.totals.requests).toBe(36);
        }
        const fallback = await call("GET", "/v1/apps/churn/metrics");
        expect(fallback.json.window).toBe("1h");
        const quiet = await call("GET", "/v1/apps/quiet/metrics?window=5m");
        expect(quiet.status).toBe(200);
        expect(quiet.json.totals).toMatchObject({ requests: 0, errorRate: 0, p50: null });
      });

      it("refuses a bad window, an unknown app and a key that may not read", async () => {
        const bad = await call("GET", "/v1/apps/churn/metrics?window=2h");
        expect(bad.status).toBe(400);
        expect(bad.json.error.details[0].path).toBe("querystring/window");
        expect((await call("GET", "/v1/apps/nope/metrics")).status).toBe(404);
        const invoker = await call("POST", "/v1/keys", { role: "invoker" });
        const refused = await api(server, invoker.json.secret)("GET", "/v1/apps/churn/metrics");
        expect(refused.status).toBe(403);
      });

      it("never answers 5xx to generated windows", async () => {
        await fc.assert(
          fc.asyncProperty(
            fc.oneof(fc.constantFrom("5m", "15m", "1h", "6h", "24h"), fc.string({ maxLength: 8 })),
            async (window) => {
              const { status, json } = await call(
                "GET",
                `/v1/apps/churn/metrics?window=${encodeURIComponent(window)}`,
              );
              expect(status).toBe(["5m", "15m", "1h", "6h", "24h"].includes(window) ? 200 : 400);
              if (status === 200) expect(json.series.length).toBeLessThanOrEqual(120);
            },
          ),
          { numRuns: 40, seed: 8 },
        );
      });
    });

    describe("versions", () => {
      const spec = (changes: Record<string, unknown> = {}) => ({
        apiVersion: "ballast/v1",
        kind: "App",
        name: "churn",
        model: { name: "churn", version: 1 },
        contract: { unknownCategories: "bucket" },
        limits: { maxRows: 1000 },
        ...changes,
      });

      it("lists the app's versions, newest first, marking the deployed one", async () => {
        const { status, json } = await call("GET", "/v1/apps/churn/versions");
        expect(status).toBe(200);
        expect(json.versions).toHaveLength(1);
        expect(json.versions[0]).toMatchObject({
          version: 1,
          model: { name: "churn", version: 1 },
          deployed: true,
          spec: { name: "churn", limits: { maxRows: 1000 } },
        });
        expect((await call("GET", "/v1/apps/nope/versions")).status).toBe(404);
      });

      it("saves a spec as a new version and deploys it at once", async () => {
        const created = await call("POST", "/v1/apps/churn/versions", {
          spec: spec({ limits: { maxRows: 2 }, contract: { unknownCategories: "reject" } }),
        });
        expect(created.status).toBe(201);
        expect(created.json.version).toMatchObject({ version: 2, deployed: true });
        expect(created.json.app).toMatchObject({ name: "churn", version: 2 });
        const list = (await call("GET", "/v1/apps/churn/versions")).json.versions;
        expect(list.map((v: Json) => [v.version, v.deployed])).toEqual([
          [2, true],
          [1, false],
        ]);
        // The new spec is what serves now.
        const tooMany = await call("POST", "/v1/apps/churn/predict", {
          rows: [CHURN_RECORD, CHURN_RECORD, CHURN_RECORD],
        });
        expect(tooMany.status).toBe(413);
        const unseen = await call("POST", "/v1/apps/churn/predict", {
          ...CHURN_RECORD,
          contract: "Lifetime",
        });
        expect(unseen.status).toBe(400);
        const detail = await call("GET", "/v1/apps/churn");
        expect(detail.json.app.version).toBe(2);
      });

      it("takes back a stored spec as it lists it (the designer's round trip)", async () => {
        const [latest] = (await call("GET", "/v1/apps/churn/versions")).json.versions;
        const again = await call("POST", "/v1/apps/churn/versions", { spec: latest.spec });
        expect(again.status).toBe(201);
        expect(again.json.version.spec).toEqual(latest.spec);
        expect(again.json.version.version).toBe(latest.version + 1);
      });

      it("refuses an invalid spec naming each problem's path, and creates nothing", async () => {
        const before = (await call("GET", "/v1/apps/churn/versions")).json.versions;
        const cases = [
          [spec({ limits: { maxRows: 0 } }), "invalid_spec", "/spec/limits/maxRows"],
          [spec({ limits: { maxRows: "lots" } }), "invalid_spec", "/spec/limits/maxRows"],
          [
            spec({ contract: { unknownCategories: "drop" } }),
            "invalid_spec",
            "/spec/contract/unknownCategories",
          ],
          [spec({ steps: [] }), "invalid_spec", "/spec/steps"],
          [spec({ model: { name: "churn" } }), "invalid_spec", "/spec/model/version"],
          [spec({ kind: "Job" }), "invalid_spec", "/spec/kind"],
          [spec({ name: "other-app" }), "invalid_spec", "/spec/name"],
          [spec({ model: { name: "churn", version: 9 } }), "unknown_model", "/spec/model"],
          [spec({ model: { name: "nope", version: 1 } }), "unknown_model", "/spec/model"],
        ] as const;
        for (const [document, code, path] of cases) {
          const { status, json } = await call("POST", "/v1/apps/churn/versions", {
            spec: document,
          });
          expect(status).toBe(400);
          expect(json.error.code).toBe(code);
          expect(json.error.details.map((d: Json) => d.path)).toContain(path);
        }
        const { apiVersion: _drop, ...missing } = spec();
        const noVersion = await call("POST", "/v1/apps/churn/versions", { spec: missing });
        expect(noVersion.json.error.details[0]).toEqual({
          path: "/spec/apiVersion",
          message: "is required",
        });
        expect((await call("POST", "/v1/apps/churn/versions", {})).status).toBe(400);
        expect((await call("POST", "/v1/apps/churn/versions", { spec: [] })).status).toBe(400);
        expect((await call("POST", "/v1/apps/nope/versions", { spec: spec() })).status).toBe(404);
        const viewer = await call("POST", "/v1/keys", { role: "viewer" });
        const refused = await api(server, viewer.json.secret)("POST", "/v1/apps/churn/versions", {
          spec: spec(),
        });
        expect(refused.status).toBe(403);
        expect((await call("GET", "/v1/apps/churn/versions")).json.versions).toEqual(before);
      });

      it("answers generated specs with 201 and a new version, or a 400 that changes nothing", async () => {
        const mutation = fc.record({
          field: fc.constantFrom("apiVersion", "kind", "name", "model", "contract", "limits", "x"),
          value: fc.oneof(
            fc.jsonValue({ maxDepth: 2 }),
            fc.constantFrom(
              { maxRows: 5 },
              { unknownCategories: "reject" },
              { name: "churn", version: 1 },
              "churn",
            ),
          ),
          drop: fc.boolean(),
        });
        await fc.assert(
          fc.asyncProperty(mutation, async ({ field, value, drop }) => {
            const document: Record<string, unknown> = spec();
            if (drop) delete document[field];
            else document[field] = value;
            const before = (await call("GET", "/v1/apps/churn/versions")).json.versions;
            const { status, json } = await call("POST", "/v1/apps/churn/versions", {
              spec: document,
            });
            expect(status).toBeLessThan(500);
            const after = (await call("GET", "/v1/apps/churn/versions")).json.versions;
            let accepted = true;
            try {
              const parsed = parseAppSpec(document);
              accepted =
                parsed.name === "churn" &&
                parsed.model.name === "churn" &&
                parsed.model.version === 1;
            } catch {
              accepted = false;
            }
            if (accepted) {
              expect(status).toBe(201);
              expect(after).toHaveLength(before.length + 1);
              expect(after[0].version).toBe(json.version.version);
            } else {
              expect(status).toBe(400);
              expect(json.error.details.length).toBeGreaterThan(0);
              expect(after).toEqual(before);
            }
          }),
          { numRuns: 40, seed: 9 },
        );
      });
    });

    describe("spec schema", () => {
      it("serves the JSON Schema that accepts exactly what parseAppSpec accepts", async () => {
        const { status, json: schema, headers } = await call("GET", "/v1/spec/schema");
        expect(status).toBe(200);
        expect(headers.get("content-type")).toMatch(/^application\/schema\+json/);
        expect(schema.$schema).toBe("https://json-schema.org/draft/2020-12/schema");
        expect(schema.properties.name.pattern).toBeDefined();
        const validate = new Ajv2020({ strict: false }).compile(schema);
        const often = <T, U>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<U>) =>
          fc.oneof({ weight: 5, arbitrary: good }, { weight: 1, arbitrary: bad });
        const document = fc
          .record(
            {
              apiVersion: often(fc.constant("ballast/v1"), fc.constantFrom("ballast/v2", 1)),
              kind: often(fc.constant("App"), fc.constantFrom("app", null)),
              name: often(
                fc.constantFrom("churn", "a", "my-app-2"),
                fc.oneof(fc.constantFrom("-bad", "Bad", ""), fc.string()),
              ),
              model: often(
                fc.record({ name: fc.constant("churn"), version: fc.integer({ min: 1, max: 3 }) }),
                fc.oneof(
                  fc.record({
                    name: fc.string({ maxLength: 3 }),
                    version: fc.oneof(fc.integer({ min: -1, max: 3 }), fc.double()),
                  }),
                  fc.jsonValue({ maxDepth: 1 }),
                ),
              ),
              contract: often(
                fc.record(
                  { unknownCategories: fc.constantFrom("bucket", "reject") },
                  { requiredKeys: [] },
                ),
                fc.oneof(
                  fc.record({ unknownCategories: fc.constantFrom("drop", 1) }),
                  fc.jsonValue({ maxDepth: 1 }),
                ),
              ),
              limits: often(
                fc.record({ maxRows: fc.integer({ min: 1, max: 100_000 }) }, { requiredKeys: [] }),
                fc.oneof(
                  fc.record({ maxRows: fc.constantFrom(0, 100_001, 2.5, "10") }),
                  fc.jsonValue({ maxDepth: 1 }),
                ),
              ),
            },
            { requiredKeys: ["apiVersion", "kind", "name", "model"] },
          )
          .chain((doc) =>
            // Sometimes drop a required field or add an unknown one.
            fc
              .constantFrom("none", "none", "none", "apiVersion", "model", "extra")
              .map((change) => {
                const copy: Record<string, unknown> = { ...doc };
                if (change === "extra") copy.steps = [];
                else if (change !== "none") delete copy[change];
                return copy;
              }),
          );
        let valid = 0;
        fc.assert(
          fc.property(document, (doc) => {
            let parsed = true;
            try {
              parseAppSpec(structuredClone(doc));
            } catch {
              parsed = false;
            }
            expect(validate(structuredClone(doc))).toBe(parsed);
            if (parsed) valid++;
          }),
          { numRuns: 2000, seed: 10 },
        );
        expect(valid).toBeGreaterThan(100);
        expect(valid).toBeLessThan(1900);
        expect((await api(server, undefined)("GET", "/v1/spec/schema")).status).toBe(401);
      });

      it("documents every Studio route in OpenAPI", async () => {
        const { json } = await api(server, undefined)("GET", "/openapi.json");
        const paths = Object.keys(json.paths);
        for (const route of [
          "/v1/session",
          "/v1/session/local",
          "/v1/datasets/{ref}/rows",
          "/v1/datasets/{ref}/analyze",
          "/v1/models/{ref}/report",
          "/v1/apps/{app}/metrics",
          "/v1/apps/{app}/versions",
          "/v1/spec/schema",
        ]) {
          expect(paths).toContain(route);
        }
        expect(json.paths["/v1/datasets/{ref}"].patch.requestBody).toBeDefined();
        expect(json.paths["/v1/datasets/{ref}/analyze"].post.requestBody).toBeDefined();
        expect(json.paths["/v1/session/local"].get.security).toEqual([]);
      });
    });
  });
}
