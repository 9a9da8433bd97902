/**
 * What the prediction log costs: `observe` on the request path (ns per call, for a logged
 * request, a request sampled out at rate 0.1, and a request dropped by a full buffer), and
 * the flush that writes the rows off the request path: rows/s, and the CPU time per row of the
 * whole process (`process.cpuUsage`, every thread), split into the main thread (masking,
 * serializing, writing) and the others (DuckDB's threads reading and storing the batch), which
 * is what 100% logging adds to each request's CPU. Uses a real model (trained on wa_churn) and
 * a DuckDB file in a temp dir.
 *
 *   npx tsx bench/prediction-log.ts [--calls=200000] [--repeats=3]
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
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

function observations(served: ServedVersion): PredictObservation[] {
  return records.map((record, i) => ({
    requestId: `req-${i}`,
    at: Date.now(),
    served,
    status: 200,
    outcome: "ok",
    latencyMs: 1,
    records: [record],
    answers: [predictor.predict(record)],
  }));
}

const dir = mkdtempSync(path.join(os.tmpdir(), "ballast-bench-predlog-"));
const WARMUP = 100_000;

/** ns per `observe` call over CALLS calls, after a warm-up, on a fresh log; the log is returned. */
async function measure(label: string, sampleRate: number, maxPendingRows: number) {
  const log = new PredictionLog({
    path: predictionLogPath(path.join(dir, label.replaceAll(/\W+/g, "-"))),
    flushIntervalMs: 3_600_000,
    flushRows: Number.MAX_SAFE_INTEGER,
    maxPendingRows,
  });
  await log.storeReady();
  const list = observations(servedAt(sampleRate));
  for (let i = 0; i < WARMUP; i++) log.observe(list[i % list.length] as PredictObservation);
  const start = process.hrtime.bigint();
  for (let i = 0; i < CALLS; i++) log.observe(list[i % list.length] as PredictObservation);
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
  for (let repeat = 0; repeat < REPEATS; repeat++) {
    for (const c of cases) {
      const { log, ns } = await measure(`${c.label}-${repeat}`, c.rate, c.max);
      runs.set(c.label, [...(runs.get(c.label) ?? []), ns]);
      const rows = log.stats().pending;
      if (c.rate === 1 && rows > 0) {
        const delay = monitorEventLoopDelay({ resolution: 1 });
        delay.enable();
        const start = performance.now();
        const cpu = process.cpuUsage();
        const main = mainThreadCpuMicros();
        await log.flush();
        flushRates.push(rows / ((performance.now() - start) / 1000));
        const used = process.cpuUsage(cpu);
        cpuPerRow.push((used.user + used.system) / rows);
        const mainAfter = mainThreadCpuMicros();
        if (main !== undefined && mainAfter !== undefined)
          mainPerRow.push((mainAfter - main) / rows);
        delay.disable();
        flushStalls.push(delay.max / 1e6);
      }
      await log.close();
    }
  }
  for (const [label, ns] of runs) {
    console.log(`observe, ${label}: ${median(ns).toFixed(1)} ns/call (median of ${ns.length})`);
  }
  console.log(
    `flush of ${(WARMUP + CALLS).toLocaleString("en-US")} rows (one transaction): ${Math.round(median(flushRates)).toLocaleString("en-US")} rows/s (median of ${flushRates.length}); longest event-loop stall during it ${median(flushStalls).toFixed(1)} ms`,
  );
  const all = median(cpuPerRow);
  const split =
    mainPerRow.length > 0
      ? ` = main thread ${median(mainPerRow).toFixed(2)} + other threads ${(all - median(mainPerRow)).toFixed(2)}`
      : "";
  console.log(`flush CPU per row, all threads: ${all.toFixed(2)} µs${split} (medians)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
