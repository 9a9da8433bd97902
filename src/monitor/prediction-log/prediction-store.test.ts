import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type CatalogBatch, MAX_ROW_BYTES } from "./log-rows.ts";
import type { ParsedOutcome } from "./outcome-input.ts";
import {
  type BatchLines,
  type LineChunk,
  type LoggedPrediction,
  PredictionStore,
  predictionLines,
  predictionLogPath,
} from "./prediction-store.ts";

const DAY = 86_400_000;
const NOW = Date.UTC(2025, 5, 15, 12, 0, 0);

function row(id: string, at: number, extra: Partial<LoggedPrediction> = {}): LoggedPrediction {
  return {
    requestId: id,
    row: 0,
    workspaceId: "ws",
    app: "churn",
    appVersion: 1,
    appVersionId: "av1",
    modelName: "churn",
    modelVersion: 1,
    task: "binary",
    at,
    latencyMs: 1.5,
    modelMs: 0.2,
    traceId: null,
    cacheHit: false,
    input: { tenure: 1 },
    output: { prediction: "No" },
    predictionLabel: "No",
    predictionValue: null,
    positiveLabel: "Yes",
    score: 0.2,
    probabilities: { No: 0.8, Yes: 0.2 },
    ...extra,
  };
}

const actual = (requestId: string, label: string, r = 0): ParsedOutcome => ({
  requestId,
  row: r,
  kind: "actual",
  event: "",
  actualLabel: label,
  actualValue: null,
  value: null,
});

let dir: string;
let store: PredictionStore;

beforeEach(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "ballast-predlog-"));
  store = await PredictionStore.open(predictionLogPath(dir));
});

afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const ids = async (table = "predictions") =>
  (await store.query(`SELECT request_id FROM ${table} ORDER BY request_id`)).map((r) => r[0]);

describe("PredictionStore", () => {
  it("keeps the log in <dataDir>/monitor/predictions.duckdb and survives a reopen", async () => {
    expect(store.path).toBe(path.join(dir, "monitor", "predictions.duckdb"));
    await store.insertPredictions([row("a", NOW), row("b", NOW)]);
    await store.close();
    store = await PredictionStore.open(predictionLogPath(dir));
    expect(await ids()).toEqual(["a", "b"]);
  });

  it("stores a spool whole, with the versions it adds, only once it is ingested", async () => {
    const v2 = { appVersion: 2, appVersionId: "av2" };
    expect(await store.appendToSpool(predictionLines([row("s1", NOW, v2)]))).toBe(1);
    // A batch stored meanwhile adds the same new version under its own key: both work.
    await store.insertPredictions([row("b1", NOW, v2)]);
    await store.appendToSpool(predictionLines([row("s2", NOW, v2)]));
    expect(store.spooled().rows).toBe(2);
    expect(await ids()).toEqual(["b1"]);
    expect(await store.ingestSpool()).toBe(2);
    expect(store.spooled().rows).toBe(0);
    expect(
      await store.query("SELECT request_id, app_version FROM predictions ORDER BY request_id"),
    ).toEqual([
      ["b1", 2],
      ["s1", 2],
      ["s2", 2],
    ]);
    // A spool whose INSERT fails is gone, and none of it is stored.
    await store.appendToSpool(predictionLines([row("x", NOW), row("bad", NOW, { row: 2 ** 40 })]));
    await expect(store.ingestSpool()).rejects.toThrow();
    expect(store.spooled().rows).toBe(0);
    expect(await store.ingestSpool()).toBe(0);
    expect(await ids()).toEqual(["b1", "s1", "s2"]);
  });

  it("appends to one open spool file, and a failed append leaves what came before it", async () => {
    const spoolFile = `${predictionLogPath(dir)}.spool.tsv`;
    // Lines made on another thread arrive as bytes.
    const asChunks = (lines: BatchLines) =>
      async function* (catalog: CatalogBatch, atBase: number): AsyncGenerator<LineChunk> {
        const made = [...(lines(catalog, atBase) as Iterable<string>)];
        yield { bytes: new TextEncoder().encode(made.join("")), lines: made.length };
      };
    expect(await store.appendToSpool(predictionLines([row("a1", NOW), row("a2", NOW)]))).toBe(2);
    expect(await store.appendToSpool(asChunks(predictionLines([row("b1", NOW)])))).toBe(1);
    const before = statSync(spoolFile).size;
    // 700 lines, the first 500 already written when making the next one fails.
    const failing: BatchLines = function* (catalog, atBase) {
      const many = Array.from({ length: 700 }, (_, i) => row(`f${i}`, NOW));
      let n = 0;
      for (const line of predictionLines(many)(catalog, atBase) as Iterable<string>) {
        if (++n === 600) throw new Error("could not make a line");
        yield line;
      }
    };
    await expect(store.appendToSpool(failing)).rejects.toThrow("could not make a line");
    // Failing chunks after good ones: the good chunk's bytes are taken back too.
    const failingChunks: BatchLines = async function* (catalog, atBase): AsyncGenerator<LineChunk> {
      yield* asChunks(predictionLines([row("g1", NOW)]))(catalog, atBase);
      throw new Error("the thread failed");
    };
    await expect(store.appendToSpool(failingChunks)).rejects.toThrow("the thread failed");
    expect(statSync(spoolFile).size).toBe(before);
    expect(store.spooled().rows).toBe(3);
    expect(await store.appendToSpool(predictionLines([row("c1", NOW)]))).toBe(1);
    expect(await store.ingestSpool()).toBe(4);
    expect(await ids()).toEqual(["a1", "a2", "b1", "c1"]);
    expect(existsSync(spoolFile)).toBe(false);
  });

  it("writes a batch in one transaction: a row that fails leaves none of the batch", async () => {
    await store.insertPredictions([row("kept", NOW)]);
    const bad = row("bad", NOW, { row: 2 ** 40 });
    await expect(store.insertPredictions([row("x", NOW), row("y", NOW), bad])).rejects.toThrow();
    expect(await ids()).toEqual(["kept"]);
    // The connection is usable after the rollback.
    await store.insertPredictions([row("z", NOW)]);
    expect(await ids()).toEqual(["kept", "z"]);
  });

  it("logs a row too large to read back with its size instead, and keeps its batch", async () => {
    const note = (text: string) => ({ input: { note: text } });
    await store.insertPredictions([
      row("small", NOW),
      row("huge", NOW, note("x".repeat(17 * 1024 * 1024))),
      // Just under the limit: kept whole. Over it in bytes though not in characters: replaced.
      row("near", NOW, note("x".repeat(MAX_ROW_BYTES - 400))),
      row("wide", NOW, note("é".repeat(MAX_ROW_BYTES / 2 + 10))),
    ]);
    const rows = await store.query("SELECT request_id, input FROM predictions ORDER BY request_id");
    const input = (i: number) => JSON.parse(String(rows[i]?.[1])) as Record<string, unknown>;
    expect(rows.map((r) => r[0])).toEqual(["huge", "near", "small", "wide"]);
    expect(input(0)).toMatchObject({ truncated: true });
    expect(input(1)).toEqual(note("x".repeat(MAX_ROW_BYTES - 400)).input);
    expect(rows[2]).toEqual(["small", '{"tenure":1}']);
    expect(input(3)).toMatchObject({ truncated: true, bytes: expect.any(Number) });
  });

  it("deletes rows older than the app's retention, and keeps only its newest maxRows", async () => {
    const rows = [
      row("old-1", NOW - 10 * DAY),
      row("old-2", NOW - 8 * DAY),
      ...Array.from({ length: 12 }, (_, i) =>
        row(`new-${String(i).padStart(2, "0")}`, NOW - i * 1000),
      ),
      row("other-app", NOW - 20 * DAY, { app: "other" }),
    ];
    await store.insertPredictions(rows);
    await store.putOutcomes("ws", "churn", [actual("old-1", "No")], NOW - 9 * DAY);
    await store.putOutcomes("ws", "churn", [actual("new-00", "No")], NOW);
    await store.saveSettings("ws", "churn", { maxRows: 5, retentionDays: 7 }, NOW);
    const deleted = await store.enforceRetention(NOW);
    expect(deleted).toEqual({ predictions: 2 + 7, outcomes: 1 });
    // The newest five by time: new-00 (now) ... new-04 (4 s ago).
    expect(await ids()).toEqual(["new-00", "new-01", "new-02", "new-03", "new-04", "other-app"]);
    expect(await ids("outcomes")).toEqual(["new-00"]);
    // An app without saved settings is left alone; a second run deletes nothing more.
    expect(await store.enforceRetention(NOW)).toEqual({ predictions: 0, outcomes: 0 });
  });

  it("keeps the latest report of an outcome, per request, row, and actual or event name", async () => {
    await store.putOutcomes("ws", "churn", [actual("r1", "No"), actual("r1", "Yes", 1)], NOW);
    await store.putOutcomes("ws", "churn", [actual("r1", "Yes"), actual("r1", "No")], NOW + 1);
    const event = (value: number | null): ParsedOutcome => ({
      requestId: "r1",
      row: 0,
      kind: "event",
      event: "converted",
      actualLabel: null,
      actualValue: null,
      value,
    });
    await store.putOutcomes("ws", "churn", [event(5)], NOW);
    await store.putOutcomes("ws", "churn", [event(7)], NOW);
    const rows = await store.query(
      "SELECT row_index, kind, event, actual_label, value FROM outcomes ORDER BY row_index, kind",
    );
    expect(rows).toEqual([
      [0, "actual", "", "No", null],
      [0, "event", "converted", null, 7],
      [1, "actual", "", "Yes", null],
    ]);
  });

  it("finds which reported keys have a logged prediction", async () => {
    await store.insertPredictions([row("a", NOW), row("a", NOW, { row: 1 }), row("b", NOW)]);
    const keys = await store.loggedKeys("ws", "churn", [
      { requestId: "a", row: 1 },
      { requestId: "b", row: 1 },
      { requestId: "c", row: 0 },
    ]);
    expect([...keys]).toEqual(["a\n1"]);
    expect(await store.loggedKeys("other-ws", "churn", [{ requestId: "a", row: 0 }])).toEqual(
      new Set(),
    );
  });

  it("reads a window grouped by version and step, joined with its outcomes", async () => {
    const from = NOW - 3600_000;
    await store.insertPredictions([
      row("p1", from + 10, { score: 0.9, predictionLabel: "Yes" }),
      row("p2", from + 60_010),
      row("p3", from + 60_020, { appVersion: 2 }),
      row("before", from - 1),
      row("after", NOW),
    ]);
    await store.putOutcomes("ws", "churn", [actual("p1", "Yes"), actual("p2", "Yes")], NOW);
    await store.putOutcomes(
      "ws",
      "churn",
      [
        { ...actual("p2", ""), kind: "event", event: "buy", actualLabel: null, value: 3 },
        { ...actual("p3", ""), kind: "event", event: "buy", actualLabel: null, value: null },
      ],
      NOW,
    );
    const data = await store.window({
      workspaceId: "ws",
      app: "churn",
      from,
      to: NOW,
      stepMs: 60_000,
    });
    const byKey = <T extends { version: number; bucket: number }>(xs: readonly T[]) =>
      [...xs].sort((a, b) => a.version - b.version || a.bucket - b.bucket);
    expect(byKey(data.counts)).toEqual([
      { version: 1, bucket: 0, predictions: 1, eventful: 0 },
      { version: 1, bucket: 1, predictions: 1, eventful: 1 },
      { version: 2, bucket: 1, predictions: 1, eventful: 1 },
    ]);
    expect(byKey(data.labelled).map((r) => [r.bucket, r.score, r.actualLabel])).toEqual([
      [0, 0.9, "Yes"],
      [1, 0.2, "Yes"],
    ]);
    expect(byKey(data.events)).toEqual([
      { version: 1, bucket: 1, event: "buy", count: 1, value: 3 },
      { version: 2, bucket: 1, event: "buy", count: 1, value: 0 },
    ]);
  });

  it("keeps what rows share once per version, and forgets what a failed batch added", async () => {
    await store.insertPredictions([row("a", NOW), row("b", NOW)]);
    // A batch that fails takes the version it added with it; the next one adds it again.
    const other = { app: "other", appVersionId: "av9" };
    await expect(
      store.insertPredictions([row("x", NOW, other), row("y", NOW, { ...other, row: 2 ** 40 })]),
    ).rejects.toThrow();
    await store.insertPredictions([row("z", NOW, other)]);
    await store.close();
    store = await PredictionStore.open(predictionLogPath(dir));
    // Reopened, the file's versions are known again: no second row for the same version.
    await store.insertPredictions([row("c", NOW), row("w", NOW, other)]);
    expect(
      await store.query("SELECT app, count(*) FROM log_versions GROUP BY app ORDER BY app"),
    ).toEqual([
      ["churn", 1n],
      ["other", 1n],
    ]);
    expect(
      await store.query("SELECT request_id, app FROM predictions ORDER BY request_id"),
    ).toEqual([
      ["a", "churn"],
      ["b", "churn"],
      ["c", "churn"],
      ["w", "other"],
      ["z", "other"],
    ]);
  });

  it("brings a schema 1 file (one wide table) up to date, rows and retention intact", async () => {
    await store.close();
    const file = path.join(dir, "old", "predictions.duckdb");
    mkdirSync(path.dirname(file));
    const old = await DuckDBInstance.create(file);
    const c = await old.connect();
    for (const statement of [
      "CREATE TABLE log_schema (version INTEGER NOT NULL)",
      "INSERT INTO log_schema VALUES (1)",
      `CREATE TABLE predictions (request_id VARCHAR NOT NULL, row_index INTEGER NOT NULL,
        workspace_id VARCHAR NOT NULL, app VARCHAR NOT NULL, app_version INTEGER NOT NULL,
        app_version_id VARCHAR NOT NULL, model_name VARCHAR NOT NULL,
        model_version INTEGER NOT NULL, task VARCHAR NOT NULL, predicted_at TIMESTAMP NOT NULL,
        latency_ms DOUBLE NOT NULL, model_ms DOUBLE, trace_id VARCHAR, cache_hit BOOLEAN NOT NULL,
        input JSON NOT NULL, output JSON NOT NULL, prediction_label VARCHAR,
        prediction_value DOUBLE, positive_label VARCHAR, score DOUBLE, probabilities JSON)`,
      `INSERT INTO predictions VALUES
        ('r1', 0, 'ws', 'churn', 1, 'av1', 'churn', 1, 'binary', TIMESTAMP '2025-06-15 11:00:00',
         1.5, 0.2, NULL, false, '{"tenure":1}', '{"prediction":"No"}', 'No', NULL, 'Yes', 0.2,
         '{"No":0.8,"Yes":0.2}'),
        ('r2', 0, 'ws', 'charges', 2, 'av2', 'charges', 1, 'regression',
         TIMESTAMP '2025-06-15 11:30:00', 2.5, NULL, 'abc', true, '{"tenure":2}',
         '{"prediction":42.5}', NULL, 42.5, NULL, NULL, NULL)`,
      `CREATE TABLE outcomes (workspace_id VARCHAR NOT NULL, app VARCHAR NOT NULL,
        request_id VARCHAR NOT NULL, row_index INTEGER NOT NULL, kind VARCHAR NOT NULL,
        event VARCHAR NOT NULL, actual_label VARCHAR, actual_value DOUBLE, value DOUBLE,
        reported_at TIMESTAMP NOT NULL, PRIMARY KEY (workspace_id, app, request_id, row_index, kind, event))`,
      `CREATE TABLE log_settings (workspace_id VARCHAR NOT NULL, app VARCHAR NOT NULL,
        max_rows BIGINT NOT NULL, retention_days INTEGER NOT NULL, updated_at TIMESTAMP NOT NULL,
        PRIMARY KEY (workspace_id, app))`,
      "INSERT INTO log_settings VALUES ('ws', 'churn', 1, 30, TIMESTAMP '2025-06-15 00:00:00')",
    ]) {
      await c.run(statement);
    }
    c.closeSync();
    old.closeSync();
    store = await PredictionStore.open(file);
    expect(await store.query("SELECT version FROM log_schema")).toEqual([[2]]);
    const columns = `request_id, workspace_id, app, app_version, task, latency_ms, trace_id,
      cache_hit, input, output, prediction_label, prediction_value, positive_label, score,
      probabilities`;
    expect(await store.query(`SELECT ${columns} FROM predictions ORDER BY request_id`)).toEqual([
      [
        "r1",
        "ws",
        "churn",
        1,
        "binary",
        1.5,
        null,
        false,
        '{"tenure":1}',
        '{"prediction":"No"}',
        "No",
        null,
        "Yes",
        0.2,
        '{"No":0.8,"Yes":0.2}',
      ],
      [
        "r2",
        "ws",
        "charges",
        2,
        "regression",
        2.5,
        "abc",
        true,
        '{"tenure":2}',
        '{"prediction":42.5}',
        null,
        42.5,
        null,
        null,
        null,
      ],
    ]);
    // New rows join the old ones, and retention still applies per app.
    await store.insertPredictions([row("r3", NOW)]);
    expect(await store.enforceRetention(NOW)).toEqual({ predictions: 1, outcomes: 0 });
    expect(await ids()).toEqual(["r2", "r3"]);
  });
});
