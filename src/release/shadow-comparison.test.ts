import { describe, expect, it } from "vitest";
import { ShadowComparison } from "./shadow-comparison.ts";

const answers = (...predictions: unknown[]) => predictions.map((prediction) => ({ prediction }));

describe("ShadowComparison", () => {
  it("counts label agreement row by row across requests", () => {
    const c = new ShadowComparison();
    c.add(answers("yes", "no", "no"), answers("yes", "yes", "no"), 1, 2);
    c.add(answers("no"), answers("no"), 3, 4);
    const s = c.summary();
    expect(s.requests).toBe(2);
    expect(s.rows).toBe(4);
    expect(s.labelRows).toBe(4);
    expect(s.agreement).toBe(3 / 4);
    expect(s.meanAbsDiff).toBeNull();
  });

  it("averages absolute differences of numeric answers", () => {
    const c = new ShadowComparison();
    c.add(answers(10, 20), answers(12, 15), undefined, undefined);
    c.add(answers(1), answers(1.5), undefined, undefined);
    expect(c.summary().meanAbsDiff).toBeCloseTo((2 + 5 + 0.5) / 3, 12);
    expect(c.summary().agreement).toBeNull();
  });

  it("reports both versions' model-time percentiles, failures and skips", () => {
    const c = new ShadowComparison();
    for (let i = 1; i <= 100; i++) c.add(answers("a"), answers("a"), i, i * 2);
    c.countFailure();
    c.countSkipped();
    c.countSkipped();
    const s = c.summary();
    expect(s.stableModelMs).toEqual({ p50: 50, p95: 95 });
    expect(s.candidateModelMs).toEqual({ p50: 100, p95: 190 });
    expect(s.candidateErrors).toBe(1);
    expect(s.skipped).toBe(2);
  });

  it("has no figures before any comparison", () => {
    const s = new ShadowComparison().summary();
    expect(s.agreement).toBeNull();
    expect(s.stableModelMs.p95).toBeNull();
  });
});
