import { describe, expect, it } from "vitest";
import { createRandom } from "../random.ts";
import { matrixOf } from "../test-support/synthetic.ts";
import { SharedArena } from "./arena.ts";
import { binMatrix } from "./binning.ts";
import { TreeGrower } from "./grow.ts";
import type { HistogramLayout } from "./histogram.ts";
import {
  accumulateHistogram,
  gatherGradients,
  HistogramKernel,
  histogramLayout,
  partitionRows,
  SerialHistogramBuilder,
  subtractHistogram,
} from "./histogram.ts";
import { GBDT_DEFAULTS } from "./params.ts";
import { wasmApi } from "./wasm-api.ts";
import { histogramModule, histogramModuleBytes } from "./wasm-histogram.ts";

/** A random layout: `width` features of up to 256 bins over n rows, in a fresh arena. */
function randomLayout(n: number, width: number, seed: number): HistogramLayout {
  const random = createRandom(seed);
  const binCounts = Int32Array.from({ length: width }, () => 2 + random.nextInt(255));
  const offsets = new Int32Array(width);
  let total = 0;
  for (let f = 0; f < width; f++) {
    offsets[f] = total;
    total += binCounts[f] as number;
  }
  const arena = new SharedArena(1 << 16);
  const bins = arena.u8(n * width);
  for (let f = 0; f < width; f++) {
    for (let r = 0; r < n; r++) bins[f * n + r] = random.nextInt(binCounts[f] as number);
  }
  const rows = arena.u32(n);
  for (let r = 0; r < n; r++) rows[r] = r;
  random.shuffle(rows);
  return {
    memory: arena.memory,
    arena,
    bins,
    rowCount: n,
    offsets,
    binCounts,
    totalBins: total,
    rows,
    gh: arena.f64(2 * n),
    grad: arena.f64(n),
    hess: arena.f64(n),
    scratch: arena.u32(n),
    direction: arena.u8(256),
  };
}

function sameBits(a: Float64Array, b: Float64Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
    Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  );
}

describe("WebAssembly histogram kernel", () => {
  it("is a valid module that this runtime compiles (else training silently runs slower)", () => {
    expect(wasmApi?.validate(histogramModuleBytes())).toBe(true);
    expect(histogramModule()).not.toBeNull();
  });

  it("accumulates the same bits as the TypeScript kernel, for every group width", () => {
    const n = 3000;
    const width = 23; // 8 + 8 + 4 + 1 + 1 + 1: every kernel width, plus ranges not at 0
    const layout = randomLayout(n, width, 1);
    const kernel = new HistogramKernel(layout);
    expect(kernel.native).toBe(true);
    const random = createRandom(2);
    const grad = Float64Array.from({ length: n }, () => random.nextFloat() * 2 - 1);
    const hess = Float64Array.from({ length: n }, () => random.nextFloat() + 1e-3);
    const features = Int32Array.from({ length: width }, (_, f) => f);
    const arena = layout.arena;
    for (const [start, count, from, to] of [
      [0, n, 0, width],
      [17, 1201, 3, 20],
      [2999, 1, 0, width],
      [40, 0, 0, width],
      [5, 900, 22, 23],
    ] as const) {
      kernel.stage(grad, hess);
      kernel.gather(start, count);
      const wasm = arena.f64(layout.totalBins * 3);
      wasm.fill(Number.NaN);
      kernel.accumulate(wasm, features, from, to, start, count);
      const gh = new Float64Array(2 * n);
      gatherGradients(gh, grad, hess, layout.rows, start, count);
      expect(sameBits(gh.subarray(0, 2 * count), layout.gh.subarray(0, 2 * count))).toBe(true);
      const js = new Float64Array(layout.totalBins * 3).fill(Number.NaN);
      accumulateHistogram(
        js,
        layout.bins,
        n,
        layout.offsets,
        layout.binCounts,
        features,
        from,
        to,
        layout.rows,
        start,
        count,
        gh,
      );
      // Compare the features' own bins (the kernel may zero unsampled ones in between).
      for (let j = from; j < to; j++) {
        const lo = (layout.offsets[j] as number) * 3;
        const hi = lo + (layout.binCounts[j] as number) * 3;
        expect(sameBits(wasm.subarray(lo, hi), js.subarray(lo, hi))).toBe(true);
      }
      let rowsSeen = 0;
      for (let b = 0; b < (layout.binCounts[from] as number); b++) {
        rowsSeen += js[((layout.offsets[from] as number) + b) * 3 + 2] as number;
      }
      expect(rowsSeen).toBe(count);
    }
  });

  it("subtracts a child's histogram from its parent's like the TypeScript loop", () => {
    const layout = randomLayout(10, 7, 3);
    const arena = layout.arena;
    const random = createRandom(4);
    const length = layout.totalBins * 3;
    const parent = arena.f64(length);
    const child = arena.f64(length);
    for (let i = 0; i < length; i++) {
      parent[i] = random.nextFloat() * 100;
      child[i] = random.nextFloat();
    }
    const expected = Float64Array.from(parent);
    // Features 1..5 (an odd number of float64s in some spans exercises the scalar tail).
    const features = Int32Array.from([0, 1, 2, 3, 4, 5, 6]);
    subtractHistogram(expected, child, layout.offsets, layout.binCounts, features, 1, 6);
    new HistogramKernel(layout).subtract(parent, child, features, 1, 6);
    expect(sameBits(parent, expected)).toBe(true);
    new HistogramKernel(layout).subtract(parent, child, features, 3, 4);
    subtractHistogram(expected, child, layout.offsets, layout.binCounts, features, 3, 4);
    expect(sameBits(parent, expected)).toBe(true);
  });

  it("partitions rows stably, exactly as the TypeScript partition does", () => {
    const n = 2000;
    const layout = randomLayout(n, 3, 5);
    const kernel = new HistogramKernel(layout);
    const random = createRandom(6);
    for (let b = 0; b < 256; b++) layout.direction[b] = random.nextInt(2);
    for (const [start, count, feature] of [
      [0, n, 0],
      [300, 777, 2],
      [1999, 1, 1],
      [10, 0, 1],
    ] as const) {
      const copy = Uint32Array.from(layout.rows);
      const expectedLeft = partitionRows(
        copy,
        new Uint32Array(n),
        layout.bins,
        feature * n,
        layout.direction,
        start,
        count,
      );
      const before = Array.from(layout.rows.subarray(start, start + count));
      const left = kernel.partition(start, count, feature);
      expect(left).toBe(expectedLeft);
      expect(Array.from(layout.rows)).toEqual(Array.from(copy));
      // Stable: each side keeps the original order.
      const goesLeft = (r: number) =>
        layout.direction[layout.bins[feature * n + r] as number] === 1;
      expect(Array.from(layout.rows.subarray(start, start + left))).toEqual(
        before.filter(goesLeft),
      );
      expect(Array.from(layout.rows.subarray(start + left, start + count))).toEqual(
        before.filter((r) => !goesLeft(r)),
      );
    }
  });
});

describe("SharedArena", () => {
  it("aligns allocations and keeps earlier arrays valid when it grows", () => {
    const arena = new SharedArena(100);
    const a = arena.f64(10);
    a[3] = 42;
    const b = arena.u8(3);
    expect(b.byteOffset % 64).toBe(0);
    const big = arena.f64(1 << 20); // forces several pages of growth
    big[big.length - 1] = 7;
    expect(a[3]).toBe(42);
    expect(arena.owns(a) && arena.owns(big)).toBe(true);
    expect(arena.memory.buffer.byteLength).toBeGreaterThanOrEqual(arena.size);
  });
});

describe("tree growth with the WebAssembly kernels", () => {
  it("grows exactly the trees the TypeScript kernels grow (all rows, sampled rows, categories)", () => {
    const n = 3000;
    const random = createRandom(9);
    const columns = [];
    for (let f = 0; f < 11; f++) {
      const values = Float64Array.from({ length: n }, () =>
        random.nextFloat() < 0.05 ? Number.NaN : Math.round(random.nextFloat() * 300) / 7,
      );
      columns.push({ name: `x${f}`, values });
    }
    columns.push({
      name: "c",
      kind: "categorical" as const,
      cardinality: 40,
      values: Float64Array.from({ length: n }, () => random.nextInt(40)),
    });
    const X = matrixOf(columns);
    const grad = Float64Array.from({ length: n }, (_, r) => {
      const x = X.data[r] as number;
      return (Number.isNaN(x) ? 0.7 : Math.sin(x)) + (X.data[11 * n + r] as number) / 40 - 0.5;
    });
    const hess = Float64Array.from({ length: n }, () => 0.1 + random.nextFloat());
    const binned = binMatrix(X, 255, "native", createRandom(1), new SharedArena(1 << 16));
    const params = { ...GBDT_DEFAULTS, maxLeaves: 20, minDataInLeaf: 3 };
    const features = Int32Array.from({ length: 12 }, (_, f) => f);
    const all = Uint32Array.from({ length: n }, (_, i) => i);
    const some = all.filter((r) => r % 3 !== 1);
    const grown = (native: boolean) => {
      const grower = new TreeGrower(
        binned,
        params,
        new SerialHistogramBuilder(histogramLayout(binned), native),
      );
      // Twice on all rows (the second root starts from the cached row counts), then a sample.
      return [all, all, some].map((bag) =>
        JSON.stringify(grower.grow(grad, hess, bag, bag.length, features, 0.1).nodes, (_, v) =>
          v instanceof Uint32Array ? Array.from(v) : Object.is(v, -0) ? "-0" : v,
        ),
      );
    };
    const wasm = grown(true);
    expect(wasm[0]).toBe(wasm[1]);
    expect(wasm).toEqual(grown(false));
    expect(JSON.parse(wasm[0] as string).length).toBeGreaterThan(30);
  });
});
