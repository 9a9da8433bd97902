/**
 * The training report: charts and sample predictions computed once, on the hold-out rows,
 * when a model is trained, and a plain-words reading of it for people who do not know what
 * an AUC is. Stored in the artifact (small: a few hundred points), so it survives restarts
 * and travels with the model.
 */
import type { Column, Frame } from "../data/frame.ts";
import { cellValue } from "../data/frame.ts";
import type { Recipe } from "../features/recipe.ts";
import {
  accuracy,
  auc,
  confusionMatrix,
  mae,
  predictedClasses,
  r2,
  rmse,
  rocCurve,
} from "../learn/metrics.ts";
import { createRandom } from "../learn/random.ts";
import type { Task } from "../learn/types.ts";
import type { Predictor } from "./predictor.ts";
import type {
  ClassificationReport,
  ExcludedColumnReport,
  RegressionReport,
  RocCurve,
  SamplePrediction,
  TrainingReport,
} from "./report-types.ts";

export const ROC_POINTS = 200;
const ROC_POINTS_PER_CLASS = 100;
const ROC_MAX_CLASSES = 10;
export const REGRESSION_POINTS = 500;
export const SAMPLE_ROWS = 5;

export interface ReportInput {
  readonly task: Task;
  readonly recipe: Recipe;
  /** The training frame (all rows; `rows` maps hold-out rows to it). */
  readonly frame: Frame;
  /** Frame row of each row of the training matrix (rows with a target). */
  readonly matrixRows: Uint32Array;
  /** AutoML's hold-out: matrix rows, labels and outputs (row-major) of the 80% model. */
  readonly holdout: {
    readonly rows: Uint32Array;
    readonly y: Float64Array;
    readonly predictions: Float64Array;
  };
  readonly excluded: readonly ExcludedColumnReport[];
  /**
   * The model fitted on the 80% (with the published model's recipe), to answer the sample
   * rows through the same code path as the app, on rows it has not seen.
   */
  readonly predictor: Predictor;
  readonly seed: number;
}

/** Round to 6 significant digits: charts need no more, and the artifact header stays small. */
function round(value: number, digits = 6): number {
  if (!Number.isFinite(value) || value === 0) return value;
  return Number(value.toPrecision(digits));
}

/** At most `max` points of a curve, evenly spaced by index, keeping both ends. */
function thin<T>(points: readonly T[], max: number): T[] {
  if (points.length <= max) return [...points];
  const out: T[] = [];
  for (let i = 0; i < max; i++) {
    out.push(points[Math.round((i * (points.length - 1)) / (max - 1))] as T);
  }
  return out;
}

function roc(y: ArrayLike<number>, scores: ArrayLike<number>, max: number): RocCurve {
  const curve = rocCurve(y, scores);
  const points = Array.from(curve.fpr, (fpr, i) => {
    const threshold = curve.thresholds[i] as number;
    return {
      fpr: round(fpr, 4),
      tpr: round(curve.tpr[i] as number, 4),
      threshold: Number.isFinite(threshold) ? round(threshold, 4) : null,
    };
  });
  return { auc: round(auc(y, scores)), points: thin(points, max) };
}

function classificationReport(input: ReportInput): ClassificationReport {
  const { task, holdout } = input;
  const classes = input.recipe.target.classes ?? [];
  const predicted = predictedClasses(task, holdout.predictions);
  const counts = confusionMatrix(holdout.y, predicted, classes.length);
  const actualCounts = counts.map((row) => row.reduce((s, c) => s + c, 0));
  let common = 0;
  for (let k = 1; k < actualCounts.length; k++)
    if ((actualCounts[k] ?? 0) > (actualCounts[common] ?? 0)) common = k;
  const base: ClassificationReport = {
    classes: [...classes],
    confusion: { labels: [...classes], counts },
    accuracy: round(accuracy(holdout.y, predicted)),
    baselineAccuracy: round((actualCounts[common] ?? 0) / Math.max(1, holdout.y.length)),
    mostCommonClass: classes[common] ?? String(common),
  };
  if (task.kind === "binary") {
    return {
      ...base,
      ...(classes[1] !== undefined ? { positive: classes[1] } : {}),
      roc: roc(holdout.y, holdout.predictions, ROC_POINTS),
    };
  }
  if (classes.length > ROC_MAX_CLASSES) return base;
  const k = classes.length;
  const n = holdout.y.length;
  const rocByClass = classes.map((label, c) => {
    const isC = new Float64Array(n);
    const score = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      isC[i] = holdout.y[i] === c ? 1 : 0;
      score[i] = holdout.predictions[i * k + c] as number;
    }
    return { class: label, ...roc(isC, score, ROC_POINTS_PER_CLASS) };
  });
  // A class absent from the hold-out has no curve (its AUC is undefined).
  return { ...base, rocByClass: rocByClass.filter((c) => Number.isFinite(c.auc)) };
}

/** `count` distinct positions in [0, n), seeded, in random order. */
function sampleIndices(n: number, count: number, seed: number): number[] {
  const order = Uint32Array.from({ length: n }, (_, i) => i);
  createRandom(seed).shuffle(order);
  return Array.from(order.subarray(0, Math.min(count, n)));
}

function regressionReport(input: ReportInput): RegressionReport {
  const { holdout } = input;
  const picked = sampleIndices(holdout.y.length, REGRESSION_POINTS, input.seed).sort(
    (a, b) => a - b,
  );
  const points = picked.map((i) => ({
    actual: round(holdout.y[i] as number),
    predicted: round(holdout.predictions[i] as number),
  }));
  let mean = 0;
  for (const v of holdout.y) mean += v;
  mean /= Math.max(1, holdout.y.length);
  return {
    points,
    residuals: points.map((p) => ({
      predicted: p.predicted,
      residual: round(p.actual - p.predicted),
    })),
    r2: round(r2(holdout.y, holdout.predictions)),
    rmse: round(rmse(holdout.y, holdout.predictions)),
    mae: round(mae(holdout.y, holdout.predictions)),
    meanActual: round(mean),
  };
}

/**
 * Up to 5 hold-out rows in a seeded order; for classification, taken from each actual class
 * in turn so a rare class shows up too.
 */
function pickSamples(input: ReportInput): number[] {
  const order = sampleIndices(input.holdout.y.length, input.holdout.y.length, input.seed + 1);
  if (input.task.kind === "regression") return order.slice(0, SAMPLE_ROWS);
  const byClass = new Map<number, number[]>();
  for (const i of order) {
    const c = input.holdout.y[i] as number;
    const list = byClass.get(c) ?? [];
    list.push(i);
    byClass.set(c, list);
  }
  const queues = [...byClass.entries()].sort((a, b) => a[0] - b[0]).map(([, list]) => list);
  const out: number[] = [];
  while (out.length < SAMPLE_ROWS && queues.some((q) => q.length > 0)) {
    for (const q of queues) {
      const next = q.shift();
      if (next !== undefined && out.length < SAMPLE_ROWS) out.push(next);
    }
  }
  return out;
}

function samples(input: ReportInput): SamplePrediction[] {
  const columns = new Map<string, Column>(input.frame.columns.map((c) => [c.name, c]));
  const classes = input.recipe.target.classes;
  const out: SamplePrediction[] = [];
  for (const i of pickSamples(input)) {
    const frameRow = input.matrixRows[input.holdout.rows[i] as number] as number;
    const record: Record<string, string | number | boolean | null> = {};
    for (const recipeInput of input.recipe.inputs) {
      const column = columns.get(recipeInput.column);
      record[recipeInput.column] = column ? cellValue(column, frameRow) : null;
    }
    const y = input.holdout.y[i] as number;
    const actual = classes ? (classes[y] ?? String(y)) : y;
    const answer = input.predictor.predict(record, { explain: input.predictor.canExplain });
    out.push({
      record,
      actual,
      prediction:
        typeof answer.prediction === "number" ? round(answer.prediction) : answer.prediction,
      ...(answer.probabilities
        ? {
            probabilities: Object.fromEntries(
              Object.entries(answer.probabilities).map(([k, v]) => [k, round(v, 4)]),
            ),
          }
        : {}),
      ...(answer.explanation
        ? {
            explanation: {
              ...answer.explanation,
              base: round(answer.explanation.base),
              contributions: Object.fromEntries(
                Object.entries(answer.explanation.contributions).map(([k, v]) => [k, round(v)]),
              ),
            },
          }
        : {}),
    });
  }
  return out;
}

/** Compute the report (see {@link TrainingReport}). Pure: same inputs, same report. */
export function buildReport(input: ReportInput): TrainingReport {
  return {
    formatVersion: 1,
    holdoutRows: input.holdout.y.length,
    ...(input.task.kind === "regression"
      ? { regression: regressionReport(input) }
      : { classification: classificationReport(input) }),
    excluded: [...input.excluded],
    samples: samples(input),
  };
}

/** What each metric is called and means, for people. */
export const METRIC_INFO: Readonly<
  Record<
    string,
    { readonly label: string; readonly description: string; readonly better: "higher" | "lower" }
  >
> = {
  auc: {
    label: "AUC",
    description:
      "How often the model ranks a positive row above a negative one: 0.5 is guessing, 1 is perfect.",
    better: "higher",
  },
  logloss: {
    label: "Log loss",
    description: "How far the predicted probabilities are from what happened; lower is better.",
    better: "lower",
  },
  accuracy: {
    label: "Accuracy",
    description: "Share of rows whose predicted class is right.",
    better: "higher",
  },
  f1: {
    label: "F1",
    description:
      "Balance of precision and recall for the positive class: 1 means every positive found and no false alarm.",
    better: "higher",
  },
  macroF1: {
    label: "Macro F1",
    description: "F1 averaged over the classes, so rare classes count as much as common ones.",
    better: "higher",
  },
  rmse: {
    label: "RMSE",
    description: "Typical size of an error, in the target's units; large misses weigh more.",
    better: "lower",
  },
  mae: {
    label: "MAE",
    description: "Average size of an error, in the target's units.",
    better: "lower",
  },
  r2: {
    label: "R²",
    description:
      "Share of the variation in the target the model explains: 0 is no better than the average, 1 is perfect.",
    better: "higher",
  },
};

function formatCount(n: number): string {
  return n.toLocaleString("en-US");
}

function pct(share: number): string {
  return `${Math.round(share * 100)}%`;
}

/** A readable number: thousands separated, 3 significant digits for small values. */
function formatAmount(value: number): string {
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString("en-US");
  if (abs >= 1) return Number(value.toPrecision(3)).toLocaleString("en-US");
  return Number(value.toPrecision(2)).toString();
}

/**
 * One sentence saying how good the model is, on the rows it had not seen, in words a person
 * without statistics can act on.
 */
export function describeReport(report: TrainingReport, target: string): string {
  const rows = `On ${formatCount(report.holdoutRows)} rows it had not seen`;
  const c = report.classification;
  if (c?.roc && c.positive !== undefined) {
    const negative = c.classes.find((l) => l !== c.positive) ?? "the other class";
    return `${rows}, the model ranks a row whose ${target} is ${c.positive} above one whose ${target} is ${negative} ${pct(c.roc.auc)} of the time (AUC ${c.roc.auc.toFixed(2)}); its predicted ${target} is right ${pct(c.accuracy)} of the time.`;
  }
  if (c) {
    return `${rows}, the model names the right ${target} ${pct(c.accuracy)} of the time (accuracy ${c.accuracy.toFixed(2)}); always answering the most common, ${c.mostCommonClass}, would be right ${pct(c.baselineAccuracy)} of the time.`;
  }
  const r = report.regression;
  if (r) {
    const explains =
      r.r2 > 0
        ? `it explains ${pct(r.r2)} of the variation in ${target} (R² ${r.r2.toFixed(2)})`
        : `it does no better than always predicting the average (R² ${r.r2.toFixed(2)})`;
    return `${rows}, the model's predictions of ${target} are off by ${formatAmount(r.mae)} on average (MAE), and ${explains}.`;
  }
  return `${rows}, the model was scored; see its metrics.`;
}
