/**
 * GBDT hyperparameters with their defaults in one place, so the learner, AutoML and the
 * report all agree on what an omitted parameter means.
 */
import { availableParallelism } from "node:os";
import type { RegressionObjective } from "./objective.ts";

const OBJECTIVES: readonly RegressionObjective[] = ["squared", "absolute", "huber", "poisson"];

/** Hyperparameters of the histogram GBDT; every field is optional. */
export interface GbdtParams {
  /** Boosting rounds (the maximum when early stopping is on). Default 100. */
  readonly rounds?: number;
  /** Shrinkage applied to every leaf value. Default 0.1. */
  readonly learningRate?: number;
  /** Maximum leaves per tree (leaf-wise growth). Default 31. */
  readonly maxLeaves?: number;
  /** Maximum depth per tree; 0 means no limit beyond maxLeaves. Default 0. */
  readonly maxDepth?: number;
  /** Minimum hessian sum in a child. Default 1e-3. */
  readonly minChildWeight?: number;
  /** Minimum training rows in a child. Default 20. */
  readonly minDataInLeaf?: number;
  /** L2 regularization on leaf values. Default 1. */
  readonly lambda?: number;
  /** L1 regularization on leaf values. Default 0. */
  readonly alpha?: number;
  /** Minimum gain for a split to be made. Default 0. */
  readonly minSplitGain?: number;
  /** Fraction of rows sampled (without replacement) each round. Default 1. */
  readonly subsample?: number;
  /** Fraction of features sampled for each tree. Default 1. */
  readonly colsample?: number;
  /** Maximum value bins per feature (1..255); missing values get one more bin. Default 255. */
  readonly maxBins?: number;
  /** Stop when the validation loss has not improved for this many rounds (0 = never). Default 50. */
  readonly earlyStoppingRounds?: number;
  /** "native": LightGBM-style category splits; "ordinal": codes split as numbers. Default "native". */
  readonly categorical?: "native" | "ordinal";
  /** Smoothing added to the hessian when ordering categories by gradient ratio. Default 10. */
  readonly catSmooth?: number;
  /** Extra L2 regularization when scoring categorical splits. Default 10. */
  readonly catL2?: number;
  /** Categories with fewer rows than this in a node are not placed by the ordering (go right). Default 10. */
  readonly minDataPerGroup?: number;
  /**
   * Regression loss: "squared" (default), "absolute" (L1, robust, predicts medians), "huber"
   * (squared within huberDelta, absolute beyond) or "poisson" (counts ≥ 0, log link, positive
   * predictions). Classification tasks ignore it and only accept the default.
   */
  readonly objective?: RegressionObjective;
  /** Huber threshold in target units (objective "huber"). Default 1. */
  readonly huberDelta?: number;
  /**
   * Threads that build histograms (1 = this thread only). Default: os.availableParallelism().
   * The model is the same byte for byte whatever the value, so the saved model omits it.
   */
  readonly threads?: number;
}

/** GbdtParams with every default filled in and values clamped to their valid ranges. */
export interface ResolvedGbdtParams {
  readonly rounds: number;
  readonly learningRate: number;
  readonly maxLeaves: number;
  readonly maxDepth: number;
  readonly minChildWeight: number;
  readonly minDataInLeaf: number;
  readonly lambda: number;
  readonly alpha: number;
  readonly minSplitGain: number;
  readonly subsample: number;
  readonly colsample: number;
  readonly maxBins: number;
  readonly earlyStoppingRounds: number;
  readonly categorical: "native" | "ordinal";
  readonly catSmooth: number;
  readonly catL2: number;
  readonly minDataPerGroup: number;
  readonly objective: RegressionObjective;
  readonly huberDelta: number;
  readonly threads: number;
}

export const GBDT_DEFAULTS: ResolvedGbdtParams = {
  rounds: 100,
  learningRate: 0.1,
  maxLeaves: 31,
  maxDepth: 0,
  minChildWeight: 1e-3,
  minDataInLeaf: 20,
  lambda: 1,
  alpha: 0,
  minSplitGain: 0,
  subsample: 1,
  colsample: 1,
  maxBins: 255,
  earlyStoppingRounds: 50,
  categorical: "native",
  catSmooth: 10,
  catL2: 10,
  minDataPerGroup: 10,
  objective: "squared",
  huberDelta: 1,
  threads: Math.max(1, availableParallelism()),
};

function num(
  value: number | undefined,
  fallback: number,
  min: number,
  max: number,
  name: string,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || Number.isNaN(value) || value < min || value > max) {
    throw new RangeError(
      `gbdt: ${name} must be a number in [${min}, ${max}], got ${String(value)}`,
    );
  }
  return value;
}

function int(
  value: number | undefined,
  fallback: number,
  min: number,
  max: number,
  name: string,
): number {
  const v = num(value, fallback, min, max, name);
  if (!Number.isInteger(v)) throw new RangeError(`gbdt: ${name} must be an integer, got ${v}`);
  return v;
}

/** Fill defaults and reject out-of-range values with a message naming the parameter. */
export function resolveGbdtParams(params: GbdtParams = {}): ResolvedGbdtParams {
  const d = GBDT_DEFAULTS;
  const categorical = params.categorical ?? d.categorical;
  if (categorical !== "native" && categorical !== "ordinal") {
    throw new RangeError(`gbdt: categorical must be "native" or "ordinal"`);
  }
  const subsample = num(params.subsample, d.subsample, 0, 1, "subsample");
  const colsample = num(params.colsample, d.colsample, 0, 1, "colsample");
  const objective = params.objective ?? d.objective;
  if (!OBJECTIVES.includes(objective)) {
    throw new RangeError(
      `gbdt: objective must be one of ${OBJECTIVES.map((o) => `"${o}"`).join(", ")}, got ${String(objective)}`,
    );
  }
  const huberDelta = num(params.huberDelta, d.huberDelta, 0, Number.MAX_VALUE, "huberDelta");
  if (huberDelta === 0) throw new RangeError("gbdt: huberDelta must be > 0");
  if (subsample === 0 || colsample === 0)
    throw new RangeError("gbdt: sampling fractions must be > 0");
  return {
    rounds: int(params.rounds, d.rounds, 1, 1e6, "rounds"),
    learningRate: num(params.learningRate, d.learningRate, 1e-6, 10, "learningRate"),
    maxLeaves: int(params.maxLeaves, d.maxLeaves, 2, 1 << 16, "maxLeaves"),
    maxDepth: int(params.maxDepth, d.maxDepth, 0, 64, "maxDepth"),
    minChildWeight: num(
      params.minChildWeight,
      d.minChildWeight,
      0,
      Number.MAX_VALUE,
      "minChildWeight",
    ),
    minDataInLeaf: int(params.minDataInLeaf, d.minDataInLeaf, 1, 2 ** 31, "minDataInLeaf"),
    lambda: num(params.lambda, d.lambda, 0, Number.MAX_VALUE, "lambda"),
    alpha: num(params.alpha, d.alpha, 0, Number.MAX_VALUE, "alpha"),
    minSplitGain: num(params.minSplitGain, d.minSplitGain, 0, Number.MAX_VALUE, "minSplitGain"),
    subsample,
    colsample,
    maxBins: int(params.maxBins, d.maxBins, 1, 255, "maxBins"),
    earlyStoppingRounds: int(
      params.earlyStoppingRounds,
      d.earlyStoppingRounds,
      0,
      1e6,
      "earlyStoppingRounds",
    ),
    categorical,
    catSmooth: num(params.catSmooth, d.catSmooth, 0, Number.MAX_VALUE, "catSmooth"),
    catL2: num(params.catL2, d.catL2, 0, Number.MAX_VALUE, "catL2"),
    minDataPerGroup: int(params.minDataPerGroup, d.minDataPerGroup, 1, 2 ** 31, "minDataPerGroup"),
    objective,
    huberDelta,
    threads: int(params.threads, d.threads, 1, 1024, "threads"),
  };
}
