/**
 * Target analysis: given the column to predict, what kind of task it is and which columns the
 * model will learn from, with every left-out column and the reason in plain words. The Studio
 * shows it before training and training runs it too ({@link analyzeTarget} returns the fitted
 * Recipe that `trainModel` trains on), so what a person is shown is what training does.
 *
 * Beyond what the Recipe leaves out by type (identifiers, free text, constants), two checks:
 * - ID-like columns: a category with its own value in every row, or whole numbers running
 *   one per row (a row number). They cannot generalize to new rows.
 * - Leaks: a column that predicts the target almost perfectly on its own (AUC or R² of at
 *   least {@link LEAK_THRESHOLD}, measured out of fold on a sample). Such a column is usually
 *   written after the outcome is known (a cancellation date for churn) or derived from the
 *   target, so a model relying on it looks perfect and fails in use. Left out by default; a
 *   person who knows better keeps it with `include`.
 */
import type { Column, ColumnType, Frame, Schema } from "../data/frame.ts";
import { cellValue, isNumericColumn } from "../data/frame.ts";
import { detectTask, type FittedRecipe, fitRecipe, RecipeError } from "../features/recipe.ts";
import { r2 } from "../learn/metrics.ts";
import type { TaskKind } from "../learn/types.ts";
import type { ExcludedColumnReport, ExclusionKind } from "./report-types.ts";

/** Single-column AUC (classification) or R² (regression) from which a column is a leak. */
export const LEAK_THRESHOLD = 0.98;
/** Rows the leak check looks at (evenly spaced over the rows with a target). */
const LEAK_SAMPLE_ROWS = 20_000;
/** Below this many rows with a target, single-column scores are too noisy to call a leak. */
const LEAK_MIN_ROWS = 50;
/** Numeric columns with more distinct values are cut into this many equal-frequency bins. */
const NUMERIC_BINS = 32;
/** ID-like checks need at least this many values (all-distinct is a coincidence below). */
const ID_MIN_ROWS = 20;

export interface AnalyzeOptions {
  readonly target: string;
  /** Columns the person chose to leave out. */
  readonly exclude?: readonly string[];
  /** Columns to keep even when flagged as leaks or ID-like. */
  readonly include?: readonly string[];
}

export interface TargetAnalysis {
  readonly target: string;
  readonly task: TaskKind;
  readonly classes?: readonly string[];
  /** Binary tasks: the class probabilities and AUC are about. */
  readonly positive?: string;
  readonly inputs: readonly { readonly name: string; readonly type: ColumnType }[];
  readonly excluded: readonly ExcludedColumnReport[];
  readonly warnings: readonly string[];
  /** The Recipe fitted on exactly these inputs: what training uses. */
  readonly fitted: FittedRecipe;
}

/** A column named in the options that the data lacks. */
export class TargetAnalysisError extends Error {
  constructor(
    readonly code: "unknown_column",
    readonly field: "exclude" | "include",
    readonly column: string,
    message: string,
  ) {
    super(message);
    this.name = "TargetAnalysisError";
  }
}

/**
 * Analyze `target` on the frame (with the dataset's types applied). Throws RecipeError for a
 * target that cannot be predicted (unknown, constant, text) or when no input is left, and
 * TargetAnalysisError for an unknown column in `exclude` or `include`.
 */
export function analyzeTarget(
  frame: Frame,
  schema: Schema,
  options: AnalyzeOptions,
): TargetAnalysis {
  const names = new Set(frame.columns.map((c) => c.name));
  for (const field of ["exclude", "include"] as const) {
    for (const column of options[field] ?? []) {
      if (!names.has(column)) {
        throw new TargetAnalysisError(
          "unknown_column",
          field,
          column,
          `There is no column named ${column}`,
        );
      }
    }
  }
  const target = frame.columns.find((c) => c.name === options.target);
  if (!target) {
    throw new RecipeError(
      "unknown_target",
      `There is no column named ${options.target}; the columns are: ${[...names].join(", ")}`,
    );
  }
  // Refuses what cannot be predicted with the same RecipeError training gives.
  const { task, classes } = detectTask(target);

  const userExcluded = new Set(options.exclude ?? []);
  const include = new Set(options.include ?? []);
  const typeOf = (column: Column): ColumnType =>
    schema.columns.find((c) => c.name === column.name)?.type ?? column.type;

  const rows = rowsWithTarget(target, frame.rowCount);
  const flagged = new Map<string, ExcludedColumnReport>();
  const labels = labelsOf(target, rows, classes);
  const sample = evenSample(rows.length, LEAK_SAMPLE_ROWS);
  for (const column of frame.columns) {
    if (column === target || userExcluded.has(column.name) || include.has(column.name)) continue;
    const type = typeOf(column);
    if (type !== "number" && type !== "category" && type !== "boolean" && type !== "datetime")
      continue;
    const idLike = idLikeReason(column, type, rows);
    if (idLike) {
      flagged.set(column.name, { column: column.name, kind: "id", reason: idLike });
      continue;
    }
    if (rows.length < LEAK_MIN_ROWS) continue;
    const score = singleColumnScore(column, rows, sample, labels, task, classes?.length ?? 0);
    if (score >= LEAK_THRESHOLD) {
      const measure = task === "regression" ? "R²" : "AUC";
      flagged.set(column.name, {
        column: column.name,
        kind: "leak",
        reason: `${column.name} alone predicts ${target.name} almost perfectly (${measure} ${score.toFixed(3)} on its own). It is probably recorded after the outcome or derived from it, so it will not be known when predicting; keep it only if it will be.`,
      });
    }
  }

  let fitted: FittedRecipe;
  const kept: string[] = [];
  try {
    fitted = fitRecipe(frame, schema, {
      target: target.name,
      exclude: [...userExcluded, ...flagged.keys()],
    });
  } catch (error) {
    // Suspected leaks were the only columns left: a table with one strong predictor must still
    // train. Keep them, and say so, rather than refusing with "no column left".
    const leaks = [...flagged.values()].filter((f) => f.kind === "leak").map((f) => f.column);
    if (!(error instanceof RecipeError && error.code === "no_features" && leaks.length > 0))
      throw error;
    for (const column of leaks) flagged.delete(column);
    kept.push(...leaks);
    fitted = fitRecipe(frame, schema, {
      target: target.name,
      exclude: [...userExcluded, ...flagged.keys()],
    });
  }
  const excluded: ExcludedColumnReport[] = [];
  for (const e of fitted.recipe.excluded) {
    if (e.reason === "target") continue;
    const flag = flagged.get(e.column);
    if (flag) excluded.push(flag);
    else excluded.push(describeExclusion(e.column, e.reason));
  }
  const inputs = fitted.recipe.inputs.map((input) => ({
    name: input.column,
    type: input.kind as ColumnType,
  }));
  const warnings = [
    ...kept.map(
      (column) =>
        `${column} alone predicts ${target.name} almost perfectly, as a column recorded after the outcome would; it is kept because no other column is left to learn from. Check that it will be known when predicting.`,
    ),
    ...warningsFor(frame, target, rows.length, task, classes, labels, excluded),
  ];
  return {
    target: target.name,
    task,
    ...(classes ? { classes } : {}),
    ...(task === "binary" && classes?.[1] !== undefined ? { positive: classes[1] } : {}),
    inputs,
    excluded,
    warnings,
    fitted,
  };
}

function describeExclusion(
  column: string,
  reason: "excluded by request" | "identifier" | "free text" | "constant",
): ExcludedColumnReport {
  const kinds: Record<typeof reason, { kind: ExclusionKind; reason: string }> = {
    "excluded by request": { kind: "user", reason: "You chose to leave it out." },
    identifier: {
      kind: "id",
      reason: "It identifies rows (nearly every value is different), so it cannot generalize.",
    },
    "free text": {
      kind: "unsupported",
      reason: "It holds free text, which Ballast does not learn from yet.",
    },
    constant: {
      kind: "constant",
      reason: "It has the same value in every row, so there is nothing to learn from it.",
    },
  };
  return { column, ...kinds[reason] };
}

/** Rows whose target is present (training leaves the others out), ascending. */
export function rowsWithTarget(target: Column, rowCount: number): Uint32Array {
  const out: number[] = [];
  for (let r = 0; r < rowCount; r++) if (cellValue(target, r) !== null) out.push(r);
  return Uint32Array.from(out);
}

/** Class index (classification) or value (regression) of each row in `rows`. */
function labelsOf(target: Column, rows: Uint32Array, classes: readonly string[] | undefined) {
  const y = new Float64Array(rows.length);
  const index = new Map((classes ?? []).map((c, i) => [c, i]));
  for (let i = 0; i < rows.length; i++) {
    const value = cellValue(target, rows[i] as number);
    y[i] = classes ? (index.get(labelText(target, value)) ?? 0) : Number(value);
  }
  return y;
}

/** The label text detectTask uses for a target cell (booleans by their spelling). */
function labelText(target: Column, value: string | number | boolean | null): string {
  if (typeof value === "boolean") return value ? "true" : "false";
  if (target.type === "boolean" && typeof value === "number") return value ? "true" : "false";
  return String(value);
}

/** Up to `max` positions in [0, n), evenly spaced. */
function evenSample(n: number, max: number): Uint32Array {
  if (n <= max) return Uint32Array.from({ length: n }, (_, i) => i);
  const out = new Uint32Array(max);
  const step = n / max;
  for (let i = 0; i < max; i++) out[i] = Math.floor(i * step);
  return out;
}

function idLikeReason(column: Column, type: ColumnType, rows: Uint32Array): string | undefined {
  if (type === "category" && !isNumericColumn(column)) {
    const seen = new Set<number>();
    let present = 0;
    for (const r of rows) {
      const code = column.codes[r] ?? -1;
      if (code < 0) continue;
      present++;
      seen.add(code);
    }
    if (present >= ID_MIN_ROWS && seen.size === present) {
      return "Every row has its own value, like an identifier, so it cannot generalize to new rows.";
    }
    return undefined;
  }
  if (type === "number" && isNumericColumn(column)) {
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    let present = 0;
    for (const r of rows) {
      const v = column.values[r] ?? Number.NaN;
      if (Number.isNaN(v)) continue;
      if (!Number.isInteger(v)) return undefined;
      present++;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    if (present < ID_MIN_ROWS || max - min + 1 !== present) return undefined;
    const seen = new Set<number>();
    for (const r of rows) {
      const v = column.values[r] ?? Number.NaN;
      if (!Number.isNaN(v)) seen.add(v);
    }
    if (seen.size === present) {
      return `It counts rows (whole numbers from ${min} to ${max}, one per row), like a row number or an identifier, so it cannot generalize to new rows.`;
    }
  }
  return undefined;
}

/**
 * A code per sampled row for one column: categories and booleans by value, numbers and dates
 * by value when there are few, else by equal-frequency bin; missing is a code of its own.
 */
function codesOf(column: Column, rows: Uint32Array, sample: Uint32Array): Int32Array {
  const codes = new Int32Array(sample.length);
  if (!isNumericColumn(column)) {
    for (let i = 0; i < sample.length; i++) {
      const code = column.codes[rows[sample[i] as number] as number] ?? -1;
      codes[i] = code < 0 ? 0 : code + 1;
    }
    return codes;
  }
  const values = new Float64Array(sample.length);
  for (let i = 0; i < sample.length; i++)
    values[i] = column.values[rows[sample[i] as number] as number] ?? Number.NaN;
  const present = values.filter((v) => !Number.isNaN(v)).sort();
  const distinct: number[] = [];
  for (const v of present) if (distinct.at(-1) !== v) distinct.push(v);
  // Upper bounds of the bins: every distinct value, or the equal-frequency quantiles.
  let bounds: number[];
  if (distinct.length <= 2 * NUMERIC_BINS) bounds = distinct;
  else {
    bounds = [];
    for (let b = 1; b <= NUMERIC_BINS; b++) {
      const q =
        present[Math.min(present.length - 1, Math.ceil((b * present.length) / NUMERIC_BINS) - 1)];
      if (q !== undefined && bounds.at(-1) !== q) bounds.push(q);
    }
  }
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (Number.isNaN(v)) {
      codes[i] = 0;
      continue;
    }
    let lo = 0;
    let hi = bounds.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (v <= (bounds[mid] as number)) hi = mid;
      else lo = mid + 1;
    }
    codes[i] = lo + 1;
  }
  return codes;
}

/**
 * How well the column alone predicts the target, out of fold: each half of the sample (by row
 * parity) is scored with the per-value target statistics of the other half, so a column with
 * a different value in every row scores as chance, not as perfect.
 */
function singleColumnScore(
  column: Column,
  rows: Uint32Array,
  sample: Uint32Array,
  labels: Float64Array,
  task: TaskKind,
  classCount: number,
): number {
  const codes = codesOf(column, rows, sample);
  let codeCount = 0;
  for (const c of codes) if (c + 1 > codeCount) codeCount = c + 1;
  const n = sample.length;
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) y[i] = labels[sample[i] as number] as number;
  const outputs = task === "multiclass" ? classCount : 1;
  // sums[fold][code * outputs + k], counts[fold][code]
  const sums = [new Float64Array(codeCount * outputs), new Float64Array(codeCount * outputs)];
  const counts = [new Float64Array(codeCount), new Float64Array(codeCount)];
  const totals = [new Float64Array(outputs), new Float64Array(outputs)];
  const sizes = [0, 0];
  for (let i = 0; i < n; i++) {
    const fold = i & 1;
    const code = codes[i] as number;
    const foldSums = sums[fold] as Float64Array;
    const foldTotals = totals[fold] as Float64Array;
    (counts[fold] as Float64Array)[code] = ((counts[fold] as Float64Array)[code] ?? 0) + 1;
    sizes[fold] = (sizes[fold] ?? 0) + 1;
    if (task === "multiclass") {
      const k = y[i] as number;
      foldSums[code * outputs + k] = (foldSums[code * outputs + k] ?? 0) + 1;
      foldTotals[k] = (foldTotals[k] ?? 0) + 1;
    } else {
      const v = task === "binary" ? ((y[i] as number) === 1 ? 1 : 0) : (y[i] as number);
      foldSums[code] = (foldSums[code] ?? 0) + v;
      foldTotals[0] = (foldTotals[0] ?? 0) + v;
    }
  }
  // Out-of-fold predictions, smoothed toward the other fold's overall mean (one pseudo-row).
  // Every row of one (fold, code) group gets the same prediction, so classification scores
  // are computed per group: O(rows + groups log groups) instead of a sort per class.
  const groups = 2 * codeCount;
  const groupScore = new Float64Array(groups * outputs);
  for (let fold = 0; fold < 2; fold++) {
    const other = fold ^ 1;
    const size = Math.max(1, sizes[other] ?? 0);
    for (let code = 0; code < codeCount; code++) {
      const count = (counts[other] as Float64Array)[code] ?? 0;
      for (let k = 0; k < outputs; k++) {
        const prior = ((totals[other] as Float64Array)[k] ?? 0) / size;
        const sum = (sums[other] as Float64Array)[code * outputs + k] ?? 0;
        groupScore[(fold * codeCount + code) * outputs + k] = (sum + prior) / (count + 1);
      }
    }
  }
  const groupOf = (i: number) => (i & 1) * codeCount + (codes[i] as number);
  if (task === "regression") {
    const predictions = new Float64Array(n);
    for (let i = 0; i < n; i++) predictions[i] = groupScore[groupOf(i)] as number;
    const binned = r2(y, predictions);
    // A linear copy is caught on small samples too, where bins hold a row or two.
    const linear = isNumericColumn(column) ? squaredCorrelation(column, rows, sample, y) : 0;
    return Math.max(Number.isFinite(binned) ? binned : 0, linear);
  }
  const rowsIn = new Float64Array(groups);
  for (let i = 0; i < n; i++) rowsIn[groupOf(i)] = (rowsIn[groupOf(i)] ?? 0) + 1;
  const positives = new Float64Array(groups);
  const scores = new Float64Array(groups);
  // Binary: AUC of class 1. Multiclass: mean one-vs-rest AUC over the classes present.
  const classes = task === "binary" ? [1] : Array.from({ length: outputs }, (_, k) => k);
  let total = 0;
  let present = 0;
  for (const k of classes) {
    positives.fill(0);
    for (let i = 0; i < n; i++)
      if (y[i] === k) positives[groupOf(i)] = (positives[groupOf(i)] ?? 0) + 1;
    const output = task === "binary" ? 0 : k;
    for (let g = 0; g < groups; g++) scores[g] = groupScore[g * outputs + output] as number;
    const a = groupedAuc(scores, positives, rowsIn);
    if (Number.isFinite(a)) {
      total += a;
      present++;
    }
  }
  return present === 0 ? 0 : total / present;
}

/**
 * AUC when rows come in groups sharing one score: positives[g] of rowsIn[g] rows of group g
 * are positive. Ties (within a group or across groups with equal scores) count one half, as
 * the mid-rank AUC does. NaN when there are no positives or no negatives.
 */
export function groupedAuc(
  scores: Float64Array,
  positives: Float64Array,
  rowsIn: Float64Array,
): number {
  const order = Array.from({ length: scores.length }, (_, g) => g)
    .filter((g) => (rowsIn[g] ?? 0) > 0)
    .sort((a, b) => (scores[a] as number) - (scores[b] as number));
  let pos = 0;
  let neg = 0;
  for (const g of order) {
    pos += positives[g] as number;
    neg += (rowsIn[g] as number) - (positives[g] as number);
  }
  if (pos === 0 || neg === 0) return Number.NaN;
  let below = 0;
  let wins = 0;
  let i = 0;
  while (i < order.length) {
    let blockPos = 0;
    let blockNeg = 0;
    const s = scores[order[i] as number] as number;
    while (i < order.length && scores[order[i] as number] === s) {
      const g = order[i] as number;
      blockPos += positives[g] as number;
      blockNeg += (rowsIn[g] as number) - (positives[g] as number);
      i++;
    }
    wins += blockPos * (below + blockNeg / 2);
    below += blockNeg;
  }
  return wins / (pos * neg);
}

/** Pearson r² between a numeric column and the target over the sampled rows (missing skipped). */
function squaredCorrelation(
  column: Column & { values: Float64Array },
  rows: Uint32Array,
  sample: Uint32Array,
  y: Float64Array,
): number {
  let n = 0;
  let sx = 0;
  let sy = 0;
  for (let i = 0; i < sample.length; i++) {
    const x = column.values[rows[sample[i] as number] as number] ?? Number.NaN;
    if (Number.isNaN(x)) continue;
    n++;
    sx += x;
    sy += y[i] as number;
  }
  if (n < 3) return 0;
  const mx = sx / n;
  const my = sy / n;
  let cov = 0;
  let vx = 0;
  let vy = 0;
  for (let i = 0; i < sample.length; i++) {
    const x = column.values[rows[sample[i] as number] as number] ?? Number.NaN;
    if (Number.isNaN(x)) continue;
    const dx = x - mx;
    const dy = (y[i] as number) - my;
    cov += dx * dy;
    vx += dx * dx;
    vy += dy * dy;
  }
  if (vx === 0 || vy === 0) return 0;
  return (cov * cov) / (vx * vy);
}

function warningsFor(
  frame: Frame,
  target: Column,
  rowsWithValue: number,
  task: TaskKind,
  classes: readonly string[] | undefined,
  labels: Float64Array,
  excluded: readonly ExcludedColumnReport[],
): string[] {
  const warnings: string[] = [];
  const fmt = (n: number) => n.toLocaleString("en-US");
  const missing = frame.rowCount - rowsWithValue;
  if (missing > 0) {
    warnings.push(
      `${fmt(missing)} of ${fmt(frame.rowCount)} rows (${percent(missing / frame.rowCount)}) have no value for ${target.name}; training leaves them out.`,
    );
  }
  if (rowsWithValue < 100) {
    warnings.push(
      `Only ${fmt(rowsWithValue)} rows have a value for ${target.name}; expect noisy results and check them on new data.`,
    );
  }
  if (classes) {
    const counts = new Float64Array(classes.length);
    for (const y of labels) counts[y] = (counts[y] ?? 0) + 1;
    if (task === "binary") {
      const share = (counts[1] ?? 0) / Math.max(1, labels.length);
      const rare = Math.min(share, 1 - share);
      if (rare < 0.05) {
        const label = share < 0.5 ? classes[1] : classes[0];
        warnings.push(
          `Only ${percent(rare)} of rows are ${label}: the model sees few examples of it, and accuracy will look high even for a useless model; judge it by AUC.`,
        );
      }
    } else {
      const rare = classes.filter((_, k) => (counts[k] ?? 0) < 10);
      if (rare.length > 0) {
        warnings.push(
          `${rare.length === 1 ? "The class" : "The classes"} ${list(rare)} ${rare.length === 1 ? "has" : "have"} fewer than 10 rows; the model can hardly learn ${rare.length === 1 ? "it" : "them"}.`,
        );
      }
    }
  } else {
    const distinct = new Set(labels).size;
    if (distinct <= 10) {
      warnings.push(
        `${target.name} has only ${distinct} different values; if they are categories rather than amounts, change its type to category.`,
      );
    }
  }
  const leaks = excluded.filter((e) => e.kind === "leak").map((e) => e.column);
  if (leaks.length > 0) {
    warnings.push(
      `${list(leaks)} ${leaks.length === 1 ? "predicts" : "each predict"} ${target.name} almost perfectly on ${leaks.length === 1 ? "its" : "their"} own and ${leaks.length === 1 ? "was" : "were"} left out; include ${leaks.length === 1 ? "it" : "them"} only if ${leaks.length === 1 ? "it is" : "they are"} known before the outcome.`,
    );
  }
  return warnings;
}

function percent(share: number): string {
  const p = share * 100;
  return `${p < 1 ? p.toFixed(1) : Math.round(p)}%`;
}

function list(items: readonly string[]): string {
  if (items.length <= 1) return items.join("");
  const shown = items.slice(0, 5);
  const rest = items.length - shown.length;
  const head = shown.slice(0, -1).join(", ");
  return rest > 0
    ? `${shown.join(", ")} and ${rest} more`
    : `${head} and ${shown[shown.length - 1]}`;
}
