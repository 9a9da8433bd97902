import { describe, expect, it } from "vitest";
import type { Column, Frame } from "../data/frame.ts";
import { schemaOfFrame } from "../data/index.ts";
import { createRandom } from "../learn/random.ts";
import { decodeArtifact } from "./artifact.ts";
import { Predictor } from "./predictor.ts";
import { describeReport, METRIC_INFO, REGRESSION_POINTS, ROC_POINTS } from "./report.ts";
import { trainModel } from "./train.ts";

function dictionary(name: string, values: readonly string[]): Column {
  const levels = [...new Set(values)];
  const index = new Map(levels.map((l, i) => [l, i]));
  return {
    name,
    type: "category",
    codes: Int32Array.from(values, (v) => index.get(v) ?? -1),
    levels,
  };
}

/** Rows where the target depends on x, a plan and noise; `kind` picks the target. */
function table(n: number, kind: "binary" | "multiclass" | "regression", seed = 1): Frame {
  const random = createRandom(seed);
  const x = Float64Array.from({ length: n }, () => random.nextFloat() * 10);
  const plan = Array.from({ length: n }, () => ["a", "b", "c"][random.nextInt(3)] as string);
  const score = Array.from(x, (v, i) => v + (plan[i] === "a" ? 3 : 0) + random.nextFloat() * 4);
  const target: Column =
    kind === "regression"
      ? { name: "y", type: "number", values: Float64Array.from(score, (s) => 100 * s) }
      : dictionary(
          "y",
          score.map((s) =>
            kind === "binary" ? (s > 8 ? "Yes" : "No") : s < 5 ? "low" : s < 9 ? "mid" : "high",
          ),
        );
  // A column written after the outcome: the analysis must leave it out of the model.
  const leak: Column =
    kind === "regression"
      ? { name: "leak", type: "number", values: Float64Array.from(score, (s) => 2 * s + 1) }
      : dictionary(
          "leak",
          ("codes" in target ? Array.from(target.codes, (c) => target.levels[c] ?? "") : []).map(
            (v) => `was ${v}`,
          ),
        );
  return {
    rowCount: n,
    columns: [target, { name: "x", type: "number", values: x }, dictionary("plan", plan), leak],
  };
}

async function train(kind: "binary" | "multiclass" | "regression") {
  const frame = table(800, kind);
  const schema = schemaOfFrame(frame);
  const { artifact, bytes } = await trainModel(frame, schema, {
    target: "y",
    timeBudgetMs: 600,
    seed: 5,
  });
  const report = artifact.header.training.report;
  if (!report) throw new Error("no report");
  return { artifact, bytes, report, frame };
}

describe("training report", () => {
  it("binary: ROC curve, confusion matrix, samples as the app answers them", async () => {
    const { artifact, bytes, report } = await train("binary");
    const holdout = artifact.header.training.holdout;
    expect(report.holdoutRows).toBe(160);
    const c = report.classification;
    expect(c?.classes).toEqual(["No", "Yes"]);
    expect(c?.positive).toBe("Yes");
    const points = c?.roc?.points ?? [];
    expect(points.length).toBeGreaterThan(2);
    expect(points.length).toBeLessThanOrEqual(ROC_POINTS);
    expect(points[0]).toEqual({ fpr: 0, tpr: 0, threshold: null });
    expect(points.at(-1)).toMatchObject({ fpr: 1, tpr: 1 });
    for (let i = 1; i < points.length; i++) {
      expect(points[i]?.fpr).toBeGreaterThanOrEqual(points[i - 1]?.fpr ?? 0);
      expect(points[i]?.tpr).toBeGreaterThanOrEqual(points[i - 1]?.tpr ?? 0);
    }
    expect(c?.roc?.auc).toBeCloseTo(holdout.auc ?? Number.NaN, 5);
    expect(c?.accuracy).toBeCloseTo(holdout.accuracy ?? Number.NaN, 5);
    const counts = c?.confusion.counts ?? [];
    expect(counts.flat().reduce((s, v) => s + v, 0)).toBe(160);
    const correct = (counts[0]?.[0] ?? 0) + (counts[1]?.[1] ?? 0);
    expect(correct / 160).toBeCloseTo(c?.accuracy ?? Number.NaN, 5);
    // The leak was analyzed out, and the report says so.
    expect(report.excluded).toEqual([expect.objectContaining({ column: "leak", kind: "leak" })]);
    expect(artifact.header.recipe.inputs.map((i) => i.column)).toEqual(["x", "plan"]);
    // Samples: both classes, records of exactly the inputs, answered by the model fitted on
    // the 80% (they are hold-out rows), with explanations of that same answer.
    expect(report.samples).toHaveLength(5);
    expect(new Set(report.samples.map((s) => s.actual))).toEqual(new Set(["No", "Yes"]));
    const published = Predictor.fromBytes(bytes);
    let differs = 0;
    for (const sample of report.samples) {
      expect(Object.keys(sample.record)).toEqual(["x", "plan"]);
      const yes = sample.probabilities?.Yes ?? Number.NaN;
      expect(sample.prediction).toBe(yes >= 0.5 ? "Yes" : "No");
      const explanation = sample.explanation;
      expect(Object.keys(explanation?.contributions ?? {})).toEqual(["x", "plan"]);
      const margin =
        (explanation?.base ?? Number.NaN) +
        Object.values(explanation?.contributions ?? {}).reduce((a, b) => a + b, 0);
      // The explanation adds up to this answer's log-odds (probabilities are rounded).
      expect(1 / (1 + Math.exp(-margin))).toBeCloseTo(yes, 3);
      const all = published.predict(sample.record).probabilities?.Yes ?? Number.NaN;
      if (Math.abs(all - yes) > 1e-9) differs++;
    }
    // The published model saw these rows; the sample answers are not its answers.
    expect(differs).toBeGreaterThan(0);
    // It survives the artifact's round trip.
    expect(decodeArtifact(bytes).header.training.report).toEqual(report);
    expect(describeReport(report, "y")).toMatch(
      /^On 160 rows it had not seen, the model ranks a row whose y is Yes above one whose y is No \d+% of the time \(AUC 0\.\d\d\); its predicted y is right \d+% of the time\.$/,
    );
  }, 30_000);

  it("multiclass: confusion matrix over every class and one-vs-rest curves", async () => {
    const { artifact, report } = await train("multiclass");
    const c = report.classification;
    expect(c?.classes).toEqual(artifact.header.recipe.target.classes);
    expect(c?.confusion.counts).toHaveLength(3);
    expect(c?.rocByClass?.map((r) => r.class).sort()).toEqual(["high", "low", "mid"]);
    expect(c?.roc).toBeUndefined();
    expect(c?.baselineAccuracy).toBeGreaterThan(0);
    expect(c?.accuracy).toBeCloseTo(artifact.header.training.holdout.accuracy ?? Number.NaN, 5);
    expect(describeReport(report, "y")).toMatch(
      /names the right y \d+% of the time \(accuracy 0\.\d\d\); always answering the most common, \w+, would be right \d+% of the time\.$/,
    );
  }, 30_000);

  it("regression: predicted against actual, residuals and errors in the target's units", async () => {
    const { artifact, report } = await train("regression");
    const r = report.regression;
    expect(r?.points).toHaveLength(160); // fewer hold-out rows than the 500-point cap
    expect(REGRESSION_POINTS).toBe(500);
    for (let i = 0; i < (r?.points.length ?? 0); i++) {
      const p = r?.points[i];
      const residual = r?.residuals[i];
      expect(residual?.predicted).toBe(p?.predicted);
      expect(residual?.residual).toBeCloseTo((p?.actual ?? 0) - (p?.predicted ?? 0), 3);
    }
    const holdout = artifact.header.training.holdout;
    expect(r?.r2).toBeCloseTo(holdout.r2 ?? Number.NaN, 5);
    expect(r?.mae).toBeCloseTo(holdout.mae ?? Number.NaN, 3);
    expect(report.samples.every((s) => typeof s.actual === "number")).toBe(true);
    expect(describeReport(report, "y")).toMatch(
      /^On 160 rows it had not seen, the model's predictions of y are off by [\d,.]+ on average \(MAE\), and it explains \d+% of the variation in y \(R² 0\.\d\d\)\.$/,
    );
    expect(Object.keys(METRIC_INFO)).toEqual(
      expect.arrayContaining([
        ...Object.keys(holdout),
        ...Object.keys(artifact.header.training.cv),
      ]),
    );
  }, 30_000);
});
