import { afterAll, describe, expect, it } from "vitest";
import { rowRecord } from "../../data/frame.ts";
import { ingestFile } from "../../data/index.ts";
import type { ModelArtifact } from "../../models/artifact.ts";
import type { FeatureSketch } from "../../models/baseline.ts";
import { Predictor } from "../../models/predictor.ts";
import { trainModel } from "../../models/train.ts";
import type { RowAnswer } from "../../runtime/pipeline/pipeline.ts";
import { type AppMonitoring, DEFAULT_MONITORING } from "../../spec/monitoring.ts";
import type { PredictObservation, ServedVersion } from "../observation.ts";
import { DriftMonitor, emptyDriftReport } from "./drift-monitor.ts";

/** A seeded generator (mulberry32). */
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

describe("DriftMonitor on the churn model", async () => {
  const { frame, schema } = await ingestFile("examples/data/wa_churn.csv");
  const trained = await trainModel(frame, schema, { target: "churn", timeBudgetMs: 800, seed: 7 });
  const predictor = new Predictor(trained.artifact);
  const rows = Array.from({ length: frame.rowCount }, (_, r) => {
    const { churn: _target, ...record } = rowRecord(frame, r);
    return record;
  });
  const monitoring = (drift: Partial<AppMonitoring["drift"]> = {}): AppMonitoring => ({
    ...DEFAULT_MONITORING,
    drift: { ...DEFAULT_MONITORING.drift, windowRows: 2000, ...drift },
  });
  const served = (
    version = 1,
    drift: Partial<AppMonitoring["drift"]> = {},
    p = predictor,
  ): ServedVersion => ({
    workspaceId: "ws_1",
    app: "churn",
    version,
    appVersionId: `av_${version}`,
    model: { name: "churn", version: 1 },
    predictor: p,
    monitoring: monitoring(drift),
  });
  let clock = Date.UTC(2025, 0, 1, 12);
  const monitors: DriftMonitor[] = [];
  const monitor = (options = {}) => {
    const m = new DriftMonitor({ now: () => clock, ...options });
    monitors.push(m);
    return m;
  };
  afterAll(() => {
    for (const m of monitors) m.close();
  });

  function observation(
    version: ServedVersion,
    record: Record<string, unknown>,
    at = clock,
    answer?: RowAnswer,
  ): PredictObservation {
    const answered: RowAnswer = answer ?? {
      ...predictor.predict(record),
      answered_by: { step: "model", model: version.model },
    };
    return {
      requestId: "r",
      at,
      served: version,
      status: 200,
      outcome: "ok",
      latencyMs: 1,
      records: [record],
      answers: [answered],
    };
  }

  function send(
    m: DriftMonitor,
    version: ServedVersion,
    n: number,
    seed: number,
    change?: (r: Record<string, unknown>, next: () => number) => void,
  ) {
    const next = random(seed);
    for (let i = 0; i < n; i++) {
      const record = { ...(rows[Math.floor(next() * rows.length)] as Record<string, unknown>) };
      change?.(record, next);
      m.observe(observation(version, record, clock));
      clock += 100;
    }
  }

  it("training rows are not flagged; a shift of contract is, and only contract among the inputs", () => {
    const m = monitor();
    const v1 = served();
    send(m, v1, 2000, 1);
    const before = m.report("ws_1", "churn", 1, "count");
    if (!before) throw new Error("no report");
    expect(before.window.rows).toBe(2000);
    expect(before.enoughData).toBe(true);
    expect(before.features.filter((f) => f.drifted).map((f) => f.feature)).toEqual([]);
    expect(before.features.every((f) => f.psi < 0.1)).toBe(true);
    expect(before.dataset.drifted).toBe(false);
    expect(before.prediction?.drifted).toBe(false);
    expect(before.prediction?.kind).toBe("numeric");
    expect(before.features.length).toBe(predictor.recipe.width);

    // Most customers now on two-year contracts.
    send(m, v1, 2000, 2, (r, next) => {
      if (next() < 0.6) r.contract = "Two year";
    });
    const after = m.report("ws_1", "churn", 1, "count");
    if (!after) throw new Error("no report");
    expect(after.features.filter((f) => f.drifted).map((f) => f.feature)).toEqual(["contract"]);
    const contract = after.features[0];
    expect(contract?.feature).toBe("contract");
    expect(contract?.test.name).toBe("jensenshannon");
    expect(contract?.psi).toBeGreaterThanOrEqual(0.25);
    expect(contract?.ks).toBeNull();
    expect(contract?.bins.map((b) => b.label)).toEqual(
      expect.arrayContaining(["Month-to-month", "One year", "Two year"]),
    );
    expect(after.dataset).toMatchObject({ drifted: false, driftedFeatures: 1, threshold: 0.5 });
    // The model leans on contract: its predictions moved too.
    expect(after.prediction?.drifted).toBe(true);

    // The time window holds both halves; the dataset verdict for alerts reads it.
    const time = m.report("ws_1", "churn", 1, "time");
    expect(time?.window.rows).toBe(4000);
    expect(m.datasetDrift("ws_1", "churn")).toEqual({
      version: 1,
      drifted: false,
      share: 1 / predictor.recipe.width,
      driftedFeatures: ["contract"],
      rows: 4000,
    });
  });

  it("a numeric shift is flagged by PSI and KS with the exact statistic from the count window", () => {
    const m = monitor();
    const v1 = served(1, { datasetShare: 0.05 });
    send(m, v1, 2000, 3, (r) => {
      r.monthly_charges = Number(r.monthly_charges) * 1.5;
    });
    const report = m.report("ws_1", "churn", 1, "count");
    const charges = report?.features[0];
    expect(charges?.feature).toBe("monthly_charges");
    expect(charges?.drifted).toBe(true);
    expect(charges?.test.name).toBe("wasserstein");
    expect(charges?.psiLevel).toBe("alert");
    expect(charges?.ks?.pValue).toBeLessThan(1e-6);
    expect(charges?.ks?.method).toBe("asymptotic");
    expect(charges?.ks?.note).toBeUndefined();
    expect(report?.dataset.drifted).toBe(true);
    // The time window keeps counts: KS read at the percentiles, noted.
    expect(m.report("ws_1", "churn", 1, "time")?.features[0]?.ks?.note).toMatch(/percentiles/);
  });

  it("judges nothing below minRows, and datasetDrift is null then", () => {
    const m = monitor();
    const v1 = served();
    send(m, v1, 50, 4, (r) => {
      r.tenure = 500;
    });
    const report = m.report("ws_1", "churn", 1, "count");
    expect(report?.enoughData).toBe(false);
    expect(report?.features.some((f) => f.drifted || f.psiLevel !== "ok")).toBe(false);
    expect(m.datasetDrift("ws_1", "churn")).toBeNull();
    expect(m.datasetDrift("ws_1", "other")).toBeNull();
    expect(m.report("ws_1", "churn", 2, "count")).toBeUndefined();
  });

  it("observe is bounded: beyond the pending limit observations are dropped and counted", () => {
    const m = monitor({ maxPendingRows: 10 });
    const v1 = served();
    send(m, v1, 25, 5);
    expect(m.dropped).toBe(15);
    expect(m.report("ws_1", "churn", 1, "count")?.window.rows).toBe(10);
    // Drained on read: the next ten are taken again.
    send(m, v1, 10, 6);
    expect(m.dropped).toBe(15);
  });

  it("ignores refused requests and apps with drift turned off", () => {
    const m = monitor();
    const off = served(1, { enabled: false });
    send(m, off, 10, 7);
    const v1 = served();
    const refused = { ...observation(v1, rows[0] as Record<string, unknown>), status: 429 };
    m.observe(refused);
    expect(m.versions("ws_1", "churn")).toEqual([]);
  });

  it("answers from a fallback are not the model's predictions", () => {
    const m = monitor();
    const v1 = served();
    const record = rows[0] as Record<string, unknown>;
    for (let i = 0; i < 3; i++)
      m.observe(
        observation(v1, record, clock, {
          prediction: "No",
          answered_by: { step: "fallback" },
          fallback: { reason: "timeout" },
        }),
      );
    const report = m.report("ws_1", "churn", 1, "count");
    expect(report?.window.rows).toBe(3);
    expect(report?.prediction?.rows).toBe(0);
    expect(report?.features.find((f) => f.feature === "tenure")?.rows).toBe(3);
  });

  it("keeps at most maxVersionsPerApp versions, dropping the least recently served", () => {
    const m = monitor({ maxVersionsPerApp: 2 });
    send(m, served(1), 5, 8);
    send(m, served(2), 5, 9);
    send(m, served(3), 5, 10);
    expect(m.versions("ws_1", "churn")).toEqual([3, 2]);
  });

  it("an artifact from before the fine grid still reports, with KS from its deciles", () => {
    const strip = (s: FeatureSketch): FeatureSketch => {
      if (s.kind !== "numeric") return s;
      const { grid: _grid, distinct: _distinct, ...rest } = s;
      return rest;
    };
    const header = trained.artifact.header;
    const prediction = header.baseline.prediction;
    const old: ModelArtifact = {
      ...trained.artifact,
      header: {
        ...header,
        baseline: {
          ...header.baseline,
          features: header.baseline.features.map(strip),
          ...(prediction ? { prediction: strip(prediction) } : {}),
        },
      },
    };
    const m = monitor();
    const v1 = served(1, {}, new Predictor(old));
    send(m, v1, 2000, 11, (r) => {
      r.tenure = Number(r.tenure) + 24;
    });
    const report = m.report("ws_1", "churn", 1, "count");
    const tenure = report?.features[0];
    expect(tenure?.feature).toBe("tenure");
    expect(tenure?.drifted).toBe(true);
    expect(tenure?.ks?.note).toMatch(/decile/);
    expect(report?.features.filter((f) => f.drifted).map((f) => f.feature)).toEqual(["tenure"]);
  });

  it("an app version without traffic gets an empty report with its baseline", () => {
    const report = emptyDriftReport(
      {
        app: "churn",
        version: 3,
        header: trained.artifact.header,
        settings: DEFAULT_MONITORING.drift,
      },
      "time",
    );
    expect(report.window).toEqual({ kind: "time", from: null, to: null, rows: 0 });
    expect(report.enoughData).toBe(false);
    expect(report.features.length).toBe(predictor.recipe.width);
    const contract = report.features.find((f) => f.feature === "contract");
    expect(contract?.bins.every((b) => b.live === 0 && b.baseline > 0)).toBe(true);
    expect(report.prediction?.rows).toBe(0);
  });
});
