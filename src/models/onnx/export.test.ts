/**
 * The exported ONNX files, run by onnxruntime, predict what Ballast predicts (to 1e-5) on the
 * seeded 20% test rows: wa_churn (binary), a generated regression set and a generated
 * multiclass set, each with categorical splits and missing values, for GBDT and linear models.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ingestFile } from "../../data/index.ts";
import { type FittedRecipe, fitRecipe, recipeFeatures } from "../../features/recipe.ts";
import type { Forest } from "../../learn/gbdt/forest.ts";
import {
  fitGbdt,
  fitLinear,
  GbdtModel,
  gbdt,
  logTarget,
  takeLabels,
  takeRows,
  trainTestSplit,
} from "../../learn/index.ts";
import type { FeatureMatrix, Labels, TrainedModel } from "../../learn/types.ts";
import { exportModelToOnnx, METADATA } from "./export.ts";
import { float32SplitMismatches, float32Threshold } from "./export-gbdt.ts";
import { embeddedSchema } from "./import.ts";
import { parseImportSchema, schemaFromRecipe } from "./import-schema.ts";
import { decodeModel } from "./onnx-proto.ts";
import { writeMulticlassCsv, writeRegressionCsv } from "./test-support.ts";

const CHURN_CSV = path.resolve("examples/data/wa_churn.csv");
const TOLERANCE = 1e-5;

interface Prepared {
  readonly fitted: FittedRecipe;
  readonly train: { readonly X: FeatureMatrix; readonly y: Labels };
  readonly test: { readonly X: FeatureMatrix; readonly y: Labels };
}

async function prepare(file: string, target: string): Promise<Prepared> {
  const { frame, schema } = await ingestFile(file);
  const fitted = fitRecipe(frame, schema, { target });
  const split = trainTestSplit(fitted.y, fitted.task, { seed: 42, testFraction: 0.2 });
  return {
    fitted,
    train: { X: takeRows(fitted.X, split.train), y: takeLabels(fitted.y, split.train) },
    test: { X: takeRows(fitted.X, split.test), y: takeLabels(fitted.y, split.test) },
  };
}

/** The column-major matrix as the row-major float32 [N, F] tensor the ONNX graph takes. */
function inputTensor(X: FeatureMatrix): ort.Tensor {
  const n = X.rowCount;
  const width = X.features.length;
  const rows = new Float32Array(n * width);
  for (let r = 0; r < n; r++)
    for (let f = 0; f < width; f++) rows[r * width + f] = X.data[f * n + r] as number;
  return new ort.Tensor("float32", rows, [n, width]);
}

async function runOnnx(bytes: Uint8Array, X: FeatureMatrix) {
  const session = await ort.InferenceSession.create(bytes);
  try {
    return await session.run({ input: inputTensor(X) });
  } finally {
    await session.release();
  }
}

/** Run the exported file on X and check every output against the model's own predictBatch. */
async function expectSamePredictions(
  model: TrainedModel,
  fitted: FittedRecipe,
  X: FeatureMatrix,
): Promise<{ maxError: number }> {
  const bytes = exportModelToOnnx(model, fitted.recipe);
  const out = await runOnnx(bytes, X);
  const expected = model.predictBatch(X);
  const n = X.rowCount;
  let maxError = 0;
  if (model.task.kind === "regression") {
    const value = out.variable as ort.Tensor;
    expect(value.dims).toEqual([n, 1]);
    const data = value.data as Float32Array;
    for (let r = 0; r < n; r++) {
      const want = expected[r] as number;
      const error = Math.abs((data[r] as number) - want) / Math.max(1, Math.abs(want));
      maxError = Math.max(maxError, error);
    }
    expect(maxError).toBeLessThan(TOLERANCE);
    return { maxError };
  }
  const classes = fitted.recipe.target.classes ?? [];
  const k = classes.length;
  const probabilities = out.probabilities as ort.Tensor;
  const label = out.label as ort.Tensor;
  expect(probabilities.dims).toEqual([n, k]);
  expect(label.dims).toEqual([n]);
  const p = probabilities.data as Float32Array;
  const labels = label.data as string[];
  let labelMismatches = 0;
  for (let r = 0; r < n; r++) {
    let best = 0;
    for (let c = 0; c < k; c++) {
      const want =
        k === 2
          ? c === 1
            ? (expected[r] as number)
            : 1 - (expected[r] as number)
          : (expected[r * k + c] as number);
      maxError = Math.max(maxError, Math.abs((p[r * k + c] as number) - want));
      if (k > 2 && want > (expected[r * k + best] as number)) best = c;
    }
    if (k === 2) best = (expected[r] as number) >= 0.5 ? 1 : 0;
    if (labels[r] !== classes[best]) labelMismatches++;
  }
  expect(maxError).toBeLessThan(TOLERANCE);
  expect(labelMismatches).toBe(0);
  return { maxError };
}

/** Copy X with some categorical codes made invalid (fractional, negative, too large) or NaN. */
function withOddValues(X: FeatureMatrix): FeatureMatrix {
  const data = X.data.slice();
  const n = X.rowCount;
  X.features.forEach((info, f) => {
    for (let r = f % 7; r < n; r += 7) {
      if (info.kind === "categorical") {
        const card = info.cardinality ?? 1;
        data[f * n + r] = [Number.NaN, -1, card, card + 5, 1.5][r % 5] as number;
      } else if (r % 3 === 0) {
        data[f * n + r] = Number.NaN;
      }
    }
  });
  return { ...X, data };
}

let dir: string;
let churn: Prepared;
let houses: Prepared;
let segments: Prepared;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "ballast-onnx-"));
  churn = await prepare(CHURN_CSV, "churn");
  houses = await prepare(writeRegressionCsv(dir), "price");
  segments = await prepare(writeMulticlassCsv(dir), "segment");
}, 60_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("classification: wa_churn", () => {
  it("the data has categorical features and missing values", () => {
    expect(churn.fitted.task.kind).toBe("binary");
    expect(churn.test.X.rowCount).toBeGreaterThan(1000);
    expect(churn.fitted.X.features.some((f) => f.kind === "categorical")).toBe(true);
    expect(Array.from(churn.fitted.X.data).some(Number.isNaN)).toBe(true);
  });

  it("GBDT with native categorical splits and default directions", async () => {
    const model = fitGbdt(churn.train.X, churn.train.y, churn.fitted.task, { rounds: 120 });
    const flags = model.forest.flags;
    expect(flags.some((f) => (f & 2) !== 0)).toBe(true);
    expect(flags.some((f, i) => (f & 1) !== 0 && (model.forest.feature[i] as number) >= 0)).toBe(
      true,
    );
    expect(float32SplitMismatches(model.forest, churn.train.X)).toEqual([]);
    await expectSamePredictions(model, churn.fitted, churn.test.X);
    await expectSamePredictions(model, churn.fitted, withOddValues(churn.test.X));
  });

  it("linear (logistic) with standardization, one-hot and missing indicators folded in", async () => {
    const model = fitLinear(churn.train.X, churn.train.y, churn.fitted.task);
    await expectSamePredictions(model, churn.fitted, churn.test.X);
    await expectSamePredictions(model, churn.fitted, withOddValues(churn.test.X));
  });
});

describe("regression: generated house prices", () => {
  it("squared-error GBDT", async () => {
    expect(houses.fitted.task.kind).toBe("regression");
    const model = fitGbdt(houses.train.X, houses.train.y, houses.fitted.task, { rounds: 150 });
    expect(model.forest.flags.some((f) => (f & 2) !== 0)).toBe(true);
    expect(float32SplitMismatches(model.forest, houses.train.X)).toEqual([]);
    await expectSamePredictions(model, houses.fitted, houses.test.X);
    await expectSamePredictions(model, houses.fitted, withOddValues(houses.test.X));
  });

  it("Poisson GBDT (exp link) and the log-target wrapper (exp of the inner model)", async () => {
    const poisson = fitGbdt(houses.train.X, houses.train.y, houses.fitted.task, {
      rounds: 60,
      objective: "poisson",
    });
    await expectSamePredictions(poisson, houses.fitted, houses.test.X);
    const logged = logTarget(gbdt).fit(houses.train.X, houses.train.y, houses.fitted.task, {
      rounds: 60,
    });
    await expectSamePredictions(logged, houses.fitted, houses.test.X);
  });

  it("linear (elastic net) with the target scale folded in", async () => {
    const model = fitLinear(houses.train.X, houses.train.y, houses.fitted.task, { l1Ratio: 0.3 });
    await expectSamePredictions(model, houses.fitted, houses.test.X);
    await expectSamePredictions(model, houses.fitted, withOddValues(houses.test.X));
  });
});

describe("multiclass: generated customer segments", () => {
  it("softmax GBDT", async () => {
    expect(segments.fitted.task).toEqual({ kind: "multiclass", classCount: 3 });
    const model = fitGbdt(segments.train.X, segments.train.y, segments.fitted.task, {
      rounds: 60,
    });
    await expectSamePredictions(model, segments.fitted, segments.test.X);
    await expectSamePredictions(model, segments.fitted, withOddValues(segments.test.X));
  });

  it("softmax linear", async () => {
    const model = fitLinear(segments.train.X, segments.train.y, segments.fitted.task);
    await expectSamePredictions(model, segments.fitted, withOddValues(segments.test.X));
  });
});

describe("edge cases", () => {
  it("a forest with no trees predicts the base score", async () => {
    const features = churn.fitted.X.features;
    const empty: Forest = {
      feature: new Int32Array(0),
      threshold: new Float64Array(0),
      left: new Int32Array(0),
      right: new Int32Array(0),
      value: new Float64Array(0),
      flags: new Uint8Array(0),
      gain: new Float64Array(0),
      cover: new Float64Array(0),
      catBits: new Uint32Array(0),
      roots: new Int32Array(0),
      cardinality: Int32Array.from(features, (f) => f.cardinality ?? 0),
    };
    const info = { rounds: 0, roundsRun: 0, params: {} };
    const binary = new GbdtModel(churn.fitted.task, features, empty, Float64Array.of(-1.2), info);
    await expectSamePredictions(binary, churn.fitted, churn.test.X);
    const multi = new GbdtModel(
      segments.fitted.task,
      segments.fitted.X.features,
      {
        ...empty,
        cardinality: Int32Array.from(segments.fitted.X.features, (f) => f.cardinality ?? 0),
      },
      Float64Array.of(0.3, -0.2, 0.1),
      info,
    );
    await expectSamePredictions(multi, segments.fitted, segments.test.X);
  });

  it("float32 thresholds keep every decision except for inputs that round onto the threshold", () => {
    fc.assert(
      fc.property(
        fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }),
        fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }),
        (t, x) => {
          const t32 = float32Threshold(t);
          expect(Math.abs(t32 - Math.fround(t))).toBeLessThanOrEqual(
            Math.max(Math.abs(t) * 2 ** -23, 2 ** -149),
          );
          if (Math.fround(x) !== Math.fround(t)) expect(Math.fround(x) <= t32).toBe(x <= t);
        },
      ),
      { numRuns: 2000 },
    );
    // Midpoints of short decimals: the training neighbours and the decimal midpoint itself
    // (an unseen value real data holds) keep Ballast's side, e.g. 29.3 between 29.2 and 29.4.
    fc.assert(
      fc.property(
        fc.integer({ min: -10_000_000, max: 10_000_000 }),
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 0, max: 3 }),
        (units, gap, decimals) => {
          const scale = 10 ** decimals;
          const a = units / scale;
          const b = (units + 2 * gap) / scale;
          const mid = (units + gap) / scale;
          const t = a + (b - a) / 2;
          const t32 = float32Threshold(t);
          const distinct = new Set([a, mid, b].map(Math.fround)).size === 3;
          if (distinct) for (const x of [a, mid, b]) expect(Math.fround(x) <= t32).toBe(x <= t);
        },
      ),
      { numRuns: 3000 },
    );
    // Neighbours closer than a float32 ulp cannot be separated: the diagnostic names them.
    const forest: Forest = {
      feature: Int32Array.of(0, -1, -1),
      threshold: Float64Array.of(1 + 2 ** -26, 0, 0),
      left: Int32Array.of(1, -1, -1),
      right: Int32Array.of(2, -1, -1),
      value: Float64Array.of(0, -1, 1),
      flags: new Uint8Array(3),
      gain: new Float64Array(3),
      cover: new Float64Array(3),
      catBits: new Uint32Array(0),
      roots: Int32Array.of(0),
      cardinality: new Int32Array(1),
    };
    const X: FeatureMatrix = {
      rowCount: 3,
      features: [{ name: "x", kind: "numeric" }],
      data: Float64Array.of(1, 1 + 2 ** -25, 2),
    };
    const mismatches = float32SplitMismatches(forest, X);
    expect(mismatches).toHaveLength(1);
    expect([1, 1 + 2 ** -25]).toContain(mismatches[0]?.value);
  });
});

describe("the file describes itself", () => {
  it("carries feature names, the recipe and an import schema; the same model gives the same bytes", () => {
    const model = fitGbdt(churn.train.X, churn.train.y, churn.fitted.task, { rounds: 10 });
    const bytes = exportModelToOnnx(model, churn.fitted.recipe, { name: "churn@1" });
    expect(exportModelToOnnx(model, churn.fitted.recipe, { name: "churn@1" })).toEqual(bytes);
    const proto = decodeModel(bytes);
    const meta = Object.fromEntries((proto.metadataProps ?? []).map((p) => [p.key, p.value]));
    expect(JSON.parse(meta[METADATA.featureNames] as string)).toEqual(
      recipeFeatures(churn.fitted.recipe).map((f) => f.name),
    );
    expect(JSON.parse(meta[METADATA.recipe] as string)).toEqual(churn.fitted.recipe);
    expect(JSON.parse(meta[METADATA.classes] as string)).toEqual(["No", "Yes"]);
    expect(parseImportSchema(embeddedSchema(proto))).toEqual(schemaFromRecipe(churn.fitted.recipe));
    expect(proto.graph?.input?.[0]?.name).toBe("input");
    expect(proto.graph?.output?.map((o) => o.name)).toEqual(["label", "probabilities"]);
    expect(proto.opsetImport).toEqual([
      { domain: "", version: 13 },
      { domain: "ai.onnx.ml", version: 3 },
    ]);
    expect(proto.docString).toContain("categories as their code");
  });
});
