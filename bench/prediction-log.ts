/**
 * What the prediction log costs: `observe` on the request path (ns per call, for a logged
 * request, a request sampled out at rate 0.1, and a request dropped by a full buffer), and
 * writing the rows off the request path: rows/s, and the CPU time per row of the whole process
 * (`process.cpuUsage`, every thread), split into the main thread (encoding batches, writing the
 * batch file, and masking and serializing records that come without their body text) and the
 * others (the log's line thread making lines from body text; DuckDB's thread reading,
 * compressing and storing the batch; GC and file-system helpers), which is what 100% logging
 * adds to each request's CPU.
 * Two ways of writing:
 * - one large flush: CALLS + warm-up rows observed, then written in one transaction;
 * - as a server does: SERVER_ROWS requests arrive at RATE a second (default 20,000, more than
 *   bench:serve reaches; 100 at a time), each a fresh observation (its own answer objects, and
 *   its record parsed from its own body text, which the log is given as the server gives it),
 *   and the log spools and stores on its own
 *   (defaults: lines appended to the spool every 250 rows, the spool stored every 122,880
 *   rows or 10 s). Its cost is the CPU of that run minus the CPU of the same requests made
 *   without a log, so it includes what keeping observations alive until they are written
 *   costs the garbage collector.
 * Both count closing the log (its last checkpoint). Uses a real model (trained on wa_churn),
 * its answers, unique request ids and a DuckDB file in a temp dir.
 *
 *   npx tsx bench/prediction-log.ts [--calls=200000] [--repeats=3] [--server-rows=100000]
 *     [--rate=20000]
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { rowRecord } from "../src/data/frame.ts";
import { ingestFile } from "../src/data/ingest.ts";
import { Predictor } from "../src/models/predictor.ts";
import { trainModel } from "../src/models/train.ts";
import type { PredictObservation, ServedVersion } from "../src/monitor/observation.ts";
import { PredictionLog } from "../src/monitor/prediction-log/prediction-log.ts";
import { predictionLogPath } from "../src/monitor/prediction-log/prediction-store.ts";
import { DEFAULT_MONITORING } from "../src/spec/monitoring.ts";

const arg = (name: string, fallback: number) => {
  const found = process.argv.find((a) => a.startsWith(`--${name}=`));
  return found ? Number(found.split("=")[1]) : fallback;
};
const CALLS = arg("calls", 200_000);
const SERVER_ROWS = arg("server-rows", 100_000);
/** Requests a second in the server-like run. */
const RATE = arg("rate", 20_000);
const REPEATS = arg("repeats", 3);

const { frame, schema } = await ingestFile(path.resolve("examples/data/wa_churn.csv"));
const { artifact } = await trainModel(frame, schema, { target: "churn", timeBudgetMs: 2000 });
const predictor = new Predictor(artifact);
const records = Array.from({ length: 1000 }, (_, i) => {
  const { churn: _target, ...record } = rowRecord(frame, i);
  return record;
});

const servedAt = (sampleRate: number): ServedVersion => ({
  workspaceId: "ws",
  app: "churn",
  version: 1,
  appVersionId: "av1",
  model: { name: "churn", version: 1 },
  predictor,
  monitoring: {
    ...DEFAULT_MONITORING,
    predictionLog: { ...DEFAULT_MONITORING.predictionLog, sampleRate },
  },
});

const samples = records.map((record) => ({ record, answer: predictor.predict(record) }));
const WARMUP = 100_000;

/** One observation per call, each with its own request id, as the server makes them. */
function observations(served: ServedVersion, count: number): PredictObservation[] {
  const start = Date.now();
  return Array.from({ length: count }, (_, i) => {
    const { record, answer } = samples[i % samples.length] as (typeof samples)[number];
    return {
      requestId: randomUUID(),
      at: start + Math.floor(i / 10),
      served,
      status: 200,
      outcome: "ok",
      latencyMs: 0.5 + Math.random(),
      modelMs: 0.02 + Math.random() / 20,
      records: [record],
      bodyText: bodyTexts.get(record),
      answers: [answer],
    };
  });
}

/** Each sample record's JSON, as the body it was parsed from. */
const bodyTexts = new Map(samples.map(({ record }) => [record, JSON.stringify(record)]));

/**
 * Start the log's line thread before anything is measured, as a server's first batch does:
 * under tsx, a new thread first compiles the TypeScript it runs.
 */
async function warmUp(log: PredictionLog): Promise<void> {
  log.observe(freshObservation(servedAt(1), Number.MAX_SAFE_INTEGER));
  await log.flush();
}

const dir = mkdtempSync(path.join(os.tmpdir(), "ballast-bench-predlog-"));

/** ns per `observe` call over CALLS calls, after a warm-up, on a fresh log; the log is returned. */
async function measure(label: string, sampleRate: number, maxPendingRows: number) {
  const log = new PredictionLog({
    path: predictionLogPath(path.join(dir, label.replaceAll(/\W+/g, "-"))),
    flushIntervalMs: 3_600_000,
    flushRows: Number.MAX_SAFE_INTEGER,
    maxPendingRows,
  });
  await log.storeReady();
  await warmUp(log);
  const list = observations(servedAt(sampleRate), WARMUP + CALLS);
  for (let i = 0; i < WARMUP; i++) log.observe(list[i] as PredictObservation);
  const start = process.hrtime.bigint();
  for (let i = WARMUP; i < WARMUP + CALLS; i++) log.observe(list[i] as PredictObservation);
  return { log, ns: Number(process.hrtime.bigint() - start) / CALLS };
}

/** Linux: the main thread's CPU time in µs, from /proc (clock ticks of 10 ms); else undefined. */
function mainThreadCpuMicros(): number | undefined {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8");
    // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? ticks * 10_000 : undefined;
  } catch {
    return undefined;
  }
}

/** CPU µs used from now until `stop()`: every thread, and the main thread when known. */
function cpuMeter() {
  const cpu = process.cpuUsage();
  const main = mainThreadCpuMicros();
  return () => {
    const used = process.cpuUsage(cpu);
    const mainAfter = mainThreadCpuMicros();
    return {
      all: used.user + used.system,
      main: main === undefined || mainAfter === undefined ? undefined : mainAfter - main,
    };
  };
}

/** The samples' records as callers send them. */
const bodies = samples.map(({ record }) => Buffer.from(JSON.stringify(record)));

/**
 * A request as the server observes it: its own id, answer objects, and record parsed from its
 * own body text, which the front doors keep for the log (the log's thread reads it again).
 */
function freshObservation(served: ServedVersion, i: number): PredictObservation {
  const { answer } = samples[i % samples.length] as (typeof samples)[number];
  const bodyText = (bodies[i % bodies.length] as Buffer).toString("utf8");
  return {
    requestId: `${ID_PREFIX}${i.toString(16).padStart(12, "0")}`,
    at: Date.now(),
    served,
    status: 200,
    outcome: "ok",
    latencyMs: 0.5 + Math.random(),
    modelMs: 0.02 + Math.random() / 20,
    records: [JSON.parse(bodyText)],
    bodyText,
    answers: [{ ...answer, probabilities: { ...answer.probabilities } }],
  };
}
const ID_PREFIX = `${randomUUID().slice(0, 24)}`;

/** CPU µs of `rows` requests arriving at RATE a second, observed by `log` (then closed) or nobody. */
async function serverRun(rows: number, log?: PredictionLog): Promise<number> {
  const served = servedAt(1);
  let kept = 0;
  const stop = cpuMeter();
  for (let i = 0; i < rows; i += 100) {
    for (let j = i; j < i + 100; j++) {
      const o = freshObservation(served, j);
      if (log) log.observe(o);
      else kept += o.records?.length ?? 0;
    }
    await sleep(100_000 / RATE);
  }
  await log?.close();
  const used = stop().all;
  if (kept < 0) console.log(kept);
  return used;
}

/** What the log adds per row to requests arriving as they do at a server: CPU µs. */
async function serverLike(label: string, rows: number): Promise<number> {
  const log = new PredictionLog({ path: predictionLogPath(path.join(dir, label)) });
  await log.storeReady();
  await warmUp(log);
  const withLog = await serverRun(rows, log);
  const without = await serverRun(rows);
  const { dropped } = log.stats();
  const written = log.stats().written - 1;
  if (written !== rows)
    throw new Error(`the log wrote ${written} rows of ${rows} (${dropped} dropped)`);
  return (withLog - without) / rows;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

try {
  const cases = [
    { label: "logged (rate 1)", rate: 1, max: WARMUP + CALLS },
    { label: "sampled out (rate 0.1)", rate: 0.1, max: WARMUP + CALLS },
    { label: "dropped (buffer full)", rate: 1, max: 0 },
  ];
  const runs = new Map<string, number[]>();
  const flushRates: number[] = [];
  /** The longest the event loop waited during a flush: what a request could wait behind it. */
  const flushStalls: number[] = [];
  /** CPU µs per flushed row: the whole process, and its main thread. */
  const cpuPerRow: number[] = [];
  const mainPerRow: number[] = [];
  const server: number[] = [];
  for (let repeat = 0; repeat < REPEATS; repeat++) {
    for (const c of cases) {
      const { log, ns } = await measure(`${c.label}-${repeat}`, c.rate, c.max);
      runs.set(c.label, [...(runs.get(c.label) ?? []), ns]);
      const rows = log.stats().pending;
      if (c.rate === 1 && rows > 0) {
        const delay = monitorEventLoopDelay({ resolution: 1 });
        delay.enable();
        const start = performance.now();
        const stop = cpuMeter();
        await log.flush();
        flushRates.push(rows / ((performance.now() - start) / 1000));
        delay.disable();
        flushStalls.push(delay.max / 1e6);
        await log.close();
        const used = stop();
        cpuPerRow.push(used.all / rows);
        if (used.main !== undefined) mainPerRow.push(used.main / rows);
      }
      await log.close();
    }
    server.push(await serverLike(`server-${repeat}`, SERVER_ROWS));
  }
  for (const [label, ns] of runs) {
    console.log(`observe, ${label}: ${median(ns).toFixed(1)} ns/call (median of ${ns.length})`);
  }
  console.log(
    `flush of ${(WARMUP + CALLS).toLocaleString("en-US")} rows (one transaction): ${Math.round(median(flushRates)).toLocaleString("en-US")} rows/s (median of ${flushRates.length}); longest event-loop stall during it ${median(flushStalls).toFixed(1)} ms`,
  );
  const cpuLine = (what: string, all: number, main: number) => {
    const split = Number.isFinite(main)
      ? ` = main thread ${main.toFixed(2)} + other threads ${(all - main).toFixed(2)}`
      : "";
    console.log(`CPU per row, ${what}, all threads: ${all.toFixed(2)} µs${split} (medians)`);
  };
  cpuLine("one large flush and close", median(cpuPerRow), median(mainPerRow));
  console.log(
    `CPU per row, ${SERVER_ROWS.toLocaleString("en-US")} requests arriving as at a server (log on minus log off), all threads: ${median(server).toFixed(2)} µs (median of ${server.length})`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
