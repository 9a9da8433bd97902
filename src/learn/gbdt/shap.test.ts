import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { loadModel } from "../index.ts";
import type { Random } from "../random.ts";
import { createRandom } from "../random.ts";
import { randomTree } from "../test-support/random-tree.ts";
import { matrixOf, REGRESSION } from "../test-support/synthetic.ts";
import type { FeatureInfo, FeatureMatrix, Labels, Task } from "../types.ts";
import type { Forest, NodeDraft } from "./forest.ts";
import { FLAG_CATEGORICAL, FLAG_DEFAULT_LEFT, ForestBuilder, leafIndex } from "./forest.ts";
import { fitGbdt } from "./gbdt.ts";
import type { GbdtModel } from "./model.ts";
import { TreeShap } from "./shap.ts";

// ---------------------------------------------------------------------------------------------
// Reference: Shapley values by definition, enumerating every subset of features. The game is
// v(S) = sum of trees' expected value when features in S follow the row and every other split
// averages its children by training cover (the quantity TreeSHAP computes in polynomial time).
// Written independently of shap.ts (its own decision rule) so the two check each other.
// ---------------------------------------------------------------------------------------------

function referenceLeft(forest: Forest, i: number, x: number): boolean {
  const defaultLeft = ((forest.flags[i] as number) & FLAG_DEFAULT_LEFT) !== 0;
  if (Number.isNaN(x)) return defaultLeft;
  if (((forest.flags[i] as number) & FLAG_CATEGORICAL) !== 0) {
    const f = forest.feature[i] as number;
    if (!Number.isInteger(x) || x < 0 || x >= (forest.cardinality[f] as number)) return defaultLeft;
    const bits = forest.catBits[(forest.threshold[i] as number) + Math.floor(x / 32)] as number;
    return Math.floor(bits / 2 ** (x % 32)) % 2 === 1;
  }
  return x <= (forest.threshold[i] as number);
}

function conditional(forest: Forest, node: number, row: Float64Array, known: boolean[]): number {
  const f = forest.feature[node] as number;
  if (f < 0) return forest.value[node] as number;
  const left = forest.left[node] as number;
  const right = forest.right[node] as number;
  if (known[f]) {
    return conditional(
      forest,
      referenceLeft(forest, node, row[f] as number) ? left : right,
      row,
      known,
    );
  }
  const cl = forest.cover[left] as number;
  const cr = forest.cover[right] as number;
  const share = cl + cr > 0 ? cl / (cl + cr) : 0.5;
  return (
    share * conditional(forest, left, row, known) +
    (1 - share) * conditional(forest, right, row, known)
  );
}

/** Brute-force SHAP values in the same layout as TreeShap.explainRow. */
function bruteForceShap(
  forest: Forest,
  baseScore: Float64Array,
  featureCount: number,
  row: Float64Array,
): Float64Array {
  const k = baseScore.length;
  const m = featureCount;
  const out = new Float64Array((m + 1) * k);
  const value = (mask: number, c: number): number => {
    const known = Array.from({ length: m }, (_, f) => ((mask >> f) & 1) === 1);
    let sum = baseScore[c] as number;
    for (let t = c; t < forest.roots.length; t += k)
      sum += conditional(forest, forest.roots[t] as number, row, known);
    return sum;
  };
  const factorial = (n: number): number => (n <= 1 ? 1 : n * factorial(n - 1));
  for (let c = 0; c < k; c++) {
    const v = Array.from({ length: 1 << m }, (_, mask) => value(mask, c));
    for (let i = 0; i < m; i++) {
      let phi = 0;
      for (let mask = 0; mask < 1 << m; mask++) {
        if ((mask >> i) & 1) continue;
        let size = 0;
        for (let b = 0; b < m; b++) size += (mask >> b) & 1;
        const weight = (factorial(size) * factorial(m - size - 1)) / factorial(m);
        phi += weight * ((v[mask | (1 << i)] as number) - (v[mask] as number));
      }
      out[c * (m + 1) + i] = phi;
    }
    out[c * (m + 1) + m] = v[0] as number;
  }
  return out;
}

/** Raw scores by plain traversal (the model's definition of the margin). */
function rawScores(forest: Forest, baseScore: Float64Array, row: Float64Array): Float64Array {
  const out = Float64Array.from(baseScore);
  for (let t = 0; t < forest.roots.length; t++) {
    const c = t % out.length;
    out[c] =
      (out[c] as number) +
      (forest.value[leafIndex(forest, forest.roots[t] as number, row, 0, 1)] as number);
  }
  return out;
}

function expectClose(actual: Float64Array, expected: Float64Array, tolerance: number): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i] as number;
    const e = expected[i] as number;
    if (!(Math.abs(a - e) <= tolerance * Math.max(1, Math.abs(e)))) {
      throw new Error(
        `entry ${i}: ${a} != ${e}\nactual   ${[...actual]}\nexpected ${[...expected]}`,
      );
    }
  }
}

/** Sum of contributions plus bias, per output. */
function totals(contributions: Float64Array, featureCount: number, k: number): Float64Array {
  const out = new Float64Array(k);
  for (let c = 0; c < k; c++) {
    let sum = 0;
    for (let f = 0; f <= featureCount; f++)
      sum += contributions[c * (featureCount + 1) + f] as number;
    out[c] = sum;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Random forests straight from the flat layout: features reused along a path, categorical
// bitsets longer than one word, default directions both ways, and empty (zero-cover) leaves.
// ---------------------------------------------------------------------------------------------

const VALUES = [0, 0.5, 1, 1.5, 2];

function randomFeatures(random: Random, count: number): FeatureInfo[] {
  return Array.from({ length: count }, (_, f): FeatureInfo => {
    if (random.nextFloat() < 0.4) {
      // Sometimes wider than 32 codes, so bitsets span two words.
      const cardinality =
        random.nextFloat() < 0.3 ? 33 + random.nextInt(10) : 2 + random.nextInt(6);
      return { name: `c${f}`, kind: "categorical", cardinality };
    }
    return { name: `x${f}`, kind: "numeric" };
  });
}

function randomRow(random: Random, features: readonly FeatureInfo[]): Float64Array {
  return Float64Array.from(features, (info) => {
    if (random.nextFloat() < 0.15) return Number.NaN;
    if (info.kind === "categorical") {
      const card = info.cardinality ?? 1;
      // Occasionally an invalid code (out of range or fractional), which takes the default.
      if (random.nextFloat() < 0.1) return random.nextFloat() < 0.5 ? card + 3 : 1.5;
      return random.nextInt(card);
    }
    return VALUES[random.nextInt(VALUES.length)] as number;
  });
}

describe("TreeShap on random forests", () => {
  it("matches brute-force Shapley values and sums to the raw margin", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 0, max: 6 }),
        (seed, featureCount, outputs, trees, maxDepth) => {
          const random = createRandom(seed);
          const features = randomFeatures(random, featureCount);
          const builder = new ForestBuilder(
            Int32Array.from(features, (f) => (f.kind === "categorical" ? (f.cardinality ?? 1) : 0)),
          );
          for (let t = 0; t < trees * outputs; t++)
            builder.addTree(
              randomTree(random, features, {
                maxDepth,
                threshold: (r) => VALUES[r.nextInt(VALUES.length)] as number,
                leafValue: (r) => Math.round((r.nextFloat() * 4 - 2) * 100) / 100,
              }),
            );
          const forest = builder.freeze();
          const baseScore = Float64Array.from({ length: outputs }, () => random.nextFloat() - 0.5);
          const shap = new TreeShap(forest, baseScore, featureCount);
          const out = new Float64Array(shap.contributionSize);
          for (let r = 0; r < 4; r++) {
            const row = randomRow(random, features);
            shap.explainRow(row, out);
            expectClose(out, bruteForceShap(forest, baseScore, featureCount, row), 1e-9);
            expectClose(
              totals(out, featureCount, outputs),
              rawScores(forest, baseScore, row),
              1e-9,
            );
          }
        },
      ),
      { numRuns: 400, seed: 3 },
    );
  });

  it("gives a feature no one splits on exactly zero, and a single leaf only a bias", () => {
    const features: FeatureInfo[] = [
      { name: "a", kind: "numeric" },
      { name: "unused", kind: "numeric" },
    ];
    const builder = new ForestBuilder(new Int32Array(2));
    const leaf = (value: number, cover: number): NodeDraft => ({
      feature: -1,
      threshold: 0,
      leftCodes: null,
      defaultLeft: false,
      left: -1,
      right: -1,
      value,
      gain: 0,
      cover,
    });
    builder.addTree([
      { ...leaf(0, 4), feature: 0, threshold: 1, left: 1, right: 2 },
      leaf(-1, 3),
      leaf(3, 1),
    ]);
    builder.addTree([leaf(0.5, 4)]);
    const shap = new TreeShap(builder.freeze(), Float64Array.of(0.25), features.length);
    // E = 0.25 + (3/4·(−1) + 1/4·3) + 0.5 = 0.75
    expect(shap.expectedValue[0]).toBeCloseTo(0.75, 12);
    const out = new Float64Array(3);
    shap.explainRow(Float64Array.of(2, 7), out);
    expect([...out]).toEqual([3, 0, 0.75]);
    shap.explainRow(Float64Array.of(Number.NaN, 7), out);
    // Missing goes right by default (defaultLeft false).
    expect(out[0]).toBeCloseTo(3, 12);
  });

  it("refuses an output buffer that is too short", () => {
    const builder = new ForestBuilder(new Int32Array(1));
    builder.addTree([
      {
        feature: -1,
        threshold: 0,
        leftCodes: null,
        defaultLeft: false,
        left: -1,
        right: -1,
        value: 1,
        gain: 0,
        cover: 1,
      },
    ]);
    const shap = new TreeShap(builder.freeze(), Float64Array.of(0), 1);
    expect(() => shap.explainRow(Float64Array.of(1), new Float64Array(1))).toThrow(RangeError);
  });
});

// ---------------------------------------------------------------------------------------------
// Trained models: every task, with categorical features and missing values.
// ---------------------------------------------------------------------------------------------

/** Mixed data: two numerics with missing values, one categorical with an unknown bucket. */
function mixedData(n: number, seed: number, task: Task): { X: FeatureMatrix; y: Labels } {
  const random = createRandom(seed);
  const a = new Float64Array(n);
  const b = new Float64Array(n);
  const cat = new Float64Array(n);
  const noise = new Float64Array(n);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    a[i] = random.nextFloat() < 0.1 ? Number.NaN : random.nextFloat() * 4 - 2;
    b[i] = random.nextFloat() < 0.05 ? Number.NaN : random.nextFloat();
    cat[i] = random.nextFloat() < 0.05 ? Number.NaN : random.nextInt(6);
    noise[i] = random.nextFloat();
    const av = Number.isNaN(a[i] as number) ? 1 : (a[i] as number);
    const bv = Number.isNaN(b[i] as number) ? 0.5 : (b[i] as number);
    const cv = Number.isNaN(cat[i] as number) ? 0 : (cat[i] as number);
    const score = av + 2 * bv * (cv % 2 === 0 ? 1 : -1) + (cv === 3 ? 1.5 : 0);
    if (task.kind === "regression") y[i] = score + 0.3 * random.nextFloat();
    else if (task.kind === "binary") y[i] = score + random.nextFloat() - 0.5 > 0.5 ? 1 : 0;
    else y[i] = score < -0.5 ? 0 : score < 1.2 ? 1 : 2;
  }
  const X = matrixOf([
    { name: "a", values: a },
    { name: "b", values: b },
    { name: "cat", values: cat, kind: "categorical", cardinality: 7 },
    { name: "noise", values: noise },
  ]);
  return { X, y };
}

const TASKS: Task[] = [
  { kind: "binary", classCount: 2 },
  { kind: "multiclass", classCount: 3 },
  REGRESSION,
];

describe("GbdtModel.explainRow", () => {
  for (const task of TASKS) {
    it(`sums to the raw margin to 1e-9 on random rows (${task.kind})`, () => {
      const { X, y } = mixedData(1500, 5, task);
      const model = fitGbdt(
        X,
        y,
        task,
        { rounds: 40, maxLeaves: 15, minDataInLeaf: 5, subsample: 0.8, colsample: 0.8 },
        { seed: 9 },
      );
      const width = X.features.length;
      const k = model.outputSize;
      const out = new Float64Array((width + 1) * k);
      const raw = new Float64Array(k);
      const random = createRandom(17);
      for (let i = 0; i < 300; i++) {
        // Training rows, and random rows with missing values and unknown/invalid codes.
        const row =
          i % 2 === 0
            ? Float64Array.from({ length: width }, (_, f) => X.data[f * X.rowCount + i] as number)
            : randomRow(
                random,
                X.features.map((f) => (f.name === "cat" ? { ...f, cardinality: 7 } : f)),
              );
        model.explainRow(row, out);
        model.rawScores(row, 0, 1, raw);
        expectClose(totals(out, width, k), raw, 1e-9);
      }
      // The noise feature matters far less than the real ones.
      const mean = meanAbs(model, X, 300);
      expect(mean[3]).toBeLessThan((mean[0] as number) / 5);
    });
  }

  it("is exact: equals brute-force Shapley values on small trained models", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000 }), fc.constantFrom(...TASKS), (seed, task) => {
        const { X, y } = mixedData(300, seed, task);
        const model = fitGbdt(X, y, task, { rounds: 5, maxLeaves: 8, minDataInLeaf: 3 }, { seed });
        const width = X.features.length;
        const out = new Float64Array((width + 1) * model.outputSize);
        const random = createRandom(seed + 1);
        for (let r = 0; r < 3; r++) {
          const row = randomRow(random, X.features);
          model.explainRow(row, out);
          expectClose(out, bruteForceShap(model.forest, model.baseScore, width, row), 1e-9);
        }
      }),
      { numRuns: 30, seed: 5 },
    );
  });

  it("sums to log(prediction) for a Poisson (log-link) model", () => {
    const { X, y } = mixedData(800, 12, REGRESSION);
    const counts = Float64Array.from(y, (v) => Math.round(Math.exp(v / 3)));
    const model = fitGbdt(X, counts, REGRESSION, { rounds: 30, objective: "poisson" }, { seed: 2 });
    const width = X.features.length;
    const out = new Float64Array(width + 1);
    const prediction = new Float64Array(1);
    for (let r = 0; r < 50; r++) {
      const row = Float64Array.from(
        { length: width },
        (_, f) => X.data[f * X.rowCount + r] as number,
      );
      model.explainRow(row, out);
      model.predictRow(row, prediction);
      expect(out.reduce((s, v) => s + v, 0)).toBeCloseTo(Math.log(prediction[0] as number), 9);
    }
  });

  it("explains a reloaded model exactly like the original", () => {
    const task: Task = { kind: "multiclass", classCount: 3 };
    const { X, y } = mixedData(600, 8, task);
    const model = fitGbdt(X, y, task, { rounds: 10 }, { seed: 1 });
    const loaded = loadModel(model.serialize()) as GbdtModel;
    const width = X.features.length;
    const a = new Float64Array((width + 1) * 3);
    const b = new Float64Array((width + 1) * 3);
    for (let r = 0; r < 50; r++) {
      const row = Float64Array.from(
        { length: width },
        (_, f) => X.data[f * X.rowCount + r] as number,
      );
      model.explainRow(row, a);
      loaded.explainRow?.(row, b);
      expect([...b]).toEqual([...a]);
    }
  });
});

function meanAbs(model: GbdtModel, X: FeatureMatrix, rows: number): Float64Array {
  const width = X.features.length;
  const k = model.outputSize;
  const out = new Float64Array((width + 1) * k);
  const mean = new Float64Array(width);
  const row = new Float64Array(width);
  for (let r = 0; r < rows; r++) {
    for (let f = 0; f < width; f++) row[f] = X.data[f * X.rowCount + r] as number;
    model.explainRow(row, out);
    for (let c = 0; c < k; c++)
      for (let f = 0; f < width; f++)
        mean[f] = (mean[f] as number) + Math.abs(out[c * (width + 1) + f] as number) / rows;
  }
  return mean;
}
