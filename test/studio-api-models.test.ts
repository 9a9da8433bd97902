/**
 * The training report over real HTTP, on SQLite and PostgreSQL: computed when a job finishes,
 * stored with the model so it survives a restart, its sample rows answered exactly as the
 * published app answers them, and a clear 404 for models that have none.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MLP_SCHEMA, mlpFile } from "../src/models/onnx/test-support.ts";
import { type Ballast, createBallast } from "../src/server/ballast.ts";
import { loadConfig } from "../src/server/config.ts";
import { publishChurn } from "./helpers/churn.ts";
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
    let dataDir: string;
    let report: Json;

    beforeAll(async () => {
      dataDir = mkdtempSync(path.join(os.tmpdir(), "ballast-report-"));
      database =
        dialect === "postgres" ? await createTestPostgresDatabase("ballast_report") : undefined;
      server = await startTestServer({
        dataDir,
        ...(database ? { databaseUrl: database.url } : {}),
      });
      call = api(server, server.adminKey);
      await publishChurn(server, 3);
      const response = await call("GET", "/v1/models/churn/report");
      expect(response.status).toBe(200);
      report = response.json;
    }, 120_000);

    afterAll(async () => {
      await server?.close();
      await database?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    });

    it("reads the hold-out results in plain words, with the metrics named", async () => {
      const model = (await call("GET", "/v1/models/churn@1")).json.model;
      expect(report.model).toEqual({ id: model.id, name: "churn", version: 1 });
      expect(report).toMatchObject({ task: "binary", target: "churn", metric: "auc" });
      expect(report.holdoutRows).toBe(1409);
      expect(report.holdout).toEqual(model.metrics.holdout);
      expect(report.cv).toEqual(model.metrics.cv);
      expect(report.summary).toMatch(
        /^On 1,409 rows it had not seen, the model ranks a row whose churn is Yes above one whose churn is No (8\d)% of the time \(AUC 0\.8\d\); its predicted churn is right \d\d% of the time\.$/,
      );
      const percent = Number(/ (\d+)% of the time \(AUC/.exec(report.summary)?.[1]);
      expect(percent).toBe(Math.round(report.holdout.auc * 100));
      expect(Object.keys(report.metricNames).sort()).toEqual(["accuracy", "auc", "f1", "logloss"]);
      expect(report.metricNames.auc.label).toBe("AUC");
      expect(report.candidates).toEqual(model.candidates);
      expect(report.chosen).toEqual(model.chosen);
      expect(report.importance).toEqual(model.importance);
      expect(report.shapImportance.features.length).toBeGreaterThan(0);
      expect(report.excluded).toEqual([]);
    });

    it("draws the ROC curve and confusion matrix of the hold-out rows", () => {
      const c = report.classification;
      expect(c.classes).toEqual(["No", "Yes"]);
      expect(c.positive).toBe("Yes");
      expect(c.roc.auc).toBeCloseTo(report.holdout.auc, 5);
      expect(c.roc.points.length).toBeGreaterThan(50);
      expect(c.roc.points.length).toBeLessThanOrEqual(200);
      expect(c.roc.points[0]).toEqual({ fpr: 0, tpr: 0, threshold: null });
      expect(c.roc.points.at(-1)).toMatchObject({ fpr: 1, tpr: 1 });
      expect(c.confusion.labels).toEqual(["No", "Yes"]);
      const counts: number[][] = c.confusion.counts;
      expect(counts.flat().reduce((a, b) => a + b, 0)).toBe(1409);
      // The hold-out is stratified: 26.5% of the rows churned, in the hold-out too.
      expect((counts[1]?.[0] ?? 0) + (counts[1]?.[1] ?? 0)).toBe(374);
      expect(((counts[0]?.[0] ?? 0) + (counts[1]?.[1] ?? 0)) / 1409).toBeCloseTo(c.accuracy, 5);
      expect(report.regression).toBeUndefined();
    });

    it("shows hold-out sample rows answered by the model that had not seen them", async () => {
      expect(report.samples).toHaveLength(5);
      expect(new Set(report.samples.map((s: Json) => s.actual))).toEqual(new Set(["No", "Yes"]));
      const inputs = (await call("GET", "/v1/apps/churn")).json.app.inputSchema.properties;
      let differs = 0;
      for (const sample of report.samples) {
        // Records a caller could send: the published app accepts each one as it is.
        expect(Object.keys(sample.record).sort()).toEqual(Object.keys(inputs).sort());
        const served = await call("POST", "/v1/apps/churn/predict?explain=true", sample.record);
        expect(served.status).toBe(200);
        // The answer comes from the 80% model, explained in the same columns and scale.
        const yes: number = sample.probabilities.Yes;
        expect(sample.prediction).toBe(yes >= 0.5 ? "Yes" : "No");
        expect(sample.explanation.class).toBe("Yes");
        expect(Object.keys(sample.explanation.contributions).sort()).toEqual(
          Object.keys(served.json.explanation.contributions).sort(),
        );
        const margin = Object.values(
          sample.explanation.contributions as Record<string, number>,
        ).reduce((a, b) => a + b, sample.explanation.base as number);
        expect(1 / (1 + Math.exp(-margin))).toBeCloseTo(yes, 3);
        if (Math.abs(served.json.probabilities.Yes - yes) > 1e-3) differs++;
      }
      // The published model was refitted on every row, these included: its answers differ.
      expect(differs).toBeGreaterThan(0);
    });

    it("survives a restart: the report is stored with the model", async () => {
      await server.ballast.close();
      let restarted: Ballast | undefined;
      try {
        restarted = await createBallast(
          loadConfig({
            port: 0,
            demo: false,
            logLevel: "silent",
            dataDir,
            ...(database ? { databaseUrl: database.url } : {}),
          }),
        );
        const url = await restarted.listen();
        const key = readFileSync(path.join(dataDir, "admin.key"), "utf8").trim();
        const again = await api({ url }, key)("GET", "/v1/models/churn@1/report");
        expect(again.status).toBe(200);
        expect(again.json).toEqual(report);
      } finally {
        await restarted?.close();
        // Bring the suite's server back for the remaining tests.
        server = await startTestServerOn(dataDir, database?.url);
        call = api(server, server.adminKey);
      }
    });

    it("answers 404 no_report for a model without one, and guards the route", async () => {
      const imported = await call("POST", "/v1/models/import", {
        name: "tiers",
        model: Buffer.from(mlpFile()).toString("base64"),
        schema: MLP_SCHEMA,
      });
      expect(imported.status).toBe(201);
      const none = await call("GET", "/v1/models/tiers/report");
      expect(none.status).toBe(404);
      expect(none.json.error.code).toBe("no_report");
      expect(none.json.error.message).toMatch(/tiers@1 has no training report/);
      expect((await call("GET", "/v1/models/nope/report")).json.error.code).toBe("not_found");
      expect((await api(server, undefined)("GET", "/v1/models/churn/report")).status).toBe(401);
      const invoker = await call("POST", "/v1/keys", { role: "invoker" });
      expect(
        (await api(server, invoker.json.secret)("GET", "/v1/models/churn/report")).status,
      ).toBe(403);
    });

    it("never answers 5xx to generated model references", async () => {
      const ref = fc.oneof(
        fc.constantFrom("churn", "churn@1", "churn@2", "churn@0", "tiers", "mv_x", "@", "churn@"),
        fc.string({ minLength: 1, maxLength: 30 }),
      );
      await fc.assert(
        fc.asyncProperty(ref, async (r) => {
          const { status, json } = await call("GET", `/v1/models/${encodeURIComponent(r)}/report`);
          expect(status).toBeLessThan(500);
          if (status === 200) expect(json.model.name).toBe("churn");
          else expect([400, 404]).toContain(status);
        }),
        { numRuns: 60, seed: 6 },
      );
    });
  });
}

/** A test server on an existing data dir (its admin key is read back from admin.key). */
async function startTestServerOn(dataDir: string, databaseUrl?: string): Promise<TestServer> {
  const ballast = await createBallast(
    loadConfig({
      port: 0,
      demo: false,
      logLevel: "silent",
      dataDir,
      ...(databaseUrl ? { databaseUrl } : {}),
    }),
  );
  const url = await ballast.listen();
  const adminKey = readFileSync(path.join(dataDir, "admin.key"), "utf8").trim();
  return { url, adminKey, dataDir, ballast, close: () => ballast.close() };
}
