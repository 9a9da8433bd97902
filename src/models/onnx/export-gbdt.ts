/**
 * GBDT → ai.onnx.ml TreeEnsembleClassifier / TreeEnsembleRegressor (opset 3). See CONTEXT.md
 * for the mapping; the essentials:
 *
 * - Numeric split `x <= t` (left) → BRANCH_LEQ with threshold fround(t); the learned default
 *   direction → `nodes_missing_value_tracks_true` (true branch = left).
 * - Categorical split (bitset of codes that go left) → a lookup: before the ensemble, every
 *   distinct (feature, bitset, default direction) becomes a 0/1 column gathered from a small
 *   table indexed by the code (0 = left), and the node becomes BRANCH_LEQ 0.5 on that column.
 *   This is exact, keeps the trees node for node, and costs one Gather per categorical feature.
 * - Binary: two class ids, class 0 gets −v and class 1 gets +v for each leaf value v, with the
 *   base score folded into the first tree's leaves, and LOGISTIC; both the ONNX specification
 *   and onnxruntime then give [σ(−m), σ(m)] (onnxruntime's single-class binary mode ignores
 *   base_values and skips the logistic when all weights are positive, so it is avoided).
 * - Multiclass: tree t adds to class t % K, base_values = base scores, SOFTMAX.
 * - Regression: TreeEnsembleRegressor (SUM, base_values), then Exp for the Poisson log link.
 */

import { FLAG_CATEGORICAL, FLAG_DEFAULT_LEFT, type Forest } from "../../learn/gbdt/forest.ts";
import type { GbdtModel } from "../../learn/gbdt/model.ts";
import type { FeatureMatrix } from "../../learn/types.ts";
import {
  categoryIndex,
  column,
  LABEL_OUTPUT,
  ML_DOMAIN,
  PROBABILITIES_OUTPUT,
} from "./export-common.ts";
import { attr, floatTensor, type GraphBuilder } from "./graph-builder.ts";
import type { AttributeProto } from "./onnx-proto.ts";

/** A categorical split rewritten as a 0/1 lookup column. */
interface LookupColumn {
  readonly feature: number;
  /** Word offset of the node's bitset in catBits. */
  readonly bits: number;
  readonly defaultLeft: boolean;
}

/** The flattened TreeEnsemble node attributes. */
interface NodeTable {
  treeIds: number[];
  nodeIds: number[];
  featureIds: number[];
  modes: string[];
  values: number[];
  trueIds: number[];
  falseIds: number[];
  missingTrue: number[];
  /** Leaf weights: (tree, node, target/class, weight). */
  leafTree: number[];
  leafNode: number[];
  leafTarget: number[];
  leafWeight: number[];
}

/** Whether bit `code` of the bitset at word `start` is set. */
function bitSet(catBits: Uint32Array, start: number, code: number): boolean {
  return (((catBits[start + (code >>> 5)] as number) >>> (code & 31)) & 1) === 1;
}

/** Every tree's nodes in depth-first order from its root (independent of the array layout). */
function treeNodes(forest: Forest, root: number): number[] {
  const out: number[] = [];
  const stack = [root];
  while (stack.length > 0) {
    const i = stack.pop() as number;
    out.push(i);
    if ((forest.feature[i] as number) >= 0) {
      stack.push(forest.right[i] as number);
      stack.push(forest.left[i] as number);
    }
  }
  return out;
}

/**
 * Add the lookup columns for categorical splits; returns the tensor the ensemble reads (the
 * input itself when there are none) and the ensemble feature index of each categorical node.
 */
function categoricalLookups(
  g: GraphBuilder,
  forest: Forest,
  input: string,
  width: number,
): { features: string; featureOf: Map<number, number> } {
  const keyToColumn = new Map<string, number>();
  const perFeature = new Map<number, LookupColumn[]>();
  const nodeKey = new Map<number, string>();
  for (let i = 0; i < forest.feature.length; i++) {
    const f = forest.feature[i] as number;
    const flags = forest.flags[i] as number;
    if (f < 0 || (flags & FLAG_CATEGORICAL) === 0) continue;
    const start = forest.threshold[i] as number;
    const words = ((forest.cardinality[f] as number) + 31) >>> 5;
    const defaultLeft = (flags & FLAG_DEFAULT_LEFT) !== 0;
    const key = `${f}:${defaultLeft ? 1 : 0}:${Array.from(forest.catBits.subarray(start, start + words)).join(",")}`;
    nodeKey.set(i, key);
    if (keyToColumn.has(key)) continue;
    const list = perFeature.get(f) ?? [];
    perFeature.set(f, list);
    keyToColumn.set(key, list.length);
    list.push({ feature: f, bits: start, defaultLeft });
  }
  const featureOf = new Map<number, number>();
  if (perFeature.size === 0) return { features: input, featureOf };

  const parts = [input];
  const offsetOf = new Map<number, number>();
  let offset = width;
  for (const f of [...perFeature.keys()].sort((a, b) => a - b)) {
    const list = perFeature.get(f) as LookupColumn[];
    const card = forest.cardinality[f] as number;
    // Rows 0..card-1: the codes; row card: missing or invalid (the default direction).
    const table = new Float32Array((card + 1) * list.length);
    for (let j = 0; j < list.length; j++) {
      const col = list[j] as LookupColumn;
      for (let code = 0; code < card; code++)
        table[code * list.length + j] = bitSet(forest.catBits, col.bits, code) ? 0 : 1;
      table[card * list.length + j] = col.defaultLeft ? 0 : 1;
    }
    const tableName = g.constant(floatTensor(`f${f}_goes_right`, [card + 1, list.length], table));
    const index = categoryIndex(g, column(g, input, f), card, false);
    parts.push(g.op("Gather", [tableName, index], [attr.int("axis", 0)]));
    offsetOf.set(f, offset);
    offset += list.length;
  }
  for (const [node, key] of nodeKey) {
    const f = forest.feature[node] as number;
    featureOf.set(node, (offsetOf.get(f) as number) + (keyToColumn.get(key) as number));
  }
  return { features: g.op("Concat", parts, [attr.int("axis", 1)]), featureOf };
}

/** Flatten the forest into TreeEnsemble attributes, with `leafWeights` deciding leaf entries. */
function nodeTable(
  forest: Forest,
  featureOf: ReadonlyMap<number, number>,
  leafEntries: (tree: number, value: number) => readonly (readonly [number, number])[],
): NodeTable {
  const table: NodeTable = {
    treeIds: [],
    nodeIds: [],
    featureIds: [],
    modes: [],
    values: [],
    trueIds: [],
    falseIds: [],
    missingTrue: [],
    leafTree: [],
    leafNode: [],
    leafTarget: [],
    leafWeight: [],
  };
  const pushLeaf = (t: number, id: number, value: number) => {
    table.treeIds.push(t);
    table.nodeIds.push(id);
    table.featureIds.push(0);
    table.modes.push("LEAF");
    table.values.push(0);
    table.trueIds.push(0);
    table.falseIds.push(0);
    table.missingTrue.push(0);
    for (const [target, weight] of leafEntries(t, value)) {
      table.leafTree.push(t);
      table.leafNode.push(id);
      table.leafTarget.push(target);
      table.leafWeight.push(weight);
    }
  };
  const thresholds = new Map<number, number>();
  const roots = forest.roots;
  if (roots.length === 0) {
    // A model without trees still needs one tree for the operator; it outputs zero.
    pushLeaf(0, 0, 0);
    return table;
  }
  for (let t = 0; t < roots.length; t++) {
    const order = treeNodes(forest, roots[t] as number);
    const local = new Map(order.map((node, id) => [node, id]));
    for (const i of order) {
      const id = local.get(i) as number;
      const f = forest.feature[i] as number;
      if (f < 0) {
        pushLeaf(t, id, forest.value[i] as number);
        continue;
      }
      const flags = forest.flags[i] as number;
      const categorical = (flags & FLAG_CATEGORICAL) !== 0;
      table.treeIds.push(t);
      table.nodeIds.push(id);
      table.modes.push("BRANCH_LEQ");
      table.trueIds.push(local.get(forest.left[i] as number) as number);
      table.falseIds.push(local.get(forest.right[i] as number) as number);
      if (categorical) {
        // The lookup column is 0 for "left", 1 for "right", never NaN.
        table.featureIds.push(featureOf.get(i) as number);
        table.values.push(0.5);
        table.missingTrue.push(0);
      } else {
        table.featureIds.push(f);
        const t = forest.threshold[i] as number;
        let t32 = thresholds.get(t);
        if (t32 === undefined) {
          t32 = float32Threshold(t);
          thresholds.set(t, t32);
        }
        table.values.push(t32);
        table.missingTrue.push((flags & FLAG_DEFAULT_LEFT) !== 0 ? 1 : 0);
      }
    }
  }
  return table;
}

/**
 * The float32 threshold that onnxruntime compares float32 inputs with. Any input x with
 * fround(x) < fround(t) has x < t, and fround(x) > fround(t) has x > t, so whatever float32
 * threshold in {fround(t), the float32 just below it} is chosen, ONNX and Ballast can only
 * disagree on inputs that round to the same float32 as t — an interval one float32 ulp wide
 * around the threshold. Thresholds are midpoints between neighbouring training values, so
 * every training value keeps its side unless two neighbours are less than about a float32 ulp
 * apart. The choice between the two candidates decides the side of the values in that
 * interval: when a short decimal lies much closer than a float32 ulp to t (29.3 for the midpoint
 * 29.299999999999997 of 29.2 and 29.4 — a value real data holds), it goes to the side Ballast
 * gives it; otherwise fround(t) is used.
 */
export function float32Threshold(t: number): number {
  const c = Math.fround(t);
  if (c === t || !Number.isFinite(t)) return c;
  const d = nearbyShortDecimal(t);
  // Ballast sends d right (d > t); if d rounds onto c, c would send it left.
  if (d !== undefined && d > t && Math.fround(d) === c) return nextDown32(c);
  return c;
}

/**
 * The shortest decimal of at most 9 significant digits (what float32 can tell apart) within |t|·2^-30 of t — far below a
 * float32 ulp (|t|·2^-23), yet wide enough for the rounding error of a midpoint computed from
 * two decimals, even with cancellation — if any other than t itself.
 */
function nearbyShortDecimal(t: number): number | undefined {
  const window = Math.abs(t) * 2 ** -30;
  for (let digits = 1; digits <= 9; digits++) {
    const d = Number(t.toPrecision(digits));
    if (Math.abs(d - t) <= window) return d === t ? undefined : d;
  }
  return undefined;
}

const f32 = new Float32Array(1);
const i32 = new Int32Array(f32.buffer);

/** The largest float32 below the float32 value v. */
function nextDown32(v: number): number {
  if (v === 0) return -(2 ** -149);
  f32[0] = v;
  i32[0] = (i32[0] as number) + (v > 0 ? -1 : 1);
  return f32[0] as number;
}

/**
 * Training values whose split decision would change in float32 (a diagnostic for the export
 * and the tests): for each numeric split node, any non-missing value of its feature in X that
 * goes left in float64 but right in float32, or the reverse.
 */
export function float32SplitMismatches(
  forest: Forest,
  X: FeatureMatrix,
): { node: number; feature: number; value: number }[] {
  const out: { node: number; feature: number; value: number }[] = [];
  const n = X.rowCount;
  for (let i = 0; i < forest.feature.length; i++) {
    const f = forest.feature[i] as number;
    if (f < 0 || ((forest.flags[i] as number) & FLAG_CATEGORICAL) !== 0) continue;
    const t = forest.threshold[i] as number;
    const t32 = float32Threshold(t);
    for (let r = 0; r < n; r++) {
      const x = X.data[f * n + r] as number;
      if (Number.isNaN(x)) continue;
      if (x <= t !== Math.fround(x) <= t32) out.push({ node: i, feature: f, value: x });
    }
  }
  return out;
}

function nodeAttributes(table: NodeTable): AttributeProto[] {
  return [
    attr.ints("nodes_treeids", table.treeIds),
    attr.ints("nodes_nodeids", table.nodeIds),
    attr.ints("nodes_featureids", table.featureIds),
    attr.strings("nodes_modes", table.modes),
    attr.floats("nodes_values", table.values),
    attr.ints("nodes_truenodeids", table.trueIds),
    attr.ints("nodes_falsenodeids", table.falseIds),
    attr.ints("nodes_missing_value_tracks_true", table.missingTrue),
  ];
}

/**
 * Add the ensemble for `model` reading the [N, F] float tensor `input`. Classifiers write the
 * `label` and `probabilities` outputs directly; regressors return the [N, 1] prediction value.
 */
export function addGbdt(
  g: GraphBuilder,
  model: GbdtModel,
  input: string,
  classes: readonly string[],
): string | undefined {
  const forest = model.forest;
  const { features, featureOf } = categoricalLookups(g, forest, input, model.features.length);
  const k = model.outputSize;
  const base = model.baseScore;

  if (model.link === "logistic") {
    const b = base[0] as number;
    const table = nodeTable(forest, featureOf, (t, v) => {
      const m = t === 0 ? v + b : v;
      return [
        [0, -m],
        [1, m],
      ];
    });
    g.node("TreeEnsembleClassifier", [features], {
      outputs: [LABEL_OUTPUT, PROBABILITIES_OUTPUT],
      domain: ML_DOMAIN,
      attributes: [
        ...nodeAttributes(table),
        attr.ints("class_treeids", table.leafTree),
        attr.ints("class_nodeids", table.leafNode),
        attr.ints("class_ids", table.leafTarget),
        attr.floats("class_weights", table.leafWeight),
        attr.strings("classlabels_strings", classes),
        attr.string("post_transform", "LOGISTIC"),
      ],
    });
    return undefined;
  }
  if (model.link === "softmax") {
    const table = nodeTable(forest, featureOf, (t, v) =>
      forest.roots.length === 0
        ? Array.from({ length: k }, (_, c) => [c, 0] as const)
        : [[t % k, v]],
    );
    g.node("TreeEnsembleClassifier", [features], {
      outputs: [LABEL_OUTPUT, PROBABILITIES_OUTPUT],
      domain: ML_DOMAIN,
      attributes: [
        ...nodeAttributes(table),
        attr.ints("class_treeids", table.leafTree),
        attr.ints("class_nodeids", table.leafNode),
        attr.ints("class_ids", table.leafTarget),
        attr.floats("class_weights", table.leafWeight),
        attr.floats("base_values", base),
        attr.strings("classlabels_strings", classes),
        attr.string("post_transform", "SOFTMAX"),
      ],
    });
    return undefined;
  }
  const table = nodeTable(forest, featureOf, (_t, v) => [[0, v]]);
  const [raw] = g.node("TreeEnsembleRegressor", [features], {
    domain: ML_DOMAIN,
    attributes: [
      ...nodeAttributes(table),
      attr.ints("target_treeids", table.leafTree),
      attr.ints("target_nodeids", table.leafNode),
      attr.ints("target_ids", table.leafTarget),
      attr.floats("target_weights", table.leafWeight),
      attr.floats("base_values", base),
      attr.int("n_targets", 1),
      attr.string("aggregate_function", "SUM"),
      attr.string("post_transform", "NONE"),
    ],
  });
  return model.link === "exp" ? g.op("Exp", [raw as string]) : raw;
}
