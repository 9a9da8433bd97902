import { describe, expect, it } from "vitest";
import {
  accuracy,
  auc,
  confusionMatrix,
  defaultMetric,
  evaluate,
  f1,
  isBetter,
  logloss,
  macroF1,
  mae,
  meanMetrics,
  metricDirection,
  r2,
  rmse,
  rocCurve,
} from "./metrics.ts";

describe("auc", () => {
  it("counts tied positive/negative pairs as one half (mid-ranks)", () => {
    // Positives 0.35, 0.8, 0.4 vs negatives 0.1, 0.4, 0.4: wins 1 + 3 + (1 + 0.5 + 0.5) of 9.
    expect(auc([0, 0, 1, 1, 0, 1], [0.1, 0.4, 0.35, 0.8, 0.4, 0.4])).toBeCloseTo(6 / 9, 12);
  });

  it("is 1 for a perfect ranking, 0 for a reversed one, 0.5 for all ties", () => {
    expect(auc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4])).toBe(1);
    expect(auc([1, 1, 0, 0], [0.1, 0.2, 0.3, 0.4])).toBe(0);
    expect(auc([1, 0, 1, 0], [0.5, 0.5, 0.5, 0.5])).toBe(0.5);
  });

  it("is NaN when only one class is present", () => {
    expect(auc([1, 1], [0.2, 0.3])).toBeNaN();
  });
});

describe("regression metrics", () => {
  // scikit-learn's documented example: r2_score = 0.948..., mse = 0.375.
  const y = [3, -0.5, 2, 7];
  const p = [2.5, 0.0, 2, 8];
  it("r2 matches scikit-learn", () => {
    expect(r2(y, p)).toBeCloseTo(0.9486081370449679, 12);
  });
  it("rmse and mae", () => {
    expect(rmse(y, p)).toBeCloseTo(Math.sqrt(0.375), 12);
    expect(mae(y, p)).toBeCloseTo(0.5, 12);
  });
  it("r2 of a constant target does not divide by zero", () => {
    expect(r2([2, 2], [2, 2])).toBe(1);
    expect(r2([2, 2], [1, 2])).toBe(0);
  });
});

describe("classification metrics", () => {
  it("macroF1 matches scikit-learn's documented example", () => {
    // f1_score([0,1,2,0,1,2], [0,2,1,0,0,1], average="macro") == 0.2666...
    expect(macroF1([0, 1, 2, 0, 1, 2], [0, 2, 1, 0, 0, 1], 3)).toBeCloseTo(0.26666666666666666, 12);
  });

  it("macroF1 ignores classes absent from both truth and prediction", () => {
    expect(macroF1([0, 1, 0, 1], [0, 1, 0, 1], 5)).toBe(1);
  });

  it("binary f1, accuracy and confusion matrix", () => {
    const t = [1, 1, 0, 0, 1];
    const p = [1, 0, 0, 1, 1];
    // tp 2, fp 1, fn 1 -> f1 = 4 / 6.
    expect(f1(t, p)).toBeCloseTo(2 / 3, 12);
    expect(accuracy(t, p)).toBeCloseTo(3 / 5, 12);
    expect(confusionMatrix(t, p, 2)).toEqual([
      [1, 1],
      [1, 2],
    ]);
  });

  it("logloss matches scikit-learn (binary and multiclass forms)", () => {
    // log_loss(["spam","ham","ham","spam"], [[.1,.9],[.9,.1],[.8,.2],[.35,.65]]) == 0.21616...
    expect(logloss([1, 0, 0, 1], [0.9, 0.1, 0.2, 0.65])).toBeCloseTo(0.21616187468057912, 12);
    const rowMajor = [0.1, 0.9, 0.9, 0.1, 0.8, 0.2, 0.35, 0.65];
    expect(logloss([1, 0, 0, 1], rowMajor, 2)).toBeCloseTo(0.21616187468057912, 12);
    expect(logloss([1, 0, 0, 1], rowMajor.concat([]), 2)).toBeCloseTo(0.21616187468057912, 12);
  });

  it("clips probabilities so a confident mistake is finite", () => {
    expect(Number.isFinite(logloss([1], [0]))).toBe(true);
  });
});

describe("rocCurve", () => {
  it("runs from (0,0) to (1,1), one point per distinct score", () => {
    const roc = rocCurve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]);
    expect(Array.from(roc.fpr)).toEqual([0, 0, 0.5, 0.5, 1]);
    expect(Array.from(roc.tpr)).toEqual([0, 0.5, 0.5, 1, 1]);
    expect(roc.thresholds[1]).toBe(0.8);
  });
});

describe("evaluate", () => {
  it("returns the metrics of each task", () => {
    const binary = evaluate({ kind: "binary", classCount: 2 }, [0, 1, 1], [0.2, 0.7, 0.4]);
    expect(Object.keys(binary).sort()).toEqual(["accuracy", "auc", "f1", "logloss"]);
    expect(binary.auc).toBe(1);
    expect(binary.accuracy).toBeCloseTo(2 / 3, 12);
    const multi = evaluate(
      { kind: "multiclass", classCount: 3 },
      [0, 2],
      [0.7, 0.2, 0.1, 0.1, 0.3, 0.6],
    );
    expect(multi.accuracy).toBe(1);
    expect(multi.logloss).toBeCloseTo(-(Math.log(0.7) + Math.log(0.6)) / 2, 12);
    const reg = evaluate({ kind: "regression", classCount: 0 }, [1, 2, 3], [1, 2, 4]);
    expect(reg.rmse).toBeCloseTo(Math.sqrt(1 / 3), 12);
  });

  it("rejects predictions of the wrong width", () => {
    expect(() => evaluate({ kind: "multiclass", classCount: 3 }, [0, 1], [0.5, 0.5])).toThrow(
      /expected 6/,
    );
  });
});

describe("metric helpers", () => {
  it("knows directions and defaults", () => {
    expect(metricDirection("auc")).toBe("higher");
    expect(metricDirection("rmse")).toBe("lower");
    expect(() => metricDirection("nope")).toThrow();
    expect(defaultMetric({ kind: "binary", classCount: 2 })).toBe("auc");
    expect(defaultMetric("multiclass")).toBe("accuracy");
    expect(defaultMetric("regression")).toBe("r2");
    expect(isBetter("logloss", 0.3, 0.4)).toBe(true);
    expect(isBetter("auc", Number.NaN, 0.4)).toBe(false);
    expect(isBetter("auc", 0.4, Number.NaN)).toBe(true);
  });

  it("averages metrics, skipping NaN", () => {
    const m = meanMetrics([
      { auc: 0.8, f1: 0.5 },
      { auc: Number.NaN, f1: 0.7 },
    ]);
    expect(m.auc).toBeCloseTo(0.8, 12);
    expect(m.f1).toBeCloseTo(0.6, 12);
  });
});
