/**
 * Linear model → standard ONNX operators, with Ballast's encoding folded into the weights:
 *
 * - Numeric features: missing (NaN or ±Infinity) is replaced by the training mean, the value
 *   is clamped to the training range (Min/Max), and one MatMul applies weights w·scale (the
 *   standardization folded in; −Σ mean·scale·w moves to the intercept). A feature that had
 *   missing values in training also has an indicator column whose weight joins the same MatMul.
 * - Categorical features: the one-hot weights become a [cardinality + 2, K] table gathered by
 *   code (row cardinality: invalid code → the unknown bucket; row cardinality + 1: missing →
 *   the missing column, or the unknown bucket when training had no missing values).
 * - Regression folds the target standardization (yMean + yScale·s) into weights and intercept.
 * - Binary: Sigmoid, probabilities [1 − p, p]; multiclass: Softmax over axis 1.
 */
import { KIND_CATEGORICAL } from "../../learn/linear/encoding.ts";
import type { LinearModel } from "../../learn/linear/linear.ts";
import { categoryIndex, classifierOutputs, column, scalar } from "./export-common.ts";
import { attr, floatTensor, type GraphBuilder, int64Tensor } from "./graph-builder.ts";
import { DataType } from "./onnx-proto.ts";

/**
 * Add the linear model reading the [N, F] float tensor `input`. Classifiers write the `label`
 * and `probabilities` outputs; regressors return the [N, 1] prediction value.
 */
export function addLinear(
  g: GraphBuilder,
  model: LinearModel,
  input: string,
  classes: readonly string[],
): string | undefined {
  const enc = model.encoding;
  const k = model.outputSize;
  const d = enc.width;
  const w = model.weights;
  const regression = model.task.kind === "regression";
  const factor = regression ? model.yScale : 1;
  const width = enc.kinds.length;

  // Intercept in float64, with every folded constant added before one rounding to float32.
  const intercept = new Float64Array(k);
  for (let c = 0; c < k; c++) intercept[c] = (w[d * k + c] as number) * factor;
  if (regression) intercept[0] = (intercept[0] as number) + model.yMean;

  const terms: string[] = [];
  const numeric: number[] = [];
  for (let f = 0; f < width; f++) if (enc.kinds[f] !== KIND_CATEGORICAL) numeric.push(f);

  if (numeric.length > 0) {
    const fn = numeric.length;
    const withIndicator = numeric.some((f) => (enc.missingColumn[f] as number) >= 0);
    const weights = new Float64Array((withIndicator ? 2 * fn : fn) * k);
    const mean = new Float32Array(fn);
    const low = new Float32Array(fn);
    const high = new Float32Array(fn);
    for (let j = 0; j < fn; j++) {
      const f = numeric[j] as number;
      const s = enc.scale[f] as number;
      const m = enc.mean[f] as number;
      mean[j] = m;
      low[j] = enc.low[f] as number;
      high[j] = enc.high[f] as number;
      const col = enc.column[f] as number;
      const mc = enc.missingColumn[f] as number;
      for (let c = 0; c < k; c++) {
        const wz = (w[col * k + c] as number) * s * factor;
        weights[j * k + c] = wz;
        intercept[c] = (intercept[c] as number) - wz * m;
        if (mc >= 0) weights[(fn + j) * k + c] = (w[mc * k + c] as number) * factor;
      }
    }
    const indices = g.constant(int64Tensor("numeric_features", [fn], numeric));
    const x = g.op("Gather", [input, indices], [attr.int("axis", 1)]);
    const missing = g.op("Or", [g.op("IsNaN", [x]), g.op("IsInf", [x])]);
    const meanName = g.constant(floatTensor("numeric_mean", [fn], mean));
    const filled = g.op("Where", [missing, meanName, x]);
    const clamped = g.op("Max", [
      g.op("Min", [filled, g.constant(floatTensor("numeric_high", [fn], high))]),
      g.constant(floatTensor("numeric_low", [fn], low)),
    ]);
    const design = withIndicator
      ? g.op(
          "Concat",
          [clamped, g.op("Cast", [missing], [attr.int("to", DataType.FLOAT)])],
          [attr.int("axis", 1)],
        )
      : clamped;
    const rows = withIndicator ? 2 * fn : fn;
    const weightName = g.constant(floatTensor("numeric_weights", [rows, k], weights));
    terms.push(g.op("MatMul", [design, weightName]));
  }

  for (let f = 0; f < width; f++) {
    if (enc.kinds[f] !== KIND_CATEGORICAL) continue;
    const card = enc.cardinality[f] as number;
    const start = enc.column[f] as number;
    const mc = enc.missingColumn[f] as number;
    const unknown = start + card - 1;
    const table = new Float32Array((card + 2) * k);
    for (let c = 0; c < k; c++) {
      for (let code = 0; code < card; code++)
        table[code * k + c] = (w[(start + code) * k + c] as number) * factor;
      table[card * k + c] = (w[unknown * k + c] as number) * factor;
      table[(card + 1) * k + c] = (w[(mc >= 0 ? mc : unknown) * k + c] as number) * factor;
    }
    const tableName = g.constant(floatTensor(`f${f}_weights`, [card + 2, k], table));
    const index = categoryIndex(g, column(g, input, f), card, true);
    terms.push(g.op("Gather", [tableName, index], [attr.int("axis", 0)]));
  }

  if (terms.length === 0) throw new Error("a linear model without features cannot be exported");
  let raw = g.constant(floatTensor("intercept", [k], intercept));
  for (const term of terms) raw = g.op("Add", [term, raw]);

  if (model.task.kind === "regression") return raw;
  if (model.task.kind === "binary") {
    const p = g.op("Sigmoid", [raw]);
    const q = g.op("Sub", [scalar(g, "one", 1), p]);
    classifierOutputs(g, g.op("Concat", [q, p], [attr.int("axis", 1)]), classes);
  } else {
    classifierOutputs(g, g.op("Softmax", [raw], [attr.int("axis", 1)]), classes);
  }
  return undefined;
}
