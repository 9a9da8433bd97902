import { describe, expect, it } from "vitest";
import { takeLabels, takeRows } from "../feature-matrix.ts";
import { loadModel } from "../index.ts";
import { accuracy, auc, evaluate, logloss, predictedClasses, rmse } from "../metrics.ts";
import { createRandom } from "../random.ts";
import {
  BINARY,
  blobs,
  matrixOf,
  REGRESSION,
  uniform,
  xorData,
} from "../test-support/synthetic.ts";
import type { SerializedModel, TrainedModel } from "../types.ts";
import { fitGbdt, gbdt } from "./gbdt.ts";

function sameBytes(a: SerializedModel, b: SerializedModel): boolean {
  if (JSON.stringify(a.meta) !== JSON.stringify(b.meta)) return false;
  const keys = Object.keys(a.arrays).sort();
  if (keys.join() !== Object.keys(b.arrays).sort().join()) return false;
  return keys.every((k) => {
    const x = a.arrays[k];
    const y = b.arrays[k];
    if (!x || !y || x.constructor !== y.constructor) return false;
    return Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(
      Buffer.from(y.buffer, y.byteOffset, y.byteLength),
    );
  });
}

describe("gbdt", () => {
  it("learns xor, which no single split can, and beats a constant by far", () => {
    const train = xorData(2000, 1);
    const test = xorData(1000, 2);
    const model = gbdt.fit(
      train.X,
      train.y,
      BINARY,
      { rounds: 60, learningRate: 0.3, maxLeaves: 8 },
      { seed: 1 },
    );
    const p = model.predictBatch(test.X);
    expect(accuracy(test.y, predictedClasses(BINARY, p))).toBeGreaterThan(0.95);
    expect(logloss(test.y, p)).toBeLessThan(0.25);
    // A constant model scores log(2) = 0.693.
    const importance = model.featureImportance();
    expect(importance[2]).toBeLessThan((importance[0] ?? 0) / 10);
  });

  it("fits a smooth regression function", () => {
    const n = 2000;
    const x = uniform(n, 3, -3, 3);
    const z = uniform(n, 4);
    const y = Float64Array.from(x, (v, i) => Math.sin(v) * 3 + (z[i] as number));
    const X = matrixOf([
      { name: "x", values: x },
      { name: "z", values: z },
    ]);
    const model = gbdt.fit(X, y, REGRESSION, { rounds: 200, learningRate: 0.1 }, { seed: 2 });
    const pred = model.predictBatch(X);
    expect(rmse(y, pred)).toBeLessThan(0.15);
    expect(evaluate(REGRESSION, y, pred).r2).toBeGreaterThan(0.99);
  });

  it("learns where missing values go when missingness is the only signal", () => {
    const n = 1000;
    const random = createRandom(5);
    const x = new Float64Array(n);
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const positive = i % 2 === 0;
      y[i] = positive ? 1 : 0;
      // Positives have the value missing; present values carry no information.
      x[i] = positive ? Number.NaN : random.nextFloat();
    }
    const X = matrixOf([
      { name: "x", values: x },
      { name: "noise", values: uniform(n, 6) },
    ]);
    const model = gbdt.fit(X, y, BINARY, { rounds: 30, learningRate: 0.3 }, { seed: 1 });
    const out = new Float64Array(1);
    model.predictRow(Float64Array.of(Number.NaN, 0.5), out);
    expect(out[0]).toBeGreaterThan(0.95);
    model.predictRow(Float64Array.of(0.3, 0.5), out);
    expect(out[0]).toBeLessThan(0.05);
    model.predictRow(Float64Array.of(0.9, 0.5), out);
    expect(out[0]).toBeLessThan(0.05);
  });

  it("sends missing values left when they belong with the low values", () => {
    // y = 1 for x < 0.5 or missing: the one good split needs missing on the <= side.
    const n = 1000;
    const x = uniform(n, 7);
    for (let i = 0; i < n; i += 4) x[i] = Number.NaN;
    const y = Float64Array.from(x, (v) => (Number.isNaN(v) || v < 0.5 ? 1 : 0));
    const model = fitGbdt(matrixOf([{ name: "x", values: x }]), y, BINARY, {
      rounds: 1,
      maxLeaves: 2,
      learningRate: 1,
    });
    expect(model.forest.flags[0]).toBe(1);
    const out = new Float64Array(1);
    model.predictRow(Float64Array.of(Number.NaN), out);
    expect(out[0]).toBeGreaterThan(0.7);
    model.predictRow(Float64Array.of(0.9), out);
    expect(out[0]).toBeLessThan(0.3);
  });

  it("splits categories natively: one split isolates a scattered set of codes", () => {
    const n = 1200;
    const random = createRandom(8);
    const code = new Float64Array(n);
    const y = new Float64Array(n);
    const positive = new Set([1, 4, 7]);
    for (let i = 0; i < n; i++) {
      code[i] = random.nextInt(10);
      y[i] = positive.has(code[i] as number) ? 1 : 0;
    }
    // Cardinality 11: codes 0..9 plus the unknown bucket 10 (never seen in training).
    const X = matrixOf([{ name: "c", values: code, kind: "categorical", cardinality: 11 }]);
    const model = fitGbdt(
      X,
      y,
      BINARY,
      { rounds: 1, maxLeaves: 2, learningRate: 1, minDataPerGroup: 1 },
      { seed: 1 },
    );
    const f = model.forest;
    expect(f.feature[0]).toBe(0);
    expect((f.flags[0] as number) & 2).toBe(2);
    const out = new Float64Array(1);
    const score = (c: number): number => {
      model.predictRow(Float64Array.of(c), out);
      return out[0] as number;
    };
    for (let c = 0; c < 10; c++) {
      if (positive.has(c)) expect(score(c)).toBeGreaterThan(0.6);
      else expect(score(c)).toBeLessThan(0.4);
    }
    // Unseen and invalid codes follow the larger group (the 7 negative codes).
    expect(score(10)).toBeLessThan(0.4);
    expect(score(99)).toBeLessThan(0.4);
    // The ordinal treatment cannot isolate {1, 4, 7} with one split.
    const ordinal = fitGbdt(
      X,
      y,
      BINARY,
      { rounds: 1, maxLeaves: 2, learningRate: 1, categorical: "ordinal" },
      { seed: 1 },
    );
    expect(auc(y, ordinal.predictBatch(X))).toBeLessThan(0.8);
    expect(auc(y, model.predictBatch(X))).toBe(1);
  });

  it("is deterministic: same data, params and seed give byte-identical models", () => {
    const { X, y } = xorData(800, 9);
    const params = { rounds: 20, subsample: 0.7, colsample: 0.67, maxLeaves: 6 };
    const a = gbdt.fit(X, y, BINARY, params, { seed: 42 }).serialize();
    const b = gbdt.fit(X, y, BINARY, params, { seed: 42 }).serialize();
    const c = gbdt.fit(X, y, BINARY, params, { seed: 43 }).serialize();
    expect(sameBytes(a, b)).toBe(true);
    expect(sameBytes(a, c)).toBe(false);
  });

  it("round-trips through serialize/loadModel with identical predictions", () => {
    const n = 600;
    const random = createRandom(10);
    const num = uniform(n, 11);
    const cat = Float64Array.from({ length: n }, () =>
      random.nextFloat() < 0.1 ? Number.NaN : random.nextInt(5),
    );
    const X = matrixOf([
      { name: "num", values: num },
      { name: "cat", values: cat, kind: "categorical", cardinality: 6 },
    ]);
    const yReg = Float64Array.from(
      num,
      (v, i) => v * 3 + (Number.isNaN(cat[i] as number) ? 2 : (cat[i] as number)),
    );
    const yMulti = Float64Array.from(num, (v) => (v < 0.3 ? 0 : v < 0.6 ? 1 : 2));
    const yBin = Float64Array.from(yMulti, (v) => (v === 2 ? 1 : 0));
    const models: TrainedModel[] = [
      gbdt.fit(X, yReg, REGRESSION, { rounds: 15, minDataPerGroup: 5 }),
      gbdt.fit(X, yMulti, { kind: "multiclass", classCount: 3 }, { rounds: 10 }),
      gbdt.fit(X, yBin, BINARY, { rounds: 10, subsample: 0.5 }, { seed: 3 }),
    ];
    const probe = matrixOf([
      { name: "num", values: Float64Array.of(0.1, 0.5, Number.NaN, 0.9, 2) },
      {
        name: "cat",
        values: Float64Array.of(0, Number.NaN, 3, 5, 17),
        kind: "categorical",
        cardinality: 6,
      },
    ]);
    for (const model of models) {
      const loaded = loadModel(model.serialize());
      expect(loaded.learner).toBe("gbdt");
      expect(loaded.outputSize).toBe(model.outputSize);
      expect(Array.from(loaded.predictBatch(X))).toEqual(Array.from(model.predictBatch(X)));
      expect(Array.from(loaded.predictBatch(probe))).toEqual(Array.from(model.predictBatch(probe)));
      expect(Array.from(loaded.featureImportance())).toEqual(Array.from(model.featureImportance()));
    }
  });

  it("rejects a corrupted serialized model", () => {
    const { X, y } = xorData(200, 1);
    const s = gbdt.fit(X, y, BINARY, { rounds: 3 }).serialize();
    const left = (s.arrays.left as Int32Array).slice();
    left[0] = 0;
    expect(() => loadModel({ ...s, arrays: { ...s.arrays, left } })).toThrow(/malformed/);
    expect(() => loadModel({ ...s, arrays: { ...s.arrays, value: new Float32Array(1) } })).toThrow(
      /value/,
    );
  });

  it("predicts multiclass probabilities that sum to one", () => {
    const train = blobs(900, 3, 1);
    const test = blobs(300, 3, 2);
    const model = gbdt.fit(train.X, train.y, train.task, { rounds: 40 }, { seed: 1 });
    expect(model.outputSize).toBe(3);
    const p = model.predictBatch(test.X);
    for (let r = 0; r < 300; r++)
      expect(
        (p[3 * r] as number) + (p[3 * r + 1] as number) + (p[3 * r + 2] as number),
      ).toBeCloseTo(1, 12);
    expect(accuracy(test.y, predictedClasses(test.task, p))).toBeGreaterThan(0.9);
    const row = new Float64Array(2);
    const out = new Float64Array(3);
    row[0] = test.X.data[5] as number;
    row[1] = test.X.data[300 + 5] as number;
    model.predictRow(row, out);
    expect(Array.from(out)).toEqual(Array.from(p.subarray(15, 18)));
  });

  it("stops early on a validation set and keeps the best round", () => {
    // Labels are pure noise: validation loss stops improving almost at once.
    const n = 1500;
    const random = createRandom(12);
    const X = matrixOf([
      { name: "a", values: uniform(n, 13) },
      { name: "b", values: uniform(n, 14) },
    ]);
    const y = Float64Array.from({ length: n }, () => (random.nextFloat() < 0.5 ? 1 : 0));
    const trainRows = Array.from({ length: 1000 }, (_, i) => i);
    const validRows = Array.from({ length: 500 }, (_, i) => 1000 + i);
    const validation = { X: takeRows(X, validRows), y: takeLabels(y, validRows) };
    const trainX = takeRows(X, trainRows);
    const trainY = takeLabels(y, trainRows);
    const stopped = fitGbdt(
      trainX,
      trainY,
      BINARY,
      { rounds: 500, earlyStoppingRounds: 10 },
      { validation, seed: 1 },
    );
    expect(stopped.info.roundsRun).toBeLessThan(100);
    expect(stopped.rounds).toBe(stopped.info.roundsRun - 10);
    expect(stopped.forest.roots.length).toBe(stopped.rounds);
    const full = fitGbdt(
      trainX,
      trainY,
      BINARY,
      { rounds: 150, earlyStoppingRounds: 0 },
      { validation, seed: 1 },
    );
    expect(full.rounds).toBe(150);
  });

  it("honours maxDepth, maxLeaves and minDataInLeaf", () => {
    const { X, y } = xorData(1000, 3);
    const model = fitGbdt(X, y, BINARY, {
      rounds: 5,
      maxLeaves: 64,
      maxDepth: 2,
      minDataInLeaf: 30,
    });
    const f = model.forest;
    for (let t = 0; t < f.roots.length; t++) {
      const end = t + 1 < f.roots.length ? (f.roots[t + 1] as number) : f.feature.length;
      let leaves = 0;
      for (let i = f.roots[t] as number; i < end; i++) {
        if ((f.feature[i] as number) < 0) {
          leaves++;
          expect(f.cover[i]).toBeGreaterThanOrEqual(30);
        }
      }
      expect(leaves).toBeLessThanOrEqual(4);
    }
  });

  it("stops when aborted and rejects bad input", () => {
    const { X, y } = xorData(200, 1);
    const controller = new AbortController();
    controller.abort();
    expect(() => gbdt.fit(X, y, BINARY, {}, { signal: controller.signal })).toThrow();
    expect(() => gbdt.fit(X, y, BINARY, { learningRate: -1 })).toThrow(/learningRate/);
    expect(() =>
      gbdt.fit(
        X,
        y.map((v) => v * 2),
        BINARY,
        {},
      ),
    ).toThrow(/label/);
  });
});
