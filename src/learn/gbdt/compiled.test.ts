import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { linkInPlace } from "../link.ts";
import { createRandom } from "../random.ts";
import { randomTree } from "../test-support/random-tree.ts";
import { matrixOf } from "../test-support/synthetic.ts";
import type { FeatureInfo, FeatureMatrix, Task } from "../types.ts";
import type { ForestScorer } from "./compiled.ts";
import { BLOCK, CompiledForest, compileForest, GROUP } from "./compiled.ts";
import type { Forest, NodeDraft } from "./forest.ts";
import { ForestBuilder, leafIndex } from "./forest.ts";
import { fitGbdt } from "./gbdt.ts";
import { GbdtModel } from "./model.ts";
import { WasmForest } from "./wasm-predict.ts";

/** Thresholds and values drawn from one small pool, so rows often sit exactly on a threshold. */
const POOL = [-2, -1, 0, 0.5, 1, 1.5, 3];
/** Thresholds are also, now and then, infinite or −0. */
const ODD_THRESHOLDS = [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0];
const ODD_VALUES = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, 1e300];

interface Shape {
  readonly seed: number;
  readonly trees: number;
  readonly outputs: number;
  readonly maxDepth: number;
  readonly numeric: number;
  readonly categorical: number;
}

function randomCase(shape: Shape): {
  forest: Forest;
  features: FeatureInfo[];
  base: Float64Array;
  X: FeatureMatrix;
} {
  const random = createRandom(shape.seed);
  const features: FeatureInfo[] = [];
  for (let f = 0; f < shape.numeric; f++) features.push({ name: `n${f}`, kind: "numeric" });
  for (let f = 0; f < shape.categorical; f++) {
    // Up to 70 codes, so bitsets span several 32-bit words; now and then several hundred, so
    // the coded classes pass 255.
    features.push({
      name: `c${f}`,
      kind: "categorical",
      cardinality: random.nextFloat() < 0.2 ? 256 + random.nextInt(300) : 1 + random.nextInt(70),
    });
  }
  const cardinality = Int32Array.from(features, (f) =>
    f.kind === "categorical" ? (f.cardinality ?? 1) : 0,
  );
  const builder = new ForestBuilder(cardinality);
  for (let t = 0; t < shape.trees; t++)
    builder.addTree(
      randomTree(random, features, {
        maxDepth: shape.maxDepth,
        threshold: (r) =>
          r.nextFloat() < 0.05
            ? (ODD_THRESHOLDS[r.nextInt(ODD_THRESHOLDS.length)] as number)
            : (POOL[r.nextInt(POOL.length)] as number),
        leafValue: (r) => (r.nextFloat() - 0.5) * 2 ** (r.nextInt(20) - 10),
        shuffleChildren: true,
      }),
    );
  const rows = 2 * BLOCK + 7;
  const columns = features.map((info) => {
    const values = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      const u = random.nextFloat();
      if (info.kind === "categorical") {
        const card = info.cardinality ?? 1;
        // Valid codes mostly; also missing, the first invalid code, and junk.
        values[r] =
          u < 0.7
            ? random.nextInt(card)
            : ([Number.NaN, card, card + 40, -1, 0.5, 2 ** 32 + 1][random.nextInt(6)] as number);
      } else {
        values[r] =
          u < 0.8
            ? (POOL[random.nextInt(POOL.length)] as number) + (random.nextFloat() < 0.5 ? 0 : 0.25)
            : (ODD_VALUES[random.nextInt(ODD_VALUES.length)] as number);
      }
    }
    return {
      name: info.name,
      values,
      kind: info.kind,
      cardinality: info.cardinality,
    };
  });
  const base = Float64Array.from({ length: shape.outputs }, () => random.nextFloat() - 0.5);
  return { forest: builder.freeze(), features, base, X: matrixOf(columns) };
}

/** The reference: walk the serialized arrays with leafIndex, adding trees in order. */
function referenceScores(forest: Forest, base: Float64Array, X: FeatureMatrix): Float64Array {
  const k = base.length;
  const n = X.rowCount;
  const out = new Float64Array(n * k);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < k; c++) out[r * k + c] = base[c] as number;
    for (let t = 0; t < forest.roots.length; t++) {
      const leaf = leafIndex(forest, forest.roots[t] as number, X.data, r, n);
      const at = r * k + (t % k);
      out[at] = (out[at] as number) + (forest.value[leaf] as number);
    }
  }
  return out;
}

function rowOf(X: FeatureMatrix, r: number): Float64Array {
  return Float64Array.from(X.features, (_, f) => X.data[f * X.rowCount + r] as number);
}

/** Object.is per entry: identical bits (NaN and -0 included), which toEqual would blur. */
function expectIdentical(actual: Float64Array, expected: Float64Array): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], expected[i]))
      throw new Error(`entry ${i}: ${actual[i]} !== reference ${expected[i]}`);
  }
}

const shapeArb = fc.record({
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  trees: fc.integer({ min: 0, max: 3 * GROUP + 3 }),
  outputs: fc.integer({ min: 1, max: 3 }),
  // Deep enough for trees of more than 64 leaves (up to 2^11).
  maxDepth: fc.integer({ min: 0, max: 11 }),
  numeric: fc.integer({ min: 1, max: 4 }),
  categorical: fc.integer({ min: 0, max: 3 }),
});

/** Batch, one row-major row at a time, and strided rows: all must equal the reference. */
function expectReferenceScores(
  scorer: ForestScorer,
  base: Float64Array,
  X: FeatureMatrix,
  expected: Float64Array,
): void {
  const k = base.length;
  const n = X.rowCount;
  // Batch over a column-major matrix.
  const batch = new Float64Array(n * k);
  scorer.scoreMatrix(X.data, n, base, batch);
  expectIdentical(batch, expected);
  // One row at a time: row-major, and strided straight out of the matrix.
  const single = new Float64Array(n * k);
  const strided = new Float64Array(n * k);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < k; c++) {
      single[r * k + c] = base[c] as number;
      strided[r * k + c] = base[c] as number;
    }
    scorer.addRow(rowOf(X, r), 0, single, r * k);
    scorer.addStrided(X.data, r, n, strided, r * k);
  }
  expectIdentical(single, expected);
  expectIdentical(strided, expected);
}

describe("CompiledForest", () => {
  it("gives raw scores identical to the reference traversal on random forests", () => {
    fc.assert(
      fc.property(shapeArb, (shape) => {
        const { forest, base, X } = randomCase(shape);
        const expected = referenceScores(forest, base, X);
        expectReferenceScores(new CompiledForest(forest, shape.outputs), base, X, expected);
      }),
      { numRuns: 60 },
    );
  });

  it("lays trees out depth-first with the left child next and leaves looping on themselves", () => {
    const { forest } = randomCase({
      seed: 3,
      trees: 5,
      outputs: 1,
      maxDepth: 6,
      numeric: 2,
      categorical: 1,
    });
    const compiled = new CompiledForest(forest, 1);
    const count = forest.feature.length;
    // One 16-byte record per node, plus the dummy leaf that pads the last group of trees.
    expect(compiled.words.length).toBe(4 * (count + 1));
    expect(compiled.words[4 * count + 1]).toBe(count);
    let leaves = 0;
    for (let i = 0; i < count; i++) {
      const right = compiled.words[4 * i + 1] as number;
      if (right === i) {
        leaves++;
        expect(Number.isNaN(compiled.values[2 * i + 1])).toBe(true);
      } else {
        expect(right).toBeGreaterThan(i + 1);
        expect(compiled.words[4 * i] as number).toBeGreaterThanOrEqual(0);
      }
    }
    let expectedLeaves = 0;
    for (const f of forest.feature) if (f < 0) expectedLeaves++;
    expect(leaves).toBe(expectedLeaves);
  });
});

describe("WasmForest", () => {
  it("gives raw scores identical to the reference traversal on random forests", () => {
    fc.assert(
      fc.property(
        shapeArb,
        fc.constantFrom("bits" as const, "compare" as const),
        fc.integer({ min: 1, max: 80 }),
        (shape, mode, block) => {
          const { forest, base, X } = randomCase(shape);
          const expected = referenceScores(forest, base, X);
          // Small blocks exercise the batch loop's block boundaries; "compare" only applies
          // to forests without categorical splits (others use "bits" whatever is asked).
          const scorer = WasmForest.create(forest, shape.outputs, { mode, block });
          if (!scorer) throw new Error("WebAssembly is available in Node 20");
          expect(scorer.mode).toBe(shape.categorical === 0 ? mode : scorer.mode);
          expectReferenceScores(scorer, base, X, expected);
          // The default block too.
          expectReferenceScores(compileForest(forest, shape.outputs), base, X, expected);
        },
      ),
      { numRuns: 80 },
    );
  });

  it("pads the last group of trees without changing a −0 sum", () => {
    const builder = new ForestBuilder(new Int32Array(1));
    const leaf: NodeDraft = {
      feature: -1,
      threshold: 0,
      leftCodes: null,
      defaultLeft: false,
      left: -1,
      right: -1,
      value: -0,
      gain: 0,
      cover: 1,
    };
    for (let t = 0; t < 3; t++) builder.addTree([leaf]);
    const scorer = WasmForest.create(builder.freeze(), 1);
    const out = Float64Array.of(-0);
    scorer?.addRow(Float64Array.of(1), 0, out);
    expect(Object.is(out[0], -0)).toBe(true);
  });

  it("walks with compares unless categorical splits need many chain slots", () => {
    const numeric = randomCase({
      seed: 5,
      trees: 9,
      outputs: 1,
      maxDepth: 5,
      numeric: 3,
      categorical: 0,
    });
    expect(WasmForest.create(numeric.forest, 1)?.mode).toBe("compare");
    expect(WasmForest.create(numeric.forest, 1, { mode: "bits" })?.mode).toBe("bits");
    // A few categorical splits: their left sets fit in a few chains.
    const few = randomCase({
      seed: 5,
      trees: 9,
      outputs: 1,
      maxDepth: 5,
      numeric: 3,
      categorical: 2,
    });
    expect(few.forest.flags.some((f) => (f & 2) !== 0)).toBe(true);
    expect(WasmForest.create(few.forest, 1)?.mode).toBe("compare");
    // 100 stumps on one categorical feature, each sending a different half of 40 codes left:
    // no two left sets are nested, so they need 100 chains.
    const random = createRandom(9);
    const builder = new ForestBuilder(Int32Array.of(40));
    const leaf = (value: number): NodeDraft => ({
      feature: -1,
      threshold: 0,
      leftCodes: null,
      defaultLeft: false,
      left: -1,
      right: -1,
      value,
      gain: 0,
      cover: 1,
    });
    const seen = new Set<string>();
    while (seen.size < 100) {
      const codes = Array.from({ length: 40 }, (_, c) => c)
        .sort(() => random.nextFloat() - 0.5)
        .slice(0, 20)
        .sort((x, y) => x - y);
      if (seen.has(codes.join())) continue;
      seen.add(codes.join());
      const split: NodeDraft = {
        ...leaf(0),
        feature: 0,
        leftCodes: Uint32Array.from(codes),
        left: 1,
        right: 2,
      };
      builder.addTree([split, leaf(random.nextFloat()), leaf(-random.nextFloat())]);
    }
    const many = builder.freeze();
    expect(WasmForest.create(many, 1)?.mode).toBe("bits");
    const rows = Float64Array.from({ length: 50 }, (_, r) =>
      r < 41 ? r : ([Number.NaN, -1, 0.5][r % 3] as number),
    );
    const X = matrixOf([{ name: "c", values: rows, kind: "categorical", cardinality: 40 }]);
    const base = Float64Array.of(0.25);
    const expected = referenceScores(many, base, X);
    for (const mode of ["bits", "compare"] as const) {
      const scorer = WasmForest.create(many, 1, { mode });
      expect(scorer?.mode).toBe(mode);
      if (scorer) expectReferenceScores(scorer, base, X, expected);
    }
  });

  it("leaves forests with a NaN threshold to the TypeScript kernel, which matches the reference", () => {
    const { forest, base, X } = randomCase({
      seed: 11,
      trees: 12,
      outputs: 2,
      maxDepth: 6,
      numeric: 3,
      categorical: 1,
    });
    const numericNode = forest.feature.findIndex(
      (f, i) => f >= 0 && ((forest.flags[i] as number) & 2) === 0,
    );
    expect(numericNode).toBeGreaterThanOrEqual(0);
    forest.threshold[numericNode] = Number.NaN;
    expect(WasmForest.create(forest, 2)).toBeNull();
    const scorer = compileForest(forest, 2);
    expect(scorer).toBeInstanceOf(CompiledForest);
    expectReferenceScores(scorer, base, X, referenceScores(forest, base, X));
  });
});

describe("GbdtModel prediction", () => {
  const tasks: Task[] = [
    { kind: "binary", classCount: 2 },
    { kind: "multiclass", classCount: 3 },
    { kind: "regression", classCount: 0 },
  ];

  it("predictBatch and predictRow equal the reference traversal plus the link (===)", () => {
    fc.assert(
      fc.property(shapeArb, fc.constantFrom(...tasks), (shape, task) => {
        const outputs = task.kind === "multiclass" ? task.classCount : 1;
        const { forest, features, base, X } = randomCase({ ...shape, outputs });
        const model = new GbdtModel(task, features, forest, base, {
          rounds: shape.trees,
          roundsRun: shape.trees,
          params: {},
        });
        const expected = referenceScores(forest, base, X);
        const out = new Float64Array(outputs);
        for (let r = 0; r < X.rowCount; r++) {
          const slice = expected.subarray(r * outputs, (r + 1) * outputs);
          linkInPlace(task, slice);
        }
        expectIdentical(model.predictBatch(X), expected);
        for (let r = 0; r < X.rowCount; r++) {
          model.predictRow(rowOf(X, r), out);
          expectIdentical(out, expected.slice(r * outputs, (r + 1) * outputs));
        }
      }),
      { numRuns: 30 },
    );
  });

  it("matches the reference on trained models with categorical splits and missing values", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1000 }), fc.constantFrom(...tasks), (seed, task) => {
        const random = createRandom(seed);
        const n = 300;
        const num = Float64Array.from({ length: n }, () =>
          random.nextFloat() < 0.15 ? Number.NaN : random.nextFloat(),
        );
        const cat = Float64Array.from({ length: n }, () =>
          random.nextFloat() < 0.1 ? Number.NaN : random.nextInt(40),
        );
        const X = matrixOf([
          { name: "num", values: num },
          { name: "cat", values: cat, kind: "categorical", cardinality: 41 },
        ]);
        const k = task.kind === "multiclass" ? task.classCount : 2;
        const y = Float64Array.from({ length: n }, (_, i) => {
          const c = cat[i] as number;
          const signal = (Number.isNaN(c) ? 1 : c % 3) + (Number.isNaN(num[i] as number) ? 1 : 0);
          return task.kind === "regression" ? signal + random.nextFloat() : signal % k;
        });
        const model = fitGbdt(
          X,
          y,
          task,
          { rounds: 12, maxLeaves: 8, minDataInLeaf: 3, minDataPerGroup: 2 },
          { seed },
        );
        const flags = model.forest.flags;
        expect(flags.some((f) => (f & 2) !== 0)).toBe(true);
        const expected = referenceScores(model.forest, model.baseScore, X);
        expectIdentical(model.rawBatch(X), expected);
      }),
      { numRuns: 12 },
    );
  });
});
