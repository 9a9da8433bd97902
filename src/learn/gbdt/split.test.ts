import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createRandom } from "../random.ts";
import type { FeatureMatrix } from "../types.ts";
import { binMatrix } from "./binning.ts";
import { buildHistogram } from "./histogram.ts";
import type { SplitParams } from "./split.ts";
import { findBestSplit } from "./split.ts";

/** Independent gain formula (not the implementation's) for brute force. */
function soft(g: number, alpha: number): number {
  return Math.sign(g) * Math.max(Math.abs(g) - alpha, 0);
}
function score(g: number, h: number, lambda: number, alpha: number): number {
  return soft(g, alpha) ** 2 / (h + lambda);
}

interface Side {
  g: number;
  h: number;
  c: number;
}

function gainOf(left: Side, total: Side, lambda: number, p: SplitParams): number {
  const right = { g: total.g - left.g, h: total.h - left.h, c: total.c - left.c };
  if (left.c < p.minDataInLeaf || right.c < p.minDataInLeaf) return Number.NEGATIVE_INFINITY;
  if (left.h < p.minChildWeight || right.h < p.minChildWeight) return Number.NEGATIVE_INFINITY;
  return (
    0.5 *
    (score(left.g, left.h, lambda, p.alpha) +
      score(right.g, right.h, lambda, p.alpha) -
      score(total.g, total.h, lambda, p.alpha))
  );
}

function histogramFor(X: FeatureMatrix, grad: Float64Array, hess: Float64Array) {
  const binned = binMatrix(X, 255, "native", createRandom(1));
  const n = X.rowCount;
  const rows = Uint32Array.from({ length: n }, (_, i) => i);
  const hist = new Float64Array(binned.totalBins * 3);
  const features = Int32Array.from({ length: X.features.length }, (_, i) => i);
  buildHistogram(hist, binned, features, rows, 0, n, grad, hess, new Float64Array(2 * n));
  return { binned, hist, features };
}

const rowArb = fc.record({
  value: fc.oneof(
    fc.constant(Number.NaN),
    fc.integer({ min: 0, max: 9 }).map((v) => v / 2),
  ),
  grad: fc.double({ min: -3, max: 3, noNaN: true }),
  hess: fc.double({ min: 0.01, max: 2, noNaN: true }),
});

describe("findBestSplit (numeric)", () => {
  it("finds the gain of a brute-force search over all thresholds and missing directions", () => {
    fc.assert(
      fc.property(
        fc.array(rowArb, { minLength: 2, maxLength: 40 }),
        fc.record({
          lambda: fc.double({ min: 0, max: 3, noNaN: true }),
          alpha: fc.double({ min: 0, max: 1, noNaN: true }),
          minDataInLeaf: fc.integer({ min: 1, max: 4 }),
          minChildWeight: fc.double({ min: 0, max: 1, noNaN: true }),
        }),
        (rows, q) => {
          const params: SplitParams = {
            ...q,
            minSplitGain: 0,
            catSmooth: 10,
            catL2: 10,
            minDataPerGroup: 1,
          };
          const n = rows.length;
          const X: FeatureMatrix = {
            rowCount: n,
            features: [{ name: "x", kind: "numeric" }],
            data: Float64Array.from(rows.map((r) => r.value)),
          };
          const grad = Float64Array.from(rows.map((r) => r.grad));
          const hess = Float64Array.from(rows.map((r) => r.hess));
          const total = { g: 0, h: 0, c: n };
          for (const r of rows) {
            total.g += r.grad;
            total.h += r.hess;
          }
          const { binned, hist, features } = histogramFor(X, grad, hess);
          const found = findBestSplit(
            hist,
            binned,
            features,
            total.g,
            total.h,
            n,
            params,
            new Float64Array(256),
            new Float64Array(256),
          );

          const values = [
            ...new Set(rows.map((r) => r.value).filter((v) => !Number.isNaN(v))),
          ].sort((a, b) => a - b);
          let bestGain = 0;
          for (const t of values) {
            for (const missingLeft of [false, true]) {
              const left = { g: 0, h: 0, c: 0 };
              for (const r of rows) {
                if (Number.isNaN(r.value) ? missingLeft : r.value <= t) {
                  left.g += r.grad;
                  left.h += r.hess;
                  left.c++;
                }
              }
              bestGain = Math.max(bestGain, gainOf(left, total, q.lambda, params));
            }
          }
          if (bestGain <= 1e-12) {
            expect(found.feature === -1 || found.gain <= 1e-9).toBe(true);
            return;
          }
          expect(found.feature).toBe(0);
          expect(found.gain).toBeCloseTo(bestGain, 9);
          // The split it describes really partitions the rows that way.
          const left = { g: 0, h: 0, c: 0 };
          const threshold = binned.features[0]?.upper[found.thresholdBin - 1] ?? Number.NaN;
          for (const r of rows) {
            if (Number.isNaN(r.value) ? found.defaultLeft : r.value <= threshold) {
              left.g += r.grad;
              left.h += r.hess;
              left.c++;
            }
          }
          expect(left.c).toBe(found.leftCount);
          expect(gainOf(left, total, q.lambda, params)).toBeCloseTo(found.gain, 9);
        },
      ),
      { numRuns: 300, seed: 7 },
    );
  });
});

describe("findBestSplit (categorical)", () => {
  it("with no smoothing the gradient-ratio order finds the best of all category subsets", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            code: fc.oneof(fc.constant(Number.NaN), fc.integer({ min: 0, max: 4 })),
            grad: fc.double({ min: -3, max: 3, noNaN: true }),
            hess: fc.double({ min: 0.01, max: 2, noNaN: true }),
          }),
          { minLength: 2, maxLength: 40 },
        ),
        (rows) => {
          const params: SplitParams = {
            lambda: 0,
            alpha: 0,
            minDataInLeaf: 1,
            minChildWeight: 0,
            minSplitGain: 0,
            catSmooth: 0,
            catL2: 0,
            minDataPerGroup: 1,
          };
          const n = rows.length;
          const X: FeatureMatrix = {
            rowCount: n,
            features: [{ name: "c", kind: "categorical", cardinality: 5 }],
            data: Float64Array.from(rows.map((r) => r.code)),
          };
          const grad = Float64Array.from(rows.map((r) => r.grad));
          const hess = Float64Array.from(rows.map((r) => r.hess));
          const total = { g: 0, h: 0, c: n };
          for (const r of rows) {
            total.g += r.grad;
            total.h += r.hess;
          }
          const { binned, hist, features } = histogramFor(X, grad, hess);
          const found = findBestSplit(
            hist,
            binned,
            features,
            total.g,
            total.h,
            n,
            params,
            new Float64Array(256),
            new Float64Array(256),
          );
          // Brute force over all subsets of {missing, 0..4} (6 groups -> 2^6 subsets).
          const groupOf = (v: number): number => (Number.isNaN(v) ? 5 : v);
          let bestGain = 0;
          for (let mask = 1; mask < 63; mask++) {
            const left = { g: 0, h: 0, c: 0 };
            for (const r of rows) {
              if ((mask >> groupOf(r.code)) & 1) {
                left.g += r.grad;
                left.h += r.hess;
                left.c++;
              }
            }
            if (left.c === 0 || left.c === n) continue;
            bestGain = Math.max(bestGain, gainOf(left, total, 0, params));
          }
          if (bestGain <= 1e-9) return;
          expect(found.feature).toBe(0);
          expect(found.categorical).toBe(true);
          expect(found.gain).toBeCloseTo(bestGain, 7);
        },
      ),
      { numRuns: 300, seed: 11 },
    );
  });
});
