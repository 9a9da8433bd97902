/**
 * Graph fragments the GBDT and linear exporters share: reading one column of the feature
 * tensor, turning a categorical column into a safe row index for a lookup table, and the
 * classifier outputs (probabilities plus a string label).
 */
import {
  attr,
  floatTensor,
  type GraphBuilder,
  int64Tensor,
  stringTensor,
} from "./graph-builder.ts";
import { DataType } from "./onnx-proto.ts";

/** Names of the exported graph's input and outputs. */
export const INPUT_NAME = "input";
export const LABEL_OUTPUT = "label";
export const PROBABILITIES_OUTPUT = "probabilities";
export const VALUE_OUTPUT = "variable";

/** Opset versions the exporter targets (ai.onnx 13 for single-axis Softmax; ai.onnx.ml 3). */
export const OPSET = 13;
export const ML_OPSET = 3;
export const ML_DOMAIN = "ai.onnx.ml";

/** A float scalar constant. */
export function scalar(g: GraphBuilder, name: string, value: number): string {
  return g.constant(floatTensor(name, [], [value]));
}

/** Column f of the [N, F] input as a [N] tensor. */
export function column(g: GraphBuilder, input: string, f: number): string {
  const index = g.constant(int64Tensor(`col${f}_index`, [], [f]));
  return g.op("Gather", [input, index], [attr.int("axis", 1)]);
}

/**
 * The lookup row of a categorical column, as int64 [N]: the code itself when it is a valid
 * code (an integer in [0, cardinality)), `cardinality` for any other value, and — when
 * `separateMissing` — `cardinality + 1` for NaN. This mirrors Ballast's own rule (forest.ts,
 * linear/encoding.ts): an invalid code is treated like the missing or unknown case.
 */
export function categoryIndex(
  g: GraphBuilder,
  x: string,
  cardinality: number,
  separateMissing: boolean,
): string {
  const zero = scalar(g, "zero", 0);
  const card = scalar(g, `card${cardinality}`, cardinality);
  const integral = g.op("Equal", [g.op("Floor", [x]), x]);
  const inRange = g.op("And", [g.op("GreaterOrEqual", [x, zero]), g.op("Less", [x, card])]);
  let index = g.op("Where", [g.op("And", [integral, inRange]), x, card]);
  if (separateMissing) {
    const missing = scalar(g, `card${cardinality}_missing`, cardinality + 1);
    index = g.op("Where", [g.op("IsNaN", [x]), missing, index]);
  }
  return g.op("Cast", [index], [attr.int("to", DataType.INT64)]);
}

/**
 * Classifier outputs from probabilities [N, K]: the probabilities themselves and the label,
 * the class name of the largest probability. Ties go to the last class for binary models
 * (Ballast predicts the positive class at p = 0.5) and to the first for multiclass.
 */
export function classifierOutputs(
  g: GraphBuilder,
  probabilities: string,
  classes: readonly string[],
): void {
  const binary = classes.length === 2;
  const best = g.op(
    "ArgMax",
    [probabilities],
    [attr.int("axis", 1), attr.int("keepdims", 0), attr.int("select_last_index", binary ? 1 : 0)],
  );
  const labels = g.constant(stringTensor("class_labels", [classes.length], classes));
  g.op("Gather", [labels, best], [attr.int("axis", 0)], LABEL_OUTPUT);
  g.op("Identity", [probabilities], [], PROBABILITIES_OUTPUT);
}
