/**
 * Seeded data splits and k-fold cross-validation. Classification splits are stratified (each
 * class is shuffled and dealt round-robin), so every fold sees the class balance of the whole
 * set even for rare classes; the same seed always gives the same folds.
 */
import { takeLabels, takeRows } from "./feature-matrix.ts";
import type { Metrics } from "./metrics.ts";
import { evaluate, meanMetrics } from "./metrics.ts";
import { createRandom, deriveSeed } from "./random.ts";
import type { FeatureMatrix, FitOptions, Labels, Learner, Task, TrainedModel } from "./types.ts";

/** Row indices of one split, each ascending. */
export interface Split {
  readonly train: Uint32Array;
  readonly test: Uint32Array;
}

/**
 * Assign each row to one of `groups` groups: stratified by class for classification (classes
 * shuffled independently, then dealt in turn, continuing where the previous class stopped so
 * group sizes differ by at most one), plain shuffled otherwise.
 */
function assignGroups(y: Labels, task: Task, groups: number, seed: number): Uint32Array {
  const n = y.length;
  const random = createRandom(seed);
  const group = new Uint32Array(n);
  const byClass: number[][] = [];
  if (task.kind === "regression") {
    byClass.push(Array.from({ length: n }, (_, i) => i));
  } else {
    for (let i = 0; i < n; i++) {
      const c = y[i] as number;
      let list = byClass[c];
      if (!list) {
        list = [];
        byClass[c] = list;
      }
      list.push(i);
    }
  }
  let next = 0;
  for (const list of byClass) {
    if (!list) continue;
    random.shuffle(list);
    for (const row of list) {
      group[row] = next;
      next = next + 1 === groups ? 0 : next + 1;
    }
  }
  return group;
}

function rowsWhere(group: ArrayLike<number>, predicate: (g: number) => boolean): Uint32Array {
  let count = 0;
  for (let i = 0; i < group.length; i++) if (predicate(group[i] as number)) count++;
  const out = new Uint32Array(count);
  let j = 0;
  for (let i = 0; i < group.length; i++) if (predicate(group[i] as number)) out[j++] = i;
  return out;
}

/** Seeded k-fold splits (stratified for classification); every row is tested exactly once. */
export function kFold(y: Labels, task: Task, folds: number, seed = 0): Split[] {
  if (!(Number.isInteger(folds) && folds >= 2))
    throw new RangeError(`folds must be an integer >= 2, got ${folds}`);
  if (y.length < folds) throw new RangeError(`cannot make ${folds} folds from ${y.length} rows`);
  const group = assignGroups(y, task, folds, seed);
  return Array.from({ length: folds }, (_, k) => ({
    train: rowsWhere(group, (g) => g !== k),
    test: rowsWhere(group, (g) => g === k),
  }));
}

/**
 * Seeded train/test split holding out about `testFraction` of the rows (per class, for
 * classification). Each class keeps at least one training row.
 */
export function trainTestSplit(
  y: Labels,
  task: Task,
  options: { testFraction?: number; seed?: number } = {},
): Split {
  const fraction = options.testFraction ?? 0.2;
  if (!(fraction > 0 && fraction < 1)) throw new RangeError("testFraction must be in (0, 1)");
  const n = y.length;
  const random = createRandom(options.seed ?? 0);
  const isTest = new Uint8Array(n);
  const strata: number[][] = [];
  if (task.kind === "regression") strata.push(Array.from({ length: n }, (_, i) => i));
  else {
    for (let i = 0; i < n; i++) {
      const c = y[i] as number;
      const list = strata[c] ?? [];
      strata[c] = list;
      list.push(i);
    }
  }
  for (const list of strata) {
    if (!list) continue;
    random.shuffle(list);
    const take = Math.min(Math.round(list.length * fraction), list.length - 1);
    for (let i = 0; i < take; i++) isTest[list[i] as number] = 1;
  }
  return { train: rowsWhere(isTest, (v) => v === 0), test: rowsWhere(isTest, (v) => v === 1) };
}

/** One fold's outcome. */
export interface FoldResult {
  readonly metrics: Metrics;
  readonly model: TrainedModel;
  readonly fitMs: number;
  readonly test: Uint32Array;
  /** The model's outputs on the fold's test rows (row-major, outputSize per row). */
  readonly predictions: Float64Array;
}

export interface CrossValidateOptions {
  readonly folds?: number;
  readonly seed?: number;
  readonly signal?: AbortSignal;
  /**
   * When set, each fold's training rows are split again and this fraction is passed to the
   * learner as `validation` (early stopping); the fold's test rows are never used for it.
   */
  readonly validationFraction?: number;
  /** Evaluate only the first `maxFolds` folds of the k-fold split (to bound time). */
  readonly maxFolds?: number;
  /** Precomputed splits (overrides folds/seed), so several candidates share the same folds. */
  readonly splits?: readonly Split[];
  /** Called after each fold; return false to stop early (the result then has fewer folds). */
  readonly onFold?: (fold: FoldResult, index: number) => boolean | undefined;
}

export interface CrossValidationResult {
  readonly folds: readonly FoldResult[];
  /** Mean of each metric over the folds. */
  readonly mean: Metrics;
}

/** Let queued events (progress messages, aborts, HTTP requests) run between long steps. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * k-fold cross-validation of one learner and parameter set; yields to the event loop between
 * folds so that progress and abort signals flow during a long search.
 */
export async function crossValidate(
  X: FeatureMatrix,
  y: Labels,
  task: Task,
  learner: Learner<Record<string, unknown>>,
  params: Record<string, unknown>,
  options: CrossValidateOptions = {},
): Promise<CrossValidationResult> {
  const seed = options.seed ?? 0;
  const splits = options.splits ?? kFold(y, task, options.folds ?? 5, seed);
  const count = Math.min(splits.length, options.maxFolds ?? splits.length);
  const results: FoldResult[] = [];
  for (let k = 0; k < count; k++) {
    options.signal?.throwIfAborted();
    const split = splits[k] as Split;
    const started = performance.now();
    const model = fitFold(X, y, task, learner, params, split.train, {
      seed: deriveSeed(seed, k),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.validationFraction ? { validationFraction: options.validationFraction } : {}),
    });
    const fitMs = performance.now() - started;
    const testX = takeRows(X, split.test);
    const predictions = model.predictBatch(testX);
    const fold: FoldResult = {
      metrics: evaluate(task, takeLabels(y, split.test), predictions),
      model,
      fitMs,
      test: split.test,
      predictions,
    };
    results.push(fold);
    const keepGoing = options.onFold?.(fold, k);
    await yieldToEventLoop();
    if (keepGoing === false) break;
  }
  return { folds: results, mean: meanMetrics(results.map((r) => r.metrics)) };
}

/**
 * Fit on `rows`, optionally carving a seeded, stratified validation part out of them for early
 * stopping.
 */
export function fitFold(
  X: FeatureMatrix,
  y: Labels,
  task: Task,
  learner: Learner<Record<string, unknown>>,
  params: Record<string, unknown>,
  rows: Uint32Array,
  options: { seed: number; signal?: AbortSignal; validationFraction?: number },
): TrainedModel {
  const fitOptions: { seed: number; signal?: AbortSignal } = {
    seed: options.seed,
    ...(options.signal ? { signal: options.signal } : {}),
  };
  if (!options.validationFraction) {
    return learner.fit(takeRows(X, rows), takeLabels(y, rows), task, params, fitOptions);
  }
  const yRows = takeLabels(y, rows);
  const inner = trainTestSplit(yRows, task, {
    testFraction: options.validationFraction,
    seed: options.seed,
  });
  const trainRows = inner.train.map((i) => rows[i] as number);
  const validRows = inner.test.map((i) => rows[i] as number);
  const validation = { X: takeRows(X, validRows), y: takeLabels(y, validRows) };
  const withValidation: FitOptions = { ...fitOptions, validation };
  return learner.fit(
    takeRows(X, trainRows),
    takeLabels(y, trainRows),
    task,
    params,
    withValidation,
  );
}
