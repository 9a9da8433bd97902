import { describe, expect, it } from "vitest";
import type { ColumnProfile, Frame } from "./frame.ts";
import { HISTOGRAM_BINS, profileFrame } from "./profile.ts";

const NaN_ = Number.NaN;

function byName(profiles: readonly ColumnProfile[], name: string): ColumnProfile {
  const p = profiles.find((c) => c.name === name);
  if (!p) throw new Error(`no profile for ${name}`);
  return p;
}

describe("profileFrame on a small known table", () => {
  const frame: Frame = {
    rowCount: 5,
    columns: [
      { name: "x", type: "number", values: Float64Array.from([1, 2, 3, 4, NaN_]) },
      { name: "c", type: "category", codes: Int32Array.from([0, 1, 0, -1, 0]), levels: ["a", "b"] },
      {
        name: "churn",
        type: "boolean",
        values: Float64Array.from([1, 0, 0, NaN_, 0]),
        labels: ["No", "Yes"],
      },
      { name: "flag", type: "boolean", values: Float64Array.from([1, 1, 0, 1, 1]) },
      {
        name: "when",
        type: "datetime",
        values: Float64Array.from([
          Date.UTC(2024, 0, 1),
          Date.UTC(2024, 0, 11),
          NaN_,
          Date.UTC(2024, 0, 21),
          NaN_,
        ]),
      },
      { name: "same", type: "number", values: Float64Array.from([7, 7, 7, 7, 7]) },
      { name: "empty", type: "number", values: Float64Array.from([NaN_, NaN_, NaN_, NaN_, NaN_]) },
      { name: "zeros", type: "number", values: Float64Array.from([0, -0, 0.5, Infinity, -0]) },
    ],
  };
  const profile = profileFrame(frame);

  it("counts, missing and the moments of a number column", () => {
    const x = byName(profile.columns, "x");
    expect(profile.rowCount).toBe(5);
    expect(x).toMatchObject({ type: "number", count: 4, missing: 1, missingPct: 20, distinct: 4 });
    expect(x.min).toBe(1);
    expect(x.max).toBe(4);
    expect(x.mean).toBe(2.5);
    expect(x.std).toBeCloseTo(Math.sqrt(5 / 3), 12);
    expect(x.top).toBeUndefined();
  });

  it("an equal-width histogram with 20 bins, max in the last bin", () => {
    const h = byName(profile.columns, "x").histogram;
    expect(h?.edges).toHaveLength(HISTOGRAM_BINS + 1);
    expect(h?.counts).toHaveLength(HISTOGRAM_BINS);
    expect(h?.edges[0]).toBe(1);
    expect(h?.edges[HISTOGRAM_BINS]).toBe(4);
    expect(h?.edges[1]).toBeCloseTo(1.15, 12);
    const counts = h?.counts ?? [];
    expect(counts.reduce((a, b) => a + b, 0)).toBe(4);
    // 1 -> bin 0, 2 -> bin 6 (2 = 1 + 6.67 widths), 3 -> bin 13, 4 -> bin 19 (clamped).
    expect(counts[0]).toBe(1);
    expect(counts[6]).toBe(1);
    expect(counts[13]).toBe(1);
    expect(counts[19]).toBe(1);
  });

  it("top values of a category, most frequent first", () => {
    expect(byName(profile.columns, "c")).toEqual({
      name: "c",
      type: "category",
      count: 4,
      missing: 1,
      missingPct: 20,
      distinct: 2,
      top: [
        { value: "a", count: 3 },
        { value: "b", count: 1 },
      ],
    });
  });

  it("booleans report their labels, or true/false", () => {
    expect(byName(profile.columns, "churn")).toMatchObject({
      count: 4,
      missing: 1,
      distinct: 2,
      top: [
        { value: "No", count: 3 },
        { value: "Yes", count: 1 },
      ],
    });
    expect(byName(profile.columns, "flag").top).toEqual([
      { value: "true", count: 4 },
      { value: "false", count: 1 },
    ]);
    expect(byName(profile.columns, "flag").mean).toBeUndefined();
  });

  it("datetimes: ISO min and max, histogram over epoch milliseconds", () => {
    const when = byName(profile.columns, "when");
    expect(when).toMatchObject({
      count: 3,
      missing: 2,
      missingPct: 40,
      distinct: 3,
      min: "2024-01-01T00:00:00.000Z",
      max: "2024-01-21T00:00:00.000Z",
    });
    expect(when.mean).toBeUndefined();
    expect(when.histogram?.edges[0]).toBe(Date.UTC(2024, 0, 1));
    expect(when.histogram?.counts[10]).toBe(1);
  });

  it("a constant column gets one bin, an empty one no statistics", () => {
    expect(byName(profile.columns, "same")).toMatchObject({
      distinct: 1,
      min: 7,
      max: 7,
      mean: 7,
      std: 0,
      histogram: { edges: [7, 7], counts: [5] },
    });
    const empty = byName(profile.columns, "empty");
    expect(empty).toEqual({
      name: "empty",
      type: "number",
      count: 0,
      missing: 5,
      missingPct: 100,
      distinct: 0,
    });
  });

  it("counts -0 as 0 and infinities as missing", () => {
    expect(byName(profile.columns, "zeros")).toMatchObject({ count: 4, missing: 1, distinct: 2 });
  });
});

describe("profileFrame distinct counts", () => {
  it("are exact for many distinct doubles (hash set growth)", () => {
    const n = 200_000;
    const values = new Float64Array(n);
    for (let i = 0; i < n; i++) values[i] = (i % 150_001) * 0.1 + 0.05;
    const p = profileFrame({ rowCount: n, columns: [{ name: "v", type: "number", values }] });
    expect(p.columns[0]?.distinct).toBe(150_001);
  });

  it("are exact for integers over a wide range", () => {
    const values = Float64Array.from([1e12, -1e12, 5, 5, 1e12]);
    const p = profileFrame({ rowCount: 5, columns: [{ name: "v", type: "number", values }] });
    expect(p.columns[0]?.distinct).toBe(3);
  });

  it("top values keep first-seen order among ties and stop at 10", () => {
    const levels = Array.from({ length: 15 }, (_, i) => `l${i}`);
    const codes = Int32Array.from({ length: 30 }, (_, i) => i % 15);
    const p = profileFrame({
      rowCount: 30,
      columns: [{ name: "c", type: "category", codes, levels }],
    });
    expect(p.columns[0]?.top?.map((t) => t.value)).toEqual(levels.slice(0, 10));
    expect(p.columns[0]?.distinct).toBe(15);
  });
});

describe("profileFrame speed", () => {
  it("profiles 1M rows x 10 mixed columns in well under a few seconds", () => {
    const n = 1_000_000;
    const columns: Frame["columns"][number][] = [];
    for (let c = 0; c < 8; c++) {
      const values = new Float64Array(n);
      for (let i = 0; i < n; i++) values[i] = i % 97 === c ? NaN_ : ((i * (c + 7)) % 10_007) * 0.37;
      columns.push({ name: `d${c}`, type: "number", values });
    }
    columns.push({
      name: "cat",
      type: "category",
      codes: Int32Array.from({ length: n }, (_, i) => i % 37),
      levels: Array.from({ length: 37 }, (_, i) => `c${i}`),
    });
    columns.push({
      name: "int",
      type: "number",
      values: Float64Array.from({ length: n }, (_, i) => i % 1000),
    });
    const started = performance.now();
    const p = profileFrame({ rowCount: n, columns });
    const elapsed = performance.now() - started;
    expect(p.columns[9]?.distinct).toBe(1000);
    // About 0.2 s on an idle laptop; the bound leaves room for a busy CI machine.
    expect(elapsed).toBeLessThan(4000);
  });
});
