import { describe, expect, it } from "vitest";
import { crossValidate, kFold, trainTestSplit } from "./cross-validation.ts";
import { takeLabels, takeRows } from "./feature-matrix.ts";
import { gbdt } from "./gbdt/gbdt.ts";
import { linear } from "./linear/linear.ts";
import { BINARY, matrixOf, REGRESSION, uniform, xorData } from "./test-support/synthetic.ts";
import type { Learner } from "./types.ts";

const labels = Float64Array.from({ length: 103 }, (_, i) => (i % 10 === 0 ? 1 : 0));

describe("kFold", () => {
  it("tests every row exactly once and never trains on a test row", () => {
    const splits = kFold(labels, BINARY, 5, 1);
    const seen = new Uint8Array(labels.length);
    for (const { train, test } of splits) {
      expect(train.length + test.length).toBe(labels.length);
      const inTest = new Set(test);
      for (const r of train) expect(inTest.has(r)).toBe(false);
      for (const r of test) seen[r] = (seen[r] as number) + 1;
    }
    expect(Array.from(seen).every((c) => c === 1)).toBe(true);
  });

  it("is stratified: each fold holds 2 or 3 of the 11 positives", () => {
    for (const { test } of kFold(labels, BINARY, 5, 2)) {
      const positives = Array.from(test).filter((r) => labels[r] === 1).length;
      expect(positives === 2 || positives === 3).toBe(true);
      expect(test.length === 20 || test.length === 21).toBe(true);
    }
  });

  it("is seeded", () => {
    const a = kFold(labels, BINARY, 4, 7);
    const b = kFold(labels, BINARY, 4, 7);
    const c = kFold(labels, BINARY, 4, 8);
    expect(Array.from(a[0]?.test ?? [])).toEqual(Array.from(b[0]?.test ?? []));
    expect(Array.from(a[0]?.test ?? [])).not.toEqual(Array.from(c[0]?.test ?? []));
  });

  it("rejects impossible fold counts", () => {
    expect(() => kFold(labels, BINARY, 1)).toThrow();
    expect(() => kFold(Float64Array.of(0, 1), BINARY, 3)).toThrow();
  });
});

describe("trainTestSplit", () => {
  it("holds out the requested share per class", () => {
    const { train, test } = trainTestSplit(labels, BINARY, { testFraction: 0.2, seed: 3 });
    expect(train.length + test.length).toBe(103);
    const positives = Array.from(test).filter((r) => labels[r] === 1).length;
    expect(positives).toBe(2);
    expect(test.length).toBe(2 + 18);
  });

  it("splits regression rows without stratifying", () => {
    const y = uniform(50, 1);
    const { train, test } = trainTestSplit(y, REGRESSION, { testFraction: 0.3, seed: 1 });
    expect(test.length).toBe(15);
    expect(train.length).toBe(35);
  });
});

describe("takeRows", () => {
  it("copies the chosen rows of every column in order", () => {
    const X = matrixOf([
      { name: "a", values: [1, 2, 3] },
      { name: "b", values: [4, 5, 6] },
    ]);
    const sub = takeRows(X, [2, 0]);
    expect(sub.rowCount).toBe(2);
    expect(Array.from(sub.data)).toEqual([3, 1, 6, 4]);
    expect(Array.from(takeLabels(Float64Array.of(7, 8, 9), [1]))).toEqual([8]);
  });
});

describe("crossValidate", () => {
  it("returns per-fold and mean metrics and yields between folds", async () => {
    const { X, y } = xorData(600, 4);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    const result = await crossValidate(
      X,
      y,
      BINARY,
      gbdt as Learner<Record<string, unknown>>,
      { rounds: 30 },
      { folds: 3, seed: 1 },
    );
    clearInterval(timer);
    expect(result.folds).toHaveLength(3);
    expect(result.mean.auc).toBeGreaterThan(0.95);
    const mean = result.folds.reduce((s, f) => s + (f.metrics.auc ?? 0), 0) / 3;
    expect(result.mean.auc).toBeCloseTo(mean, 12);
    expect(ticks).toBeGreaterThan(0);
  });

  it("passes an inner validation split for early stopping and can stop after a fold", async () => {
    const { X, y } = xorData(600, 5);
    const result = await crossValidate(
      X,
      y,
      BINARY,
      gbdt as Learner<Record<string, unknown>>,
      { rounds: 2000, earlyStoppingRounds: 5 },
      {
        folds: 5,
        validationFraction: 0.2,
        onFold: (_, index) => index < 1,
      },
    );
    expect(result.folds).toHaveLength(2);
    const model = result.folds[0]?.model as { rounds?: number };
    expect(model.rounds).toBeLessThan(2000);
  });

  it("linear on xor is no better than chance (sanity: CV is honest)", async () => {
    const { X, y } = xorData(600, 6);
    const result = await crossValidate(
      X,
      y,
      BINARY,
      linear as Learner<Record<string, unknown>>,
      {},
      { folds: 3 },
    );
    expect(result.mean.auc).toBeLessThan(0.6);
  });
});
