import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { ingestFile, rowRecord } from "../../data/index.ts";
import { EncodeError } from "../../features/recipe.ts";
import type { PredictOptions } from "../../models/predictor.ts";
import { Predictor } from "../../models/predictor.ts";
import { trainModel } from "../../models/train.ts";
import { startEventLoopMonitor } from "../../monitor/event-loop.ts";
import { DeadlineExceededError, OverloadedError } from "../errors.ts";
import type { AppWorkerPoolOptions } from "./app-worker-pool.ts";
import { AppWorkerPool, BatchRowError, WorkerPoolClosedError } from "./app-worker-pool.ts";

type ChurnRecord = Record<string, string | number | boolean | null>;

/** Wait (bounded) until `condition` holds: for states reached asynchronously, not timings. */
async function until(condition: () => boolean, what: string, limitMs = 10_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(10);
  }
}

describe("AppWorkerPool", async () => {
  const { frame, schema } = await ingestFile("examples/data/wa_churn.csv");
  const trained = await trainModel(frame, schema, { target: "churn", timeBudgetMs: 1500, seed: 7 });
  const predictor = new Predictor(trained.artifact);
  predictor.warm();
  const records: ChurnRecord[] = Array.from({ length: 500 }, (_, r) => {
    const { churn: _target, ...record } = rowRecord(frame, r);
    return record;
  });
  const inThread = (rows: readonly ChurnRecord[], options: PredictOptions) =>
    rows.map((record) => predictor.predict(record, options));

  const explained = { unknownCategories: "bucket", explain: true } as const;
  // A batch that keeps a thread busy for over half a second (explanations are the costly part),
  // sized from this machine's in-thread pace so the tests below neither crawl nor race.
  const started = performance.now();
  const expectedExplained = inThread(records, explained);
  const perRowMs = Math.max((performance.now() - started) / records.length, 1e-3);
  const longRows = Math.min(Math.max(Math.ceil(600 / perRowMs), 500), 200_000);
  const long = Array.from({ length: longRows }, (_, i) => records[i % records.length] ?? {});

  const pools: AppWorkerPool[] = [];
  const open = (options: AppWorkerPoolOptions) => {
    const pool = AppWorkerPool.create(trained.bytes, options);
    pools.push(pool);
    return pool;
  };
  afterAll(async () => {
    await Promise.all(pools.map((pool) => pool.close()));
  });

  it("runs Ballast's own models, not imported ONNX ones", () => {
    expect(AppWorkerPool.supports(trained.bytes)).toBe(true);
    expect(AppWorkerPool.supports(trained.artifact)).toBe(true);
    const onnx = {
      ...trained.artifact,
      model: { ...trained.artifact.model, learner: "onnx" },
    };
    expect(AppWorkerPool.supports(onnx)).toBe(false);
    expect(() => AppWorkerPool.create(new Uint8Array(64), { threads: 1, maxQueue: 0 })).toThrow(
      /Not a Ballast model/,
    );
    expect(() => AppWorkerPool.create(trained.bytes, { threads: 0, maxQueue: 0 })).toThrow(
      RangeError,
    );
    expect(() => AppWorkerPool.create(trained.bytes, { threads: 1, maxQueue: -1 })).toThrow(
      RangeError,
    );
  });

  it("answers exactly as the in-thread Predictor, with and without explanations", async () => {
    const pool = open({ threads: 2, maxQueue: 4 });
    expect(pool.threads).toBe(2);
    for (const explain of [false, true]) {
      const options = { unknownCategories: "bucket", explain } as const;
      const expected = explain ? expectedExplained : inThread(records, options);
      // Two batches at once, so both threads answer.
      const [first, second] = await Promise.all([
        pool.predictBatch(records, options),
        pool.predictBatch(records.slice(0, 250), options),
      ]);
      expect(first).toEqual(expected);
      expect(second).toEqual(expected.slice(0, 250));
      if (explain) expect(first[0]?.explanation?.contributions).toHaveProperty("tenure");
    }
    expect(await pool.predictBatch([], explained)).toEqual([]);
    expect(pool.liveThreads).toBe(2);
    expect(pool.running).toBe(0);
    expect(pool.queued).toBe(0);
  });

  it("reports the first row the recipe cannot encode, with its index, field and message", async () => {
    const pool = open({ threads: 1, maxQueue: 2 });
    const rows = records.map((record) => ({ ...record }));
    (rows[137] as ChurnRecord).contract = "Fortnightly";
    (rows[300] as ChurnRecord).payment_method = "Gold bars";
    const reject = { unknownCategories: "reject", explain: false } as const;
    let expected: unknown;
    try {
      predictor.predict(rows[137] as ChurnRecord, reject);
    } catch (error) {
      expected = error;
    }
    expect(expected).toBeInstanceOf(EncodeError);
    const error = await pool.predictBatch(rows, reject).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BatchRowError);
    expect(error).toBeInstanceOf(EncodeError);
    const rowError = error as BatchRowError;
    expect(rowError.index).toBe(137);
    expect(rowError.field).toBe("contract");
    expect(rowError.message).toBe((expected as EncodeError).message);
    expect(rowError.error).toBeInstanceOf(EncodeError);
    expect(rowError.error.field).toBe("contract");
    // The same rows under the contract's "bucket" rule all predict, as they do in-thread.
    const bucket = { unknownCategories: "bucket", explain: false } as const;
    expect(await pool.predictBatch(rows, bucket)).toEqual(inThread(rows, bucket));
  });

  it("cancels a batch when its signal aborts: a waiting one leaves the queue, a running one's thread ends", async () => {
    const pool = open({ threads: 1, maxQueue: 2 });
    await until(() => pool.liveThreads === 1, "the thread started");
    const [before] = pool.threadIds;
    const runningAbort = new AbortController();
    const waitingAbort = new AbortController();
    const running = pool.predictBatch(long, explained, runningAbort.signal);
    const waiting = pool.predictBatch(long, explained, waitingAbort.signal);
    expect(pool.running).toBe(1);
    expect(pool.queued).toBe(1);

    const waitingReason = new DeadlineExceededError(10);
    waitingAbort.abort(waitingReason);
    await expect(waiting).rejects.toBe(waitingReason);
    expect(pool.queued).toBe(0);

    const runningReason = new DeadlineExceededError(50);
    runningAbort.abort(runningReason);
    await expect(running).rejects.toBe(runningReason);
    expect(pool.running).toBe(0);
    // The thread that was predicting was ended, and a fresh one serves the next batch.
    await until(
      () => pool.liveThreads === 1 && pool.threadIds[0] !== before,
      "a fresh thread replaced the cancelled one",
    );
    expect(await pool.predictBatch(records.slice(0, 20), explained)).toEqual(
      inThread(records.slice(0, 20), explained),
    );

    // A signal that has already aborted never reaches the pool.
    const reason = new Error("client went away");
    await expect(pool.predictBatch(records, explained, AbortSignal.abort(reason))).rejects.toBe(
      reason,
    );
  });

  it("sheds a batch beyond threads + maxQueue with OverloadedError(pool_full)", async () => {
    for (const maxQueue of [0, 1]) {
      const pool = open({ threads: 1, maxQueue });
      const abort = new AbortController();
      const accepted = Array.from({ length: 1 + maxQueue }, () =>
        pool.predictBatch(long, explained, abort.signal).catch((e: unknown) => e),
      );
      const error = await pool.predictBatch(records, explained).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OverloadedError);
      const overloaded = error as OverloadedError;
      expect(overloaded.reason).toBe("pool_full");
      expect(Number.isInteger(overloaded.retryAfterSeconds)).toBe(true);
      expect(overloaded.retryAfterSeconds).toBeGreaterThanOrEqual(1);
      abort.abort(new Error("test over"));
      for (const outcome of await Promise.all(accepted)) expect(outcome).toBeInstanceOf(Error);
      // Once they have left, the pool takes batches again.
      expect(await pool.predictBatch(records.slice(0, 5), explained)).toHaveLength(5);
    }
  });

  it("close() lets accepted batches finish, ends the threads and refuses new batches", async () => {
    const pool = open({ threads: 2, maxQueue: 1 });
    await until(() => pool.liveThreads === 2, "both threads started");
    const rows = records.slice(0, 200);
    const inFlight = pool.predictBatch(rows, explained);
    const closed = pool.close();
    await expect(pool.predictBatch(rows, explained)).rejects.toBeInstanceOf(WorkerPoolClosedError);
    expect(await inFlight).toEqual(inThread(rows, explained));
    await closed;
    expect(pool.liveThreads).toBe(0);
    expect(pool.close()).toBe(closed);
  });

  it("with idleTimeoutMs, holds no threads while idle and starts them on demand", async () => {
    const pool = open({ threads: 1, maxQueue: 1, idleTimeoutMs: 50 });
    expect(pool.liveThreads).toBe(0);
    const rows = records.slice(0, 50);
    expect(await pool.predictBatch(rows, explained)).toEqual(inThread(rows, explained));
    await until(() => pool.liveThreads === 0, "the idle thread ended");
    expect(await pool.predictBatch(rows, explained)).toEqual(inThread(rows, explained));
  });

  it("keeps the main event loop responsive while a long batch runs in the pool", async () => {
    const pool = open({ threads: 1, maxQueue: 0 });
    await until(() => pool.liveThreads === 1, "the thread started");
    const monitor = startEventLoopMonitor({ resolutionMs: 5 });
    try {
      // The probe sees a block: the same batch in-thread holds the loop for its whole run.
      await sleep(20);
      monitor.stats();
      const blockStart = performance.now();
      inThread(long, explained);
      const blockedMs = performance.now() - blockStart;
      await sleep(20);
      expect(monitor.stats().maxMs).toBeGreaterThan(blockedMs * 0.8);

      // In the pool, the loop keeps its timers. Coarse bound: p99 of the loop's delay stays
      // under 50 ms during a batch of several hundred ms (in-thread it is the whole batch).
      monitor.stats();
      const poolStart = performance.now();
      const answers = await pool.predictBatch(long, explained);
      const poolMs = performance.now() - poolStart;
      const stats = monitor.stats();
      expect(answers).toHaveLength(long.length);
      expect(poolMs).toBeGreaterThan(300);
      expect(stats.p99Ms).toBeLessThan(50);
    } finally {
      monitor.stop();
    }
  });
});
