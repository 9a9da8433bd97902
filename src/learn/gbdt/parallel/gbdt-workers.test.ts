import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRandom } from "../../random.ts";
import { BINARY, matrixOf } from "../../test-support/synthetic.ts";
import type { FeatureMatrix, Labels, SerializedModel, Task } from "../../types.ts";
import { fitGbdt } from "../gbdt.ts";
import { GbdtWorkers } from "./gbdt-workers.ts";

/**
 * A random task with everything that takes a different code path: numeric features with
 * missing values and ties, a constant feature, small and huge (> 255 codes) categoricals with
 * missing and invalid codes.
 */
function randomData(n: number, seed: number, classes: number): { X: FeatureMatrix; y: Labels } {
  const random = createRandom(seed);
  const columns = [];
  const signal = new Float64Array(n);
  for (let f = 0; f < 20; f++) {
    const values = new Float64Array(n);
    for (let r = 0; r < n; r++) {
      const v = f % 3 === 0 ? Math.round(random.nextFloat() * 20) / 4 : random.nextFloat() * 6 - 3;
      values[r] = random.nextFloat() < 0.1 * (f % 2) ? Number.NaN : v;
      if (f < 3 && !Number.isNaN(values[r] as number)) {
        signal[r] = (signal[r] as number) + Math.sin(values[r] as number);
      }
    }
    columns.push({ name: `x${f}`, values });
  }
  columns.push({ name: "constant", values: new Float64Array(n).fill(1) });
  for (const cardinality of [4, 30, 400]) {
    const values = new Float64Array(n);
    const effect = Float64Array.from({ length: cardinality }, () => random.nextFloat() - 0.5);
    for (let r = 0; r < n; r++) {
      const u = random.nextFloat();
      const code = Math.floor(cardinality * u * u);
      values[r] = u < 0.05 ? Number.NaN : u > 0.98 ? cardinality + 3 : code;
      if (!Number.isNaN(values[r] as number) && code < cardinality) {
        signal[r] = (signal[r] as number) + 2 * (effect[code] as number);
      }
    }
    columns.push({
      name: `c${cardinality}`,
      values,
      kind: "categorical" as const,
      cardinality,
    });
  }
  const y = new Float64Array(n);
  for (let r = 0; r < n; r++) {
    const s = (signal[r] as number) + random.nextFloat() - 0.5;
    y[r] = classes === 2 ? (s > 0 ? 1 : 0) : Math.min(classes - 1, Math.max(0, Math.floor(s + 1)));
  }
  return { X: matrixOf(columns), y };
}

function bytesOf(model: SerializedModel): Buffer {
  const parts: Uint8Array[] = [Buffer.from(JSON.stringify(model.meta))];
  for (const key of Object.keys(model.arrays).sort()) {
    const a = model.arrays[key];
    if (a) parts.push(Buffer.from(key), new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  }
  return Buffer.concat(parts);
}

describe("parallel histogram building", () => {
  let pool: GbdtWorkers;

  beforeAll(async () => {
    pool = new GbdtWorkers(2);
    // Fits never wait for workers; the test does, so that they certainly take part.
    await pool.ready();
  }, 30_000);

  afterAll(async () => {
    await pool.close();
  });

  it.each([
    ["binary", BINARY, {}],
    [
      "multiclass with row and column sampling",
      { kind: "multiclass", classCount: 3 },
      {
        subsample: 0.7,
        colsample: 0.6,
      },
    ],
  ] as const)("gives a model byte-identical to one thread (%s)", (_name, task, extra) => {
    const { X, y } = randomData(10_000, 11, (task as Task).classCount);
    const params = { rounds: 12, maxLeaves: 24, learningRate: 0.3, minDataInLeaf: 5, ...extra };
    const serial = fitGbdt(X, y, task as Task, { ...params, threads: 1 }, { seed: 3 });
    const before = pool.workerTasks;
    const parallel = fitGbdt(
      X,
      y,
      task as Task,
      { ...params, threads: 3 },
      { seed: 3 },
      {
        workers: pool,
      },
    );
    expect(pool.workerTasks).toBeGreaterThan(before);
    expect(bytesOf(parallel.serialize()).equals(bytesOf(serial.serialize()))).toBe(true);
    expect(pool.failures).toEqual([]);
  });

  it("is used by fitGbdt's own pool and shut down when the fit returns", async () => {
    const { X, y } = randomData(6000, 12, 2);
    const params = { rounds: 5, maxLeaves: 8, threads: 2 };
    const before = GbdtWorkers.running;
    const model = fitGbdt(X, y, BINARY, params, { seed: 1 });
    expect(
      bytesOf(model.serialize()).equals(
        bytesOf(fitGbdt(X, y, BINARY, { ...params, threads: 1 }, { seed: 1 }).serialize()),
      ),
    ).toBe(true);
    // close() was called when the fit returned; the threads exit shortly after.
    const deadline = Date.now() + 10_000;
    while (GbdtWorkers.running > before && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(GbdtWorkers.running).toBe(before);
    expect(model.info.params).not.toHaveProperty("threads");
  });

  it("close() ends every worker thread, even one still loading", async () => {
    const before = GbdtWorkers.running;
    const early = new GbdtWorkers(2);
    expect(GbdtWorkers.running).toBe(before + 2);
    await early.close();
    expect(GbdtWorkers.running).toBe(before);
    await early.close();
  });
});
