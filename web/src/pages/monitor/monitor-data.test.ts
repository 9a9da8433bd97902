import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type {
  AppSeriesDto,
  AppSeriesPointDto,
  DriftReportDto,
  FeatureDriftDto,
  OutcomeKind,
  OutcomeMetricsDto,
  OutcomeReportDto,
} from "../../api/types.ts";
import {
  burnTone,
  driftSettings,
  errorRows,
  errorTotals,
  eventNames,
  formatSloValue,
  hasOutcomes,
  isSeriesWindow,
  latencyRows,
  objectiveWords,
  outcomeWindow,
  predictionClasses,
  processWindow,
  qualityMetric,
  rankFeatures,
  SERIES_WINDOWS,
  timeLabel,
  trafficRows,
  versionLines,
} from "./monitor-data.ts";

function point(t: string, outcomes: Partial<Record<OutcomeKind, number>>): AppSeriesPointDto {
  const all: Record<OutcomeKind, number> = {
    ok: 0,
    client_error: 0,
    shed: 0,
    rate_limited: 0,
    timeout: 0,
    error: 0,
    ...outcomes,
  };
  const requests = Object.values(all).reduce((a, b) => a + b, 0);
  return {
    t,
    requests,
    rps: requests / 10,
    outcomes: all,
    errorRate: requests ? (requests - all.ok) / requests : 0,
    p50: requests ? 4 : null,
    p95: requests ? 9 : null,
    p99: requests ? 12 : null,
    modelP50: requests ? 1 : null,
    modelP95: requests ? 2 : null,
    modelP99: requests ? 3 : null,
    cacheHits: 0,
  };
}

function series(points: AppSeriesPointDto[]): AppSeriesDto {
  const outcomes: Record<OutcomeKind, number> = {
    ok: 0,
    client_error: 0,
    shed: 0,
    rate_limited: 0,
    timeout: 0,
    error: 0,
  };
  for (const p of points)
    for (const k of Object.keys(outcomes) as OutcomeKind[]) outcomes[k] += p.outcomes[k];
  const requests = points.reduce((a, p) => a + p.requests, 0);
  const { t: _t, ...first } = points[0] ?? point("2026-01-01T00:00:00Z", {});
  return {
    app: "churn",
    window: "5m",
    version: null,
    stepSeconds: 10,
    source: "memory",
    points,
    totals: { ...first, requests, outcomes },
    versions: [2, 1],
  };
}

const metrics = (m: Partial<OutcomeMetricsDto>): OutcomeMetricsDto => ({
  labelled: 0,
  auc: null,
  accuracy: null,
  rmse: null,
  mae: null,
  events: 0,
  conversionRate: {},
  eventValue: {},
  ...m,
});

describe("the traffic rows", () => {
  const s = series([
    point("2026-01-01T10:00:00Z", { ok: 20, client_error: 3 }),
    point("2026-01-01T10:00:10Z", {}),
    point("2026-01-01T10:00:20Z", { ok: 5, timeout: 1, rate_limited: 4 }),
  ]);

  it("turns counts per interval into requests per second for every outcome kind", () => {
    const rows = trafficRows(s);
    expect(rows).toHaveLength(3);
    expect(rows[0]).toMatchObject({ ok: 2, client_error: 0.3, shed: 0, error: 0 });
    expect(rows[1]).toMatchObject({ ok: 0, client_error: 0 });
    expect(rows[2]).toMatchObject({ ok: 0.5, timeout: 0.1, rate_limited: 0.4 });
    // Stacked, the kinds add up to the interval's rate.
    const total = (r: Record<string, unknown>) =>
      Object.entries(r)
        .filter(([k]) => k !== "label")
        .reduce((a, [, v]) => a + Number(v), 0);
    expect(total(rows[0] ?? {})).toBeCloseTo(2.3);
  });

  it("keeps only failures in the error rows, and ranks the kinds seen", () => {
    const rows = errorRows(s);
    expect(rows[0]).not.toHaveProperty("ok");
    expect(rows[0]).toMatchObject({ client_error: 3 });
    expect(errorTotals(s).map((e) => [e.info.kind, e.count])).toEqual([
      ["rate_limited", 4],
      ["client_error", 3],
      ["timeout", 1],
    ]);
  });

  it("leaves latency gaps where nothing was answered", () => {
    const rows = latencyRows(s);
    expect(rows[0]).toMatchObject({ p50: 4, p95: 9, p99: 12, modelP95: 2 });
    expect(rows[1]).toMatchObject({ p50: null, p95: null, modelP95: null });
  });
});

describe("windows", () => {
  it("knows the API's windows, and caps the process series at an hour", () => {
    expect(SERIES_WINDOWS.map((w) => w.id)).toEqual(["5m", "15m", "1h", "6h", "24h", "7d", "30d"]);
    expect(isSeriesWindow("7d")).toBe(true);
    expect(isSeriesWindow("2h")).toBe(false);
    expect(processWindow("5m")).toBe("5m");
    expect(processWindow("1h")).toBe("1h");
    expect(processWindow("6h")).toBe("1h");
    expect(processWindow("30d")).toBe("1h");
    expect(outcomeWindow("5m")).toBe("1h");
    expect(outcomeWindow("15m")).toBe("1h");
    expect(outcomeWindow("1h")).toBe("1h");
    expect(outcomeWindow("7d")).toBe("7d");
  });

  it("labels times with seconds for 5 minutes and with dates for days", () => {
    const t = "2026-03-04T10:20:30Z";
    expect(timeLabel(t, "5m")).toMatch(/^\d\d:\d\d:\d\d$/);
    expect(timeLabel(t, "1h")).toMatch(/^\d\d:\d\d$/);
    expect(timeLabel(t, "7d")).toMatch(/^Mar \d/);
    expect(timeLabel(t, "30d")).toMatch(/^Mar \d+$/);
    expect(timeLabel("not a time", "1h")).toBe("not a time");
  });
});

describe("outcomes", () => {
  const report: OutcomeReportDto = {
    app: "churn",
    task: "binary",
    window: "1h",
    stepSeconds: 60,
    versions: [
      {
        version: 2,
        predictions: 40,
        metrics: metrics({ labelled: 10, auc: 0.8, conversionRate: { renewed: 0.2 } }),
        points: [
          { ...metrics({ labelled: 10, auc: 0.8 }), t: "2026-01-01T10:02:00Z", predictions: 40 },
        ],
      },
      {
        version: 1,
        predictions: 30,
        metrics: metrics({ labelled: 5, auc: 0.7, conversionRate: { bought: 0.1 } }),
        points: [
          { ...metrics({ labelled: 2, auc: 0.6 }), t: "2026-01-01T10:00:00Z", predictions: 10 },
          { ...metrics({ labelled: 3, auc: 0.75 }), t: "2026-01-01T10:01:00Z", predictions: 20 },
        ],
      },
    ],
  };

  it("draws a line per version, oldest version first, with gaps where a version had no data", () => {
    const { rows, lines } = versionLines(report, (m) => m.auc);
    expect(lines.map((l) => l.key)).toEqual(["v1", "v2"]);
    expect(rows.map((r) => [r.v1, r.v2])).toEqual([
      [0.6, null],
      [0.75, null],
      [null, 0.8],
    ]);
  });

  it("judges by AUC, accuracy or RMSE, and lists the event names", () => {
    expect(qualityMetric("binary")).toBe("auc");
    expect(qualityMetric("multiclass")).toBe("accuracy");
    expect(qualityMetric("regression")).toBe("rmse");
    expect(eventNames(report)).toEqual(["bought", "renewed"]);
    expect(hasOutcomes(report)).toBe(true);
    expect(
      hasOutcomes({
        ...report,
        versions: report.versions.map((v) => ({ ...v, metrics: metrics({}) })),
      }),
    ).toBe(false);
  });

  it("finds the classes of an app's answers in its output schema", () => {
    const schema = {
      oneOf: [
        { type: "object", properties: { prediction: { type: "string", enum: ["No", "Yes"] } } },
        { type: "object", properties: { predictions: { type: "array" } } },
      ],
    };
    expect(predictionClasses(schema)).toEqual(["No", "Yes"]);
    expect(
      predictionClasses({ oneOf: [{ properties: { prediction: { type: "number" } } }] }),
    ).toBeUndefined();
  });
});

describe("drift", () => {
  const feature = (name: string, psi: number, drifted: boolean): FeatureDriftDto => ({
    feature: name,
    kind: "numeric",
    rows: 100,
    psi,
    psiLevel: psi >= 0.25 ? "alert" : psi >= 0.1 ? "warn" : "ok",
    ks: { statistic: 0.1, pValue: 0.5, method: "exact" },
    test: { name: "ks", statistic: 0.1, pValue: 0.5, threshold: 0.05, drifted },
    drifted,
    bins: [],
  });

  it("ranks drifted features first, then by PSI", () => {
    const report: DriftReportDto = {
      app: "churn",
      version: 1,
      window: { kind: "count", from: null, to: null, rows: 100 },
      enoughData: true,
      dataset: { drifted: false, driftedFeatures: 2, features: 4, share: 0.5, threshold: 0.5 },
      features: [
        feature("a", 0.05, false),
        feature("b", 0.3, false),
        feature("c", 0.02, true),
        feature("d", 0.2, true),
      ],
      prediction: null,
    };
    expect(rankFeatures(report).map((f) => f.feature)).toEqual(["d", "c", "b", "a"]);
  });

  it("reads the spec's drift settings and ignores anything else", () => {
    expect(driftSettings({ monitoring: { drift: { minRows: 50, windowRows: "x" } } })).toEqual({
      minRows: 50,
    });
    expect(driftSettings(null)).toEqual({});
    expect(driftSettings({ monitoring: [] })).toEqual({});
  });

  it("never throws on any spec or output schema, and returns only numbers and strings", () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (spec, schema) => {
        const settings = driftSettings(spec);
        for (const v of Object.values(settings)) expect(Number.isFinite(v)).toBe(true);
        const classes = predictionClasses(schema);
        if (classes) for (const c of classes) expect(typeof c).toBe("string");
        const wrapped = driftSettings({ monitoring: { drift: spec } });
        for (const v of Object.values(wrapped)) expect(typeof v).toBe("number");
      }),
    );
  });
});

describe("service levels", () => {
  it("colours burn rates: within budget, burning early, paging", () => {
    expect(burnTone(null)).toBe("neutral");
    expect(burnTone(0.4)).toBe("green");
    expect(burnTone(1)).toBe("green");
    expect(burnTone(2.5)).toBe("amber");
    expect(burnTone(14.4)).toBe("red");
  });

  it("states objectives in their own units", () => {
    expect(formatSloValue("latency_p95", 250)).toBe("250 ms");
    expect(formatSloValue("error_rate", 0.015)).toBe("1.50%");
    expect(formatSloValue("availability", null)).toBe("—");
    const slo = {
      name: "availability",
      objective: 0.999,
      current: null,
      budgetRemaining: null,
      burnRates: [],
      state: "no_data",
    } as const;
    expect(objectiveWords(slo)).toBe("at least 99.90%");
    expect(objectiveWords({ ...slo, name: "latency_p95", objective: 300 })).toBe("at most 300 ms");
  });
});
