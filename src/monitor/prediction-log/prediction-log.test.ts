import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Frame } from "../../data/frame.ts";
import { schemaOfFrame } from "../../data/index.ts";
import { createRandom } from "../../learn/random.ts";
import { Predictor } from "../../models/predictor.ts";
import { trainModel } from "../../models/train.ts";
import { DEFAULT_MONITORING, type PredictionLogSettings } from "../../spec/monitoring.ts";
import type { PredictObservation, ServedVersion } from "../observation.ts";
import { PredictionLog, type PredictionLogOptions } from "./prediction-log.ts";
import { predictionLogPath } from "./prediction-store.ts";

/** A yes/no target driven by x, plus a free-text note where callers may leave personal data. */
function churnLike(n: number): Frame {
  const random = createRandom(7);
  const x = Float64Array.from({ length: n }, () => random.nextFloat() * 10);
  const z = Float64Array.from({ length: n }, () => random.nextFloat());
  const y = Int32Array.from(x, (v, i) => (v + (z[i] as number) * 4 > 7 ? 1 : 0));
  return {
    rowCount: n,
    columns: [
      { name: "x", type: "number", values: x },
      { name: "z", type: "number", values: z },
      { name: "churn", type: "category", codes: y, levels: ["No", "Yes"] },
    ],
  };
}

let predictor: Predictor;

beforeAll(async () => {
  const frame = churnLike(300);
  const { artifact } = await trainModel(frame, schemaOfFrame(frame), {
    target: "churn",
    timeBudgetMs: 300,
    seed: 1,
  });
  predictor = new Predictor(artifact);
});

function served(log: Partial<PredictionLogSettings> = {}, app = "churn"): ServedVersion {
  return {
    workspaceId: "ws",
    app,
    version: 3,
    appVersionId: "av3",
    model: { name: "churn", version: 2 },
    predictor,
    monitoring: {
      ...DEFAULT_MONITORING,
      predictionLog: { ...DEFAULT_MONITORING.predictionLog, ...log },
    },
  };
}

let seq = 0;
function observation(
  version: ServedVersion,
  records: Record<string, unknown>[] = [{ x: 8, z: 0.5 }],
  extra: Partial<PredictObservation> = {},
): PredictObservation {
  return {
    requestId: `req-${++seq}`,
    at: Date.UTC(2025, 0, 1) + seq,
    served: version,
    status: 200,
    outcome: "ok",
    latencyMs: 2.5,
    modelMs: 0.1,
    records,
    answers: records.map((r) => predictor.predict(r)),
    ...extra,
  };
}

let dir: string;
const logs: PredictionLog[] = [];
function open(options: Partial<PredictionLogOptions> = {}): PredictionLog {
  // The timer never fires during a test unless asked: flushes are explicit.
  const log = new PredictionLog({
    path: predictionLogPath(dir),
    flushIntervalMs: 3_600_000,
    ...options,
  });
  logs.push(log);
  return log;
}

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "ballast-predlog-"));
});

afterEach(async () => {
  for (const log of logs.splice(0)) await log.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Lines in the log's spool file (0 when there is none). */
function spooledLines(): number {
  try {
    return readFileSync(`${predictionLogPath(dir)}.spool.tsv`, "utf8").split("\n").length - 1;
  } catch {
    return 0;
  }
}

async function stored(log: PredictionLog, sql: string) {
  return (await log.storeReady()).query(sql);
}

describe("PredictionLog sampling", () => {
  it("logs every request at rate 1 and none at rate 0", () => {
    const log = open();
    const all = served({ sampleRate: 1 });
    const none = served({ sampleRate: 0 });
    for (let i = 0; i < 1000; i++) log.observe(observation(none));
    expect(log.stats().pending).toBe(0);
    for (let i = 0; i < 1000; i++) log.observe(observation(all));
    expect(log.stats().pending).toBe(1000);
  });

  it("logs about half at rate 0.5 (binomial, within 6 standard deviations)", () => {
    const log = open({ maxPendingRows: 100_000, flushRows: 100_000 });
    const half = served({ sampleRate: 0.5 });
    const n = 20_000;
    const o = observation(half);
    for (let i = 0; i < n; i++) log.observe(o);
    const sd = Math.sqrt(n * 0.25);
    expect(Math.abs(log.stats().pending - n / 2)).toBeLessThan(6 * sd);
  });

  it("ignores answers other than 200, answers without records, and apps with the log off", () => {
    const log = open();
    log.observe(observation(served(), undefined, { status: 400, outcome: "client_error" }));
    log.observe({ ...observation(served()), records: undefined, answers: undefined });
    log.observe(observation(served({ enabled: false })));
    expect(log.stats()).toMatchObject({ pending: 0, dropped: 0 });
  });
});

describe("PredictionLog buffer and flushes", () => {
  it("bounds the rows waiting and counts what it drops", () => {
    const log = open({ maxPendingRows: 100, flushRows: 1000 });
    for (let i = 0; i < 150; i++) log.observe(observation(served()));
    // A batch that does not fit is dropped whole.
    log.observe(
      observation(served(), [
        { x: 1, z: 0 },
        { x: 2, z: 0 },
      ]),
    );
    expect(log.stats()).toMatchObject({ pending: 100, dropped: 52 });
  });

  it("writes one row per record in one batch once flushRows rows wait", async () => {
    const log = open({ flushRows: 10 });
    for (let i = 0; i < 4; i++) log.observe(observation(served()));
    const batch = [
      { x: 9, z: 0.9 },
      { x: 1, z: 0.1 },
    ];
    const big = observation(served(), batch);
    for (let i = 0; i < 3; i++) log.observe(observation(served(), batch));
    expect(log.stats().written).toBe(0);
    log.observe(big);
    // The early flush runs on the next turn, off the request that filled the buffer.
    expect(log.stats().pending).toBe(12);
    await new Promise((resolve) => setImmediate(resolve));
    await log.flush();
    expect(log.stats()).toMatchObject({ pending: 0, written: 12, flushes: 1, dropped: 0 });
    const rows = await stored(
      log,
      `SELECT request_id, row_index, workspace_id, app, app_version, app_version_id, model_name,
              model_version, task, epoch_ms(predicted_at), latency_ms, model_ms, cache_hit,
              input, prediction_label, positive_label, score, probabilities
       FROM predictions WHERE request_id = '${big.requestId}' ORDER BY row_index`,
    );
    const expected = big.answers ?? [];
    expect(rows).toEqual(
      batch.map((record, i) => [
        big.requestId,
        i,
        "ws",
        "churn",
        3,
        "av3",
        "churn",
        2,
        "binary",
        BigInt(big.at),
        2.5,
        0.1,
        false,
        JSON.stringify(record),
        expected[i]?.prediction,
        "Yes",
        expected[i]?.probabilities?.Yes,
        JSON.stringify(expected[i]?.probabilities),
      ]),
    );
  });

  it("spools on its timer, stores the spool once large or old enough, and close() stores the rest", async () => {
    const log = open({ flushIntervalMs: 20, ingestRows: 3, ingestIntervalMs: 3_600_000 });
    log.observe(observation(served()));
    // Appended to the spool, not stored yet: it still counts as waiting.
    await expect.poll(spooledLines, { timeout: 5000 }).toBe(1);
    expect(log.stats()).toMatchObject({ pending: 1, written: 0 });
    log.observe(observation(served()));
    log.observe(observation(served()));
    // Three rows spooled: stored in one transaction, and the spool starts afresh.
    await expect.poll(() => log.stats().written, { timeout: 5000 }).toBe(3);
    expect(log.stats()).toMatchObject({ pending: 0, flushes: 1 });
    expect(spooledLines()).toBe(0);
    log.observe(observation(served()));
    log.observe(observation(served()));
    await log.close();
    expect(log.stats()).toMatchObject({ pending: 0, written: 5, flushes: 2 });
    log.observe(observation(served()));
    expect(log.stats()).toMatchObject({ pending: 0, dropped: 1 });
    // Reopened, the file holds all five. Its clock is the rows' own day: a reopened log applies
    // retention at once, and rows from 2025 are older than the default 30 days kept.
    const again = open({ now: () => Date.UTC(2025, 0, 2) });
    expect(await stored(again, "SELECT count(*) FROM predictions")).toEqual([[5n]]);
  });

  it("appends to the spool as soon as 250 rows wait, so observations die young", async () => {
    const log = open();
    for (let i = 0; i < 249; i++) log.observe(observation(served()));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(spooledLines()).toBe(0);
    log.observe(observation(served()));
    await expect.poll(spooledLines, { timeout: 5000 }).toBe(250);
    expect(log.stats()).toMatchObject({ pending: 250, written: 0 });
  });

  it("stores a spool once it is ingestIntervalMs old, however small", async () => {
    const log = open({ flushIntervalMs: 20, ingestIntervalMs: 100 });
    log.observe(observation(served()));
    await expect.poll(() => log.stats().written, { timeout: 5000 }).toBe(1);
  });

  it("stores what waits before any read, so reads see every prediction answered", async () => {
    const log = open();
    const o = observation(served());
    log.observe(o);
    expect(log.stats()).toMatchObject({ pending: 1, written: 0 });
    expect(await log.loggedPrediction("ws", "churn", o.requestId)).toEqual({
      version: 3,
      input: o.records?.[0],
      output: JSON.parse(JSON.stringify(o.answers?.[0])),
    });
    expect(log.stats()).toMatchObject({ pending: 0, written: 1 });
  });

  it("appends a batch to the spool whole or not at all", async () => {
    const errors: unknown[] = [];
    const log = open({
      flushRows: 1_000_000,
      maxPendingRows: 1_000_000,
      onError: (error) => errors.push(error),
    });
    // 600 good rows, then one that cannot be serialized: the first 500 lines are already in
    // the spool file when the batch fails.
    for (let i = 0; i < 600; i++) log.observe(observation(served()));
    log.observe({ ...observation(served()), records: [{ x: 1, z: 10n }] });
    await log.flush();
    expect(errors).toHaveLength(1);
    expect(log.stats()).toMatchObject({ pending: 0, written: 0, dropped: 601 });
    expect(spooledLines()).toBe(0);
    const kept = observation(served());
    log.observe(kept);
    await log.flush();
    expect(log.stats()).toMatchObject({ written: 1, dropped: 601 });
    expect(await stored(log, "SELECT request_id FROM predictions")).toEqual([[kept.requestId]]);
  });

  it("masks personal data planted in the inputs before they are written", async () => {
    const log = open();
    const planted = {
      x: 5,
      z: 0.5,
      note: "mail jane.doe@example.com or call +44 20 7946 0958, card 4111 1111 1111 1111",
      email: "someone@example.org",
      ssn: "123-45-6789",
    };
    // As records only, and with the body text a front door keeps (read again on the thread).
    log.observe(observation(served(), [planted]));
    const text = JSON.stringify(planted);
    log.observe(observation(served(), [JSON.parse(text)], { bodyText: text }));
    const rows = JSON.stringify({ rows: [planted] });
    log.observe(observation(served(), [planted], { bodyText: rows, bodyRows: true }));
    await log.flush();
    const inputs = (await stored(log, "SELECT input FROM predictions")).map((r) => String(r[0]));
    expect(inputs).toHaveLength(3);
    for (const input of inputs) {
      for (const secret of [
        "jane.doe@example.com",
        "7946 0958",
        "4111",
        "someone@example.org",
        "123-45-6789",
      ]) {
        expect(input).not.toContain(secret);
      }
      const parsed = JSON.parse(input) as Record<string, unknown>;
      expect(parsed).toMatchObject({ x: 5, z: 0.5, email: "[email]", ssn: "[national_id]" });
      expect(parsed.note).toBe("mail [email] or call [phone], card [card]");
    }
  });

  it("writes a large flush in slices, all of it or, when a slice fails, none", async () => {
    const errors: unknown[] = [];
    const log = open({
      flushRows: 1_000_000,
      maxPendingRows: 1_000_000,
      onError: (error) => errors.push(error),
    });
    const text = JSON.stringify({ x: 8, z: 0.5 });
    const many = () =>
      Array.from({ length: 2_500 }, () =>
        observation(served(), [JSON.parse(text)], { bodyText: text }),
      );
    for (const o of many()) log.observe(o);
    await log.flush();
    expect(log.stats()).toMatchObject({ written: 2_500, dropped: 0 });
    // The third slice fails: the first two, already in the spool, are taken back.
    const failing = many();
    failing[2_200] = observation(served(), undefined, { bodyText: "{}", bodyRows: true });
    for (const o of failing) log.observe(o);
    await log.flush();
    expect(errors).toHaveLength(1);
    expect(log.stats()).toMatchObject({ written: 2_500, dropped: 2_500 });
    expect(await stored(log, "SELECT count(DISTINCT request_id) FROM predictions")).toEqual([
      [2_500n],
    ]);
  });

  it("drops a batch whose body text does not give back its records, whole, and says so", async () => {
    const errors: unknown[] = [];
    const log = open({ onError: (error) => errors.push(error) });
    const good = JSON.stringify({ x: 8, z: 0.5 });
    for (let i = 0; i < 3; i++) {
      log.observe(observation(served(), [JSON.parse(good)], { bodyText: good }));
    }
    // A text that is not the request's body: its rows are not the records answered.
    log.observe(observation(served(), undefined, { bodyText: '{"rows": []}', bodyRows: true }));
    await log.flush();
    expect(errors).toHaveLength(1);
    expect(String(errors[0])).toContain("does not hold its");
    expect(log.stats()).toMatchObject({ pending: 0, written: 0, dropped: 4 });
    // Fields the records do not have.
    log.observe(observation(served(), undefined, { bodyText: '{"x": 8}' }));
    await log.flush();
    expect(errors).toHaveLength(2);
    expect(log.stats()).toMatchObject({ written: 0, dropped: 5 });
    // The thread goes on with the next batch.
    const kept = observation(served(), [JSON.parse(good)], { bodyText: good });
    log.observe(kept);
    await log.flush();
    expect(log.stats()).toMatchObject({ written: 1, dropped: 5 });
    expect(await stored(log, "SELECT request_id, input FROM predictions")).toEqual([
      [kept.requestId, JSON.stringify({ x: 8, z: 0.5 })],
    ]);
  });
});

describe("PredictionLog retention", () => {
  it("applies each app's retention days and size cap from the settings it served with", async () => {
    let now = Date.UTC(2025, 0, 1);
    const log = open({ now: () => now });
    const capped = served({ maxRows: 3, retentionDays: 1 });
    for (let i = 0; i < 5; i++) log.observe(observation(capped));
    const other = served({ maxRows: 100, retentionDays: 30 }, "other");
    for (let i = 0; i < 2; i++) log.observe(observation(other));
    await log.flush();
    // Observations were made at 2025-01-01 plus a few ms: the cap keeps the newest three.
    expect(await log.enforceRetention()).toEqual({ predictions: 2, outcomes: 0 });
    const kept = await stored(
      log,
      "SELECT app, count(*) FROM predictions GROUP BY app ORDER BY app",
    );
    expect(kept).toEqual([
      ["churn", 3n],
      ["other", 2n],
    ]);
    now += 2 * 86_400_000;
    expect(await log.enforceRetention()).toEqual({ predictions: 3, outcomes: 0 });
    expect(await stored(log, "SELECT app FROM predictions GROUP BY app")).toEqual([["other"]]);
  });
});
