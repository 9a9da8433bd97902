/**
 * Small generated data sets for the learners' unit tests: deterministic (seeded) so a failing
 * test fails the same way every time.
 */
import { createRandom } from "../random.ts";
import type { FeatureInfo, FeatureMatrix, Labels, Task } from "../types.ts";

export interface Column {
  readonly name: string;
  readonly values: ArrayLike<number>;
  readonly kind?: "numeric" | "categorical";
  readonly cardinality?: number;
}

/** Build a column-major matrix from columns of equal length. */
export function matrixOf(columns: readonly Column[]): FeatureMatrix {
  const n = columns[0]?.values.length ?? 0;
  const data = new Float64Array(columns.length * n);
  const features: FeatureInfo[] = columns.map((c, f) => {
    if (c.values.length !== n) throw new Error("columns differ in length");
    for (let r = 0; r < n; r++) data[f * n + r] = c.values[r] as number;
    return c.kind === "categorical"
      ? { name: c.name, kind: "categorical", cardinality: c.cardinality ?? 1 }
      : { name: c.name, kind: "numeric" };
  });
  return { rowCount: n, features, data };
}

export interface Dataset {
  readonly X: FeatureMatrix;
  readonly y: Labels;
  readonly task: Task;
}

export const BINARY: Task = { kind: "binary", classCount: 2 };
export const REGRESSION: Task = { kind: "regression", classCount: 0 };

/** y = (x0 > 0.5) xor (x1 > 0.5), plus a pure-noise feature x2. */
export function xorData(n: number, seed: number): Dataset {
  const random = createRandom(seed);
  const x0 = new Float64Array(n);
  const x1 = new Float64Array(n);
  const x2 = new Float64Array(n);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    x0[i] = random.nextFloat();
    x1[i] = random.nextFloat();
    x2[i] = random.nextFloat();
    y[i] = (x0[i] as number) > 0.5 !== (x1[i] as number) > 0.5 ? 1 : 0;
  }
  return {
    X: matrixOf([
      { name: "x0", values: x0 },
      { name: "x1", values: x1 },
      { name: "noise", values: x2 },
    ]),
    y,
    task: BINARY,
  };
}

/** K Gaussian blobs in 2D (unit variance, centers on a circle of radius 4). */
export function blobs(n: number, k: number, seed: number): Dataset {
  const random = createRandom(seed);
  const gauss = (): number => {
    const u = Math.max(random.nextFloat(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random.nextFloat());
  };
  const a = new Float64Array(n);
  const b = new Float64Array(n);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % k;
    y[i] = c;
    a[i] = 4 * Math.cos((2 * Math.PI * c) / k) + gauss();
    b[i] = 4 * Math.sin((2 * Math.PI * c) / k) + gauss();
  }
  return {
    X: matrixOf([
      { name: "a", values: a },
      { name: "b", values: b },
    ]),
    y,
    task: { kind: "multiclass", classCount: k },
  };
}

/** Uniform floats in [lo, hi). */
export function uniform(n: number, seed: number, lo = 0, hi = 1): Float64Array {
  const random = createRandom(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * random.nextFloat();
  return out;
}
