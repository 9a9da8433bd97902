/**
 * What live drift costs per answered row: single-row observations of a real churn model (trained
 * on wa_churn) through `DriftMonitor.observe` and the flush its timer runs, as the predict route
 * feeds it at 10,000 req/s (one flush per 5,000 rows, the 500 ms timer's share; the request times
 * advance 0.1 ms a row, so minute slots turn over as they do in service). CPU is
 * `process.cpuUsage()` (user + system, all threads) over the whole run, divided by the rows.
 *
 * Two cases: the route hands the model's encoded rows on (`observation.encoded`, the in-thread
 * path), and the fallback that encodes each record again with the recipe (worker pool, ONNX).
 * The observations are built before the timing, as the route builds them for every observer.
 *
 *   npx tsx bench/drift-observe.ts [--rows=500000] [--repeats=5]
 */
import path from "node:path";
import { rowRecord } from "../src/data/frame.ts";
import { ingestFile } from "../src/data/ingest.ts";
import { Predictor } from "../src/models/predictor.ts";
import { trainModel } from "../src/models/train.ts";
import { DriftMonitor } from "../src/monitor/drift/drift-monitor.ts";
import type { PredictObservation, ServedVersion } from "../src/monitor/observation.ts";
import { DEFAULT_MONITORING } from "../src/spec/monitoring.ts";

const arg = (name: string, fallback: number) => {
  const found = process.argv.find((a) => a.startsWith(`--${name}=`));
  return found ? Number(found.split("=")[1]) : fallback;
};
const ROWS = arg("rows", 500_000);
const REPEATS = arg("repeats", 5);
/** Rows between flushes: 500 ms of traffic at 10,000 req/s. */
const FLUSH_EVERY = 5_000;
const WARMUP = 100_000;

const { frame, schema } = await ingestFile(path.resolve("examples/data/wa_churn.csv"));
const { artifact } = await trainModel(frame, schema, {
  target: "churn",
  timeBudgetMs: 2000,
  seed: 7,
});
const predictor = new Predictor(artifact);
const width = predictor.recipe.width;
const served: ServedVersion = {
  workspaceId: "ws",
  app: "churn",
  version: 1,
  appVersionId: "av1",
  model: { name: "churn", version: 1 },
  predictor,
  monitoring: DEFAULT_MONITORING,
};

/** 1,000 distinct training records with their answers (and encoded rows), as the route sees them. */
const SAMPLES = 1000;
const samples = Array.from({ length: SAMPLES }, (_, i) => {
  const { churn: _target, ...record } = rowRecord(frame, i % frame.rowCount);
  const row = new Float64Array(width);
  predictor.recipe.encodeRecord(record, row);
  return { record, answer: predictor.predict(record), encoded: Array.from(row) };
});

function observations(withEncoded: boolean, start: number): PredictObservation[] {
  return samples.map(({ record, answer, encoded }, i) => ({
    requestId: `req-${i}`,
    at: start,
    served,
    status: 200,
    outcome: "ok",
    latencyMs: 1,
    records: [record],
    answers: [answer],
    ...(withEncoded ? { encoded } : {}),
  }));
}

/** CPU µs per row over `rows` observed rows (observe + the flushes), after a warm-up. */
function measure(withEncoded: boolean): number {
  let clock = Date.UTC(2025, 0, 1);
  const monitor = new DriftMonitor({ flushIntervalMs: 3_600_000, now: () => clock });
  const list = observations(withEncoded, clock);
  const run = (rows: number) => {
    for (let i = 0; i < rows; i++) {
      const o = list[i % SAMPLES] as PredictObservation;
      // The request's arrival time, 0.1 ms apart (the observation is otherwise reused).
      (o as { at: number }).at = clock;
      monitor.observe(o);
      clock += 0.1;
      if ((i + 1) % FLUSH_EVERY === 0) monitor.flush();
    }
    monitor.flush();
  };
  run(WARMUP);
  const before = process.cpuUsage();
  run(ROWS);
  const used = process.cpuUsage(before);
  // The windows really counted every row (a bench that measured nothing would read 0 here).
  const report = monitor.report("ws", "churn", 1, "count");
  if (report?.window.rows !== DEFAULT_MONITORING.drift.windowRows || monitor.dropped > 0) {
    throw new Error(`the monitor did not count the rows: ${JSON.stringify(report?.window)}`);
  }
  monitor.close();
  return (used.user + used.system) / ROWS;
}

/** Each sample's request body, as the route receives it. */
const bodies = samples.map(({ record }) => JSON.stringify(record));

type Mode = "off" | "encoded" | "records";

/**
 * CPU µs per request of a loop shaped like the route's: parse the body, predict, build the
 * observation, write the response JSON. With drift on, the monitor observes it (and, handing the
 * rows on, the runner copies the encoded row as it does then). Drift's cost all in is the
 * difference with "off": it includes the garbage an observation keeps alive until a flush.
 */
function measureRequests(mode: Mode): number {
  let clock = Date.UTC(2025, 0, 1);
  const monitor =
    mode === "off" ? undefined : new DriftMonitor({ flushIntervalMs: 3_600_000, now: () => clock });
  let sink = 0;
  const run = (rows: number) => {
    for (let i = 0; i < rows; i++) {
      const record = JSON.parse(bodies[i % SAMPLES] as string) as Record<string, unknown>;
      const answer = predictor.predict(record);
      let encoded: number[] | undefined;
      if (mode === "encoded") {
        // As the model runner copies it.
        const row = predictor.encodedRow;
        encoded = new Array<number>(width);
        for (let f = 0; f < width; f++) encoded[f] = row[f] as number;
      }
      const observation: PredictObservation = {
        requestId: String(i),
        at: clock,
        served,
        status: 200,
        outcome: "ok",
        latencyMs: 1,
        records: [record],
        answers: [answer],
        encoded,
      };
      sink += JSON.stringify({ request_id: observation.requestId, app: "churn", ...answer }).length;
      monitor?.observe(observation);
      clock += 0.1;
      if ((i + 1) % FLUSH_EVERY === 0) monitor?.flush();
    }
    monitor?.flush();
  };
  run(WARMUP);
  const before = process.cpuUsage();
  run(ROWS);
  const used = process.cpuUsage(before);
  if (monitor) {
    const rows = monitor.report("ws", "churn", 1, "count")?.window.rows;
    if (rows !== DEFAULT_MONITORING.drift.windowRows || monitor.dropped > 0)
      throw new Error(`the monitor did not count the rows (${rows})`);
    monitor.close();
  }
  if (sink === 0) throw new Error("no responses were written");
  return (used.user + used.system) / ROWS;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

const cases = [
  { label: "encoded rows handed on (in-thread model)", encoded: true },
  { label: "records encoded again (worker pool, ONNX)", encoded: false },
];
const runs = new Map<string, number[]>();
for (let repeat = 0; repeat < REPEATS; repeat++) {
  for (const c of cases) runs.set(c.label, [...(runs.get(c.label) ?? []), measure(c.encoded)]);
}
console.log(`churn model: ${width} features, ${ROWS.toLocaleString("en-US")} single-row requests`);
for (const [label, us] of runs) {
  console.log(
    `drift, ${label}: ${median(us).toFixed(3)} µs CPU per row (median of ${us.length}; ${us.map((u) => u.toFixed(2)).join(", ")})`,
  );
}

const modes: Mode[] = ["off", "encoded", "records"];
const requests = new Map<Mode, number[]>();
for (let repeat = 0; repeat < REPEATS; repeat++) {
  for (const mode of modes)
    requests.set(mode, [...(requests.get(mode) ?? []), measureRequests(mode)]);
}
const off = median(requests.get("off") ?? []);
console.log(`requests shaped like the route's (parse, predict, observation, response JSON):`);
console.log(`  drift off: ${off.toFixed(2)} µs CPU per request`);
for (const mode of ["encoded", "records"] as const) {
  const us = median(requests.get(mode) ?? []);
  console.log(
    `  drift on, ${mode === "encoded" ? "encoded rows handed on" : "records encoded again"}: ${us.toFixed(2)} µs, drift's share ${(us - off).toFixed(2)} µs per request`,
  );
}
