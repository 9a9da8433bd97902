/**
 * What the metrics cost:
 * 1. `observe` on the request path, in ns per call: the in-memory recorder, the Prometheus
 *    exporter, and for comparison prom-client's own labelled children doing the same counting
 *    (one counter `inc`, two histogram `observe`s), which the exporter avoids on the hot path.
 * 2. Reading a month of rollups (one app version, one replica, 3,000 requests a minute): the
 *    first `windowCounts(30d)` fills the hour cache, later ones and the 30-day series reuse it.
 *    SQLite in a temp dir, or PostgreSQL with `--postgres=<url>` (an empty database).
 *
 *   npx tsx bench/metrics.ts [--calls=2000000] [--postgres=postgres://...]
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Counter, Histogram, Registry } from "prom-client";
import { schemaOfFrame } from "../src/data/index.ts";
import { Predictor } from "../src/models/predictor.ts";
import { trainModel } from "../src/models/train.ts";
import { AppMetricsRecorder } from "../src/monitor/app-metrics.ts";
import {
  compress,
  encodePairs,
  newRecordingHistogram,
  toMicros,
} from "../src/monitor/latency-histogram.ts";
import { MetricRollups } from "../src/monitor/metric-rollups.ts";
import {
  OUTCOMES,
  type PredictObservation,
  type ServedVersion,
} from "../src/monitor/observation.ts";
import { DURATION_BUCKETS, PrometheusMetrics } from "../src/monitor/prometheus.ts";
import type { MetricRollup } from "../src/registry/metric-rollup-repository.ts";
import { openRegistry } from "../src/registry/registry.ts";
import { DEFAULT_MONITORING } from "../src/spec/monitoring.ts";

const arg = (name: string) =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const CALLS = Number(arg("calls") ?? 2_000_000);
const POSTGRES = arg("postgres");

// A real (tiny) model behind the served version, as the predict route would hand it.
const n = 200;
const x = Float64Array.from({ length: n }, (_, i) => (i * 7919) % 100);
const frame = {
  rowCount: n,
  columns: [
    { name: "x", type: "number" as const, values: x },
    {
      name: "y",
      type: "category" as const,
      codes: Int32Array.from(x, (v) => (v > 50 ? 1 : 0)),
      levels: ["No", "Yes"],
    },
  ],
};
const { artifact } = await trainModel(frame, schemaOfFrame(frame), {
  target: "y",
  timeBudgetMs: 200,
});
const served: ServedVersion = {
  workspaceId: "ws_bench",
  app: "churn",
  version: 3,
  appVersionId: "av_bench",
  model: { name: "churn", version: 1 },
  predictor: new Predictor(artifact),
  monitoring: DEFAULT_MONITORING,
};
const observations: PredictObservation[] = Array.from({ length: 1024 }, (_, i) => ({
  requestId: `r${i}`,
  at: Date.now(),
  served,
  status: 200,
  outcome: OUTCOMES[i % 50 === 0 ? 3 : 0] ?? "ok",
  latencyMs: 0.3 + (i % 97) * 0.05,
  modelMs: 0.05 + (i % 13) * 0.01,
}));

function time(label: string, observe: (o: PredictObservation) => void): void {
  for (let i = 0; i < 200_000; i++) observe(observations[i & 1023] as PredictObservation);
  const started = process.hrtime.bigint();
  for (let i = 0; i < CALLS; i++) observe(observations[i & 1023] as PredictObservation);
  const ns = Number(process.hrtime.bigint() - started) / CALLS;
  console.log(`${label.padEnd(44)} ${ns.toFixed(1).padStart(8)} ns/call`);
}

console.log(`observe, ${CALLS.toLocaleString("en")} calls each`);
const recorder = new AppMetricsRecorder();
time("AppMetricsRecorder.observe", (o) => recorder.observe(o));
const exporter = new PrometheusMetrics({ processMetrics: false });
time("PrometheusMetrics.observe", (o) => exporter.observe(o));
const registry = new Registry();
const requests = new Counter({
  name: "r",
  help: "r",
  labelNames: ["workspace", "app", "version", "outcome"],
  registers: [registry],
});
const buckets = [...DURATION_BUCKETS];
const latency = new Histogram({
  name: "l",
  help: "l",
  labelNames: ["workspace", "app", "version"],
  buckets,
  registers: [registry],
});
const model = new Histogram({
  name: "m",
  help: "m",
  labelNames: ["workspace", "app", "version"],
  buckets,
  registers: [registry],
});
const children = new Map<
  string,
  { ok: Counter.Internal; l: Histogram.Internal<string>; m: Histogram.Internal<string> }
>();
time("prom-client labelled children (comparison)", (o) => {
  let c = children.get(o.served.appVersionId);
  if (!c) {
    const v = String(o.served.version);
    c = {
      ok: requests.labels(o.served.workspaceId, o.served.app, v, o.outcome),
      l: latency.labels(o.served.workspaceId, o.served.app, v),
      m: model.labels(o.served.workspaceId, o.served.app, v),
    };
    children.set(o.served.appVersionId, c);
  }
  c.ok.inc();
  c.l.observe(o.latencyMs / 1000);
  if (o.modelMs !== undefined) c.m.observe(o.modelMs / 1000);
});

// 2. A month of rollups.
const dir = mkdtempSync(path.join(os.tmpdir(), "ballast-bench-metrics-"));
const db = await openRegistry(
  POSTGRES ? { url: POSTGRES } : { sqlitePath: path.join(dir, "r.db") },
);
try {
  const current = Math.floor(Date.now() / 60_000);
  const h = newRecordingHistogram();
  for (let i = 0; i < 3000; i++) h.recordValue(toMicros(1 + (i % 300) * 0.7));
  const text = encodePairs(compress(h));
  const rows: MetricRollup[] = [];
  for (let m = current - 30 * 1440; m < current; m++) {
    rows.push({
      workspaceId: "ws_bench",
      app: "churn",
      version: 3,
      minute: m,
      replica: "other",
      requests: 3000,
      ok: 3000,
      clientError: 0,
      shed: 0,
      rateLimited: 0,
      timeout: 0,
      error: 0,
      cacheHits: 0,
      latency: text,
      modelLatency: text,
    });
  }
  let started = performance.now();
  await db.metricRollups.upsert(rows);
  console.log(
    `\nrollups on ${db.dialect}: wrote ${rows.length.toLocaleString("en")} minute rows (${text.length} chars per histogram) in ${(performance.now() - started).toFixed(0)} ms`,
  );
  const rollups = new MetricRollups({
    recorder: new AppMetricsRecorder(),
    repository: db.metricRollups,
    replica: "bench",
  });
  await rollups.flush();
  for (const label of ["windowCounts(30d), cold cache", "windowCounts(30d), warm"]) {
    started = performance.now();
    await rollups.windowCounts("ws_bench", "churn", 30 * 86400, { slowerThanMs: 100 });
    console.log(`${label.padEnd(44)} ${(performance.now() - started).toFixed(1).padStart(8)} ms`);
  }
  for (const window of ["30d", "7d", "24h"] as const) {
    started = performance.now();
    await rollups.series("ws_bench", "churn", window);
    console.log(
      `${`series(${window})`.padEnd(44)} ${(performance.now() - started).toFixed(1).padStart(8)} ms`,
    );
  }
  await db.metricRollups.deleteOlderThan(current + 1);
} finally {
  await db.close();
  rmSync(dir, { recursive: true, force: true });
}
