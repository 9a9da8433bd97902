/**
 * Import and serving of ONNX files that did not come from Ballast's exporter: small networks
 * written here as plain ONNX protobuf objects (MatMul, Add, Relu, Softmax, Sigmoid) with known
 * weights, whose outputs the tests also compute by hand. Files that do not fit their declared
 * schema are refused with a reason that names the problem.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rowRecord } from "../../data/frame.ts";
import { ingestFile } from "../../data/index.ts";
import { EncodeError, fitRecipe } from "../../features/recipe.ts";
import { fitGbdt } from "../../learn/index.ts";
import { decodeArtifact, encodeArtifact } from "../artifact.ts";
import { Predictor } from "../predictor.ts";
import { exportModelToOnnx } from "./export.ts";
import { prepareOnnxImport } from "./import.ts";
import { OnnxImportError, type OnnxImportSchema } from "./import-schema.ts";
import { OnnxPredictor, OnnxRunError, onnxBytesOf } from "./onnx-predictor.ts";
import { DataType, encodeModel, type ModelProto } from "./onnx-proto.ts";
import {
  floats,
  LOOKUP_SCHEMA,
  lookupFile,
  MLP_SCHEMA,
  mlpByHand,
  mlpFile,
  node,
  tensor,
  writeMulticlassCsv,
} from "./test-support.ts";

const RECORDS = [
  { age: 34, plan: "plus", active: "yes", score: 1.5 },
  { age: 61, plan: "basic", active: false, score: -2 },
  { age: 19, plan: "pro", active: true, score: 0.25 },
  { age: 45, plan: "enterprise", active: "no", score: 3 }, // unseen level → code 3
];

function encoded(record: (typeof RECORDS)[number]): number[] {
  const plan = ["basic", "plus", "pro"].indexOf(record.plan);
  const active = record.active === true || record.active === "yes" ? 1 : 0;
  return [record.age, plan < 0 ? 3 : plan, active, record.score];
}

async function expectRefused(
  bytes: Uint8Array,
  schema: unknown,
  code: string,
  message: RegExp,
): Promise<OnnxImportError> {
  const error = await prepareOnnxImport(bytes, schema).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OnnxImportError);
  const importError = error as OnnxImportError;
  expect(importError.code).toBe(code);
  expect(importError.message).toMatch(message);
  expect(importError.details.length).toBeGreaterThan(0);
  return importError;
}

describe("a hand-built MLP", () => {
  it("imports, serves single records and batches, and matches the hand computation", async () => {
    const file = mlpFile();
    const prepared = await prepareOnnxImport(file, MLP_SCHEMA);
    expect(prepared.meta).toMatchObject({
      input: "x",
      output: "probs",
      inputType: "float32",
      layout: "classes",
      maxBatch: 0,
      producer: "hand-written-test",
    });
    // The artifact round-trips through its byte format and keeps the file verbatim.
    const artifact = decodeArtifact(encodeArtifact(prepared.artifact));
    expect(Buffer.from(onnxBytesOf(artifact)).equals(file)).toBe(true);
    expect(artifact.header.recipe.inputs.map((i) => i.column)).toEqual([
      "age",
      "plan",
      "active",
      "score",
    ]);
    const predictor = await OnnxPredictor.create(artifact);
    try {
      // Predicted in the same tick: coalesced into one run.
      const single = await Promise.all(RECORDS.map((r) => predictor.predict(r)));
      expect(predictor.stats).toEqual({ runs: 1, rows: RECORDS.length });
      const batch = await predictor.predictMany(RECORDS);
      expect(predictor.stats).toEqual({ runs: 2, rows: 2 * RECORDS.length });
      RECORDS.forEach((record, i) => {
        const want = mlpByHand(encoded(record));
        for (const result of [single[i], batch[i]]) {
          const p = result?.probabilities ?? {};
          expect(Math.abs((p.low ?? 0) - (want[0] ?? 0))).toBeLessThan(1e-5);
          expect(Math.abs((p.mid ?? 0) - (want[1] ?? 0))).toBeLessThan(1e-5);
          expect(Math.abs((p.high ?? 0) - (want[2] ?? 0))).toBeLessThan(1e-5);
          const best = want.indexOf(Math.max(...want));
          expect(result?.prediction).toBe(["low", "mid", "high"][best]);
        }
      });
      // Values the contract cannot encode fail before anything runs, naming the field.
      expect(() => predictor.predict({ ...RECORDS[0], age: "old" })).toThrow(EncodeError);
      expect(() =>
        predictor.predict({ ...RECORDS[0], plan: "gold" }, { unknownCategories: "reject" }),
      ).toThrow(/plan/);
    } finally {
      await predictor.close();
    }
  });

  it("reads a binary model's single probability column and a regression value", async () => {
    const sigmoidModel: ModelProto = {
      irVersion: 8,
      opsetImport: [{ domain: "", version: 17 }],
      graph: {
        name: "logistic",
        node: [
          node("MatMul", ["x", "w"], ["z0"]),
          node("Add", ["z0", "b"], ["z"]),
          node("Sigmoid", ["z"], ["p"]),
        ],
        initializer: [floats("w", [2, 1], [0.8, -1.5]), floats("b", [1], [0.3])],
        input: [tensor("x", DataType.FLOAT, ["N", 2])],
        output: [tensor("p", DataType.FLOAT, ["N", 1]), tensor("z", DataType.FLOAT, ["N", 1])],
      },
    };
    const schema: OnnxImportSchema = {
      task: "binary",
      classes: ["stay", "leave"],
      columns: [
        { name: "tenure", type: "number" },
        { name: "discount", type: "boolean" },
      ],
      output: "p",
    };
    const prepared = await prepareOnnxImport(encodeModel(sigmoidModel), schema);
    expect(prepared.meta.layout).toBe("positive");
    const predictor = await OnnxPredictor.create(prepared.artifact);
    const result = await predictor.predict({ tenure: 2, discount: true });
    await predictor.close();
    const p = 1 / (1 + Math.exp(-(0.3 + 0.8 * 2 - 1.5)));
    expect(result.probabilities?.leave).toBeCloseTo(p, 5);
    expect(result.probabilities?.stay).toBeCloseTo(1 - p, 5);
    expect(result.prediction).toBe(p >= 0.5 ? "leave" : "stay");

    const linearModel: ModelProto = {
      irVersion: 8,
      opsetImport: [{ domain: "", version: 17 }],
      graph: {
        name: "linear",
        node: [node("MatMul", ["x", "w"], ["xw"]), node("Add", ["xw", "b"], ["y"])],
        initializer: [
          { name: "w", dims: [2, 1], dataType: DataType.DOUBLE, doubleData: [2.5, -4] },
          { name: "b", dims: [1], dataType: DataType.DOUBLE, doubleData: [10] },
        ],
        input: [tensor("x", DataType.DOUBLE, ["N", 2])],
        output: [tensor("y", DataType.DOUBLE, ["N", 1])],
      },
    };
    const regression = await prepareOnnxImport(encodeModel(linearModel), {
      task: "regression",
      target: "demand",
      columns: [
        { name: "price", type: "number" },
        { name: "promo", type: "boolean" },
      ],
    });
    expect(regression.meta).toMatchObject({ inputType: "float64", layout: "value", output: "y" });
    const value = await OnnxPredictor.create(regression.artifact);
    expect((await value.predict({ price: 3.2, promo: 1 })).prediction).toBeCloseTo(
      10 + 2.5 * 3.2 - 4,
      10,
    );
    await value.close();
  });
});

describe("failures inside onnxruntime", () => {
  it("reject with OnnxRunError and leave the session usable", async () => {
    const prepared = await prepareOnnxImport(lookupFile(), LOOKUP_SCHEMA);
    const predictor = await OnnxPredictor.create(prepared.artifact);
    try {
      expect((await predictor.predict({ size: "medium" })).prediction).toBe(20);
      // "huge" is unknown: code 3, outside the model's 3-entry table.
      await expect(predictor.predict({ size: "huge" })).rejects.toThrow(OnnxRunError);
      await expect(predictor.predict({ size: "huge" })).rejects.toThrow(/out of|bounds|range/i);
      expect((await predictor.predict({ size: "large" })).prediction).toBe(30);
    } finally {
      await predictor.close();
    }
  });
});

describe("refusals name the problem", () => {
  it("an input tensor width that does not match the declared columns", async () => {
    const error = await expectRefused(
      mlpFile({ inputWidth: 4 }),
      { ...MLP_SCHEMA, columns: MLP_SCHEMA.columns.slice(0, 3) },
      "input_width_mismatch",
      /input x has 4 columns but the schema declares 3 features/,
    );
    expect(error.details[0]?.path).toBe("/schema/columns");
  });

  it("a symbolic width the network cannot take fails the test run", async () => {
    await expectRefused(
      mlpFile(),
      { ...MLP_SCHEMA, columns: [...MLP_SCHEMA.columns, { name: "extra", type: "number" }] },
      "model_check_failed",
      /does not run on a \[2, 5\] input/,
    );
  });

  it("more classes declared than the output has", async () => {
    await expectRefused(
      mlpFile(),
      { ...MLP_SCHEMA, classes: ["a", "b", "c", "d"] },
      "output_width_mismatch",
      /output probs has 3 columns but the schema declares 4 classes/,
    );
  });

  it("a file that is not ONNX, an unknown tensor name, a bad schema", async () => {
    await expectRefused(
      new TextEncoder().encode("name,age\nann,3\n"),
      MLP_SCHEMA,
      "invalid_model",
      /not an ONNX model|onnxruntime cannot load/,
    );
    await expectRefused(mlpFile(), { ...MLP_SCHEMA, output: "nope" }, "output_not_found", /probs/);
    await expectRefused(
      mlpFile({ head: "none" }),
      { ...MLP_SCHEMA, input: "features" },
      "input_not_found",
      /no input named features; its inputs are: x/,
    );
    const bad = await expectRefused(
      mlpFile(),
      {
        task: "binary",
        classes: ["a", "b", "c"],
        columns: [
          { name: "plan", type: "category" },
          { name: "plan", type: "number" },
        ],
      },
      "invalid_schema",
      /schema/,
    );
    expect(bad.details.map((d) => d.path)).toEqual([
      "/schema/columns/0/levels",
      "/schema/columns/1/name",
      "/schema/classes",
    ]);
    await expectRefused(mlpFile(), { task: "regression" }, "invalid_schema", /columns is required/);
    await expectRefused(
      mlpFile(),
      undefined,
      "schema_required",
      /Declare the model's input schema/,
    );
  });
});

describe("Ballast's own exports import back without a schema file", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), "ballast-onnx-import-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("serves the same predictions as the Ballast model it was exported from", async () => {
    const { frame, schema } = await ingestFile(writeMulticlassCsv(dir, 800));
    const fitted = fitRecipe(frame, schema, { target: "segment" });
    const model = fitGbdt(fitted.X, fitted.y, fitted.task, { rounds: 30 });
    const prepared = await prepareOnnxImport(exportModelToOnnx(model, fitted.recipe), undefined);
    expect(prepared.artifact.header.recipe).toEqual({ ...fitted.recipe, excluded: [] });
    const onnx = await OnnxPredictor.create(prepared.artifact);
    const own = new Predictor({
      ...prepared.artifact,
      model: model.serialize(),
      header: { ...prepared.artifact.header, learner: { name: "gbdt", meta: {} } },
    });
    const records = Array.from({ length: 50 }, (_, i) => rowRecord(frame, i * 7));
    const served = await onnx.predictMany(records);
    await onnx.close();
    records.forEach((record, i) => {
      const want = own.predict(record);
      expect(served[i]?.prediction).toBe(want.prediction);
      for (const c of ["bronze", "silver", "gold"])
        expect(
          Math.abs((served[i]?.probabilities?.[c] ?? 0) - (want.probabilities?.[c] ?? 0)),
        ).toBeLessThan(1e-5);
    });
  });
});
