import { describe, expect, it } from "vitest";
import { gbdt } from "./gbdt/gbdt.ts";
import { getLearner, learnerNames, loadModel } from "./index.ts";
import { linear } from "./linear/linear.ts";
import { isPositiveSkewed, LogTargetModel, logTarget } from "./log-target.ts";
import { matrixOf, REGRESSION, uniform } from "./test-support/synthetic.ts";

describe("logTarget", () => {
  const n = 300;
  const x = uniform(n, 1, 0, 3);
  const y = Float64Array.from(x, (v) => Math.exp(1 + 2 * v));
  const X = matrixOf([{ name: "x", values: x }]);

  it("fits log(y) and predicts exp of the inner model's score", () => {
    const model = logTarget(linear).fit(X, y, REGRESSION, { lambda: 0, tolerance: 1e-10 });
    expect(model).toBeInstanceOf(LogTargetModel);
    const out = new Float64Array(1);
    model.predictRow(Float64Array.of(2), out);
    expect(out[0]).toBeCloseTo(Math.exp(5), 3);
    const inner = (model as LogTargetModel).inner;
    inner.predictRow(Float64Array.of(2), out);
    expect(out[0]).toBeCloseTo(5, 6);
  });

  it("serializes and loads to identical predictions", () => {
    for (const learner of [gbdt, linear] as const) {
      const model = logTarget(learner as typeof gbdt).fit(X, y, REGRESSION, { rounds: 20 });
      const serialized = model.serialize();
      expect(serialized.learner).toBe("log-target");
      const loaded = loadModel(serialized);
      expect(Array.from(loaded.predictBatch(X))).toEqual(Array.from(model.predictBatch(X)));
    }
  });

  it("explains in log space: contributions sum to log(prediction), also after reloading", () => {
    for (const learner of [linear, gbdt]) {
      const model = logTarget(learner as typeof gbdt).fit(X, y, REGRESSION, { rounds: 20 });
      const loaded = loadModel(model.serialize());
      const out = new Float64Array(1);
      const contributions = new Float64Array(2);
      for (const v of [0.1, 1.3, 2.9, Number.NaN]) {
        for (const m of [model, loaded]) {
          m.predictRow(Float64Array.of(v), out);
          expect(m.explainRow).toBeDefined();
          m.explainRow?.(Float64Array.of(v), contributions);
          const total = (contributions[0] as number) + (contributions[1] as number);
          expect(total).toBeCloseTo(Math.log(out[0] as number), 9);
        }
      }
    }
  });

  it("has no explanation when the inner model has none", () => {
    const opaque = {
      ...linear.fit(X, Float64Array.from(y, Math.log), REGRESSION, {}),
      explainRow: undefined,
    };
    expect(new LogTargetModel(opaque).explainRow).toBeUndefined();
  });

  it("rejects non-positive targets", () => {
    expect(() =>
      logTarget(linear).fit(
        X,
        Float64Array.from(y, (v, i) => (i === 3 ? 0 : v)),
        REGRESSION,
        {},
      ),
    ).toThrow(/row 3/);
  });

  it("detects positive right-skewed targets", () => {
    expect(isPositiveSkewed(y)).toBe(true);
    expect(isPositiveSkewed(x.map((v) => v + 1))).toBe(false);
    expect(isPositiveSkewed(Float64Array.of(-1, 1, 100, 2, 3))).toBe(false);
  });
});

describe("registry", () => {
  it("finds learners by name and refuses unknown ones", () => {
    expect(learnerNames()).toEqual(["gbdt", "linear"]);
    expect(getLearner("gbdt").name).toBe("gbdt");
    expect(() => getLearner("svm")).toThrow(/unknown learner/);
    expect(() => loadModel({ learner: "svm", meta: {}, arrays: {} })).toThrow(/unknown learner/);
  });
});
