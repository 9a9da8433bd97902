import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { AutoMLProgress } from "./automl.ts";
import { automl } from "./automl.ts";
import { loadModel } from "./index.ts";
import { createRandom } from "./random.ts";
import { loadCsvDataset } from "./test-support/csv-matrix.ts";
import { matrixOf, REGRESSION, uniform, xorData } from "./test-support/synthetic.ts";

const CHURN = fileURLToPath(new URL("../../examples/data/wa_churn.csv", import.meta.url));

describe("automl", () => {
  it("reaches a cross-validated AUC >= 0.84 on wa_churn", async () => {
    const data = loadCsvDataset(CHURN, { column: "churn", task: "binary", positive: "Yes" });
    expect(data.X.rowCount).toBe(7043);
    const events: AutoMLProgress[] = [];
    const result = await automl(data.X, data.y, data.task, {
      timeBudgetMs: 20_000,
      seed: 42,
      onProgress: (p) => events.push(p),
    });
    expect(result.metric).toBe("auc");
    expect(result.cv.auc).toBeGreaterThanOrEqual(0.84);
    expect(result.holdout.auc).toBeGreaterThan(0.8);
    expect(result.candidates.length).toBeGreaterThanOrEqual(1);
    const best = Math.max(...result.candidates.map((c) => c.cvScore));
    expect(result.cv.auc).toBe(best);
    // Progress flowed, with a best score once a candidate finished.
    expect(events.length).toBeGreaterThan(3);
    expect(events.at(-1)?.best?.score).toBe(best);
    expect(events.at(-1)?.candidatesPlanned).toBeGreaterThanOrEqual(result.candidates.length);
    // The hold-out predictions are there for charts, and the model survives a round trip.
    expect(result.holdoutPredictions?.y.length).toBe(result.holdoutPredictions?.rows.length);
    const loaded = loadModel(result.model.serialize());
    expect(Array.from(loaded.predictBatch(data.X).subarray(0, 50))).toEqual(
      Array.from(result.model.predictBatch(data.X).subarray(0, 50)),
    );
  });

  it("tries a log target for a positive skewed regression target and predicts in the original scale", async () => {
    const n = 400;
    const random = createRandom(3);
    const a = uniform(n, 1);
    const b = uniform(n, 2);
    const y = Float64Array.from(a, (v, i) =>
      Math.exp(2 * v + (b[i] as number) + 0.1 * random.nextFloat()),
    );
    const X = matrixOf([
      { name: "a", values: a },
      { name: "b", values: b },
    ]);
    const result = await automl(X, y, REGRESSION, { timeBudgetMs: 4000, seed: 1, folds: 3 });
    expect(result.candidates.some((c) => c.params.targetTransform === "log")).toBe(true);
    expect(result.holdout.r2).toBeGreaterThan(0.9);
    const loaded = loadModel(result.model.serialize());
    const pred = loaded.predictBatch(X);
    expect(Array.from(pred)).toEqual(Array.from(result.model.predictBatch(X)));
    expect(pred.every((v) => v > 0)).toBe(true);
  });

  it("tries the Poisson objective for a count target", async () => {
    const n = 400;
    const random = createRandom(4);
    const a = uniform(n, 5);
    // Counts with zeros: a Poisson draw (Knuth) with rate e^(2a).
    const y = Float64Array.from(a, (v) => {
      let k = 0;
      let p = random.nextFloat();
      while (p > Math.exp(-Math.exp(2 * v))) {
        k++;
        p *= random.nextFloat();
      }
      return k;
    });
    const X = matrixOf([{ name: "a", values: a }]);
    const result = await automl(X, y, REGRESSION, { timeBudgetMs: 4000, seed: 1, folds: 3 });
    expect(result.candidates.some((c) => c.params.objective === "poisson")).toBe(true);
  });

  it("always finishes one candidate, even with a tiny budget", async () => {
    const { X, y, task } = xorData(300, 1);
    const result = await automl(X, y, task, { timeBudgetMs: 1, seed: 1, folds: 3 });
    expect(result.candidates).toHaveLength(1);
    expect(result.model.outputSize).toBe(1);
  });

  it("passes threads to the GBDT fits: the model is the same byte for byte", async () => {
    // 100k rows x 3 features is above the work a GBDT fit needs to start worker threads.
    const { X, y, task } = xorData(100_000, 3);
    const options = { timeBudgetMs: 1, seed: 3, folds: 2 };
    const one = await automl(X, y, task, { ...options, threads: 1 });
    const two = await automl(X, y, task, { ...options, threads: 2 });
    expect(two.candidates.map((c) => c.params)).toEqual(one.candidates.map((c) => c.params));
    expect(JSON.stringify(two.candidates[0]?.params)).not.toContain("threads");
    // Compared as bytes: a deep equality over every number of the model takes tens of seconds.
    const bytes = (model: typeof one.model): Buffer[] =>
      Object.values(model.serialize().arrays).map((a) =>
        Buffer.from(a.buffer, a.byteOffset, a.byteLength),
      );
    const [a, b] = [bytes(one.model), bytes(two.model)];
    expect(b.length).toBe(a.length);
    expect(b.every((part, i) => part.equals(a[i] as Buffer))).toBe(true);
    expect(Buffer.concat(b).byteLength).toBeGreaterThan(1000);
    await expect(automl(X, y, task, { ...options, threads: 0 })).rejects.toThrow(/threads/);
    // Two searches over 100k rows: about a minute on a loaded 2-core machine.
  }, 300_000);

  it("stops when aborted and rejects unknown metrics", async () => {
    const { X, y, task } = xorData(300, 2);
    const controller = new AbortController();
    const run = automl(X, y, task, {
      timeBudgetMs: 10_000,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.candidatesTried >= 1) controller.abort();
      },
    });
    await expect(run).rejects.toThrow();
    await expect(automl(X, y, task, { timeBudgetMs: 1000, metric: "r2" })).rejects.toThrow(
      /does not apply/,
    );
  });
});
