/**
 * ONNX interop end to end over real HTTP and the real CLI: export a trained model and check the
 * file's predictions against the published app; import ONNX files (our export without a schema
 * file, and a hand-built MLP with a declared schema), publish and call them through the same
 * predict route; refusals are 4xx that name the problem and register nothing.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rowRecord } from "../src/data/frame.ts";
import { ingestFile } from "../src/data/index.ts";
import { CompiledRecipe, type Recipe } from "../src/features/recipe.ts";
import { decodeModel } from "../src/models/onnx/onnx-proto.ts";
import {
  LOOKUP_SCHEMA,
  lookupFile,
  MLP_SCHEMA,
  mlpByHand,
  mlpFile,
} from "../src/models/onnx/test-support.ts";
import { cliFor } from "./helpers/cli.ts";
import { api, CHURN_CSV, type Json, startTestServer, type TestServer } from "./helpers/server.ts";
import {
  createTestPostgresDatabase,
  type TestPostgresDatabase,
} from "./registry-postgres-setup.ts";

let server: TestServer;
let call: ReturnType<typeof api>;
let dir: string;

/** Churn records as a caller sends them (through the real ingest path), without the target. */
async function churnRecords(count: number): Promise<Record<string, unknown>[]> {
  const { frame } = await ingestFile(CHURN_CSV);
  return Array.from({ length: count }, (_, i) => {
    const { churn: _target, ...record } = rowRecord(frame, i * 97);
    return record;
  });
}

const ballast = cliFor(() => server);

async function exportBytes(ref: string) {
  const response = await fetch(new URL(`/v1/models/${ref}/export?format=onnx`, server.url), {
    headers: { authorization: `Bearer ${server.adminKey}` },
  });
  return {
    status: response.status,
    headers: response.headers,
    bytes: new Uint8Array(await response.arrayBuffer()),
  };
}

function importBody(name: string, bytes: Uint8Array, schema?: unknown) {
  return {
    name,
    model: Buffer.from(bytes).toString("base64"),
    ...(schema !== undefined ? { schema } : {}),
  };
}

async function modelNames(): Promise<string[]> {
  const { json } = await call("GET", "/v1/models");
  return json.models.map((m: { name: string; version: number }) => `${m.name}@${m.version}`);
}

const DIALECTS = ["sqlite", "postgres"] as const;
let database: TestPostgresDatabase | undefined;

for (const dialect of DIALECTS) {
  describe(`on ${dialect}`, () => {
    beforeAll(async () => {
      dir = mkdtempSync(path.join(os.tmpdir(), "ballast-onnx-api-"));
      // PostgreSQL must be reachable: createTestPostgresDatabase fails loudly rather than skip.
      database =
        dialect === "postgres" ? await createTestPostgresDatabase("ballast_onnx") : undefined;
      server = await startTestServer(database ? { databaseUrl: database.url } : {});
      call = api(server, server.adminKey);
      const upload = await fetch(
        new URL("/v1/datasets?name=churn&filename=wa_churn.csv", server.url),
        {
          method: "POST",
          headers: { authorization: `Bearer ${server.adminKey}`, "content-type": "text/csv" },
          body: readFileSync(CHURN_CSV),
        },
      );
      expect(upload.status).toBe(201);
      const train = await call("POST", "/v1/train", {
        dataset: "churn",
        target: "churn",
        timeBudgetSeconds: 3,
      });
      expect(train.status).toBe(202);
      for (let i = 0; i < 600; i++) {
        const { json } = await call("GET", `/v1/jobs/${train.json.job.id}`);
        if (json.job.status === "succeeded") break;
        if (json.job.status === "failed") throw new Error(JSON.stringify(json.job.error));
        await new Promise((r) => setTimeout(r, 200));
      }
      expect((await call("POST", "/v1/apps", { model: "churn@1" })).status).toBe(201);
    }, 180_000);

    afterAll(async () => {
      await server?.close();
      await database?.drop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    describe("export", () => {
      it("returns an ONNX file whose predictions match the published app's", async () => {
        const exported = await exportBytes("churn@1");
        expect(exported.status).toBe(200);
        expect(exported.headers.get("content-type")).toBe("application/octet-stream");
        expect(exported.headers.get("content-disposition")).toBe(
          'attachment; filename="churn-1.onnx"',
        );
        // The file says how to feed it: encode the records with the recipe in its metadata.
        const proto = decodeModel(exported.bytes);
        const recipeJson = proto.metadataProps?.find((p) => p.key === "ballast.recipe")?.value;
        const recipe = new CompiledRecipe(JSON.parse(recipeJson ?? "{}") as Recipe);
        const records = await churnRecords(40);
        const rows = new Float32Array(records.length * recipe.width);
        const row = new Float64Array(recipe.width);
        records.forEach((record, r) => {
          recipe.encodeRecord(record, row);
          rows.set(row, r * recipe.width);
        });
        const session = await ort.InferenceSession.create(exported.bytes);
        const out = await session.run({
          input: new ort.Tensor("float32", rows, [records.length, recipe.width]),
        });
        await session.release();
        const served = await call("POST", "/v1/apps/churn/predict", { rows: records });
        expect(served.status).toBe(200);
        const probabilities = out.probabilities?.data as Float32Array;
        const labels = out.label?.data as string[];
        served.json.predictions.forEach((p: Json, r: number) => {
          expect(Math.abs((probabilities[r * 2] ?? 0) - p.probabilities.No)).toBeLessThan(1e-5);
          expect(Math.abs((probabilities[r * 2 + 1] ?? 0) - p.probabilities.Yes)).toBeLessThan(
            1e-5,
          );
          expect(labels[r]).toBe(p.prediction);
        });
      });

      it("refuses unknown models and formats", async () => {
        expect((await exportBytes("nope")).status).toBe(404);
        const bad = await call("GET", "/v1/models/churn@1/export?format=pmml");
        expect(bad.status).toBe(400);
        expect(bad.json.error.details[0].path).toContain("format");
      });
    });

    describe("import", () => {
      it("registers our own export without a schema file and serves the same predictions", async () => {
        const exported = await exportBytes("churn@1");
        const imported = await call(
          "POST",
          "/v1/models/import",
          importBody("churn-onnx", exported.bytes),
        );
        expect(imported.status).toBe(201);
        expect(imported.json.model).toMatchObject({
          name: "churn-onnx",
          version: 1,
          learner: "onnx",
          task: "binary",
          target: "churn",
        });
        expect(imported.json.onnx).toMatchObject({
          input: "input",
          output: "probabilities",
          layout: "classes",
        });
        expect((await call("POST", "/v1/apps", { model: "churn-onnx" })).status).toBe(201);
        const records = await churnRecords(25);
        const native = await call("POST", "/v1/apps/churn/predict", { rows: records });
        const onnx = await call("POST", "/v1/apps/churn-onnx/predict", { rows: records });
        expect(onnx.status).toBe(200);
        expect(onnx.json.model).toEqual({ name: "churn-onnx", version: 1 });
        onnx.json.predictions.forEach((p: Json, i: number) => {
          const want = native.json.predictions[i];
          expect(p.prediction).toBe(want.prediction);
          expect(Math.abs(p.probabilities.Yes - want.probabilities.Yes)).toBeLessThan(1e-5);
        });
        // The contract comes from the declared schema, exactly as for trained models.
        const bad = await call("POST", "/v1/apps/churn-onnx/predict", {
          ...records[0],
          tenure: "long",
        });
        expect(bad.status).toBe(400);
        expect(bad.json.error.details[0].path).toBe("/tenure");
        // An imported model exports as its original file, byte for byte.
        const again = await exportBytes("churn-onnx@1");
        expect(Buffer.from(again.bytes).equals(Buffer.from(exported.bytes))).toBe(true);
        // And it cannot explain itself (SHAP needs Ballast's own trees).
        const explain = await call("POST", "/v1/apps/churn-onnx/predict?explain=true", records[0]);
        expect(explain.status).toBe(400);
      });

      it("serves a hand-built MLP with a declared schema, matching the hand computation", async () => {
        const imported = await call(
          "POST",
          "/v1/models/import",
          importBody("tiers", mlpFile(), MLP_SCHEMA),
        );
        expect(imported.status).toBe(201);
        expect(imported.json.model).toMatchObject({
          name: "tiers",
          learner: "onnx",
          task: "multiclass",
          target: "tier",
        });
        const detail = await call("GET", "/v1/models/tiers");
        expect(detail.json.model.inputs.map((c: { name: string }) => c.name)).toEqual([
          "age",
          "plan",
          "active",
          "score",
        ]);
        expect(detail.json.model.classes).toEqual(["low", "mid", "high"]);
        expect((await call("POST", "/v1/apps", { model: "tiers" })).status).toBe(201);

        const record = { age: 34, plan: "plus", active: "yes", score: 1.5 };
        const one = await call("POST", "/v1/apps/tiers/predict", record);
        expect(one.status).toBe(200);
        const want = mlpByHand([34, 1, 1, 1.5]);
        expect(Math.abs(one.json.probabilities.low - (want[0] ?? 0))).toBeLessThan(1e-5);
        expect(Math.abs(one.json.probabilities.mid - (want[1] ?? 0))).toBeLessThan(1e-5);
        expect(Math.abs(one.json.probabilities.high - (want[2] ?? 0))).toBeLessThan(1e-5);

        const rows = [
          record,
          { age: 61, plan: "basic", active: false, score: -2 },
          { age: 19, plan: "pro", active: true, score: 0.25 },
        ];
        const batch = await call("POST", "/v1/apps/tiers/predict", { rows });
        expect(batch.status).toBe(200);
        expect(batch.json.predictions).toHaveLength(3);
        expect(batch.json.predictions[0].probabilities.low).toBeCloseTo(
          one.json.probabilities.low,
          6,
        );
        const second = mlpByHand([61, 0, 0, -2]);
        expect(batch.json.predictions[1].prediction).toBe(
          ["low", "mid", "high"][second.indexOf(Math.max(...second))],
        );

        const missing = await call("POST", "/v1/apps/tiers/predict", {
          age: 3,
          plan: "pro",
          active: true,
        });
        expect(missing.status).toBe(400);
        expect(missing.json.error.details[0]).toMatchObject({
          path: "/score",
          message: "is required",
        });
        const badRow = await call("POST", "/v1/apps/tiers/predict", {
          rows: [record, { ...record, active: "maybe" }],
        });
        expect(badRow.status).toBe(400);
        expect(badRow.json.error.details[0].path).toBe("/rows/1/active");
      });

      it("a model failing inside onnxruntime on a valid input is the caller's 422, not a 500", async () => {
        const imported = await call(
          "POST",
          "/v1/models/import",
          importBody("sizes", lookupFile(), LOOKUP_SCHEMA),
        );
        expect(imported.status).toBe(201);
        expect((await call("POST", "/v1/apps", { model: "sizes" })).status).toBe(201);
        const ok = await call("POST", "/v1/apps/sizes/predict", { size: "large" });
        expect(ok.json.prediction).toBe(30);
        const failing = await call("POST", "/v1/apps/sizes/predict", {
          rows: [{ size: "small" }, { size: "huge" }],
        });
        expect(failing.status).toBe(422);
        expect(failing.json.error.code).toBe("model_rejected_input");
        expect(failing.json.error.message).toMatch(/ONNX model failed to run/);
        expect(
          (await call("POST", "/v1/apps/sizes/predict", { size: "small" })).json.prediction,
        ).toBe(10);
      });

      it("refuses a file that does not fit its schema, naming the problem, and registers nothing", async () => {
        const before = await modelNames();
        const narrow = await call(
          "POST",
          "/v1/models/import",
          importBody("narrow", mlpFile({ inputWidth: 4 }), {
            ...MLP_SCHEMA,
            columns: MLP_SCHEMA.columns.slice(0, 3),
          }),
        );
        expect(narrow.status).toBe(422);
        expect(narrow.json.error.code).toBe("input_width_mismatch");
        expect(narrow.json.error.message).toContain(
          "input x has 4 columns but the schema declares 3 features",
        );
        expect(narrow.json.error.details[0].path).toBe("/schema/columns");

        const classes = await call(
          "POST",
          "/v1/models/import",
          importBody("narrow", mlpFile(), { ...MLP_SCHEMA, classes: ["a", "b"], task: "binary" }),
        );
        expect(classes.status).toBe(422);
        expect(classes.json.error.code).toBe("output_width_mismatch");

        const notOnnx = await call(
          "POST",
          "/v1/models/import",
          importBody("narrow", new TextEncoder().encode("hello"), MLP_SCHEMA),
        );
        expect(notOnnx.status).toBe(400);
        expect(notOnnx.json.error.code).toBe("invalid_model");

        const noSchema = await call("POST", "/v1/models/import", importBody("narrow", mlpFile()));
        expect(noSchema.status).toBe(400);
        expect(noSchema.json.error.code).toBe("schema_required");

        const badSchema = await call(
          "POST",
          "/v1/models/import",
          importBody("narrow", mlpFile(), { task: "multiclass", columns: [] }),
        );
        expect(badSchema.status).toBe(400);
        expect(badSchema.json.error.details[0].path).toContain("schema/columns");

        const badBase64 = await call("POST", "/v1/models/import", {
          name: "narrow",
          model: "%%%",
          schema: MLP_SCHEMA,
        });
        expect(badBase64.status).toBe(400);
        expect(badBase64.json.error.code).toBe("invalid_base64");

        const badName = await call(
          "POST",
          "/v1/models/import",
          importBody("no spaces", mlpFile(), MLP_SCHEMA),
        );
        expect(badName.status).toBe(400);

        expect(await modelNames()).toEqual(before);
      });

      it("needs the build permission", async () => {
        const invoker = await call("POST", "/v1/keys", { role: "invoker", name: "caller" });
        const asInvoker = api(server, invoker.json.secret);
        expect(
          (await asInvoker("POST", "/v1/models/import", importBody("x", mlpFile(), MLP_SCHEMA)))
            .status,
        ).toBe(403);
        expect((await asInvoker("GET", "/v1/models/churn@1/export")).status).toBe(403);
      });

      it("is described in the OpenAPI document", async () => {
        const json = (await (await fetch(new URL("/openapi.json", server.url))).json()) as Json;
        const importOp = json.paths["/v1/models/import"].post;
        const body = importOp.requestBody.content["application/json"].schema;
        expect(body.required).toEqual(["name", "model"]);
        expect(body.properties.schema.properties.columns.items.properties.type.enum).toEqual([
          "number",
          "boolean",
          "category",
          "datetime",
        ]);
        const exportOp = json.paths["/v1/models/{ref}/export"].get;
        expect(exportOp.responses["200"].content["application/octet-stream"]).toBeDefined();
      });
    });

    describe("the CLI", () => {
      it("exports to a file and imports it back, and imports with a schema file", async () => {
        const file = path.join(dir, "churn.onnx");
        const exported = await ballast(
          "models",
          "export",
          "churn@1",
          "--format",
          "onnx",
          "--out",
          file,
        );
        expect(exported.code, exported.stderr).toBe(0);
        expect(exported.stdout).toContain(`Wrote ${file}`);
        expect(decodeModel(readFileSync(file)).producerName).toBe("ballast");

        const back = await ballast("models", "import", file, "--name", "churn-cli");
        expect(back.code, back.stderr).toBe(0);
        expect(back.stdout).toContain("Imported churn-cli@1 (binary, learner onnx)");
        expect(back.stdout).toContain("ballast deploy churn-cli@1");

        const mlp = path.join(dir, "tiers.onnx");
        const schema = path.join(dir, "schema.json");
        writeFileSync(mlp, mlpFile());
        writeFileSync(schema, JSON.stringify(MLP_SCHEMA));
        const withSchema = await ballast("models", "import", mlp, "--schema", schema);
        expect(withSchema.code, withSchema.stderr).toBe(0);
        expect(withSchema.stdout).toContain("Imported tiers@2 (multiclass, learner onnx)");

        writeFileSync(
          schema,
          JSON.stringify({ ...MLP_SCHEMA, columns: MLP_SCHEMA.columns.slice(1) }),
        );
        const refused = await ballast("models", "import", mlp, "--schema", schema, "--name", "bad");
        expect(refused.code).toBe(1);
        expect(refused.stderr).toContain("does not run on a [2, 3] input");
      });
    });
  });
}
