/**
 * The training pipeline: frame → fitted Recipe → AutoML → artifact. Used by the server's
 * training worker and by tests; it does no I/O itself, so callers decide where bytes go.
 */
import type { Frame, Schema } from "../data/frame.ts";
import type { AutoMLProgress } from "../learn/automl.ts";
import { automl } from "../learn/automl.ts";
import { treeShapOf } from "../learn/gbdt/shap.ts";
import { GbdtModel, LogTargetModel } from "../learn/index.ts";
import type { FeatureMatrix, TrainedModel } from "../learn/types.ts";
import type { ArtifactHeader, ModelArtifact, TrainingSummary } from "./artifact.ts";
import { encodeArtifact } from "./artifact.ts";
import { baselineOf, sketchCategorical, sketchNumeric } from "./baseline.ts";
import { Predictor } from "./predictor.ts";
import { buildReport } from "./report.ts";
import { analyzeTarget, rowsWithTarget } from "./target-analysis.ts";

export interface TrainOptions {
  readonly target: string;
  readonly exclude?: readonly string[];
  /** Columns to keep even when the target analysis flags them as leaks or ID-like. */
  readonly include?: readonly string[];
  readonly metric?: string;
  /** Wall-clock budget for the model search. */
  readonly timeBudgetMs: number;
  readonly seed?: number;
  readonly dataset?: { readonly id?: string; readonly name: string };
  readonly onProgress?: (progress: AutoMLProgress) => void;
  readonly signal?: AbortSignal;
}

export interface TrainOutput {
  readonly artifact: ModelArtifact;
  readonly bytes: Uint8Array;
}

/** Keep only the numeric entries of a metrics object (drops undefined and non-numbers). */
export function numericEntries(metrics: object): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(metrics))
    if (typeof value === "number") out[key] = value;
  return out;
}

/** Rows of the prediction baseline; enough for stable deciles without predicting a huge table. */
const PREDICTION_SAMPLE = 5000;

/** TreeShap cost units per millisecond, roughly (one unit is an inner-loop step, ~10 ns). */
const SHAP_UNITS_PER_MS = 1e5;

/**
 * Explanation work for the importance sample: 5% of the search's time budget, between ~0.2 s
 * and ~2 s, so a quick training run stays quick and a long one gets the full 1000 rows.
 */
function shapBudget(timeBudgetMs: number): number {
  return Math.min(Math.max(0.05 * timeBudgetMs * SHAP_UNITS_PER_MS, 2e7), 2e8);
}

/** Options of {@link meanAbsShap}. */
export interface MeanAbsShapOptions {
  /** Most rows to explain. Default 1000. */
  readonly maxRows?: number;
  /**
   * Explanation work allowed, in TreeShap cost units (~10 ns each): a big forest gets fewer
   * rows, so training never stalls on its report. Default 1.5e8 (1–2 s).
   */
  readonly budget?: number;
  /** Below this many affordable rows the average is too noisy: return undefined. Default 20. */
  readonly minRows?: number;
}

/** Work of explaining one row, in TreeShap cost units (the sample size is derived from it). */
function explanationCost(model: TrainedModel, width: number): number {
  const inner = model instanceof LogTargetModel ? model.inner : model;
  if (inner instanceof GbdtModel)
    return treeShapOf(inner.forest, inner.baseScore, inner.features.length).costPerRow;
  // Linear and other additive models: one pass over the features per output.
  return (width + 1) * model.outputSize;
}

/**
 * Global importance as mean |SHAP value| per feature (summed over outputs) over evenly spaced
 * rows of X: unlike split gain, it measures how much each feature actually moves predictions,
 * in the units of the model's raw margin. The sample is deterministic (it depends only on the
 * model and the data), so the same training run gives the same artifact bytes. Undefined when
 * the model has no `explainRow`, or when fewer than `minRows` rows fit the budget.
 */
export function meanAbsShap(
  model: TrainedModel,
  X: FeatureMatrix,
  options: MeanAbsShapOptions = {},
): { rows: number; importance: Float64Array } | undefined {
  const explain = model.explainRow?.bind(model);
  if (!explain || X.rowCount === 0) return undefined;
  const width = X.features.length;
  const affordable = Math.floor((options.budget ?? 1.5e8) / explanationCost(model, width));
  const rows = Math.min(options.maxRows ?? 1000, X.rowCount, affordable);
  if (rows < Math.min(options.minRows ?? 20, X.rowCount)) return undefined;
  const k = model.outputSize;
  const row = new Float64Array(width);
  const out = new Float64Array((width + 1) * k);
  const importance = new Float64Array(width);
  const step = X.rowCount / rows;
  for (let i = 0; i < rows; i++) {
    const r = Math.floor(i * step);
    for (let f = 0; f < width; f++) row[f] = X.data[f * X.rowCount + r] as number;
    explain(row, out);
    for (let c = 0; c < k; c++) {
      for (let f = 0; f < width; f++)
        importance[f] = (importance[f] as number) + Math.abs(out[c * (width + 1) + f] as number);
    }
  }
  for (let f = 0; f < width; f++) importance[f] = (importance[f] as number) / rows;
  return { rows, importance };
}

export async function trainModel(
  frame: Frame,
  schema: Schema,
  options: TrainOptions,
): Promise<TrainOutput> {
  // The same analysis the Studio shows: leaks and ID-like columns are left out unless included.
  const analysis = analyzeTarget(frame, schema, {
    target: options.target,
    exclude: options.exclude ?? [],
    include: options.include ?? [],
  });
  const fitted = analysis.fitted;
  const result = await automl(fitted.X, fitted.y, fitted.task, {
    timeBudgetMs: options.timeBudgetMs,
    ...(options.metric ? { metric: options.metric } : {}),
    seed: options.seed ?? 42,
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });

  const importance = result.model.featureImportance();
  let total = 0;
  for (const v of importance) total += v;
  const features = fitted.X.features;
  const ranked = features
    .map((f, i) => ({ feature: f.name, importance: total > 0 ? (importance[i] ?? 0) / total : 0 }))
    .sort((a, b) => b.importance - a.importance);

  let summary: TrainingSummary = {
    ...(options.dataset ? { dataset: { ...options.dataset, rows: frame.rowCount } } : {}),
    metric: result.metric,
    cv: numericEntries(result.cv),
    holdout: numericEntries(result.holdout),
    chosen: result.chosen,
    candidates: result.candidates.map((c) => ({
      learner: c.learner,
      params: c.params,
      cvScore: c.cvScore,
      fitMs: c.fitMs,
    })),
    importance: ranked,
  };
  const shap = meanAbsShap(result.model, fitted.X, { budget: shapBudget(options.timeBudgetMs) });
  if (shap) {
    summary = {
      ...summary,
      shapImportance: {
        rows: shap.rows,
        features: features
          .map((f, i) => ({ feature: f.name, importance: shap.importance[i] ?? 0 }))
          .sort((a, b) => b.importance - a.importance),
      },
    };
  }

  // Sketch of the model's own outputs: what "normal" predictions look like, for drift.
  const rows = Math.min(PREDICTION_SAMPLE, fitted.X.rowCount);
  const row = new Float64Array(features.length);
  const out = new Float64Array(result.model.outputSize);
  const predicted = new Float64Array(rows);
  const step = fitted.X.rowCount / rows;
  for (let i = 0; i < rows; i++) {
    const r = Math.floor(i * step);
    for (let f = 0; f < features.length; f++)
      row[f] = fitted.X.data[f * fitted.X.rowCount + r] ?? NaN;
    result.model.predictRow(row, out);
    if (fitted.task.kind === "multiclass") {
      let best = 0;
      for (let k = 1; k < out.length; k++) if ((out[k] ?? 0) > (out[best] ?? 0)) best = k;
      predicted[i] = best;
    } else {
      predicted[i] = out[0] ?? NaN;
    }
  }
  const prediction =
    fitted.task.kind === "multiclass"
      ? sketchCategorical("prediction", predicted, fitted.task.classCount)
      : sketchNumeric("prediction", predicted);

  const used = new Set(fitted.recipe.inputs.map((i) => i.column));
  const header: ArtifactHeader = {
    kind: "ballast-model",
    task: fitted.task,
    inputSchema: schema.columns.filter((c) => used.has(c.name)),
    recipe: fitted.recipe,
    learner: { name: result.model.learner, meta: {} },
    training: summary,
    baseline: { rows: fitted.X.rowCount, features: baselineOf(fitted.X), prediction },
  };
  const trained: ModelArtifact = { header, model: result.model.serialize() };
  let artifact = trained;
  if (result.holdoutPredictions) {
    const targetColumn = frame.columns.find((c) => c.name === options.target);
    const report = buildReport({
      task: fitted.task,
      recipe: fitted.recipe,
      frame,
      matrixRows: targetColumn ? rowsWithTarget(targetColumn, frame.rowCount) : new Uint32Array(0),
      holdout: result.holdoutPredictions,
      excluded: analysis.excluded,
      // The 80% model answers the sample rows: they are hold-out rows it has not seen.
      predictor: new Predictor({ header, model: result.holdoutModel.serialize() }),
      seed: options.seed ?? 42,
    });
    artifact = { ...trained, header: { ...header, training: { ...summary, report } } };
  }
  return { artifact, bytes: encodeArtifact(artifact) };
}
