/**
 * The boosting loop: bin the matrix once, then each round compute gradients, sample rows and
 * features, grow one tree per output, update the training (and validation) scores, and stop
 * early when the validation loss stops improving, keeping the best round. With more than one
 * thread, binary and regression fits build large nodes' histograms on all threads, and
 * multiclass fits grow each round's trees (one per class) on all threads (parallel/).
 */
import { checkSameFeatures, checkTrainingInput } from "../feature-matrix.ts";
import type { Random } from "../random.ts";
import { createRandom } from "../random.ts";
import type { FeatureMatrix, FitOptions, Labels, Learner, Task } from "../types.ts";
import { SharedArena } from "./arena.ts";
import { binMatrix } from "./binning.ts";
import type { NodeDraft } from "./forest.ts";
import { ForestBuilder, leafIndex } from "./forest.ts";
import { addLeafValues, TreeGrower } from "./grow.ts";
import type { HistogramBuilder } from "./histogram.ts";
import { histogramLayout, SerialHistogramBuilder } from "./histogram.ts";
import { GbdtModel } from "./model.ts";
import { objectiveFor } from "./objective.ts";
import { GbdtWorkers, ParallelHistogramBuilder } from "./parallel/gbdt-workers.ts";
import type { GbdtParams, ResolvedGbdtParams } from "./params.ts";
import { resolveGbdtParams } from "./params.ts";

/** Histogram gradient-boosted decision trees (binary, multiclass, regression). */
export const gbdt: Learner<GbdtParams> = {
  name: "gbdt",
  fit(X, y, task, params, options = {}) {
    return fitGbdt(X, y, task, params, options);
  },
};

/**
 * Least work for a fit to start worker threads: below it, starting them and handing work over
 * would cost more than they save. `nodes`: cells (rows x usable features) when large nodes'
 * histograms are shared (only nodes big enough are, see gbdt-workers.ts); `trees`: cells x
 * classes when a round's trees are grown in parallel.
 */
const MIN_PARALLEL_WORK = { trees: 100_000, nodes: 262_144 } as const;

/** Optional runtime resources for fitGbdt. */
export interface GbdtRuntime {
  /**
   * A worker pool to use instead of starting one for this fit (the caller closes it): for
   * callers that fit many models in a row, and for tests. Used whatever the amount of work.
   */
  readonly workers?: GbdtWorkers;
}

/**
 * Fit a GBDT; `gbdt.fit` with the concrete model type, for callers that want `rounds`. With
 * more than one thread (params.threads), worker threads share the work; the model is the same
 * byte for byte.
 */
export function fitGbdt(
  X: FeatureMatrix,
  y: Labels,
  task: Task,
  params: GbdtParams = {},
  options: FitOptions = {},
  runtime: GbdtRuntime = {},
): GbdtModel {
  checkTrainingInput(X, y, task);
  const p = resolveGbdtParams(params);
  const random = createRandom(options.seed ?? 0);
  const n = X.rowCount;
  const width = X.features.length;
  const objective = objectiveFor(task, p);
  const k = objective.outputs;
  // One shared arena holds the bins, row partitions and histograms, where the WebAssembly
  // kernels and the worker threads reach them. What the TypeScript code loops over (gradients,
  // scores) is in ordinary shared buffers, which V8 reads faster (see histogram.ts).
  const arena = new SharedArena(n * width + 48 * n + (1 << 20));
  const binned = binMatrix(X, p.maxBins, p.categorical, random, arena);
  const base = objective.initScores(y);
  const scores = sharedF64(k * n);
  for (let c = 0; c < k; c++) scores.fill(base[c] as number, c * n, (c + 1) * n);
  const grad = sharedF64(k * n);
  const hess = sharedF64(k * n);

  const validation = options.validation;
  let vScores: Float64Array | undefined;
  if (validation) {
    checkSameFeatures(validation.X, width);
    checkTrainingInput(validation.X, validation.y, task);
    const m = validation.X.rowCount;
    vScores = new Float64Array(k * m);
    for (let c = 0; c < k; c++) vScores.fill(base[c] as number, c * m, (c + 1) * m);
  }
  const stopping = validation !== undefined && p.earlyStoppingRounds > 0;

  const cardinality = new Int32Array(width);
  for (let f = 0; f < width; f++) {
    const fb = binned.features[f];
    cardinality[f] = fb?.kind === "categorical" ? fb.cardinality : 0;
  }
  const builder = new ForestBuilder(cardinality);
  const usable: number[] = [];
  for (let f = 0; f < width; f++) if ((binned.features[f]?.binCount ?? 0) >= 2) usable.push(f);
  const layout = histogramLayout(binned);
  const bag = new Uint32Array(new SharedArrayBuffer(4 * n));
  const inBag = new Uint8Array(n);

  let workers = runtime.workers;
  const threads = workers ? workers.threads : p.threads;
  const cells = n * usable.length;
  // Multiclass rounds grow their trees in parallel when there are enough classes for the
  // threads (or too little data to share a node), unless the objective revisits each tree
  // (renewLeaves) on this thread. Otherwise large nodes' histograms are shared.
  const byTree =
    k > 1 &&
    objective.renewLeaves === undefined &&
    (k >= threads || cells < MIN_PARALLEL_WORK.nodes);
  const ownWorkers =
    workers === undefined &&
    p.threads > 1 &&
    (byTree ? cells * k >= MIN_PARALLEL_WORK.trees : cells >= MIN_PARALLEL_WORK.nodes);
  if (ownWorkers) workers = new GbdtWorkers(p.threads - 1);
  try {
    let histograms: HistogramBuilder = new SerialHistogramBuilder(layout);
    // Each class's sampled features, where tree tasks read them.
    const treeFeatures = new Int32Array(new SharedArrayBuffer(4 * Math.max(1, k * width)));
    if (workers) {
      const shared = new Int32Array(new SharedArrayBuffer(4 * Math.max(1, width)));
      workers.attach(
        binned,
        layout,
        shared,
        byTree
          ? {
              params: p,
              learningRate: p.learningRate,
              classes: k,
              grad: grad.buffer as SharedArrayBuffer,
              hess: hess.buffer as SharedArrayBuffer,
              scores: scores.buffer as SharedArrayBuffer,
              bag: bag.buffer as SharedArrayBuffer,
              treeFeatures: treeFeatures.buffer as SharedArrayBuffer,
            }
          : null,
      );
      if (!byTree) histograms = new ParallelHistogramBuilder(layout, workers, shared);
    }
    const grower = new TreeGrower(binned, p, histograms);
    const classGrad = (c: number): Float64Array => grad.subarray(c * n, (c + 1) * n);
    const classHess = (c: number): Float64Array => hess.subarray(c * n, (c + 1) * n);
    const classScores = (c: number): Float64Array => scores.subarray(c * n, (c + 1) * n);

    let bestLoss = Number.POSITIVE_INFINITY;
    let bestRounds = 0;
    let roundsRun = 0;
    for (let round = 0; round < p.rounds; round++) {
      options.signal?.throwIfAborted();
      objective.gradients(y, scores, grad, hess);
      const bagSize = sampleRows(bag, inBag, n, p.subsample, random);
      // The round's trees, grown here or (multiclass) on every thread; either way in-bag rows
      // already have the new trees in their scores.
      const trees: (readonly NodeDraft[])[] = [];
      if (byTree && workers) {
        const sampled: Int32Array[] = [];
        for (let c = 0; c < k; c++) {
          const features = sampleFeatures(usable, p.colsample, random);
          treeFeatures.set(features, c * width);
          sampled.push(features);
        }
        const grown = workers.growTrees(k, bagSize, sampled[0]?.length ?? 0, (c) => {
          const tree = grower.grow(
            classGrad(c),
            classHess(c),
            bag,
            bagSize,
            sampled[c] as Int32Array,
            p.learningRate,
          );
          addLeafValues(tree, classScores(c));
          return tree.nodes;
        });
        trees.push(...grown);
      } else {
        for (let c = 0; c < k; c++) {
          const features = sampleFeatures(usable, p.colsample, random);
          const tree = grower.grow(
            classGrad(c),
            classHess(c),
            bag,
            bagSize,
            features,
            p.learningRate,
          );
          objective.renewLeaves?.(y, classScores(c), tree, p.learningRate);
          addLeafValues(tree, classScores(c));
          trees.push(tree.nodes);
        }
      }
      let allStumps = true;
      for (let c = 0; c < k; c++) {
        const nodes = trees[c] as readonly NodeDraft[];
        if (nodes.length > 1) allStumps = false;
        const t = builder.addTree(nodes);
        const forest = builder.view();
        const root = forest.roots[t] as number;
        const s = classScores(c);
        if (bagSize < n) {
          for (let r = 0; r < n; r++) {
            if (inBag[r] === 0)
              s[r] =
                (s[r] as number) + (forest.value[leafIndex(forest, root, X.data, r, n)] as number);
          }
        }
        if (validation && vScores) {
          const m = validation.X.rowCount;
          const vd = validation.X.data;
          for (let r = 0; r < m; r++) {
            const idx = c * m + r;
            vScores[idx] =
              (vScores[idx] as number) +
              (forest.value[leafIndex(forest, root, vd, r, m)] as number);
          }
        }
      }
      roundsRun = round + 1;
      if (validation && vScores) {
        const loss = objective.loss(validation.y, vScores);
        if (loss < bestLoss) {
          bestLoss = loss;
          bestRounds = roundsRun;
        } else if (stopping && roundsRun - bestRounds >= p.earlyStoppingRounds) {
          break;
        }
      }
      options.onProgress?.({
        fraction: roundsRun / p.rounds,
        message: `round ${roundsRun} of ${p.rounds}`,
      });
      // Nothing left to learn: every tree is a single leaf and no sampling can change that.
      if (allStumps && p.subsample === 1 && p.colsample === 1) break;
    }
    const keptRounds = stopping ? Math.max(bestRounds, 1) : roundsRun;
    builder.truncate(keptRounds * k);
    // The thread count does not change the model, so the model does not record it.
    const { threads: _threads, ...kept } = p;
    return new GbdtModel(task, X.features, builder.freeze(), base, {
      rounds: keptRounds,
      roundsRun,
      params: kept,
      ...(validation ? { validationLoss: bestLoss } : {}),
    });
  } finally {
    // The threads end now; unref'd, they could not keep the process alive meanwhile anyway.
    if (ownWorkers) void workers?.close();
  }
}

/** A Float64Array on a SharedArrayBuffer (worker threads can read and write it). */
function sharedF64(length: number): Float64Array {
  return new Float64Array(new SharedArrayBuffer(8 * Math.max(1, length)), 0, length);
}

/**
 * Choose this round's rows: all of them, or round(n * fraction) without replacement
 * (selection sampling, so the bag comes out in ascending order). Marks inBag.
 */
function sampleRows(
  bag: Uint32Array,
  inBag: Uint8Array,
  n: number,
  fraction: number,
  random: Random,
): number {
  if (fraction >= 1) {
    for (let i = 0; i < n; i++) bag[i] = i;
    inBag.fill(1);
    return n;
  }
  const want = Math.max(1, Math.round(n * fraction));
  inBag.fill(0);
  let needed = want;
  let size = 0;
  for (let i = 0; i < n && needed > 0; i++) {
    if (random.nextFloat() * (n - i) < needed) {
      bag[size++] = i;
      inBag[i] = 1;
      needed--;
    }
  }
  return size;
}

/** This tree's features: all usable ones, or a seeded sample of round(count * fraction). */
function sampleFeatures(usable: readonly number[], fraction: number, random: Random): Int32Array {
  if (fraction >= 1) return Int32Array.from(usable);
  const pool = Int32Array.from(usable);
  const want = Math.max(1, Math.round(pool.length * fraction));
  for (let i = 0; i < want; i++) {
    const j = i + random.nextInt(pool.length - i);
    const tmp = pool[i] as number;
    pool[i] = pool[j] as number;
    pool[j] = tmp;
  }
  return pool.subarray(0, want).sort();
}

export type { GbdtParams, ResolvedGbdtParams };
