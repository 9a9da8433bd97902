/**
 * Test material for the ONNX tests. Generated CSV data sets (seeded, so every run sees the
 * same rows): a regression task and a multiclass task, both with numeric, boolean and
 * categorical columns and missing values, written to a file so they go through the real ingest
 * and Recipe path. And ONNX files written by hand as protobuf objects (not by the exporter), so
 * import is tested on files from a different route.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { createRandom, type Random } from "../../learn/random.ts";
import type { OnnxImportSchema } from "./import-schema.ts";
import {
  DataType,
  encodeModel,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from "./onnx-proto.ts";

function gaussian(random: Random): number {
  const u = Math.max(random.nextFloat(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random.nextFloat());
}

function pick<T>(random: Random, values: readonly T[], weights: readonly number[]): T {
  const total = weights.reduce((a, b) => a + b, 0);
  let u = random.nextFloat() * total;
  for (let i = 0; i < values.length; i++) {
    u -= weights[i] as number;
    if (u < 0) return values[i] as T;
  }
  return values[values.length - 1] as T;
}

function csv(
  header: readonly string[],
  rows: readonly (readonly (string | number | null)[])[],
): string {
  const lines = [header.join(",")];
  for (const row of rows) lines.push(row.map((v) => (v === null ? "" : String(v))).join(","));
  return `${lines.join("\n")}\n`;
}

const NEIGHBORHOODS = ["north", "south", "east", "west", "center", "harbor", "hills", "old-town"];
const NEIGHBORHOOD_EFFECT = [10, -15, 5, 0, 45, 30, 20, -5];
const STYLES = ["ranch", "colonial", "modern"];

/**
 * House prices: price (> 0) from size (10% missing), rooms, age (5% missing), neighborhood
 * (8 levels, 5% missing), style and garage (Yes/No), plus noise.
 */
export function writeRegressionCsv(dir: string, rows = 3000, seed = 11): string {
  const random = createRandom(seed);
  const out: (string | number | null)[][] = [];
  for (let i = 0; i < rows; i++) {
    const size = Math.round((20 + 280 * random.nextFloat()) * 10) / 10;
    const rooms = 1 + random.nextInt(8);
    const age = Math.round(100 * random.nextFloat());
    const hood = random.nextInt(NEIGHBORHOODS.length);
    const style = random.nextInt(STYLES.length);
    const garage = random.nextFloat() < 0.6;
    let price =
      60 +
      1.2 * size +
      8 * rooms -
      0.3 * age +
      (NEIGHBORHOOD_EFFECT[hood] as number) +
      (garage ? 15 : 0) +
      style * 7 +
      (size > 200 && hood === 4 ? 40 : 0) +
      10 * gaussian(random);
    price = Math.max(5, Math.round(price * 100) / 100);
    out.push([
      random.nextFloat() < 0.1 ? null : size,
      rooms,
      random.nextFloat() < 0.05 ? null : age,
      random.nextFloat() < 0.05 ? null : (NEIGHBORHOODS[hood] as string),
      STYLES[style] as string,
      garage ? "Yes" : "No",
      price,
    ]);
  }
  const file = path.join(dir, "houses.csv");
  writeFileSync(
    file,
    csv(["size", "rooms", "age", "neighborhood", "style", "garage", "price"], out),
  );
  return file;
}

const CHANNELS = ["web", "store", "phone", "partner", "mail"];
const CHANNEL_EFFECT = [0, 0.5, -0.5, 1, -1];

/**
 * Customer segments (bronze / silver / gold) from income (8% missing), visits, channel
 * (5 levels, 5% missing) and member (true/false).
 */
export function writeMulticlassCsv(dir: string, rows = 3000, seed = 23): string {
  const random = createRandom(seed);
  const out: (string | number | null)[][] = [];
  for (let i = 0; i < rows; i++) {
    const income = Math.round(20000 + 80000 * random.nextFloat());
    const visits = random.nextInt(30);
    const channel = pick(random, [0, 1, 2, 3, 4], [5, 3, 2, 1, 1]);
    const member = random.nextFloat() < 0.4;
    const score =
      income / 20000 +
      visits / 6 +
      (member ? 1.5 : 0) +
      (CHANNEL_EFFECT[channel] as number) +
      gaussian(random);
    const segment = score < 4 ? "bronze" : score < 6 ? "silver" : "gold";
    out.push([
      random.nextFloat() < 0.08 ? null : income,
      visits,
      random.nextFloat() < 0.05 ? null : (CHANNELS[channel] as string),
      member ? "true" : "false",
      segment,
    ]);
  }
  const file = path.join(dir, "segments.csv");
  writeFileSync(file, csv(["income", "visits", "channel", "member", "segment"], out));
  return file;
}

// The hand-built network: relu(x·W1 + b1)·W2 + b2, then softmax.
const W1 = [
  [0.02, -0.01, 0.03],
  [0.5, -0.4, 0.1],
  [-1.0, 0.8, 0.3],
  [0.25, 0.05, -0.2],
];
const B1 = [0.1, 0.2, -0.1];
const W2 = [
  [1.5, -0.5, 0.2],
  [-0.7, 1.1, 0.4],
  [0.3, 0.2, -1.2],
];
const B2 = [0.05, -0.1, 0.02];

/** The columns, task and classes the hand-built MLP takes. */
export const MLP_SCHEMA: OnnxImportSchema = {
  task: "multiclass",
  target: "tier",
  classes: ["low", "mid", "high"],
  columns: [
    { name: "age", type: "number" },
    { name: "plan", type: "category", levels: ["basic", "plus", "pro"] },
    { name: "active", type: "boolean", labels: ["no", "yes"] },
    { name: "score", type: "number" },
  ],
};

/** A float32 initializer with its values in float_data. */
export function floats(name: string, dims: number[], values: number[]): TensorProto {
  return { name, dims, dataType: DataType.FLOAT, floatData: values };
}

/** A tensor value info; string dims are symbolic. */
export function tensor(name: string, elemType: number, dims: (number | string)[]): ValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: {
          dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })),
        },
      },
    },
  };
}

/** A node, with an optional integer `axis` attribute. */
export function node(opType: string, input: string[], output: string[], axis?: number): NodeProto {
  return {
    opType,
    input,
    output,
    name: output[0] ?? opType,
    ...(axis !== undefined ? { attribute: [{ name: "axis", type: 2, i: axis }] } : {}),
  };
}

/**
 * A 4 → 3 → 3 MLP (MatMul, Add, Relu, MatMul, Add, Softmax) as an ONNX file, written field by
 * field, independent of the exporter: input x [N, width] (symbolic "F" unless given), output
 * probs [N, 3] (or logits with head "none").
 */
export function mlpFile(options: { inputWidth?: number | string; head?: "softmax" | "none" } = {}) {
  const width = options.inputWidth ?? "F";
  const nodes = [
    node("MatMul", ["x", "W1"], ["xw"]),
    node("Add", ["xw", "b1"], ["h_pre"]),
    node("Relu", ["h_pre"], ["h"]),
    node("MatMul", ["h", "W2"], ["hw"]),
    node("Add", ["hw", "b2"], ["logits"]),
  ];
  if (options.head !== "none") nodes.push(node("Softmax", ["logits"], ["probs"], 1));
  const model: ModelProto = {
    irVersion: 8,
    opsetImport: [{ domain: "", version: 17 }],
    producerName: "hand-written-test",
    graph: {
      name: "mlp",
      node: nodes,
      initializer: [
        floats("W1", [4, 3], W1.flat()),
        floats("b1", [3], B1),
        floats("W2", [3, 3], W2.flat()),
        floats("b2", [3], B2),
      ],
      input: [tensor("x", DataType.FLOAT, ["N", width])],
      output: [tensor(options.head === "none" ? "logits" : "probs", DataType.FLOAT, ["N", 3])],
    },
  };
  return encodeModel(model);
}

/** The MLP computed by hand on an encoded record, in float64. */
export function mlpByHand(x: readonly number[]): number[] {
  const h = B1.map((b, j) =>
    Math.max(0, b + x.reduce((s, xi, i) => s + xi * (W1[i]?.[j] ?? 0), 0)),
  );
  const z = B2.map((b, k) => b + h.reduce((s, hj, j) => s + hj * (W2[j]?.[k] ?? 0), 0));
  const max = Math.max(...z);
  const e = z.map((v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

/**
 * A model that looks up a category code in a 3-entry table (Cast to int64, Gather): it runs on
 * the codes of its 3 levels but fails inside onnxruntime on the unknown-category code 3, the
 * kind of input-dependent model failure serving must report as the caller's, not as a 500.
 */
export function lookupFile(): Uint8Array {
  return encodeModel({
    irVersion: 8,
    opsetImport: [{ domain: "", version: 17 }],
    producerName: "hand-written-test",
    graph: {
      name: "lookup",
      node: [
        { opType: "Squeeze", input: ["x", "axes"], output: ["code"], name: "squeeze" },
        {
          opType: "Cast",
          input: ["code"],
          output: ["index"],
          name: "cast",
          attribute: [{ name: "to", type: 2, i: DataType.INT64 }],
        },
        node("Gather", ["table", "index"], ["value"], 0),
        node("Unsqueeze", ["value", "axes"], ["y"]),
      ],
      initializer: [
        floats("table", [3], [10, 20, 30]),
        { name: "axes", dims: [1], dataType: DataType.INT64, int64Data: [1] },
      ],
      input: [tensor("x", DataType.FLOAT, ["N", 1])],
      output: [tensor("y", DataType.FLOAT, ["N", 1])],
    },
  });
}

/** The schema of {@link lookupFile}. */
export const LOOKUP_SCHEMA: OnnxImportSchema = {
  task: "regression",
  target: "price",
  columns: [{ name: "size", type: "category", levels: ["small", "medium", "large"] }],
};
