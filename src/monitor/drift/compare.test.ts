import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { CategoricalSketch, NumericSketch } from "../../models/baseline.ts";
import { sketchCategorical, sketchNumeric } from "../../models/baseline.ts";
import { DEFAULT_MONITORING } from "../../spec/monitoring.ts";
import { datasetVerdict, featureDrift, type LiveFeature, rankFeatures } from "./compare.ts";
import { categoricalBins, type FeatureBins, numericBins, PointIndex } from "./feature-bins.ts";

const settings = DEFAULT_MONITORING.drift;

/** A seeded generator (mulberry32), so every run sees the same numbers. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function normals(n: number, mean: number, sd: number, seed: number): number[] {
  const next = random(seed);
  return Array.from({ length: n }, () => {
    const u = Math.max(next(), 1e-12);
    return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
  });
}

/** Count values into a feature's cells as a window does. */
function liveOf(bins: FeatureBins, values: readonly number[], keepValues = true): LiveFeature {
  const counts = new Float64Array(bins.cellCount + 1);
  let tailBelow = 0;
  let tailAbove = 0;
  for (const v of values) {
    const c = bins.cellOf(v);
    counts[c] = (counts[c] as number) + 1;
    if (bins.kind === "numeric" && !Number.isNaN(v)) {
      const first = bins.points[0] as number;
      const last = bins.points[bins.points.length - 1] as number;
      if (v < first) tailBelow += first - v;
      if (v > last) tailAbove += v - last;
    }
  }
  const sorted = Float64Array.from(values.filter((v) => !Number.isNaN(v))).sort();
  return keepValues ? { counts, tailBelow, tailAbove, sorted } : { counts, tailBelow, tailAbove };
}

/** The sketch an artifact made before the fine grid existed. */
function legacy(sketch: NumericSketch): NumericSketch {
  const { grid: _grid, distinct: _distinct, ...rest } = sketch;
  return rest;
}

describe("feature bins", () => {
  const training = normals(5000, 50, 10, 1);
  const bins = numericBins(sketchNumeric("x", training));

  it("cells alternate open intervals and grid points and sum to the baseline", () => {
    expect(bins.atoms).toBe(true);
    expect(bins.cellCount).toBe(2 * bins.points.length + 1);
    const total = bins.baseCells.reduce((s, v) => s + v, 0);
    expect(total).toBeCloseTo(1, 12);
    // Each PSI bin's cells add up to the sketch's decile share.
    const perBin = new Float64Array(bins.psiBase.length);
    bins.baseCells.forEach((share, c) => {
      const b = bins.psiOfCell[c] as number;
      perBin[b] = (perBin[b] as number) + share;
    });
    for (let b = 0; b < perBin.length; b++)
      expect(perBin[b]).toBeCloseTo(bins.psiBase[b] as number, 12);
    expect(bins.cellOf(bins.points[3] as number)).toBe(7);
    expect(bins.cellOf((bins.points[3] as number) + 1e-9)).toBe(8);
    expect(bins.cellOf(-1e9)).toBe(0);
    expect(bins.cellOf(1e9)).toBe(bins.cellCount - 1);
    expect(bins.cellOf(Number.NaN)).toBe(bins.cellCount);
  });

  it("property: every value falls in a cell whose PSI bin is the decile binOf gives", () => {
    const edges = bins.sketch.edges;
    fc.assert(
      fc.property(fc.double({ min: -100, max: 200, noNaN: true }), (v) => {
        const cell = bins.cellOf(v);
        let expected = edges.findIndex((e) => v <= e);
        if (expected < 0) expected = edges.length;
        return bins.psiOfCell[cell] === expected;
      }),
    );
  });

  it("property: the point index answers as a binary search would, and countColumn as cellOf", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.double({ min: -1e9, max: 1e9, noNaN: true, noDefaultInfinity: true }), {
          minLength: 1,
          maxLength: 120,
        }),
        fc.array(fc.oneof(fc.double({ noDefaultInfinity: true }), fc.constant(Number.NaN)), {
          maxLength: 50,
        }),
        (raw, probes) => {
          const points = Float64Array.from(raw).sort();
          const index = new PointIndex(points);
          for (const v of [...probes, ...raw, ...raw.map((x) => x + 1e-7)]) {
            if (Number.isNaN(v)) continue;
            let expected = points.findIndex((p) => v <= p);
            if (expected < 0) expected = points.length;
            expect(index.search(v)).toBe(expected);
          }
          const sketch = sketchNumeric("x", raw);
          const fine = numericBins(sketch);
          const counts = new Float64Array(fine.cellCount + 1);
          fine.countColumn(probes, counts);
          const expected = new Float64Array(fine.cellCount + 1);
          for (const v of probes)
            expected[fine.cellOf(v)] = (expected[fine.cellOf(v)] as number) + 1;
          expect(Array.from(counts)).toEqual(Array.from(expected));
        },
      ),
    );
  });

  it("labels deciles readably, yes/no inputs by their names and categories by their levels", () => {
    expect(bins.psiLabels[0]).toMatch(/^≤ \d+(\.\d+)?$/);
    expect(bins.psiLabels[1]).toMatch(/^\(\d+(\.\d+)?, \d+(\.\d+)?\]$/);
    expect(bins.psiLabels.at(-1)).toMatch(/^> /);
    const yesNo = numericBins(sketchNumeric("paperless", [0, 0, 1, 1, 1, 0, 1, 1, 1, 1]), {
      kind: "boolean",
      labels: ["No", "Yes"],
    });
    expect(yesNo.lowCardinality).toBe(true);
    expect(yesNo.psiLabels.slice(0, 2)).toEqual(["No", "Yes"]);
    const contract = categoricalBins(sketchCategorical("contract", [0, 1, 2, 0], 4), {
      kind: "category",
      levels: ["Month-to-month", "Two year", "One year"],
    });
    expect(contract.psiLabels).toEqual(["Month-to-month", "Two year", "One year", "(other)"]);
  });
});

describe("feature drift", () => {
  const training = normals(5000, 50, 10, 2);
  const sketch = sketchNumeric("monthly_charges", training);
  const bins = numericBins(sketch);

  it("the same distribution is not flagged, at any window size", () => {
    for (const [n, test] of [
      [300, "ks"],
      [3000, "wasserstein"],
    ] as const) {
      const live = normals(n, 50, 10, 3);
      const drift = featureDrift(bins, liveOf(bins, live), settings, true);
      expect(drift.test.name).toBe(test);
      expect(drift.drifted).toBe(false);
      expect(drift.psi).toBeLessThan(settings.psiWarn);
      expect(drift.psiLevel).toBe("ok");
      expect(drift.ks?.pValue).toBeGreaterThan(settings.pValue);
      expect(drift.rows).toBe(n);
    }
  });

  it("a shift of one standard deviation is flagged by PSI, KS and the chosen test", () => {
    for (const n of [300, 3000]) {
      const live = normals(n, 60, 10, 4);
      const drift = featureDrift(bins, liveOf(bins, live), settings, true);
      expect(drift.drifted).toBe(true);
      expect(drift.psi).toBeGreaterThanOrEqual(settings.psiAlert);
      expect(drift.psiLevel).toBe("alert");
      expect(drift.ks?.pValue).toBeLessThan(1e-6);
      expect(drift.ks?.note).toBeUndefined();
      if (drift.test.name === "wasserstein") expect(drift.test.statistic).toBeCloseTo(1, 1);
    }
  });

  it("the exact KS statistic from values and the one read at the percentiles agree within 1%", () => {
    const live = normals(2000, 51, 10, 5);
    const exact = featureDrift(bins, liveOf(bins, live), settings, true);
    const cells = featureDrift(bins, liveOf(bins, live, false), settings, true);
    const d = exact.ks?.statistic ?? 0;
    const lower = cells.ks?.statistic ?? 0;
    expect(lower).toBeLessThanOrEqual(d + 1e-12);
    expect(d - lower).toBeLessThan(0.01);
    expect(cells.ks?.note).toMatch(/percentiles/);
  });

  it("an artifact without the grid still gets PSI, KS from its deciles, and the verdict", () => {
    const old = numericBins(legacy(sketch));
    expect(old.atoms).toBe(false);
    const same = featureDrift(old, liveOf(old, normals(500, 50, 10, 6)), settings, true);
    expect(same.drifted).toBe(false);
    expect(same.ks?.note).toMatch(/decile/);
    const moved = featureDrift(old, liveOf(old, normals(500, 60, 10, 7)), settings, true);
    expect(moved.drifted).toBe(true);
    expect(moved.psi).toBeGreaterThanOrEqual(settings.psiAlert);
    expect(moved.ks?.pValue).toBeLessThan(settings.pValue);
    // PSI over the same deciles as the fine layout.
    const fine = featureDrift(bins, liveOf(bins, normals(500, 60, 10, 7)), settings, true);
    expect(moved.psi).toBeCloseTo(fine.psi, 12);
  });

  it("missing values get their own bin and do not count as rows", () => {
    const live = [...normals(400, 50, 10, 8), ...new Array<number>(100).fill(Number.NaN)];
    const drift = featureDrift(bins, liveOf(bins, live), settings, true);
    expect(drift.rows).toBe(400);
    const missing = drift.bins.find((b) => b.label === "missing");
    expect(missing).toEqual({ label: "missing", baseline: 0, live: 0.2 });
    // 20% missing where training had none: PSI sees it.
    expect(drift.psi).toBeGreaterThan(settings.psiAlert);
  });

  it("with too little data nothing is flagged, though the numbers are shown", () => {
    const drift = featureDrift(bins, liveOf(bins, normals(50, 70, 10, 9)), settings, false);
    expect(drift.drifted).toBe(false);
    expect(drift.psiLevel).toBe("ok");
    expect(drift.psi).toBeGreaterThan(1);
  });
});

describe("categorical drift", () => {
  // 60% / 25% / 15% and an empty unknown bucket, from 4000 training rows.
  const codes = [
    ...new Array<number>(2400).fill(0),
    ...new Array<number>(1000).fill(1),
    ...new Array<number>(600).fill(2),
  ];
  const sketch: CategoricalSketch = sketchCategorical("contract", codes, 4);
  const bins = categoricalBins(sketch, {
    kind: "category",
    levels: ["Month-to-month", "One year", "Two year"],
  });
  const draw = (n: number, shares: readonly number[], seed: number) => {
    const next = random(seed);
    return Array.from({ length: n }, () => {
      let u = next();
      for (let k = 0; k < shares.length; k++) {
        u -= shares[k] as number;
        if (u < 0) return k;
      }
      return shares.length - 1;
    });
  };

  it("the same shares are not flagged (chi-squared small, Jensen-Shannon large)", () => {
    for (const [n, test] of [
      [800, "chi2"],
      [5000, "jensenshannon"],
    ] as const) {
      const drift = featureDrift(
        bins,
        liveOf(bins, draw(n, [0.6, 0.25, 0.15], 10)),
        settings,
        true,
      );
      expect(drift.test.name).toBe(test);
      expect(drift.drifted).toBe(false);
      expect(drift.ks).toBeNull();
      expect(drift.psi).toBeLessThan(settings.psiWarn);
    }
  });

  it("a shift towards long contracts is flagged by PSI and the chosen test", () => {
    for (const n of [800, 5000]) {
      const drift = featureDrift(bins, liveOf(bins, draw(n, [0.2, 0.3, 0.5], 11)), settings, true);
      expect(drift.drifted).toBe(true);
      expect(drift.psi).toBeGreaterThanOrEqual(settings.psiAlert);
      if (drift.test.name === "chi2") expect(drift.test.pValue).toBeLessThan(1e-10);
      const labels = drift.bins.map((b) => b.label);
      expect(labels).toEqual(["Month-to-month", "One year", "Two year"]);
    }
  });

  it("values never seen in training land in (other) and are flagged", () => {
    const live = [...draw(700, [0.6, 0.25, 0.15], 12), ...new Array<number>(300).fill(3)];
    const drift = featureDrift(bins, liveOf(bins, live), settings, true);
    expect(drift.drifted).toBe(true);
    expect(drift.bins.at(-1)).toEqual({ label: "(other)", baseline: 0, live: 0.3 });
  });
});

describe("dataset drift", () => {
  it("flags the dataset when at least the configured share of features drift (and one does)", () => {
    const bins = numericBins(sketchNumeric("x", normals(2000, 0, 1, 13)));
    const same = featureDrift(bins, liveOf(bins, normals(500, 0, 1, 14)), settings, true);
    const moved = featureDrift(bins, liveOf(bins, normals(500, 2, 1, 15)), settings, true);
    expect(datasetVerdict([same, moved, same, same], 0.25, true)).toEqual({
      drifted: true,
      driftedFeatures: 1,
      features: 4,
      share: 0.25,
      threshold: 0.25,
    });
    expect(datasetVerdict([same, moved, same, same], 0.5, true).drifted).toBe(false);
    expect(datasetVerdict([same, same], 0, true).drifted).toBe(false);
    expect(datasetVerdict([moved], 0.5, false).drifted).toBe(false);
    expect(rankFeatures([same, moved]).map((f) => f.drifted)).toEqual([true, false]);
  });
});
