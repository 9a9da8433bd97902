/**
 * The training pipeline: frame → fitted Recipe → AutoML → artifact. Used by the server's
 * training worker and by tests; it does no I/O itself, so callers decide where bytes go.
 */
import type { Frame, Schema } from "../data/frame.ts";
import { fitRecipe } from "../features/recipe.ts";
import type { AutoMLProgress } from "../learn/automl.ts";
import { automl } from "../learn/automl.ts";
import type { ArtifactHeader, ModelArtifact, TrainingSummary } from "./artifact.ts";
import { encodeArtifact } from "./artifact.ts";
import { baselineOf, sketchCategorical, sketchNumeric } from "./baseline.ts";

export interface TrainOptions {
  readonly target: string;
  readonly exclude?: readonly string[];
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

export async function trainModel(
  frame: Frame,
  schema: Schema,
  options: TrainOptions,
): Promise<TrainOutput> {
  const fitted = fitRecipe(frame, schema, {
    target: options.target,
    exclude: options.exclude ?? [],
  });
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

  const summary: TrainingSummary = {
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
  const artifact: ModelArtifact = { header, model: result.model.serialize() };
  return { artifact, bytes: encodeArtifact(artifact) };
}
