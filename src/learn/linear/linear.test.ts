import { describe, expect, it } from "vitest";
import { loadModel } from "../index.ts";
import { accuracy, predictedClasses } from "../metrics.ts";
import { createRandom } from "../random.ts";
import { BINARY, blobs, matrixOf, REGRESSION, uniform } from "../test-support/synthetic.ts";
import type { FeatureMatrix, Task, TrainedModel } from "../types.ts";
import { fitLinear, linear } from "./linear.ts";
import { minimize } from "./optimizer.ts";

describe("linear", () => {
  it("recovers the coefficients of a noiseless linear regression", () => {
    const n = 300;
    const x0 = uniform(n, 1, -5, 5);
    const x1 = uniform(n, 2, 100, 200);
    const x2 = uniform(n, 3, 0, 0.01);
    const y = Float64Array.from(
      x0,
      (v, i) => 3 + 2 * v - 1.5 * (x1[i] as number) + 400 * (x2[i] as number),
    );
    const X = matrixOf([
      { name: "x0", values: x0 },
      { name: "x1", values: x1 },
      { name: "x2", values: x2 },
    ]);
    const model = fitLinear(X, y, REGRESSION, { lambda: 0, tolerance: 1e-10, maxIterations: 2000 });
    const { weights, intercept } = model.coefficients();
    expect(weights[0]).toBeCloseTo(2, 5);
    expect(weights[1]).toBeCloseTo(-1.5, 5);
    expect(weights[2]).toBeCloseTo(400, 3);
    expect(intercept[0]).toBeCloseTo(3, 3);
    const out = new Float64Array(1);
    model.predictRow(Float64Array.of(1, 150, 0.005), out);
    expect(out[0]).toBeCloseTo(3 + 2 - 225 + 2, 4);
  });

  it("clamps numeric inputs to the training range instead of extrapolating", () => {
    const x = uniform(200, 9, 0, 10);
    const y = Float64Array.from(x, (v) => 5 * v);
    const model = fitLinear(matrixOf([{ name: "x", values: x }]), y, REGRESSION, {
      lambda: 0,
      tolerance: 1e-10,
    });
    const out = new Float64Array(1);
    const max = Math.max(...x);
    model.predictRow(Float64Array.of(1e9), out);
    expect(out[0]).toBeCloseTo(5 * max, 4);
    model.predictRow(Float64Array.of(Number.POSITIVE_INFINITY), out);
    expect(Number.isFinite(out[0])).toBe(true);
  });

  it("separates a linearly separable binary set", () => {
    const n = 400;
    const a = uniform(n, 4, -1, 1);
    const b = uniform(n, 5, -1, 1);
    const y = Float64Array.from(a, (v, i) => (v + 2 * (b[i] as number) > 0.1 ? 1 : 0));
    const X = matrixOf([
      { name: "a", values: a },
      { name: "b", values: b },
    ]);
    const model = linear.fit(X, y, BINARY, { lambda: 1e-6 });
    expect(accuracy(y, predictedClasses(BINARY, model.predictBatch(X)))).toBe(1);
  });

  it("fits softmax regression on multiclass blobs", () => {
    const train = blobs(600, 4, 1);
    const test = blobs(200, 4, 2);
    const model = linear.fit(train.X, train.y, train.task, {});
    const p = model.predictBatch(test.X);
    expect(accuracy(test.y, predictedClasses(test.task, p))).toBeGreaterThan(0.9);
    let sum = 0;
    for (let c = 0; c < 4; c++) sum += p[c] as number;
    expect(sum).toBeCloseTo(1, 12);
  });

  it("one-hot encodes categories and uses missing indicators", () => {
    const n = 500;
    const random = createRandom(6);
    const cat = Float64Array.from({ length: n }, () =>
      random.nextFloat() < 0.1 ? Number.NaN : random.nextInt(3),
    );
    const num = Float64Array.from({ length: n }, () =>
      random.nextFloat() < 0.2 ? Number.NaN : random.nextFloat(),
    );
    const effect = [1, -2, 5];
    const y = Float64Array.from(cat, (c, i) => {
      const v = num[i] as number;
      return (Number.isNaN(c) ? 10 : (effect[c] as number)) + (Number.isNaN(v) ? -3 : v);
    });
    const X = matrixOf([
      { name: "cat", values: cat, kind: "categorical", cardinality: 4 },
      { name: "num", values: num },
    ]);
    const model = fitLinear(X, y, REGRESSION, { lambda: 0, tolerance: 1e-10, maxIterations: 2000 });
    const out = new Float64Array(1);
    const predict = (c: number, v: number): number => {
      model.predictRow(Float64Array.of(c, v), out);
      return out[0] as number;
    };
    expect(predict(0, 0.5)).toBeCloseTo(1.5, 4);
    expect(predict(2, 0.25)).toBeCloseTo(5.25, 4);
    expect(predict(Number.NaN, 0.5)).toBeCloseTo(10.5, 4);
    expect(predict(1, Number.NaN)).toBeCloseTo(-5, 4);
    // The unknown bucket (code 3) was never seen: its weight stays 0 (not fitted).
    expect(Number.isFinite(predict(3, 0.5))).toBe(true);
    const importance = model.featureImportance();
    expect(importance[0]).toBeGreaterThan(importance[1] as number);
  });

  it("zeroes irrelevant coefficients with an L1 penalty", () => {
    const n = 400;
    const signal = uniform(n, 7, -1, 1);
    const noise = uniform(n, 8, -1, 1);
    const y = Float64Array.from(signal, (v) => 2 * v);
    const X = matrixOf([
      { name: "signal", values: signal },
      { name: "noise", values: noise },
    ]);
    const lasso = fitLinear(X, y, REGRESSION, { lambda: 0.05, l1Ratio: 1 });
    expect(lasso.coefficients().weights[1]).toBe(0);
    expect(lasso.coefficients().weights[0]).toBeGreaterThan(1.5);
  });

  it("round-trips through serialize/loadModel with identical predictions", () => {
    const train = blobs(300, 3, 3);
    const model = linear.fit(train.X, train.y, train.task, { lambda: 1e-3 });
    const loaded = loadModel(model.serialize());
    expect(loaded.learner).toBe("linear");
    expect(Array.from(loaded.predictBatch(train.X))).toEqual(
      Array.from(model.predictBatch(train.X)),
    );
    expect(Array.from(loaded.featureImportance())).toEqual(Array.from(model.featureImportance()));
  });

  it("is deterministic", () => {
    const train = blobs(300, 3, 4);
    const a = linear.fit(train.X, train.y, train.task, {}).serialize();
    const b = linear.fit(train.X, train.y, train.task, {}).serialize();
    expect(Array.from(a.arrays.weights ?? [])).toEqual(Array.from(b.arrays.weights ?? []));
  });
});

/** Mixed binary/regression data: a numeric with missing values, a categorical, a wide numeric. */
function mixed(n: number, seed: number, task: Task): { X: FeatureMatrix; y: Float64Array } {
  const random = createRandom(seed);
  const num = Float64Array.from({ length: n }, () =>
    random.nextFloat() < 0.15 ? Number.NaN : random.nextFloat() * 10,
  );
  const cat = Float64Array.from({ length: n }, () =>
    random.nextFloat() < 0.1 ? Number.NaN : random.nextInt(4),
  );
  const wide = uniform(n, seed + 1, 100, 300);
  const effect = [0.5, -1, 2, 0];
  const y = Float64Array.from(num, (v, i) => {
    const c = cat[i] as number;
    const score =
      (Number.isNaN(v) ? 1 : 0.3 * v - 1.5) +
      (Number.isNaN(c) ? -2 : (effect[c] as number)) +
      ((wide[i] as number) - 200) / 50;
    return task.kind === "regression"
      ? score + random.nextFloat()
      : score + 2 * (random.nextFloat() - 0.5) > 0
        ? 1
        : 0;
  });
  const X = matrixOf([
    { name: "num", values: num },
    { name: "cat", values: cat, kind: "categorical", cardinality: 5 },
    { name: "wide", values: wide },
  ]);
  return { X, y };
}

function rowOf(X: FeatureMatrix, r: number): Float64Array {
  return Float64Array.from(X.features, (_, f) => X.data[f * X.rowCount + r] as number);
}

describe("LinearModel.explainRow", () => {
  // The margin the contributions must add up to, from the model's own prediction.
  const margin = (model: TrainedModel, row: Float64Array, task: Task): number => {
    const out = new Float64Array(1);
    model.predictRow(row, out);
    const p = out[0] as number;
    return task.kind === "binary" ? Math.log(p / (1 - p)) : p;
  };

  for (const task of [BINARY, REGRESSION]) {
    it(`is exact: each feature's value effect against the training average (${task.kind})`, () => {
      const { X, y } = mixed(600, 3, task);
      const model = fitLinear(X, y, task, { lambda: 1e-3 });
      const width = X.features.length;
      const out = new Float64Array(width + 1);
      const probe = [
        rowOf(X, 0),
        rowOf(X, 7),
        Float64Array.of(Number.NaN, 4, 1000), // missing, unknown-bucket code, clamped value
        Float64Array.of(3, Number.NaN, 150),
      ];
      for (const row of probe) {
        model.explainRow(row, out);
        let total = 0;
        for (const v of out) total += v;
        expect(total).toBeCloseTo(margin(model, row, task), 9);
        // Interventional SHAP of an additive model, computed from predictions alone: the
        // average over training rows r of margin(row) − margin(row with feature f from r).
        for (let f = 0; f < width; f++) {
          let expected = 0;
          const swapped = row.slice();
          for (let r = 0; r < X.rowCount; r++) {
            swapped[f] = X.data[f * X.rowCount + r] as number;
            expected += margin(model, row, task) - margin(model, swapped, task);
          }
          expect(out[f]).toBeCloseTo(expected / X.rowCount, 8);
        }
      }
    });
  }

  it("matches coef · (x − mean) in original units for a numeric regression feature", () => {
    const n = 300;
    const x0 = uniform(n, 1, -5, 5);
    const x1 = uniform(n, 2, 100, 200);
    const y = Float64Array.from(x0, (v, i) => 3 + 2 * v - 1.5 * (x1[i] as number));
    const X = matrixOf([
      { name: "x0", values: x0 },
      { name: "x1", values: x1 },
    ]);
    const model = fitLinear(X, y, REGRESSION, { lambda: 0, tolerance: 1e-10, maxIterations: 2000 });
    const mean = (a: Float64Array): number => a.reduce((s, v) => s + v, 0) / a.length;
    const out = new Float64Array(3);
    model.explainRow(Float64Array.of(1, 120), out);
    expect(out[0]).toBeCloseTo(2 * (1 - mean(x0)), 5);
    expect(out[1]).toBeCloseTo(-1.5 * (120 - mean(x1)), 4);
    // The bias is the average prediction over the training rows.
    expect(out[2]).toBeCloseTo(mean(y), 4);
  });

  it("gives each class's softmax input for multiclass", () => {
    const train = blobs(300, 3, 3);
    const model = fitLinear(train.X, train.y, train.task, { lambda: 1e-3 });
    const out = new Float64Array(3 * 3);
    const p = new Float64Array(3);
    for (let r = 0; r < 20; r++) {
      const row = rowOf(train.X, r);
      model.explainRow(row, out);
      model.predictRow(row, p);
      const scores = [0, 1, 2].map((c) => out.subarray(c * 3, c * 3 + 3).reduce((s, v) => s + v));
      const max = Math.max(...scores);
      const sum = scores.reduce((s, v) => s + Math.exp(v - max), 0);
      scores.forEach((score, c) => {
        expect(Math.exp(score - max) / sum).toBeCloseTo(p[c] as number, 12);
      });
    }
  });

  it("survives serialization, and still adds up for a model saved without column means", () => {
    const { X, y } = mixed(400, 5, BINARY);
    const model = fitLinear(X, y, BINARY, {});
    const serialized = model.serialize();
    const loaded = loadModel(serialized);
    const a = new Float64Array(4);
    const b = new Float64Array(4);
    const row = Float64Array.of(Number.NaN, 2, 180);
    model.explainRow(row, a);
    loaded.explainRow?.(row, b);
    expect([...b]).toEqual([...a]);
    const { columnMean: _dropped, ...older } = serialized.arrays;
    const legacy = loadModel({ ...serialized, arrays: older });
    legacy.explainRow?.(row, b);
    expect(b.reduce((s, v) => s + v, 0)).toBeCloseTo(margin(model, row, BINARY), 9);
  });
});

describe("minimize", () => {
  it("finds the minimum of the Rosenbrock function", () => {
    const f = (x: Float64Array, g: Float64Array): number => {
      const a = x[0] as number;
      const b = x[1] as number;
      g[0] = -2 * (1 - a) - 400 * a * (b - a * a);
      g[1] = 200 * (b - a * a);
      return (1 - a) ** 2 + 100 * (b - a * a) ** 2;
    };
    const result = minimize(f, Float64Array.of(-1.2, 1), { tolerance: 1e-9, maxIterations: 1000 });
    expect(result.converged).toBe(true);
    expect(result.x[0]).toBeCloseTo(1, 5);
    expect(result.x[1]).toBeCloseTo(1, 5);
  });
});
