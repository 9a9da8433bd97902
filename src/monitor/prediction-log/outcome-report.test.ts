import { describe, expect, it } from "vitest";
import { buildOutcomeReport, OUTCOME_WINDOWS, qualityOf, windowBounds } from "./outcome-report.ts";
import type { LabelledRow } from "./prediction-store.ts";

const binary = (score: number, actual: "No" | "Yes", version = 1, bucket = 0): LabelledRow => ({
  version,
  bucket,
  predictionLabel: score >= 0.5 ? "Yes" : "No",
  predictionValue: null,
  positiveLabel: "Yes",
  score,
  probabilities: JSON.stringify({ No: 1 - score, Yes: score }),
  actualLabel: actual,
  actualValue: null,
});

describe("windowBounds", () => {
  it("cuts every window into at most 60 aligned steps, the last holding now", () => {
    const now = Date.UTC(2025, 2, 3, 10, 17, 42, 500);
    for (const w of OUTCOME_WINDOWS) {
      const b = windowBounds(w, now);
      expect(b.points).toBeLessThanOrEqual(60);
      expect(b.from % b.stepMs).toBe(0);
      expect(b.to - b.from).toBe(b.points * b.stepMs);
      expect(now).toBeGreaterThanOrEqual(b.to - b.stepMs);
      expect(now).toBeLessThan(b.to);
    }
    expect(windowBounds("1h", now)).toMatchObject({ stepMs: 60_000, points: 60 });
    expect(windowBounds("30d", now).stepMs).toBe(12 * 3600_000);
  });
});

describe("qualityOf", () => {
  it("binary: AUC by the positive class's probability, ties counting one half", () => {
    // Pairs (positive, negative): (0.35, 0.1) win, (0.35, 0.4) loss, (0.8, *) wins, and the
    // tie (0.4 positive, 0.4 negative) counts 1/2: (1 + 0 + 1 + 1 + 0.5 + 1) / 6.
    const rows = [
      binary(0.1, "No"),
      binary(0.4, "No"),
      binary(0.35, "Yes"),
      binary(0.8, "Yes"),
      binary(0.4, "Yes"),
    ];
    const q = qualityOf(rows);
    expect(q.labelled).toBe(5);
    expect(q.auc).toBeCloseTo(4.5 / 6, 12);
    // Predicted Yes at ≥ 0.5: only 0.8 → right on No, No, Yes(0.8); wrong on 0.35, 0.4 (Yes).
    expect(q.accuracy).toBeCloseTo(3 / 5, 12);
    expect(q.rmse).toBeNull();
  });

  it("binary with one class only: AUC null, accuracy still known", () => {
    const q = qualityOf([binary(0.2, "No"), binary(0.7, "No")]);
    expect(q.auc).toBeNull();
    expect(q.accuracy).toBe(0.5);
  });

  it("multiclass: one-vs-rest AUC averaged over the classes with both kinds of rows", () => {
    const row = (p: Record<string, number>, actual: string): LabelledRow => ({
      version: 1,
      bucket: 0,
      predictionLabel: Object.entries(p).sort((a, b) => b[1] - a[1])[0]?.[0] ?? null,
      predictionValue: null,
      positiveLabel: null,
      score: null,
      probabilities: JSON.stringify(p),
      actualLabel: actual,
      actualValue: null,
    });
    const rows = [
      row({ a: 0.7, b: 0.2, c: 0.1 }, "a"),
      row({ a: 0.2, b: 0.5, c: 0.3 }, "b"),
      row({ a: 0.3, b: 0.3, c: 0.4 }, "a"),
      row({ a: 0.1, b: 0.1, c: 0.8 }, "b"),
    ];
    // a vs rest: positives 0.7, 0.3; negatives 0.2, 0.1 → 4/4 = 1.
    // b vs rest: positives 0.5, 0.1; negatives 0.2, 0.3 → (1 + 1 + 0 + 0) / 4 = 0.5.
    // c has no positive row: left out.
    const q = qualityOf(rows);
    expect(q.auc).toBeCloseTo(0.75, 12);
    expect(q.accuracy).toBeCloseTo(2 / 4, 12);
  });

  it("regression: RMSE and MAE, no AUC or accuracy", () => {
    const row = (p: number, y: number): LabelledRow => ({
      version: 1,
      bucket: 0,
      predictionLabel: null,
      predictionValue: p,
      positiveLabel: null,
      score: null,
      probabilities: null,
      actualLabel: null,
      actualValue: y,
    });
    const q = qualityOf([row(10, 12), row(5, 4), row(0, 0)]);
    expect(q).toEqual({
      labelled: 3,
      auc: null,
      accuracy: null,
      rmse: Math.sqrt((4 + 1 + 0) / 3),
      mae: (2 + 1 + 0) / 3,
    });
  });
});

describe("buildOutcomeReport", () => {
  it("totals per version, newest first, with every step present", () => {
    const bounds = windowBounds("1h", Date.UTC(2025, 0, 1, 12, 0, 30));
    const report = buildOutcomeReport("churn", "binary", "1h", bounds, {
      counts: [
        { version: 1, bucket: 0, predictions: 10, eventful: 2 },
        { version: 1, bucket: 59, predictions: 30, eventful: 6 },
        { version: 2, bucket: 59, predictions: 5, eventful: 0 },
      ],
      labelled: [binary(0.9, "Yes", 1, 0), binary(0.2, "No", 1, 59), binary(0.6, "No", 1, 59)],
      events: [
        { version: 1, bucket: 0, event: "converted", count: 2, value: 40 },
        { version: 1, bucket: 59, event: "converted", count: 4, value: 10 },
        { version: 1, bucket: 59, event: "churned", count: 3, value: 0 },
      ],
    });
    expect(report).toMatchObject({ app: "churn", task: "binary", window: "1h", stepSeconds: 60 });
    expect(report.versions.map((v) => [v.version, v.predictions, v.points.length])).toEqual([
      [2, 5, 60],
      [1, 40, 60],
    ]);
    const v1 = report.versions[1];
    expect(v1?.metrics).toEqual({
      labelled: 3,
      auc: 1,
      accuracy: 2 / 3,
      rmse: null,
      mae: null,
      events: 8,
      conversionRate: { churned: 3 / 40, converted: 6 / 40 },
      eventValue: { churned: 0, converted: 50 },
    });
    expect(v1?.points[0]).toMatchObject({
      t: new Date(bounds.from).toISOString(),
      predictions: 10,
      labelled: 1,
      auc: null,
      accuracy: 1,
      conversionRate: { converted: 0.2 },
    });
    expect(v1?.points[1]).toMatchObject({
      predictions: 0,
      labelled: 0,
      accuracy: null,
      conversionRate: {},
    });
    expect(v1?.points[59]?.t).toBe(new Date(bounds.to - 60_000).toISOString());
  });
});
