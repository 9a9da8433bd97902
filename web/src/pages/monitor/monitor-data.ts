/**
 * The monitor page's arithmetic, kept out of the components so it is tested without a browser:
 * the API's series turned into chart rows (requests per second by outcome, latency, errors,
 * resources, live quality per version), and the words and colours each state is shown with.
 */
import type {
  AppSeriesDto,
  DriftReportDto,
  FeatureDriftDto,
  MonitorEventDto,
  OutcomeKind,
  OutcomeMetricsDto,
  OutcomeReportDto,
  ProcessSeriesDto,
  SeriesWindow,
  SloStatusDto,
} from "../../api/types.ts";
import { formatNumber, formatPercent } from "../../lib/format.ts";

export interface WindowInfo {
  readonly id: SeriesWindow;
  readonly label: string;
  readonly seconds: number;
}

/** The windows the series API answers, shortest first. */
export const SERIES_WINDOWS: readonly WindowInfo[] = [
  { id: "5m", label: "Last 5 minutes", seconds: 300 },
  { id: "15m", label: "Last 15 minutes", seconds: 900 },
  { id: "1h", label: "Last hour", seconds: 3600 },
  { id: "6h", label: "Last 6 hours", seconds: 6 * 3600 },
  { id: "24h", label: "Last 24 hours", seconds: 24 * 3600 },
  { id: "7d", label: "Last 7 days", seconds: 7 * 86_400 },
  { id: "30d", label: "Last 30 days", seconds: 30 * 86_400 },
];

export function isSeriesWindow(value: string): value is SeriesWindow {
  return SERIES_WINDOWS.some((w) => w.id === value);
}

/** "last 15 minutes", for sentences. */
export function windowPhrase(id: SeriesWindow): string {
  return (SERIES_WINDOWS.find((w) => w.id === id)?.label ?? id).toLowerCase();
}

/**
 * The process series is kept for an hour only (it is this server's memory, not the app's
 * history): longer windows show that hour.
 */
export function processWindow(id: SeriesWindow): SeriesWindow {
  const seconds = SERIES_WINDOWS.find((w) => w.id === id)?.seconds ?? 3600;
  return seconds > 3600 ? "1h" : id;
}

/**
 * Outcomes come from the prediction log, read by the hour or longer (an outcome often arrives
 * long after its prediction): shorter windows show the last hour.
 */
export function outcomeWindow(id: SeriesWindow): SeriesWindow {
  const seconds = SERIES_WINDOWS.find((w) => w.id === id)?.seconds ?? 3600;
  return seconds < 3600 ? "1h" : id;
}

/** An axis label short enough for the window: seconds for 5 minutes, dates beyond a day. */
export function timeLabel(t: string, windowId: SeriesWindow): string {
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return t;
  if (windowId === "7d" || windowId === "30d") {
    return d.toLocaleString("en", {
      month: "short",
      day: "numeric",
      ...(windowId === "7d" ? { hour: "2-digit", minute: "2-digit" } : {}),
      hour12: false,
    });
  }
  return d.toLocaleTimeString("en", {
    hour: "2-digit",
    minute: "2-digit",
    ...(windowId === "5m" ? { second: "2-digit" } : {}),
    hour12: false,
  });
}

export interface OutcomeInfo {
  readonly kind: OutcomeKind;
  readonly label: string;
  /** What it means, for a person who does not read HTTP status codes. */
  readonly meaning: string;
  readonly color: string;
}

/** Every way a request can end, in the order the charts stack them. */
export const OUTCOME_KINDS: readonly OutcomeInfo[] = [
  { kind: "ok", label: "Answered", meaning: "answered with a prediction", color: "#2453d6" },
  {
    kind: "client_error",
    label: "Bad request",
    meaning: "refused because the input was wrong (4xx)",
    color: "#e5891b",
  },
  {
    kind: "rate_limited",
    label: "Rate limited",
    meaning: "refused because the caller sent too many (429)",
    color: "#6941c6",
  },
  {
    kind: "shed",
    label: "Shed",
    meaning: "turned away because the app was full (503)",
    color: "#0e7c86",
  },
  {
    kind: "timeout",
    label: "Timed out",
    meaning: "not answered in time (504)",
    color: "#d6457a",
  },
  {
    kind: "error",
    label: "Server error",
    meaning: "failed inside the app (5xx)",
    color: "#c2303c",
  },
];

export const ERROR_KINDS: readonly OutcomeInfo[] = OUTCOME_KINDS.filter((o) => o.kind !== "ok");

export type ChartRow = Record<string, number | string | null>;

/** Requests per second in each interval, one key per outcome kind (stacked in the chart). */
export function trafficRows(series: AppSeriesDto): ChartRow[] {
  const step = Math.max(1, series.stepSeconds);
  return series.points.map((p) => {
    const row: ChartRow = { label: timeLabel(p.t, series.window) };
    for (const o of OUTCOME_KINDS) row[o.kind] = p.outcomes[o.kind] / step;
    return row;
  });
}

/** Requests refused or failed in each interval, one key per kind (the `ok` kind left out). */
export function errorRows(series: AppSeriesDto): ChartRow[] {
  return series.points.map((p) => {
    const row: ChartRow = { label: timeLabel(p.t, series.window) };
    for (const o of ERROR_KINDS) row[o.kind] = p.outcomes[o.kind];
    return row;
  });
}

/** Latency percentiles per interval; null (a gap) where nothing was answered. */
export function latencyRows(series: AppSeriesDto): ChartRow[] {
  return series.points.map((p) => ({
    label: timeLabel(p.t, series.window),
    p50: p.p50,
    p95: p.p95,
    p99: p.p99,
    modelP95: p.modelP95,
  }));
}

/** Requests refused or failed in the window, per kind, most first; kinds with none left out. */
export function errorTotals(series: AppSeriesDto): { info: OutcomeInfo; count: number }[] {
  return ERROR_KINDS.map((info) => ({ info, count: series.totals.outcomes[info.kind] }))
    .filter((e) => e.count > 0)
    .sort((a, b) => b.count - a.count);
}

export function processRows(series: ProcessSeriesDto): ChartRow[] {
  return series.points.map((p) => ({
    label: timeLabel(p.t, series.window),
    cpu: p.cpuPercent,
    rss: p.rssMb,
    heap: p.heapUsedMb,
    loop: p.eventLoopP99Ms,
    gc: p.gcPauseMs,
  }));
}

/** The latest point of the process series, for the figures above its charts. */
export function latestProcess(series: ProcessSeriesDto) {
  return series.points.at(-1);
}

export type QualityMetric = "auc" | "accuracy" | "rmse";

/** The live-quality figure a task is judged by: AUC for yes/no, accuracy for classes, RMSE. */
export function qualityMetric(task: OutcomeReportDto["task"]): QualityMetric {
  if (task === "binary") return "auc";
  if (task === "multiclass") return "accuracy";
  return "rmse";
}

/** Event names seen in any version, sorted, for the conversion columns. */
export function eventNames(report: OutcomeReportDto): string[] {
  const names = new Set<string>();
  for (const v of report.versions)
    for (const n of Object.keys(v.metrics.conversionRate)) names.add(n);
  return [...names].sort();
}

/** Whether any outcome or event has arrived at all (else the page explains how to send some). */
export function hasOutcomes(report: OutcomeReportDto): boolean {
  return report.versions.some((v) => v.metrics.labelled > 0 || v.metrics.events > 0);
}

export interface VersionLines {
  readonly rows: ChartRow[];
  readonly lines: readonly { key: string; label: string; color: string }[];
}

const VERSION_COLORS = ["#2453d6", "#e5891b", "#12a594", "#6941c6", "#c2303c", "#0e7c86"];

/**
 * One row per interval and one line per version, for a metric of the outcome points: the
 * chart that shows whether a new version is better than the one before in real life.
 */
export function versionLines(
  report: OutcomeReportDto,
  value: (m: OutcomeMetricsDto) => number | null,
): VersionLines {
  const byTime = new Map<string, ChartRow>();
  const versions = [...report.versions].sort((a, b) => a.version - b.version);
  const lines = versions.map((v, i) => ({
    key: `v${v.version}`,
    label: `Version ${v.version}`,
    color: VERSION_COLORS[i % VERSION_COLORS.length] ?? "#2453d6",
  }));
  for (const v of versions) {
    for (const p of v.points) {
      let row = byTime.get(p.t);
      if (!row) {
        row = { label: timeLabel(p.t, report.window) };
        byTime.set(p.t, row);
      }
      row[`v${v.version}`] = value(p);
    }
  }
  const rows = [...byTime.entries()].sort(([a], [b]) => Date.parse(a) - Date.parse(b));
  // Every row carries every version's key, so a version without data there is a gap, not 0.
  return {
    rows: rows.map(([, row]) => {
      for (const l of lines) if (!(l.key in row)) row[l.key] = null;
      return row;
    }),
    lines,
  };
}

export type Tone = "neutral" | "blue" | "green" | "amber" | "red" | "violet";

export function psiTone(level: FeatureDriftDto["psiLevel"]): Tone {
  return level === "alert" ? "red" : level === "warn" ? "amber" : "green";
}

/** PSI in words: what a person reads instead of the number. */
export function psiWords(level: FeatureDriftDto["psiLevel"]): string {
  return level === "alert" ? "Large shift" : level === "warn" ? "Some shift" : "Stable";
}

export function testLabel(name: FeatureDriftDto["test"]["name"]): string {
  switch (name) {
    case "ks":
      return "Kolmogorov-Smirnov";
    case "chi2":
      return "Chi-squared";
    case "psi":
      return "PSI";
    case "wasserstein":
      return "Wasserstein";
    case "jensenshannon":
      return "Jensen-Shannon";
  }
}

/** The drifted features first, then by PSI (the API ranks them so; this keeps it so). */
export function rankFeatures(report: DriftReportDto): FeatureDriftDto[] {
  return [...report.features].sort(
    (a, b) => Number(b.drifted) - Number(a.drifted) || b.psi - a.psi,
  );
}

/** ≤ 1 is within budget; above, the budget runs out early; 6 and more is what pages someone. */
export function burnTone(rate: number | null): Tone {
  if (rate === null) return "neutral";
  if (rate >= 6) return "red";
  if (rate > 1) return "amber";
  return "green";
}

export function sloStateInfo(state: SloStatusDto["state"]): { label: string; tone: Tone } {
  switch (state) {
    case "ok":
      return { label: "Met", tone: "green" };
    case "warning":
      return { label: "At risk", tone: "amber" };
    case "breached":
      return { label: "Breached", tone: "red" };
    case "no_data":
      return { label: "No data yet", tone: "neutral" };
  }
}

export function sloTitle(name: SloStatusDto["name"]): string {
  switch (name) {
    case "latency_p95":
      return "Response time (p95)";
    case "error_rate":
      return "Server error rate";
    case "availability":
      return "Availability";
  }
}

/** An SLO's value in its own unit: milliseconds for latency, percent for the shares. */
export function formatSloValue(name: SloStatusDto["name"], value: number | null): string {
  if (value === null) return "—";
  if (name === "latency_p95") return `${formatNumber(value, value < 10 ? 2 : 0)} ms`;
  return formatPercent(value * 100, 2);
}

/** "at most 250 ms", "at least 99.9%": the objective as a promise. */
export function objectiveWords(slo: SloStatusDto): string {
  const value = formatSloValue(slo.name, slo.objective);
  return slo.name === "availability" ? `at least ${value}` : `at most ${value}`;
}

export function severityTone(severity: MonitorEventDto["severity"]): Tone {
  return severity === "critical" ? "red" : severity === "warning" ? "amber" : "blue";
}

export function eventKindLabel(kind: MonitorEventDto["kind"]): string {
  switch (kind) {
    case "alert":
      return "Alert";
    case "recovery":
      return "Recovered";
    case "rollback":
      return "Rolled back";
    case "info":
      return "Note";
  }
}

/** Milliseconds the way the charts and figures show them. */
export function formatMs(value: number | null | undefined): string {
  if (value === null || value === undefined) return "—";
  return `${formatNumber(value, value < 10 ? 2 : 0)} ms`;
}

export interface DriftSettingsView {
  readonly minRows: number;
  readonly windowMinutes: number;
  readonly windowRows: number;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * The drift settings of an app's spec (as `GET /v1/apps/{app}` sends it), for sentences such
 * as "needs 100 predictions"; undefined where the spec does not say (the server's defaults).
 */
export function driftSettings(spec: unknown): Partial<DriftSettingsView> {
  const drift =
    isRecord(spec) && isRecord(spec.monitoring) && isRecord(spec.monitoring.drift)
      ? spec.monitoring.drift
      : {};
  const out: { -readonly [K in keyof DriftSettingsView]?: number } = {};
  for (const key of ["minRows", "windowMinutes", "windowRows"] as const) {
    const value = drift[key];
    if (typeof value === "number" && Number.isFinite(value)) out[key] = value;
  }
  return out;
}

/**
 * The classes an app answers with, from its output schema (`prediction.enum` of the single
 * answer's shape), for an example outcome; undefined for a regression or an unknown shape.
 */
export function predictionClasses(outputSchema: unknown): string[] | undefined {
  const shapes =
    isRecord(outputSchema) && Array.isArray(outputSchema.oneOf)
      ? outputSchema.oneOf
      : [outputSchema];
  for (const shape of shapes) {
    const prediction =
      isRecord(shape) && isRecord(shape.properties) ? shape.properties.prediction : undefined;
    if (isRecord(prediction) && Array.isArray(prediction.enum)) {
      const classes = prediction.enum.filter((c): c is string => typeof c === "string");
      if (classes.length > 0) return classes;
    }
  }
  return undefined;
}
