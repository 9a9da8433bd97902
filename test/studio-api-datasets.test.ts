/**
 * The Studio's data and build screens over real HTTP, on SQLite and PostgreSQL: paging through
 * a dataset's rows, column types chosen on upload or changed later (re-read from the stored
 * file, re-profiled, same id), target analysis, and training leaving out what the analysis
 * flags. Every refusal names the field and changes nothing; generated inputs never get a 5xx.
 */
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRandom } from "../src/learn/random.ts";
import { api, CHURN_CSV, type Json, startTestServer, type TestServer } from "./helpers/server.ts";
import {
  createTestPostgresDatabase,
  type TestPostgresDatabase,
} from "./registry-postgres-setup.ts";

/** Members: an id, a zip read as a number, a 0/1 flag, a date, and a leak of the target. */
function membersCsv(rows: number): string {
  const random = createRandom(9);
  const lines = ["member_id,zip,flag,joined,amount,city,status_after,churn"];
  for (let i = 0; i < rows; i++) {
    const city = ["Boston", "Austin", "Denver"][random.nextInt(3)] as string;
    const amount = Math.round(random.nextFloat() * 1000) / 10;
    const flag = random.nextInt(2);
    const churn = random.nextFloat() < (city === "Boston" ? 0.6 : 0.2) + flag * 0.2;
    const day = String(1 + random.nextInt(28)).padStart(2, "0");
    lines.push(
      [
        1000 + i,
        `0${2100 + random.nextInt(50)}`,
        flag,
        `2024-03-${day}`,
        amount,
        city,
        churn ? "cancelled" : "active",
        churn ? "Yes" : "No",
      ].join(","),
    );
  }
  return `${lines.join("\n")}\n`;
}

const MEMBERS = membersCsv(300);
const DIALECTS = ["sqlite", "postgres"] as const;

for (const dialect of DIALECTS) {
  describe(`on ${dialect}`, () => {
    let server: TestServer;
    let call: ReturnType<typeof api>;
    let database: TestPostgresDatabase | undefined;

    async function upload(query: string, body: string | Buffer) {
      const response = await fetch(new URL(`/v1/datasets?${query}`, server.url), {
        method: "POST",
        headers: { authorization: `Bearer ${server.adminKey}` },
        body,
      });
      return { status: response.status, json: (await response.json()) as Json };
    }

    async function datasetNames(): Promise<string[]> {
      const { json } = await call("GET", "/v1/datasets");
      return json.datasets.map((d: { name: string }) => d.name).sort();
    }

    const typesOf = (dataset: Json) =>
      Object.fromEntries(
        dataset.columns.map((c: { name: string; type: string }) => [c.name, c.type]),
      );

    beforeAll(async () => {
      database =
        dialect === "postgres"
          ? await createTestPostgresDatabase("ballast_studio_data")
          : undefined;
      server = await startTestServer(database ? { databaseUrl: database.url } : {});
      call = api(server, server.adminKey);
      expect(
        (await upload("name=churn&filename=wa_churn.csv", readFileSync(CHURN_CSV))).status,
      ).toBe(201);
      expect((await upload("name=members&filename=members.csv", MEMBERS)).status).toBe(201);
    }, 120_000);

    afterAll(async () => {
      await server?.close();
      await database?.drop();
    });

    describe("rows", () => {
      it("pages through the stored file", async () => {
        const first = await call("GET", "/v1/datasets/churn/rows");
        expect(first.status).toBe(200);
        expect(first.json.offset).toBe(0);
        expect(first.json.limit).toBe(50);
        expect(first.json.total).toBe(7043);
        expect(first.json.rows).toHaveLength(50);
        expect(first.json.columns[0]).toBe("churn");
        // The first data line of the file, as a caller of an app would send it.
        expect(first.json.rows[0].slice(0, 6)).toEqual(["No", 1, 0, 1, 0, 1]);
        const last = await call("GET", "/v1/datasets/churn/rows?offset=7040&limit=500");
        expect(last.json.rows).toHaveLength(3);
        const past = await call("GET", "/v1/datasets/churn/rows?offset=9000&limit=10");
        expect(past.json).toMatchObject({ rows: [], offset: 9000, total: 7043 });
        const byId = await call("GET", "/v1/datasets/churn");
        const same = await call("GET", `/v1/datasets/${byId.json.dataset.id}/rows?limit=1`);
        expect(same.json.rows[0]).toEqual(first.json.rows[0]);
      });

      it("names the bad parameter", async () => {
        for (const [query, field] of [
          ["limit=501", "limit"],
          ["limit=0", "limit"],
          ["offset=-1", "offset"],
          ["offset=abc", "offset"],
          ["limit=1.5", "limit"],
        ]) {
          const { status, json } = await call("GET", `/v1/datasets/churn/rows?${query}`);
          expect(status).toBe(400);
          expect(json.error.details[0].path).toBe(`querystring/${field}`);
        }
        expect((await call("GET", "/v1/datasets/nope/rows")).status).toBe(404);
        expect((await api(server, undefined)("GET", "/v1/datasets/churn/rows")).status).toBe(401);
      });

      it("answers any offset and limit with the right page or a 400, never a 5xx", async () => {
        const value = fc.oneof(
          fc.nat({ max: 10_000 }).map(String),
          fc.integer({ min: -5, max: 600 }).map(String),
          fc.string({ maxLength: 6 }),
        );
        await fc.assert(
          fc.asyncProperty(fc.option(value), fc.option(value), async (offset, limit) => {
            const query = new URLSearchParams();
            if (offset !== null) query.set("offset", offset);
            if (limit !== null) query.set("limit", limit);
            const { status, json } = await call("GET", `/v1/datasets/members/rows?${query}`);
            expect(status).toBeLessThan(500);
            const o = offset === null ? 0 : /^\d+$/.test(offset) ? Number(offset) : Number.NaN;
            const l = limit === null ? 50 : /^\d+$/.test(limit) ? Number(limit) : Number.NaN;
            const valid = Number.isInteger(o) && Number.isInteger(l) && l >= 1 && l <= 500;
            expect(status).toBe(valid ? 200 : 400);
            if (valid) {
              expect(json.rows).toHaveLength(Math.max(0, Math.min(l, 300 - o)));
              for (const row of json.rows) expect(row).toHaveLength(8);
            }
          }),
          { numRuns: 80, seed: 1 },
        );
      });
    });

    describe("column types", () => {
      it("applies types given on upload to the schema, profile and rows", async () => {
        const types = encodeURIComponent(JSON.stringify({ zip: "category", flag: "boolean" }));
        const { status, json } = await upload(
          `name=members-typed&filename=members.csv&types=${types}`,
          MEMBERS,
        );
        expect(status).toBe(201);
        expect(typesOf(json.dataset)).toMatchObject({
          member_id: "id",
          zip: "category",
          flag: "boolean",
          joined: "datetime",
          amount: "number",
        });
        const zip = json.dataset.profile.columns.find((c: { name: string }) => c.name === "zip");
        expect(zip.type).toBe("category");
        expect(zip.top.length).toBeGreaterThan(0);
        const rows = await call("GET", "/v1/datasets/members-typed/rows?limit=1");
        const row = Object.fromEntries(
          rows.json.columns.map((c: string, i: number) => [c, rows.json.rows[0][i]]),
        );
        expect(typeof row.zip).toBe("string");
        expect(typeof row.flag).toBe("boolean");
        expect(row.joined).toMatch(/^2024-03-\d\dT00:00:00\.000Z$/);
      });

      it("takes a file whatever content type the browser labels it with", async () => {
        const records = JSON.stringify([
          { a: 1, b: "x" },
          { a: 2, b: "y" },
        ]);
        for (const [name, type] of [
          ["as-json", "application/json"],
          ["as-text", "text/plain"],
          ["as-csv", "text/csv"],
        ] as const) {
          const response = await fetch(
            new URL(`/v1/datasets?name=${name}&filename=${name}.json`, server.url),
            {
              method: "POST",
              headers: { authorization: `Bearer ${server.adminKey}`, "content-type": type },
              body: records,
            },
          );
          expect(response.status).toBe(201);
          const body = (await response.json()) as Json;
          expect(body.dataset.rowCount).toBe(2);
        }
      });

      it("refuses bad types on upload, naming the column, and stores nothing", async () => {
        const before = await datasetNames();
        for (const [types, path] of [
          ["{not json", "querystring/types"],
          ['["zip"]', "querystring/types"],
          ['{"zip":"id"}', "querystring/types/zip"],
          ['{"nope":"number"}', "querystring/types/nope"],
          ['{"city":"number"}', "querystring/types/city"],
        ] as const) {
          const { status, json } = await upload(
            `name=bad-types&filename=members.csv&types=${encodeURIComponent(types)}`,
            MEMBERS,
          );
          expect(status).toBe(400);
          expect(json.error.details[0].path).toBe(path);
        }
        const conversion = await upload(
          `name=bad-types&filename=members.csv&types=${encodeURIComponent('{"city":"number"}')}`,
          MEMBERS,
        );
        expect(conversion.json.error.code).toBe("conversion_failed");
        expect(conversion.json.error.message).toMatch(/"city".*"(Boston|Austin|Denver)"/);
        expect(await datasetNames()).toEqual(before);
      });

      it("changes types in place: same id, re-read from the file and re-profiled", async () => {
        const before = (await call("GET", "/v1/datasets/members")).json.dataset;
        expect(typesOf(before).zip).toBe("category"); // "02133": text with a leading zero
        const { status, json } = await call("PATCH", "/v1/datasets/members", {
          types: { zip: "number", joined: "text" },
        });
        expect(status).toBe(200);
        expect(json.dataset.id).toBe(before.id);
        expect(json.dataset.rowCount).toBe(300);
        expect(typesOf(json.dataset)).toMatchObject({ zip: "number", joined: "text" });
        const profile = json.dataset.profile.columns.find(
          (c: { name: string }) => c.name === "zip",
        );
        expect(profile.type).toBe("number");
        expect(profile.histogram.counts.reduce((a: number, b: number) => a + b, 0)).toBe(300);
        expect(profile.min).toBeGreaterThanOrEqual(2100);
        // The registry holds the change (a fresh read, not the response).
        const stored = (await call("GET", `/v1/datasets/${before.id}`)).json.dataset;
        expect(stored).toEqual(json.dataset);
        const rows = await call("GET", "/v1/datasets/members/rows?limit=2");
        const zipAt = rows.json.columns.indexOf("zip");
        const joinedAt = rows.json.columns.indexOf("joined");
        expect(typeof rows.json.rows[0][zipAt]).toBe("number");
        expect(rows.json.rows[0][joinedAt]).toMatch(/^2024-03-\d\dT00:00:00\.000Z$/);
        // Earlier types stay when a later change names other columns, and can be changed back.
        const back = await call("PATCH", "/v1/datasets/members", { types: { zip: "category" } });
        expect(typesOf(back.json.dataset)).toMatchObject({ zip: "category", joined: "text" });
        const reset = await call("PATCH", "/v1/datasets/members", {
          types: { joined: "datetime" },
        });
        expect(typesOf(reset.json.dataset)).toEqual(typesOf(before));
        expect(reset.json.dataset.profile).toEqual(before.profile);
      });

      it("refuses an unknown column or an impossible conversion and changes nothing", async () => {
        const before = (await call("GET", "/v1/datasets/members")).json.dataset;
        const cases = [
          [{ types: { nope: "number" } }, "/types/nope", "unknown_column"],
          [{ types: { city: "number" } }, "/types/city", "conversion_failed"],
          [{ types: { joined: "boolean" } }, "/types/joined", "conversion_failed"],
          [{ types: { city: "id" } }, "body/types/city", "invalid_request"],
          [{ types: { city: 3 } }, "body/types/city", "invalid_request"],
          [{ columns: {} }, "body/columns", "invalid_request"],
        ] as const;
        for (const [body, path, code] of cases) {
          const { status, json } = await call("PATCH", "/v1/datasets/members", body);
          expect(status).toBe(400);
          expect(json.error.code).toBe(code);
          expect(json.error.details.map((d: { path: string }) => d.path)).toContain(path);
        }
        expect((await call("GET", "/v1/datasets/members")).json.dataset).toEqual(before);
        expect((await call("PATCH", "/v1/datasets/nope", { types: {} })).status).toBe(404);
        const viewer = await call("POST", "/v1/keys", { role: "viewer" });
        const refused = await api(server, viewer.json.secret)("PATCH", "/v1/datasets/members", {
          types: { zip: "category" },
        });
        expect(refused.status).toBe(403);
      });

      it("answers generated type changes with 200 or a 4xx that changes nothing", async () => {
        const columns = ["member_id", "zip", "flag", "joined", "amount", "city", "status_after"];
        const type = fc.oneof(
          fc.constantFrom("number", "boolean", "category", "datetime", "text"),
          fc.constantFrom("id", "", "NUMBER", 1, null),
        );
        const types = fc.dictionary(
          fc.oneof(fc.constantFrom(...columns), fc.string({ maxLength: 5 })),
          type,
          { maxKeys: 3 },
        );
        const dataset = await upload("name=members-prop&filename=members.csv", MEMBERS);
        expect(dataset.status).toBe(201);
        await fc.assert(
          fc.asyncProperty(types, async (change) => {
            const before = (await call("GET", "/v1/datasets/members-prop")).json.dataset;
            const { status, json } = await call("PATCH", "/v1/datasets/members-prop", {
              types: change,
            });
            expect(status).toBeLessThan(500);
            const after = (await call("GET", "/v1/datasets/members-prop")).json.dataset;
            if (status === 200) {
              expect(after).toEqual(json.dataset);
              for (const [column, t] of Object.entries(change)) {
                expect(typesOf(after)[column]).toBe(t);
              }
            } else {
              expect(status).toBe(400);
              expect(json.error.details.length).toBeGreaterThan(0);
              expect(after).toEqual(before);
            }
          }),
          { numRuns: 40, seed: 2 },
        );
      });

      it("answers generated upload types with 201 or a 400 that stores nothing", async () => {
        let n = 0;
        const types = fc.oneof(
          fc
            .dictionary(
              fc.constantFrom("zip", "flag", "city", "amount", "x"),
              fc.constantFrom("number", "boolean", "category", "datetime", "text", "id"),
              { maxKeys: 2 },
            )
            .map((t) => JSON.stringify(t)),
          fc.string({ maxLength: 12 }),
        );
        await fc.assert(
          fc.asyncProperty(types, async (raw) => {
            const before = await datasetNames();
            const name = `up-${dialect}-${n++}`;
            const { status } = await upload(
              `name=${name}&filename=members.csv&types=${encodeURIComponent(raw)}`,
              MEMBERS,
            );
            expect([201, 400]).toContain(status);
            const after = await datasetNames();
            if (status === 201) expect(after).toEqual([...before, name].sort());
            else expect(after).toEqual(before);
          }),
          { numRuns: 25, seed: 3 },
        );
      });
    });

    describe("target analysis", () => {
      it("says which task and inputs training will use on the churn data", async () => {
        const { status, json } = await call("POST", "/v1/datasets/churn/analyze", {
          target: "churn",
          exclude: ["female"],
        });
        expect(status).toBe(200);
        expect(json).toMatchObject({
          target: "churn",
          task: "binary",
          classes: ["No", "Yes"],
          positive: "Yes",
          warnings: [],
        });
        expect(json.inputs).toHaveLength(18);
        expect(json.inputs).toContainEqual({ name: "tenure", type: "number" });
        expect(json.excluded).toEqual([
          { column: "female", kind: "user", reason: "You chose to leave it out." },
        ]);
        const regression = await call("POST", "/v1/datasets/churn/analyze", {
          target: "monthly_charges",
        });
        expect(regression.json.task).toBe("regression");
      });

      it("flags the id and the leak, then training leaves out exactly those", async () => {
        const analysis = await call("POST", "/v1/datasets/members-typed/analyze", {
          target: "churn",
        });
        expect(analysis.status).toBe(200);
        const kinds = Object.fromEntries(
          analysis.json.excluded.map((e: { column: string; kind: string }) => [e.column, e.kind]),
        );
        expect(kinds).toEqual({ member_id: "id", status_after: "leak" });
        expect(analysis.json.warnings.join(" ")).toMatch(/status_after predicts churn/);
        const train = await call("POST", "/v1/train", {
          dataset: "members-typed",
          target: "churn",
          name: "members",
          timeBudgetSeconds: 1,
        });
        expect(train.status).toBe(202);
        const job = await server.ballast.training.waitFor(train.json.job.id);
        expect(job.status).toBe("succeeded");
        const model = (await call("GET", "/v1/models/members@1")).json.model;
        expect(model.inputs.map((i: { name: string }) => i.name)).toEqual(
          analysis.json.inputs.map((i: { name: string }) => i.name),
        );
        expect(model.excluded).toEqual(analysis.json.excluded);
        // A later type change leaves the trained model's own schema alone.
        const flagType = (m: Json) =>
          m.inputs.find((i: { name: string }) => i.name === "flag").type;
        expect(flagType(model)).toBe("boolean");
        const patched = await call("PATCH", "/v1/datasets/members-typed", {
          types: { flag: "number" },
        });
        expect(patched.status).toBe(200);
        expect(flagType((await call("GET", "/v1/models/members@1")).json.model)).toBe("boolean");
        await call("PATCH", "/v1/datasets/members-typed", { types: { flag: "boolean" } });
        // A person who knows the column is available at prediction time keeps it.
        const kept = await call("POST", "/v1/datasets/members-typed/analyze", {
          target: "churn",
          include: ["status_after"],
        });
        expect(kept.json.inputs).toContainEqual({ name: "status_after", type: "category" });
        const train2 = await call("POST", "/v1/train", {
          dataset: "members-typed",
          target: "churn",
          name: "members",
          include: ["status_after"],
          timeBudgetSeconds: 1,
        });
        await server.ballast.training.waitFor(train2.json.job.id);
        const model2 = (await call("GET", "/v1/models/members@2")).json.model;
        expect(model2.inputs.map((i: { name: string }) => i.name)).toContain("status_after");
      }, 60_000);

      it("names the field of every refusal", async () => {
        const cases = [
          [{ target: "nope" }, 400, "unknown_target", "/target"],
          [{ target: "churn", exclude: ["nope"] }, 400, "unknown_column", "/exclude"],
          [{ target: "churn", include: ["nope"] }, 400, "unknown_column", "/include"],
          [{ target: "member_id" }, 422, "unsupported_target", "/target"],
          [{ target: "" }, 400, "invalid_request", "body/target"],
          [{}, 400, "invalid_request", "body/target"],
          [{ target: "churn", extra: 1 }, 400, "invalid_request", "body/extra"],
        ] as const;
        for (const [body, status, code, path] of cases) {
          const response = await call("POST", "/v1/datasets/members-typed/analyze", body);
          expect(response.status).toBe(status);
          expect(response.json.error.code).toBe(code);
          expect(response.json.error.details[0].path).toBe(path);
        }
        const everything = ["member_id", "zip", "flag", "joined", "amount", "city", "status_after"];
        const none = await call("POST", "/v1/datasets/members-typed/analyze", {
          target: "churn",
          exclude: everything,
        });
        expect(none.status).toBe(422);
        expect(none.json.error.code).toBe("no_features");
        expect((await call("POST", "/v1/datasets/nope/analyze", { target: "x" })).status).toBe(404);
      });

      it("never answers 5xx to generated requests", async () => {
        const column = fc.constantFrom(
          "churn",
          "member_id",
          "zip",
          "flag",
          "joined",
          "amount",
          "city",
          "status_after",
          "nope",
          "",
        );
        const body = fc.oneof(
          fc.record(
            {
              target: column,
              exclude: fc.array(column, { maxLength: 4 }),
              include: fc.array(column, { maxLength: 3 }),
            },
            { requiredKeys: ["target"] },
          ),
          fc.jsonValue({ maxDepth: 2 }),
        );
        await fc.assert(
          fc.asyncProperty(body, async (b) => {
            const { status } = await call(
              "POST",
              "/v1/datasets/members-typed/analyze",
              JSON.stringify(b),
              { "content-type": "application/json" },
            );
            expect(status).toBeLessThan(500);
            expect([200, 400, 422]).toContain(status);
          }),
          { numRuns: 60, seed: 5 },
        );
      });
    });
  });
}
