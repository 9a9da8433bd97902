/**
 * The foundation end to end over real HTTP: import the shipped churn CSV, train, publish,
 * predict; and every kind of bad input answered with a 4xx that names the problem and
 * changes no state.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHURN_RECORD } from "./helpers/churn.ts";
import { api, CHURN_CSV, type Json, startTestServer, type TestServer } from "./helpers/server.ts";
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

    async function upload(name: string, body: string | Buffer, fileName: string) {
      const response = await fetch(
        new URL(`/v1/datasets?name=${name}&filename=${fileName}`, server.url),
        {
          method: "POST",
          headers: {
            authorization: `Bearer ${server.adminKey}`,
            "content-type": "application/octet-stream",
          },
          body,
        },
      );
      return { status: response.status, json: (await response.json()) as Json };
    }

    async function waitForJob(id: string) {
      for (let i = 0; i < 600; i++) {
        const { json } = await call("GET", `/v1/jobs/${id}`);
        if (json.job.status === "succeeded" || json.job.status === "failed") return json.job;
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error("job did not finish");
    }

    beforeAll(async () => {
      // PostgreSQL must be reachable: createTestPostgresDatabase fails loudly rather than skip.
      database =
        dialect === "postgres" ? await createTestPostgresDatabase("ballast_api") : undefined;
      server = await startTestServer(database ? { databaseUrl: database.url } : {});
      call = api(server, server.adminKey);
      const imported = await upload("churn", readFileSync(CHURN_CSV), "wa_churn.csv");
      expect(imported.status).toBe(201);
      const train = await call("POST", "/v1/train", {
        dataset: "churn",
        target: "churn",
        timeBudgetSeconds: 4,
      });
      expect(train.status).toBe(202);
      const job = await waitForJob(train.json.job.id);
      expect(job.status).toBe("succeeded");
      const deploy = await call("POST", "/v1/apps", { model: "churn" });
      expect(deploy.status).toBe(201);
      const strict = await call("POST", "/v1/apps", {
        model: "churn@1",
        app: "churn-strict",
        unknownCategories: "reject",
        maxRows: 5,
      });
      expect(strict.status).toBe(201);
    }, 180_000);

    afterAll(async () => {
      await server?.close();
      await database?.drop();
    });

    describe("happy path", () => {
      it("imports with an inferred schema and profile", async () => {
        const { json } = await call("GET", "/v1/datasets/churn");
        const columns = Object.fromEntries(
          json.dataset.columns.map((c: { name: string; type: string }) => [c.name, c.type]),
        );
        expect(json.dataset.rowCount).toBe(7043);
        expect(columns.churn).toBe("boolean");
        expect(columns.tenure).toBe("number");
        expect(columns.contract).toBe("category");
        const total = json.dataset.profile.columns.find(
          (c: { name: string }) => c.name === "total_charges",
        );
        expect(total.missing).toBe(11);
      });

      it("predicts one record with class probabilities, versions and a request id", async () => {
        const { status, json, headers } = await call(
          "POST",
          "/v1/apps/churn/predict",
          CHURN_RECORD,
        );
        expect(status).toBe(200);
        expect(["No", "Yes"]).toContain(json.prediction);
        expect(json.probabilities.No + json.probabilities.Yes).toBeCloseTo(1, 9);
        expect(json.app).toBe("churn");
        expect(json.app_version).toBe(1);
        expect(json.model).toEqual({ name: "churn", version: 1 });
        expect(json.request_id).toBe(headers.get("x-request-id"));
      });

      it("predicts a batch of rows", async () => {
        const rows = [CHURN_RECORD, { ...CHURN_RECORD, tenure: 70, contract: "Two year" }];
        const { status, json } = await call("POST", "/v1/apps/churn/predict", { rows });
        expect(status).toBe(200);
        expect(json.predictions).toHaveLength(2);
        // A long two-year customer is less likely to churn than a one-month month-to-month one.
        expect(json.predictions[1].probabilities.Yes).toBeLessThan(
          json.predictions[0].probabilities.Yes,
        );
      });

      it("accepts null for a field that had missing values in training", async () => {
        const { status } = await call("POST", "/v1/apps/churn/predict", {
          ...CHURN_RECORD,
          total_charges: null,
        });
        expect(status).toBe(200);
      });

      it("scores an unseen category in the unknown bucket by default, and refuses it when configured", async () => {
        const record = { ...CHURN_RECORD, payment_method: "Carrier pigeon" };
        expect((await call("POST", "/v1/apps/churn/predict", record)).status).toBe(200);
        const strict = await call("POST", "/v1/apps/churn-strict/predict", record);
        expect(strict.status).toBe(400);
        expect(JSON.stringify(strict.json.error.details)).toContain("payment_method");
      });

      it("publishes an OpenAPI 3.1 document with each app's schema, and renders docs", async () => {
        const { json } = await fetch(new URL("/openapi.json", server.url)).then(async (r) => ({
          json: (await r.json()) as Json,
        }));
        expect(json.openapi).toMatch(/^3\.1/);
        const path = json.paths["/v1/apps/churn/predict"];
        expect(
          path.post.requestBody.content["application/json"].schema.oneOf[0].properties.tenure,
        ).toEqual({ type: "number" });
        expect(json.paths["/v1/train"]).toBeDefined();
        const docs = await fetch(new URL("/docs", server.url), { redirect: "follow" });
        expect(docs.status).toBe(200);
        expect(await docs.text()).toContain("<html");
      });

      it("serves health without a key and a home page", async () => {
        expect((await fetch(new URL("/healthz", server.url))).status).toBe(200);
        expect((await fetch(new URL("/readyz", server.url))).status).toBe(200);
        const home = await fetch(new URL("/", server.url));
        expect(await home.text()).toContain("/v1/apps/churn/predict");
      });
    });

    describe("bad input gets a 4xx that names the problem", () => {
      const predict = (body: unknown, app = "churn") =>
        call("POST", `/v1/apps/${app}/predict`, body);

      it("malformed JSON", async () => {
        const r = await call("POST", "/v1/apps/churn/predict", '{"tenure": 1,', {
          "content-type": "application/json",
        });
        expect(r.status).toBe(400);
        expect(r.json.error.code).toBe("invalid_json");
        expect(r.json.error.details).toEqual([
          { path: "body", message: expect.stringMatching(/^line 1, column 14: /) },
        ]);
      });

      it("JSON that would change a prototype, naming the field, on every route", async () => {
        const json = { "content-type": "application/json" };
        const bodies = [
          ['{"tenure": 1, "a": {"b": 2, "__proto__": {"x": 1}}}', "/a/__proto__"],
          ['{"rows": [{"constructor": {"prototype": {}}}]}', "/rows/0/constructor/prototype"],
          ["", "body"],
          ['{\n  "tenure": 1,\n  oops\n}', "body"],
        ];
        // The fast path, the predict route (a query string), and another JSON route.
        for (const route of [
          "/v1/apps/churn/predict",
          "/v1/apps/churn/predict?explain=false",
          "/v1/apps/churn/outcomes",
        ]) {
          for (const [body, path] of bodies) {
            const r = await call("POST", route, body, json);
            expect(r.status, `${route} ${body}`).toBe(400);
            expect(r.json.error.code).toBe("invalid_json");
            expect(r.json.error.details[0].path, `${route} ${body}`).toBe(path);
          }
        }
        const lines = await call("POST", "/v1/apps/churn/predict", bodies[3]?.[0], json);
        expect(lines.json.error.details[0].message).toMatch(/^line 3, column 3: /);
      });

      it("NaN and Infinity are not JSON", async () => {
        for (const raw of ['{"tenure": NaN}', '{"tenure": Infinity}']) {
          const r = await call("POST", "/v1/apps/churn/predict", raw, {
            "content-type": "application/json",
          });
          expect(r.status).toBe(400);
        }
        const r = await predict({ ...CHURN_RECORD, tenure: "NaN" });
        expect(r.status).toBe(400);
        expect(r.json.error.details[0].path).toBe("/tenure");
      });

      it("wrong types name the field", async () => {
        const r = await predict({ ...CHURN_RECORD, monthly_charges: "lots" });
        expect(r.status).toBe(400);
        expect(r.json.error.details).toContainEqual({
          path: "/monthly_charges",
          message: "must be number",
        });
      });

      it("missing required fields name the field", async () => {
        const { tenure: _t, ...rest } = CHURN_RECORD;
        const r = await predict(rest);
        expect(r.status).toBe(400);
        expect(r.json.error.details).toContainEqual({ path: "/tenure", message: "is required" });
      });

      it("extra fields are refused", async () => {
        const r = await predict({ ...CHURN_RECORD, favourite_colour: "green" });
        expect(r.status).toBe(400);
        expect(r.json.error.details[0].path).toBe("/favourite_colour");
      });

      it("a row in a batch is named by index", async () => {
        const r = await predict({ rows: [CHURN_RECORD, { ...CHURN_RECORD, tenure: "x" }] });
        expect(r.status).toBe(400);
        expect(r.json.error.details[0].path).toBe("/rows/1/tenure");
      });

      it("too many rows", async () => {
        const r = await predict(
          { rows: Array.from({ length: 6 }, () => CHURN_RECORD) },
          "churn-strict",
        );
        expect(r.status).toBe(413);
        expect(r.json.error.code).toBe("too_many_rows");
      });

      it("oversized bodies", async () => {
        const big = JSON.stringify({ rows: Array.from({ length: 4000 }, () => CHURN_RECORD) });
        expect(big.length).toBeGreaterThan(1024 * 1024);
        const r = await call("POST", "/v1/apps/churn/predict", big, {
          "content-type": "application/json",
        });
        expect(r.status).toBe(413);
      });

      it("non-object bodies", async () => {
        for (const body of ["[1,2]", "42", '"text"', "null"]) {
          const r = await call("POST", "/v1/apps/churn/predict", body, {
            "content-type": "application/json",
          });
          expect(r.status).toBe(400);
        }
      });

      it("unknown app", async () => {
        const r = await predict(CHURN_RECORD, "no-such-app");
        expect(r.status).toBe(404);
        expect(r.json.error.message).toContain("no-such-app");
      });

      it("missing and wrong API keys", async () => {
        expect(
          (await api(server, undefined)("POST", "/v1/apps/churn/predict", CHURN_RECORD)).status,
        ).toBe(401);
        expect(
          (await api(server, "blst_wrong")("POST", "/v1/apps/churn/predict", CHURN_RECORD)).status,
        ).toBe(401);
        expect((await api(server, undefined)("GET", "/v1/datasets")).status).toBe(401);
      });

      it("roles without permission", async () => {
        const invoker = await call("POST", "/v1/keys", { role: "invoker", name: "app caller" });
        expect(invoker.status).toBe(201);
        const asInvoker = api(server, invoker.json.secret);
        expect((await asInvoker("POST", "/v1/apps/churn/predict", CHURN_RECORD)).status).toBe(200);
        const denied = await asInvoker("POST", "/v1/train", { dataset: "churn", target: "churn" });
        expect(denied.status).toBe(403);
        expect(denied.json.error.message).toContain("invoker");
        const viewer = await call("POST", "/v1/keys", { role: "viewer" });
        const asViewer = api(server, viewer.json.secret);
        expect((await asViewer("GET", "/v1/apps")).status).toBe(200);
        expect((await asViewer("POST", "/v1/apps/churn/predict", CHURN_RECORD)).status).toBe(403);
        expect((await asViewer("POST", "/v1/keys", { role: "admin" })).status).toBe(403);
        // A revoked key stops working.
        expect((await call("DELETE", `/v1/keys/${invoker.json.key.id}`)).status).toBe(204);
        expect((await asInvoker("POST", "/v1/apps/churn/predict", CHURN_RECORD)).status).toBe(401);
      });

      it("bad files register nothing", async () => {
        const before = (await call("GET", "/v1/datasets")).json.datasets.length;
        const ragged = await upload("ragged", "a,b,c\n1,2,3\n4,5\n6,7,8\n", "ragged.csv");
        expect(ragged.status).toBe(400);
        expect(ragged.json.error.message).toMatch(/line 3/i);
        const empty = await upload("empty", "", "empty.csv");
        expect(empty.status).toBe(400);
        expect(empty.json.error.code).toBe("empty_file");
        const badJson = await upload("badjson", '[{"a": 1}, {"a": ]', "bad.json");
        expect(badJson.status).toBe(400);
        const unknownFormat = await upload("weird", "x", "weird.xyz");
        expect(unknownFormat.status).toBe(415);
        const duplicate = await upload("churn", "a,b\n1,2\n", "churn.csv");
        expect(duplicate.status).toBe(409);
        expect((await call("GET", "/v1/datasets")).json.datasets.length).toBe(before);
      });

      it("a target that does not exist or is constant, and unknown training fields", async () => {
        const jobsBefore = (await call("GET", "/v1/models")).json.models.length;
        const missing = await call("POST", "/v1/train", { dataset: "churn", target: "nope" });
        expect(missing.status).toBe(400);
        expect(missing.json.error.message).toContain("nope");
        expect((await upload("constant", "x,y\n1,5\n2,5\n3,5\n", "constant.csv")).status).toBe(201);
        const constant = await call("POST", "/v1/train", { dataset: "constant", target: "y" });
        expect(constant.status).toBe(422);
        expect(constant.json.error.code).toBe("constant_target");
        const extra = await call("POST", "/v1/train", {
          dataset: "churn",
          target: "churn",
          bogus: 1,
        });
        expect(extra.status).toBe(400);
        const wrongType = await call("POST", "/v1/train", {
          dataset: "churn",
          target: "churn",
          timeBudgetSeconds: "soon",
        });
        expect(wrongType.status).toBe(400);
        expect(wrongType.json.error.details[0].path).toContain("timeBudgetSeconds");
        expect((await call("GET", "/v1/models")).json.models.length).toBe(jobsBefore);
      });
    });
  });
}
