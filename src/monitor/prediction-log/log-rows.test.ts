import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LogCatalog, type LoggedVersion } from "./log-rows.ts";
import { type LoggedPrediction, PredictionStore, predictionLogPath } from "./prediction-store.ts";

let dir: string;
let store: PredictionStore;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "ballast-logrows-"));
  store = await PredictionStore.open(predictionLogPath(dir));
});

afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Text that the batch file must carry through: separators, its quote, empty, any Unicode. */
const text = fc.oneof(
  fc.string(),
  fc.string({ unit: "grapheme" }),
  fc
    .array(fc.constantFrom("\t", "\n", "\r", "\u001f", "\u001f\u001f", "", "a", "é", "\\N", '"'), {
      maxLength: 6,
    })
    .map((parts) => parts.join("")),
);
const finite = fc.double({ noNaN: true, noDefaultInfinity: true });
const version = fc.record({
  workspaceId: fc.constantFrom("ws", "other"),
  app: fc.constantFrom("churn", "charges"),
  appVersion: fc.integer({ min: 1, max: 3 }),
  appVersionId: fc.constantFrom("av1", "av2"),
  modelName: fc.constantFrom("m"),
  modelVersion: fc.integer({ min: 1, max: 2 }),
  task: fc.constantFrom("binary" as const, "multiclass" as const, "regression" as const),
  positiveLabel: fc.option(text, { nil: null }),
});
let seq = 0;
const row = fc
  .record({
    version,
    requestId: text,
    row: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    at: fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2100, 0, 1) }),
    latencyMs: fc.double({ min: 0, max: 1e6, noNaN: true }),
    modelMs: fc.option(fc.double({ min: 0, max: 1e6, noNaN: true }), { nil: null }),
    traceId: fc.option(text, { nil: null }),
    cacheHit: fc.boolean(),
    input: fc.jsonValue(),
    output: fc.jsonValue(),
    predictionLabel: fc.option(text, { nil: null }),
    predictionValue: fc.option(finite, { nil: null }),
    score: fc.option(finite, { nil: null }),
    probabilities: fc.option(fc.dictionary(fc.string(), finite, { maxKeys: 3 }), { nil: null }),
  })
  .map(({ version: v, ...r }): LoggedPrediction => ({ ...v, ...r, requestId: r.requestId }));

/** What JSON.stringify keeps of a value (no -0, no undefined). */
const asJson = (v: unknown) => JSON.parse(JSON.stringify(v ?? null)) as unknown;
const positiveZero = (n: number | null) => (n === 0 ? 0 : n);

describe("batch file rows", () => {
  it("carry every field through DuckDB exactly, whatever the text holds", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(row, { minLength: 1, maxLength: 20 }), async (rows) => {
        const tag = `t${++seq}-`;
        const tagged = rows.map((r, i) => ({ ...r, requestId: `${tag}${i}|${r.requestId}` }));
        expect(await store.insertPredictions(tagged)).toBe(tagged.length);
        const back = await store.query(
          `SELECT request_id, row_index, workspace_id, app, app_version, app_version_id,
                  model_name, model_version, task, epoch_ms(predicted_at), latency_ms, model_ms,
                  trace_id, cache_hit, input, output, prediction_label, prediction_value,
                  positive_label, score, probabilities
           FROM predictions WHERE starts_with(request_id, '${tag}')
           ORDER BY CAST(split_part(substr(request_id, ${tag.length + 1}), '|', 1) AS INTEGER)`,
        );
        expect(back.length).toBe(tagged.length);
        back.forEach((b, i) => {
          const r = tagged[i] as LoggedPrediction;
          const json = (v: unknown) => (v === null ? null : (JSON.parse(String(v)) as unknown));
          expect({
            requestId: b[0],
            row: b[1],
            workspaceId: b[2],
            app: b[3],
            appVersion: b[4],
            appVersionId: b[5],
            modelName: b[6],
            modelVersion: b[7],
            task: b[8],
            at: Number(b[9]),
            latencyMs: b[10],
            modelMs: b[11],
            traceId: b[12],
            cacheHit: b[13],
            input: json(b[14]),
            output: json(b[15]),
            predictionLabel: b[16],
            predictionValue: b[17],
            positiveLabel: b[18],
            score: b[19],
            probabilities: json(b[20]),
          }).toEqual({
            ...r,
            // Latencies are kept to the microsecond.
            latencyMs: Math.round(r.latencyMs * 1000) / 1000,
            modelMs: r.modelMs === null ? null : Math.round(r.modelMs * 1000) / 1000,
            input: asJson(r.input),
            output: asJson(r.output),
            predictionValue: positiveZero(r.predictionValue),
            score: positiveZero(r.score),
            probabilities: r.probabilities === null ? null : asJson(r.probabilities),
          });
        });
      }),
      { numRuns: 25 },
    );
  });
});

describe("LogCatalog", () => {
  const v = (app: string): LoggedVersion => ({
    workspaceId: "ws",
    app,
    appVersion: 1,
    appVersionId: `av-${app}`,
    modelName: "m",
    modelVersion: 1,
    task: "binary",
    positiveLabel: "Yes",
    classes: ["No", "Yes"],
  });

  it("gives a batch's additions keys that become known only once it commits", () => {
    const catalog = new LogCatalog();
    catalog.loadVersion(4, v("stored"));
    catalog.loadShape(2, ["a", "b"]);
    const first = catalog.batch();
    expect(first.versionKey(v("stored"))).toBe(4);
    expect(first.shapeId(["a", "b"])).toBe(2);
    const added = first.versionKey(v("new"));
    expect(added).toBe(5);
    expect(first.versionKey(v("new"))).toBe(5);
    expect(first.shapeId(["b", "a"])).toBe(3);
    expect([...first.versions.values()].map(([key]) => key)).toEqual([5]);
    // Another batch does not see uncommitted additions: its own key, never a reused one.
    const second = catalog.batch();
    expect(second.versionKey(v("new"))).toBe(6);
    catalog.commit(first);
    const third = catalog.batch();
    expect(third.versionKey(v("new"))).toBe(5);
    expect(third.shapeId(["b", "a"])).toBe(3);
    expect(third.versions.size).toBe(0);
    // A version that differs in anything shared is another version.
    expect(third.versionKey({ ...v("new"), modelVersion: 2 })).toBe(7);
  });
});
