import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { loadModel } from "../index.ts";
import type { Random } from "../random.ts";
import { createRandom } from "../random.ts";
import { BINARY, matrixOf, REGRESSION, uniform } from "../test-support/synthetic.ts";
import type { FeatureMatrix, Labels, Task } from "../types.ts";
import { fitGbdt } from "./gbdt.ts";
import type { GbdtModel } from "./model.ts";
import type { Objective, ObjectiveParams } from "./objective.ts";
import { isCountTarget, median, objectiveFor, POISSON_MAX_DELTA_STEP } from "./objective.ts";
import type { GbdtParams } from "./params.ts";

const MULTICLASS: Task = { kind: "multiclass", classCount: 3 };

interface Case {
  readonly label: string;
  readonly task: Task;
  readonly params: ObjectiveParams;
  /** A label for row i. */
  readonly y: (random: Random) => number;
  /** Factor between the objective's hessian and the loss's true curvature (where it is smooth). */
  readonly hessScale: number;
  /** Where the true curvature is 0 and the objective uses the constant surrogate 1 instead. */
  readonly flat?: (score: number, y: number) => boolean;
  /** `loss` reports this multiple of the function the gradients differentiate. */
  readonly lossScale?: number;
}

const CASES: readonly Case[] = [
  {
    label: "binary logloss",
    task: BINARY,
    params: {},
    y: (r) => r.nextInt(2),
    hessScale: 1,
  },
  {
    label: "softmax",
    task: MULTICLASS,
    params: {},
    y: (r) => r.nextInt(3),
    // The objective scales the diagonal curvature by K / (K - 1).
    hessScale: 3 / 2,
  },
  {
    label: "squared",
    task: REGRESSION,
    params: { objective: "squared" },
    y: (r) => 4 * r.nextFloat() - 2,
    hessScale: 1,
    // The validation loss is the MSE; the gradients are those of half of it.
    lossScale: 2,
  },
  {
    label: "absolute",
    task: REGRESSION,
    params: { objective: "absolute" },
    y: (r) => 4 * r.nextFloat() - 2,
    hessScale: 1,
    flat: () => true,
  },
  {
    label: "huber",
    task: REGRESSION,
    params: { objective: "huber", huberDelta: 0.7 },
    y: (r) => 4 * r.nextFloat() - 2,
    hessScale: 1,
    flat: (s, y) => Math.abs(s - y) > 0.7,
  },
  {
    label: "poisson",
    task: REGRESSION,
    params: { objective: "poisson" },
    y: (r) => r.nextInt(6),
    hessScale: Math.exp(POISSON_MAX_DELTA_STEP),
  },
];

/** Loss of one row as a function of its raw scores (class-major with one row = plain vector). */
function rowLoss(objective: Objective, y: number, scores: Float64Array): number {
  return objective.loss(Float64Array.of(y), scores);
}

describe("objective gradients and hessians", () => {
  for (const c of CASES) {
    it(`${c.label}: gradient and hessian match finite differences of the loss`, () => {
      const objective = objectiveFor(c.task, c.params);
      const k = objective.outputs;
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), (seed) => {
          const random = createRandom(seed);
          const y = c.y(random);
          const scores = Float64Array.from({ length: k }, () => 4 * random.nextFloat() - 2);
          // Stay away from the kinks of absolute and Huber loss.
          const d = (scores[0] as number) - y;
          if (Math.abs(d) < 1e-3 || Math.abs(Math.abs(d) - 0.7) < 1e-3) return;
          const grad = new Float64Array(k);
          const hess = new Float64Array(k);
          objective.gradients(Float64Array.of(y), scores, grad, hess);
          const h = 1e-5;
          for (let j = 0; j < k; j++) {
            const plus = scores.slice();
            const minus = scores.slice();
            plus[j] = (plus[j] as number) + h;
            minus[j] = (minus[j] as number) - h;
            const numericGrad =
              (rowLoss(objective, y, plus) - rowLoss(objective, y, minus)) /
              (2 * h * (c.lossScale ?? 1));
            expect(grad[j]).toBeCloseTo(numericGrad, 5);
            // Curvature: the derivative of the analytic gradient.
            const gPlus = new Float64Array(k);
            const gMinus = new Float64Array(k);
            const scratch = new Float64Array(k);
            objective.gradients(Float64Array.of(y), plus, gPlus, scratch);
            objective.gradients(Float64Array.of(y), minus, gMinus, scratch);
            const curvature = ((gPlus[j] as number) - (gMinus[j] as number)) / (2 * h);
            if (c.flat?.(scores[0] as number, y)) {
              expect(curvature).toBeCloseTo(0, 6);
              expect(hess[j]).toBe(1);
            } else {
              expect(hess[j]).toBeCloseTo(curvature * c.hessScale, 5);
            }
          }
        }),
        { numRuns: 50 },
      );
    });
  }

  it("starts each loss from its best constant", () => {
    const y = Float64Array.of(0, 1, 1, 2, 10);
    expect(objectiveFor(REGRESSION).initScores(y)[0]).toBeCloseTo(2.8, 12);
    expect(objectiveFor(REGRESSION, { objective: "absolute" }).initScores(y)[0]).toBe(1);
    expect(objectiveFor(REGRESSION, { objective: "huber" }).initScores(y)[0]).toBe(1);
    expect(objectiveFor(REGRESSION, { objective: "poisson" }).initScores(y)[0]).toBeCloseTo(
      Math.log(2.8),
      12,
    );
  });

  it("rejects labels and settings a loss cannot take, saying why", () => {
    const poisson = objectiveFor(REGRESSION, { objective: "poisson" });
    expect(() => poisson.initScores(Float64Array.of(1, -2))).toThrow(/non-negative.*row 1 is -2/);
    expect(() => objectiveFor(BINARY, { objective: "huber" })).toThrow(/regression/);
    expect(() => objectiveFor(REGRESSION, { objective: "huber", huberDelta: 0 })).toThrow(
      /huberDelta/,
    );
    const X = matrixOf([{ name: "x", values: Float64Array.of(1, 2, 3) }]);
    expect(() =>
      fitGbdt(X, Float64Array.of(1, -1, 2), REGRESSION, { objective: "poisson" }),
    ).toThrow(/poisson objective needs non-negative/);
    expect(() =>
      fitGbdt(X, Float64Array.of(1, 0, 2), REGRESSION, {
        objective: "cubic" as GbdtParams["objective"],
      }),
    ).toThrow(/objective must be one of/);
  });
});

describe("median", () => {
  it("equals the sorted middle (mean of the two middles for even counts)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -20, max: 20 }), { minLength: 1, maxLength: 60 }),
        (values) => {
          const sorted = [...values].sort((a, b) => a - b);
          const m = sorted.length >> 1;
          const expected =
            sorted.length % 2 === 1
              ? (sorted[m] as number)
              : ((sorted[m - 1] as number) + (sorted[m] as number)) / 2;
          // Extra capacity after `count` must be ignored.
          const buffer = Float64Array.from([...values, 1e9, -1e9]);
          expect(median(buffer, values.length)).toBe(expected);
        },
      ),
    );
  });
});

/** y = f(x) + noise on one informative feature plus one noise feature. */
function regressionData(
  n: number,
  seed: number,
  label: (x: number, random: Random) => number,
): { X: FeatureMatrix; y: Labels; x: Float64Array } {
  const random = createRandom(seed);
  const x = uniform(n, seed + 1, -2, 2);
  const y = Float64Array.from(x, (v) => label(v, random));
  return {
    X: matrixOf([
      { name: "x", values: x },
      { name: "noise", values: uniform(n, seed + 2) },
    ]),
    y,
    x,
  };
}

function lossOf(model: GbdtModel, X: FeatureMatrix, y: Labels, params: ObjectiveParams): number {
  return objectiveFor(model.task, params).loss(y, model.rawBatch(X));
}

function constantLoss(task: Task, y: Labels, train: Labels, params: ObjectiveParams): number {
  const objective = objectiveFor(task, params);
  const init = objective.initScores(train);
  const scores = new Float64Array(y.length).fill(init[0] as number);
  return objective.loss(y, scores);
}

describe("regression objectives learn", () => {
  const params: GbdtParams = { rounds: 80, learningRate: 0.1, maxLeaves: 8 };

  it("absolute error: predicts the conditional median, not the mean", () => {
    // Exponential noise: median ln 2 ≈ 0.69, mean 1, plus wild outliers.
    const noisy = (x: number, r: Random): number =>
      2 * Math.sin(x) - Math.log(1 - r.nextFloat()) + (r.nextFloat() < 0.05 ? 50 : 0);
    const train = regressionData(3000, 1, noisy);
    const test = regressionData(2000, 7, noisy);
    const objective: ObjectiveParams = { objective: "absolute" };
    const model = fitGbdt(train.X, train.y, REGRESSION, { ...params, ...objective }, { seed: 1 });
    // The outliers alone cost 0.05 * 50 = 2.5 of MAE to any model; the signal is worth ~0.8.
    expect(lossOf(model, test.X, test.y, objective)).toBeLessThan(
      constantLoss(REGRESSION, test.y, train.y, objective) - 0.6,
    );
    const medianError = (m: GbdtModel): number => {
      const pred = m.predictBatch(test.X);
      let error = 0;
      for (let i = 0; i < pred.length; i++)
        error += Math.abs((pred[i] as number) - (2 * Math.sin(test.x[i] as number) + Math.LN2));
      return error / pred.length;
    };
    expect(medianError(model)).toBeLessThan(0.25);
    // Squared error learns the mean instead: 1 − ln 2 + 0.05 · 50 ≈ 2.8 above the median.
    const squared = fitGbdt(train.X, train.y, REGRESSION, params, { seed: 1 });
    expect(medianError(squared)).toBeGreaterThan(2);
  });

  it("absolute error: one round sets each leaf to its median residual", () => {
    const x = Float64Array.of(0, 0, 0, 0, 1, 1, 1, 1, 1);
    const y = Float64Array.of(1, 2, 3, 100, 10, 11, 12, 13, -50);
    const X = matrixOf([{ name: "x", values: x }]);
    const model = fitGbdt(
      X,
      y,
      REGRESSION,
      { objective: "absolute", rounds: 1, learningRate: 1, maxLeaves: 2, minDataInLeaf: 1 },
      {},
    );
    // Base = median(y) = 10; leaves move to the medians of each side: 2.5 and 11.
    const out = new Float64Array(1);
    model.predictRow(Float64Array.of(0), out);
    expect(out[0]).toBe(2.5);
    model.predictRow(Float64Array.of(1), out);
    expect(out[0]).toBe(11);
  });

  it("huber: resists outliers that pull squared error away", () => {
    const dirty = (x: number, r: Random): number =>
      3 * x + 0.3 * (r.nextFloat() - 0.5) + (r.nextFloat() < 0.1 ? 40 : 0);
    const train = regressionData(3000, 2, dirty);
    const test = regressionData(2000, 8, dirty);
    const objective: ObjectiveParams = { objective: "huber", huberDelta: 1 };
    const huber = fitGbdt(train.X, train.y, REGRESSION, { ...params, ...objective }, { seed: 2 });
    // Outliers cost about 0.1 * 39.5 = 4 of Huber loss to any model; the signal ~2.3 more.
    expect(lossOf(huber, test.X, test.y, objective)).toBeLessThan(
      constantLoss(REGRESSION, test.y, train.y, objective) - 1.5,
    );
    const squared = fitGbdt(train.X, train.y, REGRESSION, params, { seed: 2 });
    const clean = (model: GbdtModel): number => {
      const pred = model.predictBatch(test.X);
      let error = 0;
      for (let i = 0; i < pred.length; i++)
        error += Math.abs((pred[i] as number) - 3 * (test.x[i] as number));
      return error / pred.length;
    };
    // Squared error learns the mean, shifted up by 0.1 * 40 = 4; Huber stays near 3x.
    expect(clean(squared)).toBeGreaterThan(3);
    expect(clean(huber)).toBeLessThan(1.5);
  });

  it("poisson: learns a log-linear rate, predictions are positive", () => {
    const draw = (rate: number, r: Random): number => {
      // Knuth's method; rates here are at most e^2.
      let k = 0;
      let p = r.nextFloat();
      const limit = Math.exp(-rate);
      while (p > limit) {
        k++;
        p *= r.nextFloat();
      }
      return k;
    };
    const counts = (x: number, r: Random): number => draw(Math.exp(0.2 + 0.9 * x), r);
    const train = regressionData(4000, 3, counts);
    const test = regressionData(2000, 9, counts);
    const objective: ObjectiveParams = { objective: "poisson" };
    const model = fitGbdt(train.X, train.y, REGRESSION, { ...params, ...objective }, { seed: 3 });
    expect(model.link).toBe("exp");
    expect(lossOf(model, test.X, test.y, objective)).toBeLessThan(
      constantLoss(REGRESSION, test.y, train.y, objective) - 0.3,
    );
    const pred = model.predictBatch(test.X);
    let relative = 0;
    for (let i = 0; i < pred.length; i++) {
      const p = pred[i] as number;
      expect(p).toBeGreaterThan(0);
      const rate = Math.exp(0.2 + 0.9 * (test.x[i] as number));
      relative += Math.abs(p - rate) / rate;
    }
    expect(relative / pred.length).toBeLessThan(0.15);
    // Far outside the training range the prediction is still a positive count rate.
    const out = new Float64Array(1);
    model.predictRow(Float64Array.of(-100, 0.5), out);
    expect(out[0]).toBeGreaterThan(0);
  });

  it("classification and squared error beat a constant on their own loss", () => {
    const data = regressionData(2000, 4, (x, r) => x * x + 0.2 * r.nextFloat());
    const squared = fitGbdt(data.X, data.y, REGRESSION, params, { seed: 4 });
    expect(lossOf(squared, data.X, data.y, {})).toBeLessThan(
      0.1 * constantLoss(REGRESSION, data.y, data.y, {}),
    );
    const yBin = Float64Array.from(data.x, (v) => (v * v > 1 ? 1 : 0));
    const binary = fitGbdt(data.X, yBin, BINARY, params, { seed: 4 });
    expect(lossOf(binary, data.X, yBin, {})).toBeLessThan(
      0.3 * constantLoss(BINARY, yBin, yBin, {}),
    );
  });

  it("round-trips every regression objective through serialize/loadModel", () => {
    const data = regressionData(600, 5, (x, r) => Math.round(Math.exp(x) + 2 * r.nextFloat()));
    for (const objective of ["squared", "absolute", "huber", "poisson"] as const) {
      const model = fitGbdt(
        data.X,
        data.y,
        REGRESSION,
        { rounds: 10, objective, huberDelta: 0.5 },
        { seed: 5 },
      );
      const loaded = loadModel(model.serialize());
      expect(Array.from(loaded.predictBatch(data.X))).toEqual(
        Array.from(model.predictBatch(data.X)),
      );
      const a = new Float64Array(1);
      const b = new Float64Array(1);
      loaded.predictRow(Float64Array.of(0.3, 0.5), a);
      model.predictRow(Float64Array.of(0.3, 0.5), b);
      expect(a[0]).toBe(b[0]);
      expect((loaded as GbdtModel).link).toBe(objective === "poisson" ? "exp" : "identity");
    }
  });
});

describe("isCountTarget", () => {
  it("accepts non-negative integer labels with some positive, nothing else", () => {
    expect(isCountTarget(Float64Array.of(0, 3, 1, 0, 12))).toBe(true);
    expect(isCountTarget(Float64Array.of(0, 0, 0))).toBe(false);
    expect(isCountTarget(Float64Array.of(0, 1.5, 2))).toBe(false);
    expect(isCountTarget(Float64Array.of(0, -1, 2))).toBe(false);
    expect(isCountTarget(Float64Array.of(0, 1, Number.NaN))).toBe(false);
  });
});
