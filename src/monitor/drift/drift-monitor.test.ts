import { afterAll, describe, expect, it } from "vitest";
import { rowRecord } from "../../data/frame.ts";
import { ingestFile } from "../../data/index.ts";
import type { ModelArtifact } from "../../models/artifact.ts";
import type { FeatureSketch } from "../../models/baseline.ts";
import { Predictor } from "../../models/predictor.ts";
import { trainModel } from "../../models/train.ts";
import { modelRunner } from "../../runtime/pipeline/model-runner.ts";
import { Pipeline, type RowAnswer } from "../../runtime/pipeline/pipeline.ts";
import { compileRecordValidator } from "../../runtime/record-validation.ts";
import { parseAppSpec } from "../../spec/app-spec.ts";
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

  it("rows the pipeline encoded count as the records do, queued without holding the request", async () => {
    const pipeline = (drift: boolean) => {
      const steps = ["input", "validate", "model", "output"].map((kind, i, all) => ({
        id: kind,
        kind,
        ...(kind === "model" ? { with: { name: "churn", version: 1 } } : {}),
        ...(i > 0 ? { after: [all[i - 1]] } : {}),
      }));
      const spec = parseAppSpec({
        apiVersion: "ballast/v1",
        kind: "App",
        name: "churn",
        steps,
        monitoring: { drift: { enabled: drift } },
      });
      return new Pipeline(spec, {
        model: modelRunner(predictor),
        modelRef: { name: "churn", version: 1 },
        validateRecord: compileRecordValidator({ type: "object" }),
        sessionScope: "ws_1/churn",
      });
    };
    const watched = pipeline(true);
    const next = random(12);
    const picked = Array.from({ length: 300 }, () => {
      const record = { ...(rows[Math.floor(next() * rows.length)] as Record<string, unknown>) };
      if (next() < 0.3) record.contract = "Two year";
      return record;
    });
    // What the model encoded, for one record (runNow) and a batch (run): the recipe's rows.
    const expected = new Float64Array(predictor.recipe.width * 2);
    predictor.recipe.encodeRecord(picked[0] as Record<string, unknown>, expected);
    predictor.recipe.encodeRecord(
      picked[1] as Record<string, unknown>,
      expected.subarray(expected.length / 2),
    );
    const one = watched.runNow({
      records: [picked[0] as Record<string, unknown>],
      paths: () => "",
      explain: false,
    });
    expect(Array.from(one?.encoded ?? [])).toEqual(
      Array.from(expected.subarray(0, expected.length / 2)),
    );
    const two = await watched.run({
      records: picked.slice(0, 2),
      paths: () => "",
      explain: false,
      signal: new AbortController().signal,
    });
    expect(Array.from(two.encoded ?? [])).toEqual(Array.from(expected));
    // Not kept when the version does not watch drift.
    expect(
      pipeline(false).runNow({ records: picked.slice(0, 1), paths: () => "", explain: false })
        ?.encoded,
    ).toBeUndefined();

    // The same requests with and without the encoded rows (one of them the wrong size, which
    // is encoded again): the same reports. With the rows, only a version's first request waits
    // in the pending list (the version is made at the flush), so a list of one row drops nothing.
    const withRows = monitor({ maxPendingRows: 1 });
    const withoutRows = monitor();
    const v1 = served();
    picked.forEach((record, i) => {
      const result = watched.runNow({ records: [record], paths: () => "", explain: false });
      if (!result?.encoded) throw new Error("no encoded rows");
      const plain = { ...observation(v1, record, clock, result.answers[0]) };
      const encoded = i === 7 ? [1, 2, 3] : result.encoded;
      withRows.observe({ ...plain, encoded });
      withoutRows.observe(plain);
      if (i === 0) withRows.flush();
      clock += 1000;
    });
    expect(withRows.dropped).toBe(0);
    for (const kind of ["count", "time"] as const) {
      const a = withRows.report("ws_1", "churn", 1, kind);
      expect(a?.window.rows).toBe(300);
      expect(a).toEqual(withoutRows.report("ws_1", "churn", 1, kind));
    }
    expect(withRows.report("ws_1", "churn", 1, "count")?.features[0]?.feature).toBe("contract");

    // Beyond the queue's budget (~6,000 churn rows), rows take the pending list: none is lost.
    const burst = monitor({ maxPendingRows: 5000 });
    const encodedRows = picked.map(
      (record) =>
        watched.runNow({ records: [record], paths: () => "", explain: false })?.encoded ?? [],
    );
    burst.observe({
      ...observation(v1, picked[0] as Record<string, unknown>),
      encoded: encodedRows[0],
    });
    burst.flush();
    for (let i = 0; i < 9000; i++) {
      const record = picked[i % picked.length] as Record<string, unknown>;
      burst.observe({ ...observation(v1, record), encoded: encodedRows[i % picked.length] });
    }
    expect(burst.dropped).toBe(0);
    expect(burst.report("ws_1", "churn", 1, "time")?.window.rows).toBe(9001);
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
