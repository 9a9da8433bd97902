/**
 * AutoML: a small, time-boxed search over learners and hyperparameters that a person without
 * ML experience can trust. It holds out a seeded, stratified 20% of the rows, cross-validates
 * a short list of candidates on the other 80% (most-likely-good first, GBDT rounds picked by
 * early stopping on an inner validation split), stops starting candidates when the budget
 * would run out, refits the winner on the 80% to score the hold-out honestly, and finally
 * refits it on every row.
 */
import type { CrossValidationResult, Split } from "./cross-validation.ts";
import { crossValidate, kFold, trainTestSplit, yieldToEventLoop } from "./cross-validation.ts";
import { takeLabels, takeRows } from "./feature-matrix.ts";
import { gbdt } from "./gbdt/gbdt.ts";
import { GbdtModel } from "./gbdt/model.ts";
import { isCountTarget } from "./gbdt/objective.ts";
import type { GbdtParams } from "./gbdt/params.ts";
import type { LinearParams } from "./linear/linear.ts";
import { linear } from "./linear/linear.ts";
import { isPositiveSkewed, LogTargetModel, logTarget } from "./log-target.ts";
import type { Metrics } from "./metrics.ts";
import { defaultMetric, evaluate, isBetter, metricsForTask } from "./metrics.ts";
import { deriveSeed } from "./random.ts";
import type { FeatureMatrix, Labels, Learner, Task, TrainedModel } from "./types.ts";

/** Progress of a search, emitted after every fold and candidate. */
export interface AutoMLProgress {
  readonly candidatesTried: number;
  readonly candidatesPlanned: number;
  readonly best?: { readonly learner: string; readonly score: number };
  readonly elapsedMs: number;
  readonly timeBudgetMs: number;
  readonly message: string;
}

export interface AutoMLOptions {
  /** Wall-clock budget for the whole search including the final fits (a target, see CONTEXT.md). */
  readonly timeBudgetMs: number;
  /** Metric to choose by (one `evaluate` returns for the task); default `defaultMetric(task)`. */
  readonly metric?: string;
  readonly seed?: number;
  /** Cross-validation folds; default 5. */
  readonly folds?: number;
  readonly onProgress?: (progress: AutoMLProgress) => void;
  readonly signal?: AbortSignal;
  /**
   * Threads for each GBDT fit (default: the GBDT's own default, every core). It is a runtime
   * setting: models are identical for any value, and it is not reported in the params.
   */
  readonly threads?: number;
}

/** One evaluated candidate. */
export interface AutoMLCandidate {
  readonly learner: string;
  readonly params: Record<string, unknown>;
  /** Mean CV value of the chosen metric. */
  readonly cvScore: number;
  readonly cvMetrics: Metrics;
  /** Wall time of the candidate's cross-validation. */
  readonly fitMs: number;
  /** Folds evaluated (fewer than requested when the budget forced it). */
  readonly folds: number;
}

export interface AutoMLResult {
  /** The winner refitted on every row. */
  readonly model: TrainedModel;
  /**
   * The winner fitted on the 80% only: the model the hold-out metrics and predictions are of,
   * for examples that must not have been seen in training.
   */
  readonly holdoutModel: TrainedModel;
  readonly chosen: { readonly learner: string; readonly params: Record<string, unknown> };
  readonly metric: string;
  /** Mean CV metrics of the winner. */
  readonly cv: Metrics;
  /** Metrics of the winner refitted on the 80% and scored on the 20% hold-out. */
  readonly holdout: Metrics;
  readonly candidates: readonly AutoMLCandidate[];
  /** Hold-out rows, their labels and the 80%-model's outputs (row-major), for report charts. */
  readonly holdoutPredictions?: {
    readonly rows: Uint32Array;
    readonly y: Float64Array;
    readonly predictions: Float64Array;
  };
}

/** Share of each CV training fold used for GBDT early stopping. */
const VALIDATION_FRACTION = 0.15;
const HOLDOUT_FRACTION = 0.2;
/** The first candidate's folds may use at most this share of the budget. */
const FIRST_CANDIDATE_SHARE = 0.4;

interface Plan {
  readonly learner: "gbdt" | "linear";
  readonly params: Record<string, unknown>;
  readonly logTarget: boolean;
  /** Relative cost within the learner, to extrapolate from measured candidates. */
  readonly cost: number;
}

function gbdtPlan(params: GbdtParams, log: boolean): Plan {
  const lr = params.learningRate ?? 0.1;
  const leaves = params.maxLeaves ?? 31;
  const fullParams: GbdtParams = {
    rounds: 3000,
    earlyStoppingRounds: Math.round(Math.max(20, 3 / lr)),
    ...params,
  };
  return {
    learner: "gbdt",
    params: { ...fullParams },
    logTarget: log,
    cost: (1 / lr) * Math.log2(leaves + 1),
  };
}

function linearPlan(params: LinearParams, log: boolean): Plan {
  return { learner: "linear", params: { ...params }, logTarget: log, cost: 1 };
}

/**
 * The candidate list, most-likely-good first. Big multiclass problems (rows x classes) get
 * faster learning rates so the first candidate fits the budget.
 */
function planCandidates(task: Task, rows: number, y: Labels): Plan[] {
  const outputs = task.kind === "multiclass" ? task.classCount : 1;
  const speed = rows * outputs > 150_000 ? 2 : 1;
  const balanced: GbdtParams = {
    learningRate: 0.05 * speed,
    maxLeaves: 31,
    minDataInLeaf: 20,
    subsample: 0.8,
    colsample: 0.8,
  };
  const shallow: GbdtParams = {
    learningRate: 0.05 * speed,
    maxLeaves: 8,
    maxDepth: 3,
    minDataInLeaf: 20,
    subsample: 0.8,
    colsample: 0.8,
  };
  const conservative: GbdtParams = {
    learningRate: 0.03 * speed,
    maxLeaves: 15,
    minDataInLeaf: 50,
    minChildWeight: 1,
    lambda: 5,
    subsample: 0.7,
    colsample: 0.5,
  };
  const deep: GbdtParams = {
    learningRate: 0.1 * speed,
    maxLeaves: 63,
    minDataInLeaf: 10,
    subsample: 0.9,
    colsample: 0.9,
  };
  // Count targets (non-negative integers) also get the Poisson loss, second in line.
  const counts: Plan[] =
    task.kind === "regression" && isCountTarget(y)
      ? [gbdtPlan({ ...balanced, objective: "poisson" }, false)]
      : [];
  if (task.kind === "regression" && isPositiveSkewed(y)) {
    return [
      gbdtPlan(balanced, true),
      ...counts,
      linearPlan({ lambda: 1e-2 }, true),
      gbdtPlan(balanced, false),
      gbdtPlan(shallow, true),
      gbdtPlan(conservative, true),
      linearPlan({ lambda: 1e-3 }, true),
      gbdtPlan(deep, true),
      linearPlan({ lambda: 1e-1 }, true),
      linearPlan({ lambda: 1e-2 }, false),
    ];
  }
  return [
    gbdtPlan(balanced, false),
    ...counts,
    linearPlan({ lambda: 1e-3 }, false),
    gbdtPlan(shallow, false),
    gbdtPlan(conservative, false),
    linearPlan({ lambda: 1e-1 }, false),
    gbdtPlan(deep, false),
    linearPlan({ lambda: 1e-5 }, false),
  ];
}

function learnerOf(plan: Plan): Learner<Record<string, unknown>> {
  const base = (plan.learner === "gbdt" ? gbdt : linear) as Learner<Record<string, unknown>>;
  return plan.logTarget ? logTarget(base) : base;
}

function describe(plan: Plan): Record<string, unknown> {
  return plan.logTarget ? { ...plan.params, targetTransform: "log" } : { ...plan.params };
}

function label(plan: Plan): string {
  return plan.logTarget ? `${plan.learner} (log target)` : plan.learner;
}

/** Boosting rounds an early-stopped GBDT kept (through a log-target wrapper), if any. */
function roundsOf(model: TrainedModel): number | undefined {
  const inner = model instanceof LogTargetModel ? model.inner : model;
  return inner instanceof GbdtModel ? inner.rounds : undefined;
}

interface Evaluated {
  readonly plan: Plan;
  readonly candidate: AutoMLCandidate;
  readonly cv: CrossValidationResult;
  /** Rounds to refit with (GBDT): mean of the folds' early-stopped rounds, plus 10%. */
  readonly rounds?: number;
  readonly foldMs: number;
}

/** Run the search; see the module comment. */
export async function automl(
  X: FeatureMatrix,
  y: Labels,
  task: Task,
  options: AutoMLOptions,
): Promise<AutoMLResult> {
  const started = performance.now();
  const elapsed = (): number => performance.now() - started;
  const budget = options.timeBudgetMs;
  if (!(budget > 0)) throw new RangeError("timeBudgetMs must be > 0");
  const metric = options.metric ?? defaultMetric(task);
  if (!metricsForTask(task.kind).includes(metric)) {
    throw new RangeError(
      `metric "${metric}" does not apply to ${task.kind} (use ${metricsForTask(task.kind).join(", ")})`,
    );
  }
  const seed = options.seed ?? 0;
  const signal = options.signal;
  const threads = options.threads;
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1)) {
    throw new RangeError(`threads must be an integer >= 1, got ${threads}`);
  }
  const withThreads = (plan: Plan, params: Record<string, unknown>): Record<string, unknown> =>
    plan.learner === "gbdt" && threads !== undefined ? { ...params, threads } : params;
  if (X.rowCount < 10) throw new RangeError(`automl needs at least 10 rows, got ${X.rowCount}`);

  const holdout = trainTestSplit(y, task, { testFraction: HOLDOUT_FRACTION, seed });
  const trainX = takeRows(X, holdout.train);
  const trainY = takeLabels(y, holdout.train);
  const folds = Math.max(2, Math.min(options.folds ?? 5, Math.floor(trainX.rowCount / 2)));
  const splits: Split[] = kFold(trainY, task, folds, deriveSeed(seed, 1));
  const plans = planCandidates(task, trainX.rowCount, trainY);

  const evaluated: Evaluated[] = [];
  let best: Evaluated | undefined;
  let foldsToRun = folds;
  let tried = 0;
  let lastError: unknown;
  const progress = (message: string): void => {
    options.onProgress?.({
      candidatesTried: tried,
      candidatesPlanned: plans.length,
      ...(best ? { best: { learner: best.candidate.learner, score: best.candidate.cvScore } } : {}),
      elapsedMs: elapsed(),
      timeBudgetMs: budget,
      message,
    });
  };
  progress(`searching ${plans.length} candidates with ${folds}-fold cross-validation`);

  for (let i = 0; i < plans.length; i++) {
    const plan = plans[i] as Plan;
    signal?.throwIfAborted();
    const first = evaluated.length === 0;
    if (!first) {
      const estimate = estimateCvMs(plan, evaluated, foldsToRun);
      const reserve = refitReserveMs(best, plan, evaluated, folds);
      if (elapsed() + estimate + reserve > budget) {
        progress(`skipping ${label(plan)}: it would not finish within the time budget`);
        continue;
      }
    }
    progress(`trying ${label(plan)} (${i + 1} of ${plans.length})`);
    const candidateStart = performance.now();
    let abandoned = false;
    let cv: CrossValidationResult;
    try {
      cv = await crossValidate(
        trainX,
        trainY,
        task,
        learnerOf(plan),
        withThreads(plan, plan.params),
        {
          splits,
          seed: deriveSeed(seed, 100 + i),
          maxFolds: foldsToRun,
          ...(signal ? { signal } : {}),
          ...(plan.learner === "gbdt" ? { validationFraction: VALIDATION_FRACTION } : {}),
          onFold: (fold, index) => {
            if (first && index === 0) {
              // Fit the first candidate's folds into a share of the budget; later candidates
              // use the same (first) folds so their scores stay comparable.
              const affordable = Math.floor(
                (FIRST_CANDIDATE_SHARE * budget) / Math.max(fold.fitMs, 1),
              );
              foldsToRun = Math.max(1, Math.min(folds, affordable));
            }
            progress(`${label(plan)}: fold ${index + 1} of ${foldsToRun} done`);
            if (index + 1 >= foldsToRun) return false;
            if (!first && elapsed() + refitReserveMs(best, plan, evaluated, folds) > budget) {
              abandoned = true;
              return false;
            }
            return true;
          },
        },
      );
    } catch (error) {
      if (signal?.aborted) throw error;
      lastError = error;
      progress(`${label(plan)} failed: ${error instanceof Error ? error.message : String(error)}`);
      continue;
    }
    tried++;
    if (abandoned) {
      progress(`stopped ${label(plan)}: out of time`);
      continue;
    }
    const fitMs = performance.now() - candidateStart;
    const roundsList = cv.folds
      .map((f) => roundsOf(f.model))
      .filter((r): r is number => r !== undefined);
    const rounds =
      roundsList.length > 0
        ? Math.max(1, Math.round((1.1 * roundsList.reduce((a, b) => a + b, 0)) / roundsList.length))
        : undefined;
    const score = cv.mean[metric] ?? Number.NaN;
    const candidate: AutoMLCandidate = {
      learner: plan.learner,
      params: describe(plan),
      cvScore: score,
      cvMetrics: cv.mean,
      fitMs,
      folds: cv.folds.length,
    };
    const result: Evaluated = {
      plan,
      candidate,
      cv,
      ...(rounds !== undefined ? { rounds } : {}),
      foldMs: fitMs / Math.max(cv.folds.length, 1),
    };
    evaluated.push(result);
    if (!best || isBetter(metric, score, best.candidate.cvScore)) best = result;
    progress(`${label(plan)}: ${metric} ${score.toFixed(4)}`);
    await yieldToEventLoop();
  }
  const winner = best ?? evaluated[0];
  if (!winner) {
    throw lastError instanceof Error
      ? lastError
      : new Error("automl: no candidate could be evaluated");
  }

  const finalParams: Record<string, unknown> =
    winner.rounds !== undefined
      ? { ...winner.plan.params, rounds: winner.rounds, earlyStoppingRounds: 0 }
      : { ...winner.plan.params };
  const learner = learnerOf(winner.plan);
  progress(`refitting ${label(winner.plan)} on the training rows to score the hold-out`);
  await yieldToEventLoop();
  const fitSeed = deriveSeed(seed, 2);
  const holdoutModel = learner.fit(trainX, trainY, task, withThreads(winner.plan, finalParams), {
    seed: fitSeed,
    ...(signal ? { signal } : {}),
  });
  const holdoutX = takeRows(X, holdout.test);
  const holdoutY = takeLabels(y, holdout.test);
  const holdoutPredictions = holdoutModel.predictBatch(holdoutX);
  const holdoutMetrics = evaluate(task, holdoutY, holdoutPredictions);
  progress(`refitting ${label(winner.plan)} on all rows`);
  await yieldToEventLoop();
  const model = learner.fit(X, y, task, withThreads(winner.plan, finalParams), {
    seed: fitSeed,
    ...(signal ? { signal } : {}),
  });
  progress(
    `done: ${label(winner.plan)}, hold-out ${metric} ${(holdoutMetrics[metric] ?? Number.NaN).toFixed(4)}`,
  );
  return {
    model,
    holdoutModel,
    chosen: {
      learner: winner.plan.learner,
      params: winner.plan.logTarget ? { ...finalParams, targetTransform: "log" } : finalParams,
    },
    metric,
    cv: winner.cv.mean,
    holdout: holdoutMetrics,
    candidates: evaluated.map((e) => e.candidate),
    holdoutPredictions: { rows: holdout.test, y: holdoutY, predictions: holdoutPredictions },
  };
}

/** Expected CV time of a plan, from measured candidates of the same learner (or any). */
function estimateCvMs(plan: Plan, evaluated: readonly Evaluated[], folds: number): number {
  const same = evaluated.filter((e) => e.plan.learner === plan.learner);
  if (same.length > 0) {
    let perCost = 0;
    for (const e of same) perCost = Math.max(perCost, e.foldMs / e.plan.cost);
    return perCost * plan.cost * folds;
  }
  // A learner not tried yet: assume a fold costs what the cheapest measured fold did.
  let cheapest = Number.POSITIVE_INFINITY;
  for (const e of evaluated) cheapest = Math.min(cheapest, e.foldMs);
  return (Number.isFinite(cheapest) ? cheapest : 0) * folds;
}

/**
 * Time to keep for the two final fits (80% and all rows): about 2.5 CV folds' fits of the
 * more expensive of the current best and the candidate about to run.
 */
function refitReserveMs(
  best: Evaluated | undefined,
  plan: Plan,
  evaluated: readonly Evaluated[],
  folds: number,
): number {
  const planFold = estimateCvMs(plan, evaluated, 1);
  const bestFold = best ? best.foldMs : 0;
  const foldShare = folds / Math.max(folds - 1, 1);
  return 2.5 * foldShare * Math.max(planFold, bestFold);
}
