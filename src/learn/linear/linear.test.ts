import { describe, expect, it } from "vitest";
import { loadModel } from "../index.ts";
import { accuracy, predictedClasses } from "../metrics.ts";
import { createRandom } from "../random.ts";
import { BINARY, blobs, matrixOf, REGRESSION, uniform } from "../test-support/synthetic.ts";
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
