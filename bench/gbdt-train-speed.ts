/**
 * Training-speed benchmark of the GBDT engine alone: the 300-round fit time (median of N runs)
 * on wa_churn, ames and LetterRecognition (seeded 80/20 split, learning rate 0.1, depth 6)
 * and on a generated 1,000,000 x 50 mixed numeric/categorical binary task, at each thread
 * count asked for, with the hold-out quality (to catch a speed-up that costs accuracy) and the
 * process's peak RSS. Every (data set, threads) case runs in a fresh child process so peak RSS
 * and JIT state belong to that case alone. The full comparison with XGBoost and scikit-learn
 * is bench/gbdt.ts; this one is the quick loop for working on the engine.
 *
 *   npx tsx bench/gbdt-train-speed.ts [churn] [ames] [letter] [1m] [--threads=1,2] [--repeats=3]
 *     [--rounds=300] [--rows=1000000] [--settings=defaults|reference]
 *
 * Settings: "defaults" is bench/gbdt.ts's (depth 6, 64 leaves, other parameters at their
 * defaults); "reference" also sets minDataInLeaf 1 and lambda 1, like bench/quality.ts
 * --reference.
 *
 * Reads ../shared/datasets (or $BALLAST_DATASETS) for the three real sets.
 * BALLAST_GBDT_MODULE=/path/to/gbdt.ts measures another version of the engine.
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { trainTestSplit } from "../src/learn/cross-validation.ts";
import { takeLabels, takeRows } from "../src/learn/feature-matrix.ts";
import type { fitGbdt as FitGbdt } from "../src/learn/gbdt/gbdt.ts";
import { evaluate } from "../src/learn/metrics.ts";
import { createRandom } from "../src/learn/random.ts";
import type { CsvTarget } from "../src/learn/test-support/csv-matrix.ts";
import { loadCsvDataset } from "../src/learn/test-support/csv-matrix.ts";
import type { FeatureInfo, FeatureMatrix, Labels, Task } from "../src/learn/types.ts";

const DATASETS =
  process.env.BALLAST_DATASETS ?? fileURLToPath(new URL("../../shared/datasets/", import.meta.url));

const REAL: Record<string, { file: string; target: CsvTarget; metric: string }> = {
  churn: {
    file: "wa_churn.csv",
    target: { column: "churn", task: "binary", positive: "Yes" },
    metric: "auc",
  },
  ames: { file: "ames.csv", target: { column: "Sale_Price", task: "regression" }, metric: "r2" },
  letter: {
    file: "LetterRecognition.csv",
    target: { column: "lettr", task: "multiclass" },
    metric: "accuracy",
  },
};

/** Cardinalities of the generated set's 15 categorical features (the other 35 are numeric). */
const CARDINALITIES = [2, 3, 4, 5, 6, 8, 12, 20, 30, 50, 100, 200, 500, 1000, 3000];
const NUMERIC_FEATURES = 35;

/**
 * A seeded binary task of `rows` x 50: 35 numeric features (normal, uniform, skewed, integer
 * counts; some with 3-10% missing) and 15 categorical ones (2 to 3000 codes, Zipf-like), with a
 * label drawn from a logistic model that has thresholds, interactions, a smooth term and
 * per-category effects. Rows are i.i.d., so two calls with different seeds are a train/test
 * split of the same task.
 */
export function generateScaleTask(
  rows: number,
  seed: number,
): { X: FeatureMatrix; y: Labels; task: Task } {
  const random = createRandom(seed);
  // The task's coefficients come from a fixed seed: train and test share them.
  const shape = createRandom(12345);
  const width = NUMERIC_FEATURES + CARDINALITIES.length;
  const data = new Float64Array(width * rows);
  const features: FeatureInfo[] = [];
  const normal = (): number => {
    const u = 1 - random.nextFloat();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random.nextFloat());
  };
  for (let f = 0; f < NUMERIC_FEATURES; f++) {
    features.push({ name: `x${f}`, kind: "numeric" });
    const col = data.subarray(f * rows, (f + 1) * rows);
    const kind = f % 4;
    const missing = f % 5 === 0 ? 0.03 + (f % 3) * 0.035 : 0;
    for (let r = 0; r < rows; r++) {
      let v: number;
      if (kind === 0) v = normal();
      else if (kind === 1) v = random.nextFloat() * 10;
      else if (kind === 2) v = Math.exp(normal());
      else v = Math.floor(-Math.log(1 - random.nextFloat()) * 4);
      col[r] = missing > 0 && random.nextFloat() < missing ? Number.NaN : v;
    }
  }
  const effects: Float64Array[] = [];
  for (let j = 0; j < CARDINALITIES.length; j++) {
    const card = CARDINALITIES[j] as number;
    features.push({ name: `c${j}`, kind: "categorical", cardinality: card + 1 });
    const effect = new Float64Array(card + 1);
    const scale = j % 3 === 0 ? 0.8 : 0.2;
    for (let c = 0; c < card; c++) effect[c] = (shape.nextFloat() - 0.5) * 2 * scale;
    effects.push(effect);
    const col = data.subarray((NUMERIC_FEATURES + j) * rows, (NUMERIC_FEATURES + j + 1) * rows);
    for (let r = 0; r < rows; r++) {
      // Zipf-like codes: a few frequent categories and a long tail.
      const u = random.nextFloat();
      col[r] = Math.min(card - 1, Math.floor(card * u * u * u));
    }
  }
  const x = (f: number, r: number): number => {
    const v = data[f * rows + r] as number;
    return Number.isNaN(v) ? 0 : v;
  };
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = -0.5;
    s += 0.8 * x(0, r) + 0.5 * Math.sin(x(1, r));
    s += x(2, r) > 2 ? 0.7 : -0.2;
    s += 0.3 * x(3, r) * (x(4, r) > 0 ? 1 : -1);
    s += 0.1 * (x(5, r) - 5) * (x(8, r) > 0.5 ? 1 : 0);
    s += Number.isNaN(data[10 * rows + r] as number) ? 0.6 : 0;
    s += 0.05 * Math.min(x(11, r), 10);
    for (let j = 0; j < CARDINALITIES.length; j++) {
      const code = data[(NUMERIC_FEATURES + j) * rows + r] as number;
      s += (effects[j] as Float64Array)[code] as number;
    }
    s += 0.5 * normal();
    y[r] = random.nextFloat() < 1 / (1 + Math.exp(-s)) ? 1 : 0;
  }
  return { X: { rowCount: rows, features, data }, y, task: { kind: "binary", classCount: 2 } };
}

interface CaseResult {
  readonly dataset: string;
  readonly threads: number;
  readonly seconds: number[];
  readonly metric: string;
  readonly value: number;
  readonly trainRows: number;
  readonly features: number;
  readonly peakRssMb: number;
}

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** One case, in this process: load, fit `repeats` times, score the last model. */
async function runCase(
  dataset: string,
  threads: number,
  repeats: number,
  rounds: number,
  rows: number,
  settings: string,
): Promise<CaseResult> {
  // BALLAST_GBDT_MODULE: another gbdt.ts (say, a checkout of an older version) to measure.
  const module = process.env.BALLAST_GBDT_MODULE ?? "../src/learn/gbdt/gbdt.ts";
  const { fitGbdt } = (await import(module)) as { fitGbdt: typeof FitGbdt };
  let train: { X: FeatureMatrix; y: Labels };
  let test: { X: FeatureMatrix; y: Labels };
  let task: Task;
  let metric: string;
  if (dataset === "1m") {
    const testRows = Math.round(rows * 0.2);
    const a = generateScaleTask(rows - testRows, 1);
    const b = generateScaleTask(testRows, 2);
    train = a;
    test = b;
    task = a.task;
    metric = "auc";
  } else {
    const spec = REAL[dataset];
    if (!spec) throw new Error(`unknown data set ${dataset}`);
    const data = loadCsvDataset(join(DATASETS, spec.file), spec.target);
    const split = trainTestSplit(data.y, data.task, { testFraction: 0.2, seed: 42 });
    train = { X: takeRows(data.X, split.train), y: takeLabels(data.y, split.train) };
    test = { X: takeRows(data.X, split.test), y: takeLabels(data.y, split.test) };
    task = data.task;
    metric = spec.metric;
  }
  const seconds: number[] = [];
  let value = Number.NaN;
  for (let i = 0; i < repeats; i++) {
    const started = performance.now();
    const model = fitGbdt(
      train.X,
      train.y,
      task,
      {
        rounds,
        learningRate: 0.1,
        maxDepth: 6,
        maxLeaves: 64,
        ...(settings === "reference" ? { minDataInLeaf: 1, lambda: 1 } : {}),
        threads,
      },
      { seed: 42 },
    );
    seconds.push((performance.now() - started) / 1000);
    if (i === repeats - 1) {
      value = evaluate(task, test.y, model.predictBatch(test.X))[metric] ?? Number.NaN;
    }
  }
  return {
    dataset,
    threads,
    seconds,
    metric,
    value,
    trainRows: train.X.rowCount,
    features: train.X.features.length,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
  };
}

function option(args: readonly string[], name: string, fallback: string): string {
  const hit = args.find((a) => a.startsWith(`--${name}=`));
  return hit ? hit.slice(name.length + 3) : fallback;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const repeats = Number(option(args, "repeats", "3"));
  const rounds = Number(option(args, "rounds", "300"));
  const rows = Number(option(args, "rows", "1000000"));
  const settings = option(args, "settings", "defaults");
  if (args.includes("--child")) {
    const [dataset, threads] = args.filter((a) => !a.startsWith("--"));
    const result = await runCase(dataset ?? "", Number(threads), repeats, rounds, rows, settings);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const names = args.filter((a) => !a.startsWith("--"));
  const datasets = names.length > 0 ? names : ["churn", "ames", "letter", "1m"];
  const threadCounts = option(args, "threads", "1,2").split(",").map(Number);
  const self = fileURLToPath(import.meta.url);
  console.log(`settings: ${settings}, ${rounds} rounds, median of ${repeats}`);
  console.log(
    "data set | threads | train rows x features | fit s (median) | runs | quality | peak RSS",
  );
  console.log("---|---|---|---|---|---|---");
  for (const dataset of datasets) {
    for (const threads of threadCounts) {
      const out = execFileSync(
        process.execPath,
        [
          "--import",
          "tsx",
          "--max-old-space-size=4096",
          self,
          "--child",
          dataset,
          String(threads),
          `--repeats=${repeats}`,
          `--rounds=${rounds}`,
          `--rows=${rows}`,
          `--settings=${settings}`,
        ],
        { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 1 << 24 },
      );
      const r = JSON.parse(out.trim().split("\n").pop() ?? "{}") as CaseResult;
      console.log(
        [
          r.dataset,
          r.threads,
          `${r.trainRows} x ${r.features}`,
          median(r.seconds).toFixed(2),
          r.seconds.map((s) => s.toFixed(2)).join(" "),
          `${r.metric} ${r.value.toFixed(4)}`,
          `${Math.round(r.peakRssMb)} MB`,
        ].join(" | "),
      );
    }
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
