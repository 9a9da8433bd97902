/**
 * Quality benchmark of the learning stage on real data sets: runs AutoML on each and checks
 * the acceptance targets (wa_churn CV AUC >= 0.84, ames hold-out R² >= 0.90,
 * LetterRecognition hold-out accuracy >= 0.95). With --reference it also fits one GBDT with
 * the parameters of the XGBoost / scikit-learn reference table in ../shared/datasets/README.md
 * (300 rounds, learning rate 0.1, depth 6, seeded 80/20 split) for a like-for-like comparison.
 *
 *   npx tsx bench/quality.ts [churn] [ames] [letter] [--reference]
 *
 * Reads ../shared/datasets (or $BALLAST_DATASETS); exits non-zero when a target is missed.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { automl } from "../src/learn/automl.ts";
import { trainTestSplit } from "../src/learn/cross-validation.ts";
import { takeLabels, takeRows } from "../src/learn/feature-matrix.ts";
import { fitGbdt } from "../src/learn/gbdt/gbdt.ts";
import { evaluate } from "../src/learn/metrics.ts";
import type { CsvTarget } from "../src/learn/test-support/csv-matrix.ts";
import { loadCsvDataset } from "../src/learn/test-support/csv-matrix.ts";

const DATASETS =
  process.env.BALLAST_DATASETS ?? fileURLToPath(new URL("../../shared/datasets/", import.meta.url));

interface Case {
  readonly key: string;
  readonly file: string;
  readonly target: CsvTarget;
  readonly budgetMs: number;
  /** Which number is checked: the winner's mean CV metric or its hold-out metric. */
  readonly source: "cv" | "holdout";
  readonly metric: string;
  readonly goal: number;
}

const CASES: readonly Case[] = [
  {
    key: "churn",
    file: "wa_churn.csv",
    target: { column: "churn", task: "binary", positive: "Yes" },
    budgetMs: 60_000,
    source: "cv",
    metric: "auc",
    goal: 0.84,
  },
  {
    key: "ames",
    file: "ames.csv",
    target: { column: "Sale_Price", task: "regression" },
    budgetMs: 60_000,
    source: "holdout",
    metric: "r2",
    goal: 0.9,
  },
  {
    key: "letter",
    file: "LetterRecognition.csv",
    target: { column: "lettr", task: "multiclass" },
    budgetMs: 120_000,
    source: "holdout",
    metric: "accuracy",
    goal: 0.95,
  },
];

interface Row {
  dataset: string;
  task: string;
  method: string;
  metric: string;
  value: number;
  target: string;
  verdict: string;
  seconds: number;
  note: string;
}

function printTable(rows: readonly Row[]): void {
  const header = [
    "dataset",
    "task",
    "method",
    "metric",
    "value",
    "target",
    "result",
    "time",
    "note",
  ];
  const cells = rows.map((r) => [
    r.dataset,
    r.task,
    r.method,
    r.metric,
    r.value.toFixed(4),
    r.target,
    r.verdict,
    `${r.seconds.toFixed(1)} s`,
    r.note,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? "").length)));
  const line = (c: readonly string[]): string =>
    c
      .map((x, i) => x.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  console.log(line(header));
  console.log(line(widths.map((w) => "-".repeat(w))));
  for (const c of cells) console.log(line(c));
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const reference = args.includes("--reference");
  const only = args.filter((a) => !a.startsWith("--"));
  const cases = CASES.filter((c) => only.length === 0 || only.includes(c.key));
  const rows: Row[] = [];
  let failed = false;
  for (const c of cases) {
    const path = join(DATASETS, c.file);
    if (!existsSync(path)) {
      console.error(
        `missing ${path}: set BALLAST_DATASETS or run from a checkout beside ../shared`,
      );
      process.exitCode = 2;
      return;
    }
    const data = loadCsvDataset(path, c.target);
    console.error(
      `${c.file}: ${data.X.rowCount} rows, ${data.X.features.length} features, automl ${c.budgetMs / 1000} s budget`,
    );
    const started = performance.now();
    const result = await automl(data.X, data.y, data.task, {
      timeBudgetMs: c.budgetMs,
      seed: 42,
      onProgress: (p) => console.error(`  [${(p.elapsedMs / 1000).toFixed(1)} s] ${p.message}`),
    });
    const seconds = (performance.now() - started) / 1000;
    const value = (c.source === "cv" ? result.cv : result.holdout)[c.metric] ?? Number.NaN;
    const pass = value >= c.goal;
    failed ||= !pass;
    const other = c.source === "cv" ? result.holdout : result.cv;
    const chosen = `${result.chosen.learner}${result.chosen.params.targetTransform === "log" ? "+log" : ""}`;
    rows.push({
      dataset: c.file,
      task: data.task.kind,
      method: `automl -> ${chosen}`,
      metric: `${c.source} ${c.metric}`,
      value,
      target: `>= ${c.goal}`,
      verdict: pass ? "PASS" : "FAIL",
      seconds,
      note: `${c.source === "cv" ? "hold-out" : "cv"} ${(other[c.metric] ?? Number.NaN).toFixed(4)}; ${result.candidates.length} candidates; budget ${c.budgetMs / 1000} s`,
    });
    if (reference) {
      const split = trainTestSplit(data.y, data.task, { testFraction: 0.2, seed: 42 });
      const refStart = performance.now();
      const model = fitGbdt(
        takeRows(data.X, split.train),
        takeLabels(data.y, split.train),
        data.task,
        { rounds: 300, learningRate: 0.1, maxDepth: 6, maxLeaves: 64, minDataInLeaf: 1, lambda: 1 },
        { seed: 42 },
      );
      const refSeconds = (performance.now() - refStart) / 1000;
      const metrics = evaluate(
        data.task,
        takeLabels(data.y, split.test),
        model.predictBatch(takeRows(data.X, split.test)),
      );
      rows.push({
        dataset: c.file,
        task: data.task.kind,
        method: "gbdt 300x0.1 depth 6",
        metric: `holdout ${c.metric}`,
        value: metrics[c.metric] ?? Number.NaN,
        target: "-",
        verdict: "ref",
        seconds: refSeconds,
        note: "compare XGBoost / sklearn HGB in datasets/README.md",
      });
    }
  }
  printTable(rows);
  if (failed) process.exitCode = 1;
}

await main();
