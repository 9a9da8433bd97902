/**
 * Ballast's GBDT against XGBoost (hist) and scikit-learn HistGradientBoosting, in one run: on
 * the same seeded 80/20 split of each data set, with matched settings (300 rounds, learning
 * rate 0.1, depth 6; one thread each, then all threads each), it prints per data set the
 * quality (AUC, accuracy or R², all scored here by the same code), training time, batch
 * prediction rows/s, single-row latency and Ballast's ratios to each peer, then the issue's
 * goals marked met / not met.
 *
 *   npm run bench:gbdt -- [--sets churn,ames,letter,1m] [--threads 1,all] [--quick]
 *     [--rounds N] [--rows N] [--no-peers]
 *
 * - Data: wa_churn, ames and LetterRecognition from ../shared/datasets (or $BALLAST_DATASETS),
 *   loaded like bench/quality.ts; "1m" is a generated 1,000,000 x 50 mixed numeric/categorical
 *   binary task (bench/gbdt-train-speed.ts generateScaleTask, seed 1). Each set is split
 *   (trainTestSplit, seed 42) and written once, encoded, to bench/.cache (gitignored) as
 *   PREFIX.json + PREFIX.f64, so all three engines see the identical matrix and split.
 * - Ballast runs in a child process per (set, threads), which also gives its peak RSS while
 *   training (process.resourceUsage().maxRSS, read before the test rows are loaded). Settings:
 *   rounds, learningRate 0.1, maxDepth 6, maxLeaves 64 (so depth binds, as in XGBoost), other
 *   parameters at Ballast's defaults; `threads` is passed when the GBDT has that parameter.
 * - Peers run in Debian's /usr/bin/python3 (bench/gbdt_peers.py: settings and the categorical
 *   treatment are documented there). Missing python3-xgboost / python3-sklearn just skips them.
 * - Timing: training is a fit's wall time including binning (DMatrix construction for
 *   XGBoost), the median of up to 5 fits when a fit takes under 3 s (one otherwise). Ballast's
 *   child first runs a 10-round fit on 2,000 rows so the JIT is warm, as in a server that has
 *   trained before. Batch rows/s is the best of at least 3 full passes over the test rows (at
 *   least ~1 s in total). Single-row latency is the median over many calls on one row, each timed
 *   alone (Ballast: predictRow on a Float64Array; peers: predict on a (1, width) array).
 *   Ballast predicts on one thread in every run; the peers use their thread setting.
 * - --quick: 50 rounds and a 100,000-row generated set, for a smoke run (goals then indicative).
 */
import { spawnSync } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { trainTestSplit } from "../src/learn/cross-validation.ts";
import { takeLabels, takeRows } from "../src/learn/feature-matrix.ts";
import { fitGbdt } from "../src/learn/gbdt/gbdt.ts";
import type { GbdtParams } from "../src/learn/gbdt/params.ts";
import { GBDT_DEFAULTS } from "../src/learn/gbdt/params.ts";
import { evaluate } from "../src/learn/metrics.ts";
import type { CsvTarget } from "../src/learn/test-support/csv-matrix.ts";
import { loadCsvDataset } from "../src/learn/test-support/csv-matrix.ts";
import type { FeatureInfo, FeatureMatrix, Labels, Task } from "../src/learn/types.ts";
import { generateScaleTask } from "./gbdt-train-speed.ts";

const SELF = fileURLToPath(import.meta.url);
const DATASETS =
  process.env.BALLAST_DATASETS ?? fileURLToPath(new URL("../../shared/datasets/", import.meta.url));
const CACHE = fileURLToPath(new URL("./.cache/", import.meta.url));
const PEERS_SCRIPT = fileURLToPath(new URL("./gbdt_peers.py", import.meta.url));
const PYTHON = process.env.BALLAST_PYTHON ?? "/usr/bin/python3";
const SPLIT_SEED = 42;
const GENERATED_SEED = 1;

interface SetSpec {
  readonly key: string;
  readonly title: string;
  /** A CSV in DATASETS, or the generated task. */
  readonly file?: string;
  readonly target?: CsvTarget;
}

const SETS: readonly SetSpec[] = [
  {
    key: "churn",
    title: "wa_churn",
    file: "wa_churn.csv",
    target: { column: "churn", task: "binary", positive: "Yes" },
  },
  {
    key: "ames",
    title: "ames",
    file: "ames.csv",
    target: { column: "Sale_Price", task: "regression" },
  },
  {
    key: "letter",
    title: "LetterRecognition",
    file: "LetterRecognition.csv",
    target: { column: "lettr", task: "multiclass" },
  },
  { key: "1m", title: "generated 1M x 50" },
];

/** What bench/.cache/PREFIX.json records about a written set. */
interface SetMeta {
  readonly name: string;
  readonly task: Task;
  readonly features: readonly FeatureInfo[];
  readonly trainRows: number;
  readonly testRows: number;
}

/** One engine's numbers on one (set, threads) case. */
interface EngineResult {
  readonly engine: string;
  readonly version?: string;
  readonly quality: number;
  readonly trainSeconds: number;
  readonly batchRowsPerSecond: number;
  readonly singleRowMicros: number;
  /** Ballast only: peak RSS while training, and RSS with just the training data loaded. */
  readonly peakRssMb?: number;
  readonly dataRssMb?: number;
  readonly trees?: number;
  readonly note?: string;
}

interface Options {
  readonly sets: readonly SetSpec[];
  readonly threads: readonly number[];
  readonly rounds: number;
  readonly generatedRows: number;
  readonly quick: boolean;
  readonly peers: boolean;
}

// ---------------------------------------------------------------- data files

function parseArgs(argv: readonly string[]): Options {
  const value = (name: string): string | undefined => {
    const i = argv.findIndex((a) => a === name || a.startsWith(`${name}=`));
    if (i < 0) return undefined;
    const arg = argv[i] as string;
    return arg.includes("=") ? arg.slice(arg.indexOf("=") + 1) : argv[i + 1];
  };
  const quick = argv.includes("--quick");
  const setKeys = (value("--sets") ?? "churn,ames,letter,1m").split(",").map((s) => s.trim());
  const sets = setKeys.map((k) => {
    const spec = SETS.find((s) => s.key === k || s.title.toLowerCase() === k.toLowerCase());
    if (!spec) throw new Error(`unknown set "${k}" (use ${SETS.map((s) => s.key).join(", ")})`);
    return spec;
  });
  const all = availableParallelism();
  const threads = (value("--threads") ?? "1,all").split(",").map((t) => {
    const n = t.trim() === "all" ? all : Number(t);
    if (!(Number.isInteger(n) && n >= 1)) throw new Error(`bad --threads value "${t}"`);
    return n;
  });
  return {
    sets,
    threads: [...new Set(threads)],
    rounds: Number(value("--rounds") ?? (quick ? 50 : 300)),
    generatedRows: Number(value("--rows") ?? (quick ? 100_000 : 1_000_000)),
    quick,
    peers: !argv.includes("--no-peers"),
  };
}

function prefixFor(spec: SetSpec, options: Options): string {
  return join(CACHE, spec.file ? spec.key : `${spec.key}-${options.generatedRows}`);
}

function writeFloat64(fd: number, values: Float64Array): void {
  const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const chunk = 1 << 28;
  for (let at = 0; at < bytes.length; at += chunk)
    writeSync(fd, bytes.subarray(at, Math.min(at + chunk, bytes.length)));
}

/** Read `count` float64 values starting at value `offset` of a file, into a fresh array. */
function readFloat64(path: string, offset: number, count: number): Float64Array {
  const out = new Float64Array(count);
  const bytes = new Uint8Array(out.buffer);
  const fd = openSync(path, "r");
  try {
    let done = 0;
    while (done < bytes.length) {
      const read = readSync(
        fd,
        bytes,
        done,
        Math.min(1 << 28, bytes.length - done),
        offset * 8 + done,
      );
      if (read <= 0) throw new Error(`${path} is shorter than expected`);
      done += read;
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

/** Load (or generate), split and write one set unless the cache already has it. */
function prepare(spec: SetSpec, options: Options): SetMeta {
  const prefix = prefixFor(spec, options);
  if (existsSync(`${prefix}.json`) && existsSync(`${prefix}.f64`))
    return JSON.parse(readFileSync(`${prefix}.json`, "utf8")) as SetMeta;
  mkdirSync(CACHE, { recursive: true });
  let X: FeatureMatrix;
  let y: Labels;
  let task: Task;
  if (spec.file && spec.target) {
    const path = join(DATASETS, spec.file);
    if (!existsSync(path))
      throw new Error(`missing ${path}: set BALLAST_DATASETS or run beside ../shared`);
    ({ X, y, task } = loadCsvDataset(path, spec.target));
  } else {
    console.error(`generating ${options.generatedRows} x 50 rows (seed ${GENERATED_SEED})...`);
    ({ X, y, task } = generateScaleTask(options.generatedRows, GENERATED_SEED));
  }
  const split = trainTestSplit(y, task, { testFraction: 0.2, seed: SPLIT_SEED });
  const meta: SetMeta = {
    name: spec.title,
    task,
    features: X.features,
    trainRows: split.train.length,
    testRows: split.test.length,
  };
  const fd = openSync(`${prefix}.f64.tmp`, "w");
  try {
    for (const rows of [split.train, split.test]) {
      writeFloat64(fd, takeRows(X, rows).data);
      writeFloat64(fd, takeLabels(y, rows));
    }
  } finally {
    closeSync(fd);
  }
  renameSync(`${prefix}.f64.tmp`, `${prefix}.f64`);
  writeFileSync(`${prefix}.json`, JSON.stringify(meta));
  return meta;
}

function loadPart(
  prefix: string,
  meta: SetMeta,
  part: "train" | "test",
): {
  X: FeatureMatrix;
  y: Labels;
} {
  const w = meta.features.length;
  const trainValues = (w + 1) * meta.trainRows;
  const rows = part === "train" ? meta.trainRows : meta.testRows;
  const start = part === "train" ? 0 : trainValues;
  return {
    X: {
      rowCount: rows,
      features: meta.features,
      data: readFloat64(`${prefix}.f64`, start, w * rows),
    },
    y: readFloat64(`${prefix}.f64`, start + w * rows, rows),
  };
}

function qualityOf(task: Task, y: Labels, predictions: Float64Array): number {
  const metrics = evaluate(task, y, predictions);
  const name = metricName(task);
  return metrics[name] ?? Number.NaN;
}

function metricName(task: Task): string {
  return task.kind === "binary" ? "auc" : task.kind === "multiclass" ? "accuracy" : "r2";
}

// ---------------------------------------------------------------- Ballast (child process)

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1] ?? Number.NaN;
}

/** The child: train on PREFIX's training rows, measure, print one JSON line. */
function worker(prefix: string, threads: number, rounds: number): void {
  const meta = JSON.parse(readFileSync(`${prefix}.json`, "utf8")) as SetMeta;
  const train = loadPart(prefix, meta, "train");
  const dataRss = process.memoryUsage().rss;
  const params: GbdtParams & { threads?: number } = {
    rounds,
    learningRate: 0.1,
    maxDepth: 6,
    maxLeaves: 64,
  };
  const threaded = "threads" in GBDT_DEFAULTS;
  if (threaded) params.threads = threads;
  // Warm the JIT up first, as in a server that has trained before: 10 rounds on 2,000 rows.
  const warm = Uint32Array.from({ length: Math.min(2000, train.X.rowCount) }, (_, i) => i);
  fitGbdt(takeRows(train.X, warm), takeLabels(train.y, warm), meta.task, {
    ...params,
    rounds: 10,
  });
  // Median of the fits: fits shorter than 3 s are repeated (up to 5, about 10 s), as the peers'
  // are (gbdt_peers.py timed_fit). Peak RSS is the process's over all of them.
  const fitTimes: number[] = [];
  let model: ReturnType<typeof fitGbdt> | undefined;
  while (
    model === undefined ||
    (fitTimes.length < 5 && median(fitTimes) < 3 && sum(fitTimes) < 10)
  ) {
    const started = performance.now();
    model = fitGbdt(train.X, train.y, meta.task, params, { seed: SPLIT_SEED });
    fitTimes.push((performance.now() - started) / 1000);
    if ((fitTimes.at(-1) as number) >= 3) break;
  }
  const trainSeconds = median(fitTimes);
  const peakRss = process.resourceUsage().maxRSS * 1024;
  const test = loadPart(prefix, meta, "test");
  const predictions = model.predictBatch(test.X);
  const quality = qualityOf(meta.task, test.y, predictions);
  // Batch: best of >= 3 passes, >= ~1 s in total.
  let best = Number.POSITIVE_INFINITY;
  let total = 0;
  for (let rep = 0; rep < 3 || (total < 1000 && rep < 50); rep++) {
    const t0 = performance.now();
    model.predictBatch(test.X);
    const dt = performance.now() - t0;
    best = Math.min(best, dt);
    total += dt;
  }
  // Single rows: up to 1000 test rows, row-major, each call timed alone.
  const n = test.X.rowCount;
  const w = meta.features.length;
  const sample = Math.min(1000, n);
  const rows: Float64Array[] = [];
  for (let r = 0; r < sample; r++) {
    const row = new Float64Array(w);
    for (let f = 0; f < w; f++) row[f] = test.X.data[f * n + r] as number;
    rows.push(row);
  }
  const out = new Float64Array(model.outputSize);
  for (let i = 0; i < 5000; i++) model.predictRow(rows[i % sample] as Float64Array, out);
  const times: number[] = [];
  const budgetEnd = performance.now() + 3000;
  for (let i = 0; i < 20_000 && (i < 200 || performance.now() < budgetEnd); i++) {
    const row = rows[i % sample] as Float64Array;
    const t0 = process.hrtime.bigint();
    model.predictRow(row, out);
    times.push(Number(process.hrtime.bigint() - t0));
  }
  const result: EngineResult = {
    engine: "ballast",
    quality,
    trainSeconds,
    batchRowsPerSecond: n / (best / 1000),
    singleRowMicros: median(times) / 1000,
    peakRssMb: peakRss / 2 ** 20,
    dataRssMb: dataRss / 2 ** 20,
    trees: model.forest.roots.length,
    ...(threaded ? {} : { note: "no threads parameter yet: trained on 1 thread" }),
  };
  console.log(JSON.stringify(result));
}

function runBallast(prefix: string, threads: number, rounds: number): EngineResult {
  const child = spawnSync(
    process.execPath,
    [
      ...process.execArgv,
      "--max-old-space-size=4096",
      SELF,
      "--worker",
      prefix,
      "--threads",
      String(threads),
      "--rounds",
      String(rounds),
    ],
    { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 1 << 24 },
  );
  if (child.status !== 0) throw new Error(`ballast worker failed (exit ${child.status})`);
  return JSON.parse(child.stdout.trim().split("\n").pop() ?? "{}") as EngineResult;
}

// ---------------------------------------------------------------- peers (python)

function peersAvailable(): string | undefined {
  if (!existsSync(PYTHON)) return `${PYTHON} not found`;
  const check = spawnSync(PYTHON, ["-c", "import xgboost, sklearn"], { encoding: "utf8" });
  if (check.status !== 0)
    return "python3-xgboost / python3-sklearn missing (apt-get install -y python3-xgboost python3-sklearn)";
  return undefined;
}

function runPeer(
  peer: "xgboost" | "sklearn",
  prefix: string,
  meta: SetMeta,
  threads: number,
  rounds: number,
): EngineResult {
  const out = `${prefix}.${peer}.${threads}.pred.f64`;
  const child = spawnSync(
    PYTHON,
    [
      PEERS_SCRIPT,
      "--data",
      prefix,
      "--peer",
      peer,
      "--threads",
      String(threads),
      "--rounds",
      String(rounds),
      "--out",
      out,
    ],
    {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
      env: {
        ...process.env,
        OMP_NUM_THREADS: String(threads),
        OPENBLAS_NUM_THREADS: "1",
      },
      maxBuffer: 1 << 24,
    },
  );
  if (child.status !== 0) throw new Error(`${peer} failed (exit ${child.status})`);
  const report = JSON.parse(child.stdout.trim().split("\n").pop() ?? "{}") as {
    version: string;
    trainSeconds: number;
    batchRowsPerSecond: number;
    singleRowMicros: number;
  };
  const test = loadPart(prefix, meta, "test");
  const outputs = meta.task.kind === "multiclass" ? meta.task.classCount : 1;
  const predictions = readFloat64(out, 0, test.X.rowCount * outputs);
  rmSync(out, { force: true });
  return {
    engine: peer,
    version: report.version,
    quality: qualityOf(meta.task, test.y, predictions),
    trainSeconds: report.trainSeconds,
    batchRowsPerSecond: report.batchRowsPerSecond,
    singleRowMicros: report.singleRowMicros,
  };
}

// ---------------------------------------------------------------- report

interface CaseReport {
  readonly spec: SetSpec;
  readonly meta: SetMeta;
  readonly threads: number;
  readonly results: readonly EngineResult[];
}

function fmtInt(v: number): string {
  return Math.round(v).toLocaleString("en-US");
}

function fmtMicros(v: number): string {
  return v >= 100 ? v.toFixed(0) : v.toFixed(1);
}

/** A text table: first column (or every column, with `left`) left-aligned, others right. */
function table(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  left = false,
): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === 0 || left ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

function printCase(report: CaseReport): void {
  const { meta, results } = report;
  const metric = metricName(meta.task);
  const categorical = meta.features.filter((f) => f.kind === "categorical").length;
  console.log(
    `\n${meta.name}: ${meta.task.kind}, ${fmtInt(meta.trainRows)} train / ${fmtInt(meta.testRows)} test rows, ${meta.features.length} features (${categorical} categorical), threads ${report.threads}`,
  );
  const rows = results.map((r) => [
    r.version ? `${r.engine} ${r.version}` : r.engine,
    r.quality.toFixed(4),
    r.trainSeconds.toFixed(2),
    fmtInt(r.batchRowsPerSecond),
    fmtMicros(r.singleRowMicros),
    r.peakRssMb !== undefined ? `${fmtInt(r.peakRssMb)} (data ${fmtInt(r.dataRssMb ?? 0)})` : "",
  ]);
  const ballast = results.find((r) => r.engine === "ballast");
  if (ballast) {
    for (const peer of results.filter((r) => r.engine !== "ballast")) {
      const d = ballast.quality - peer.quality;
      rows.push([
        `ballast/${peer.engine}`,
        `${d >= 0 ? "+" : ""}${d.toFixed(4)}`,
        `${(ballast.trainSeconds / peer.trainSeconds).toFixed(2)}x`,
        `${(ballast.batchRowsPerSecond / peer.batchRowsPerSecond).toFixed(2)}x`,
        `${(ballast.singleRowMicros / peer.singleRowMicros).toFixed(3)}x`,
        "",
      ]);
    }
  }
  console.log(
    table(["engine", metric, "train s", "batch rows/s", "1-row µs", "peak RSS MB"], rows),
  );
  for (const r of results) if (r.note) console.log(`note (${r.engine}): ${r.note}`);
}

interface Goal {
  readonly goal: string;
  readonly verdict: "met" | "not met" | "n/a";
  readonly detail: string;
}

function goals(reports: readonly CaseReport[], options: Options): Goal[] {
  const out: Goal[] = [];
  const byEngine = (r: CaseReport, e: string): EngineResult | undefined =>
    r.results.find((x) => x.engine === e);
  const verdict = (ok: boolean): "met" | "not met" => (ok ? "met" : "not met");
  const tolerance: Record<string, number> = { auc: 0.002, accuracy: 0.003, r2: 0.005 };
  for (const r of reports) {
    const b = byEngine(r, "ballast");
    const peers = r.results.filter((x) => x.engine !== "ballast");
    if (!b || peers.length === 0) continue;
    const metric = metricName(r.meta.task);
    const bestPeer = Math.max(...peers.map((p) => p.quality));
    const floor = bestPeer - (tolerance[metric] ?? 0);
    out.push({
      goal: `quality ${r.meta.name} (threads ${r.threads})`,
      verdict: verdict(b.quality >= floor),
      detail: `${metric} ${b.quality.toFixed(4)} vs best peer ${bestPeer.toFixed(4)} (floor ${floor.toFixed(4)})`,
    });
    const xgb = byEngine(r, "xgboost");
    if (xgb) {
      const generated = !r.spec.file;
      const ok = generated ? b.trainSeconds < xgb.trainSeconds : b.trainSeconds <= xgb.trainSeconds;
      out.push({
        goal: `training ${generated ? "faster than" : "no slower than"} XGBoost, ${r.meta.name} (threads ${r.threads})`,
        verdict: verdict(ok),
        detail: `${b.trainSeconds.toFixed(2)} s vs ${xgb.trainSeconds.toFixed(2)} s`,
      });
      if (r.threads === 1) {
        const ratio = b.batchRowsPerSecond / xgb.batchRowsPerSecond;
        out.push({
          goal: `batch >= 3x XGBoost rows/s at 1 thread, ${r.meta.name}`,
          verdict: verdict(ratio >= 3),
          detail: `${ratio.toFixed(2)}x (${fmtInt(b.batchRowsPerSecond)} vs ${fmtInt(xgb.batchRowsPerSecond)})`,
        });
      }
    }
  }
  for (const r of reports) {
    const b = byEngine(r, "ballast");
    if (!b || r.meta.task.kind !== "binary" || r.threads !== options.threads[0]) continue;
    out.push({
      goal: `single row < 10 µs (binary, ${b.trees} trees of depth <= 6), ${r.meta.name}`,
      verdict: options.rounds >= 300 ? verdict(b.singleRowMicros < 10) : "n/a",
      detail: `${fmtMicros(b.singleRowMicros)} µs${options.rounds < 300 ? " (fewer than 300 trees)" : ""}`,
    });
  }
  for (const r of reports) {
    const b = byEngine(r, "ballast");
    if (!b || r.spec.file || b.peakRssMb === undefined) continue;
    out.push({
      goal: `peak memory training the ${r.meta.name} set < 1.5 GB (threads ${r.threads})`,
      verdict: r.meta.trainRows >= 800_000 ? verdict(b.peakRssMb < 1536) : "n/a",
      detail: `${fmtInt(b.peakRssMb)} MB process peak RSS (${fmtInt(b.dataRssMb ?? 0)} MB with just the data loaded)`,
    });
  }
  return out;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const workerAt = argv.indexOf("--worker");
  if (workerAt >= 0) {
    const options = parseArgs(argv);
    worker(argv[workerAt + 1] as string, options.threads[0] ?? 1, options.rounds);
    return;
  }
  const options = parseArgs(argv);
  const missingPeers = options.peers ? peersAvailable() : "--no-peers";
  console.log(
    `GBDT benchmark: ${options.rounds} rounds, learning rate 0.1, depth 6; threads ${options.threads.join(", ")}; seeded 80/20 split (seed ${SPLIT_SEED})${options.quick ? "; QUICK run" : ""}`,
  );
  if (missingPeers) console.log(`peers skipped: ${missingPeers}`);
  const reports: CaseReport[] = [];
  for (const spec of options.sets) {
    const meta = prepare(spec, options);
    const prefix = prefixFor(spec, options);
    for (const threads of options.threads) {
      console.error(`${meta.name}, threads ${threads}: ballast...`);
      const results: EngineResult[] = [runBallast(prefix, threads, options.rounds)];
      if (!missingPeers) {
        for (const peer of ["xgboost", "sklearn"] as const) {
          console.error(`${meta.name}, threads ${threads}: ${peer}...`);
          results.push(runPeer(peer, prefix, meta, threads, options.rounds));
        }
      }
      const report: CaseReport = { spec, meta, threads, results };
      printCase(report);
      reports.push(report);
    }
  }
  const list = goals(reports, options);
  if (list.length > 0) {
    console.log(`\nGoals${options.quick ? " (quick run: indicative only)" : ""}:`);
    console.log(
      table(
        ["goal", "verdict", "detail"],
        list.map((g) => [g.goal, g.verdict, g.detail]),
        true,
      ),
    );
  }
}

await main();
