/**
 * The boosting loop: bin the matrix once, then each round compute gradients, sample rows and
 * features, grow one tree per output, update the training (and validation) scores, and stop
 * early when the validation loss stops improving, keeping the best round.
 */
import { checkSameFeatures, checkTrainingInput } from "../feature-matrix.ts";
import type { Random } from "../random.ts";
import { createRandom } from "../random.ts";
import type { FeatureMatrix, FitOptions, Labels, Learner, Task } from "../types.ts";
import { binMatrix } from "./binning.ts";
import { ForestBuilder, leafIndex } from "./forest.ts";
import { TreeGrower } from "./grow.ts";
import { GbdtModel } from "./model.ts";
import { objectiveFor } from "./objective.ts";
import type { GbdtParams, ResolvedGbdtParams } from "./params.ts";
import { resolveGbdtParams } from "./params.ts";

/** Histogram gradient-boosted decision trees (binary, multiclass, regression). */
export const gbdt: Learner<GbdtParams> = {
  name: "gbdt",
  fit(X, y, task, params, options = {}) {
    return fitGbdt(X, y, task, params, options);
  },
};

/** Fit a GBDT; `gbdt.fit` with the concrete model type, for callers that want `rounds`. */
export function fitGbdt(
  X: FeatureMatrix,
  y: Labels,
  task: Task,
  params: GbdtParams = {},
  options: FitOptions = {},
): GbdtModel {
  checkTrainingInput(X, y, task);
  const p = resolveGbdtParams(params);
  const random = createRandom(options.seed ?? 0);
  const n = X.rowCount;
  const width = X.features.length;
  const binned = binMatrix(X, p.maxBins, p.categorical, random);
  const objective = objectiveFor(task);
  const k = objective.outputs;
  const base = objective.initScores(y);
  const scores = new Float64Array(k * n);
  for (let c = 0; c < k; c++) scores.fill(base[c] as number, c * n, (c + 1) * n);
  const grad = new Float64Array(k * n);
  const hess = new Float64Array(k * n);

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
  const grower = new TreeGrower(binned, p);
  const usable: number[] = [];
  for (let f = 0; f < width; f++) if ((binned.features[f]?.binCount ?? 0) >= 2) usable.push(f);
  const bag = new Uint32Array(n);
  const inBag = new Uint8Array(n);

  let bestLoss = Number.POSITIVE_INFINITY;
  let bestRounds = 0;
  let roundsRun = 0;
  for (let round = 0; round < p.rounds; round++) {
    options.signal?.throwIfAborted();
    objective.gradients(y, scores, grad, hess);
    const bagSize = sampleRows(bag, inBag, n, p.subsample, random);
    let allStumps = true;
    for (let c = 0; c < k; c++) {
      const features = sampleFeatures(usable, p.colsample, random);
      const g = grad.subarray(c * n, (c + 1) * n);
      const h = hess.subarray(c * n, (c + 1) * n);
      const tree = grower.grow(g, h, bag, bagSize, features, p.learningRate);
      if (tree.nodes.length > 1) allStumps = false;
      const t = builder.addTree(tree.nodes);
      const forest = builder.view();
      const root = forest.roots[t] as number;
      const s = scores.subarray(c * n, (c + 1) * n);
      for (const leaf of tree.leaves) {
        const v = tree.nodes[leaf.node]?.value ?? 0;
        for (let i = leaf.start; i < leaf.start + leaf.count; i++) {
          const r = tree.rows[i] as number;
          s[r] = (s[r] as number) + v;
        }
      }
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
            (vScores[idx] as number) + (forest.value[leafIndex(forest, root, vd, r, m)] as number);
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
  return new GbdtModel(task, X.features, builder.freeze(), base, {
    rounds: keptRounds,
    roundsRun,
    params: { ...p },
    ...(validation ? { validationLoss: bestLoss } : {}),
  });
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
