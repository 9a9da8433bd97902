/**
 * Live model quality from the prediction log: per app version, over a window and per time step,
 * how many logged predictions got their true value, and how good they were (AUC and accuracy
 * for classification, RMSE and MAE for regression), plus the business events that followed
 * them. DuckDB joins and groups the rows (prediction-store.ts); the metrics are the same
 * functions training reports with (src/learn/metrics.ts), so live and hold-out numbers compare.
 *
 * AUC: binary models by the probability of their positive class; multiclass models one-vs-rest,
 * the unweighted mean over the classes that have both positive and negative rows (macro), null
 * when no class has both.
 */
import { accuracy, auc, mae, rmse } from "../../learn/metrics.ts";
import type { LabelledRow, WindowData } from "./prediction-store.ts";

/**
 * The report's shapes, declared here so the monitor does not depend on the server; the route
 * assigns them to the API's DTOs (src/server/monitor-api-types.ts), which checks they agree.
 */
export interface OutcomeMetrics {
  readonly labelled: number;
  readonly auc: number | null;
  readonly accuracy: number | null;
  readonly rmse: number | null;
  readonly mae: number | null;
  readonly events: number;
  readonly conversionRate: Readonly<Record<string, number>>;
  readonly eventValue: Readonly<Record<string, number>>;
}

export interface OutcomePoint extends OutcomeMetrics {
  readonly t: string;
  readonly predictions: number;
}

export interface OutcomeReport {
  readonly app: string;
  readonly task: "binary" | "multiclass" | "regression";
  readonly window: OutcomeWindow;
  readonly stepSeconds: number;
  readonly versions: readonly {
    readonly version: number;
    readonly predictions: number;
    readonly metrics: OutcomeMetrics;
    readonly points: readonly OutcomePoint[];
  }[];
}

/** The report's windows, each cut into at most 60 steps. */
export const OUTCOME_WINDOWS = ["1h", "6h", "24h", "7d", "30d"] as const;
export type OutcomeWindow = (typeof OUTCOME_WINDOWS)[number];

const WINDOWS: Readonly<Record<OutcomeWindow, { seconds: number; step: number }>> = {
  "1h": { seconds: 3600, step: 60 },
  "6h": { seconds: 6 * 3600, step: 360 },
  "24h": { seconds: 86_400, step: 1800 },
  "7d": { seconds: 7 * 86_400, step: 3 * 3600 },
  "30d": { seconds: 30 * 86_400, step: 12 * 3600 },
};

export interface WindowBounds {
  /** Epoch ms of the first step's start. */
  readonly from: number;
  /** Epoch ms of the last step's end (after `now`). */
  readonly to: number;
  readonly stepMs: number;
  readonly points: number;
}

/** Steps aligned to multiples of the step, the last one holding `now`. */
export function windowBounds(window: OutcomeWindow, now: number): WindowBounds {
  const { seconds, step } = WINDOWS[window];
  const stepMs = step * 1000;
  const points = Math.ceil(seconds / step);
  const to = (Math.floor(now / stepMs) + 1) * stepMs;
  return { from: to - points * stepMs, to, stepMs, points };
}

const orNull = (v: number) => (Number.isFinite(v) ? v : null);

/** Labelled count, AUC, accuracy, RMSE and MAE of a group of labelled rows. */
export function qualityOf(
  rows: readonly LabelledRow[],
): Pick<OutcomeMetrics, "labelled" | "auc" | "accuracy" | "rmse" | "mae"> {
  const classified = rows.filter((r) => r.predictionLabel !== null && r.actualLabel !== null);
  const regressed = rows.filter((r) => r.predictionValue !== null && r.actualValue !== null);
  let acc: number | null = null;
  if (classified.length > 0) {
    const codes = new Map<string, number>();
    const code = (label: string) => {
      const known = codes.get(label);
      if (known !== undefined) return known;
      codes.set(label, codes.size);
      return codes.size - 1;
    };
    const yTrue = Float64Array.from(classified, (r) => code(r.actualLabel as string));
    const yPred = Float64Array.from(classified, (r) => code(r.predictionLabel as string));
    acc = orNull(accuracy(yTrue, yPred));
  }
  const yTrue = Float64Array.from(regressed, (r) => r.actualValue as number);
  const yPred = Float64Array.from(regressed, (r) => r.predictionValue as number);
  return {
    labelled: classified.length + regressed.length,
    auc: aucOf(classified),
    accuracy: acc,
    rmse: regressed.length > 0 ? orNull(rmse(yTrue, yPred)) : null,
    mae: regressed.length > 0 ? orNull(mae(yTrue, yPred)) : null,
  };
}

function aucOf(rows: readonly LabelledRow[]): number | null {
  const binary = rows.filter((r) => r.positiveLabel !== null && r.score !== null);
  if (binary.length > 0) {
    const y = Float64Array.from(binary, (r) => (r.actualLabel === r.positiveLabel ? 1 : 0));
    const s = Float64Array.from(binary, (r) => r.score as number);
    return orNull(auc(y, s));
  }
  const multi = rows.filter((r) => r.positiveLabel === null && r.probabilities !== null);
  if (multi.length === 0) return null;
  const probabilities = multi.map((r) => parseProbabilities(r.probabilities as string));
  const classes = new Set<string>();
  for (const p of probabilities) for (const k of Object.keys(p)) classes.add(k);
  let sum = 0;
  let counted = 0;
  for (const k of classes) {
    const y = Float64Array.from(multi, (r) => (r.actualLabel === k ? 1 : 0));
    const s = Float64Array.from(probabilities, (p) => p[k] ?? 0);
    const a = auc(y, s);
    if (Number.isFinite(a)) {
      sum += a;
      counted++;
    }
  }
  return counted > 0 ? sum / counted : null;
}

function parseProbabilities(text: string): Record<string, number> {
  const parsed: unknown = JSON.parse(text);
  const out: Record<string, number> = {};
  if (typeof parsed !== "object" || parsed === null) return out;
  for (const [k, v] of Object.entries(parsed)) if (typeof v === "number") out[k] = v;
  return out;
}

interface Group {
  predictions: number;
  eventful: number;
  labelled: LabelledRow[];
  events: Map<string, { count: number; value: number }>;
}

const emptyGroup = (): Group => ({ predictions: 0, eventful: 0, labelled: [], events: new Map() });

function metricsOf(g: Group): OutcomeMetrics {
  const conversionRate: Record<string, number> = {};
  const eventValue: Record<string, number> = {};
  for (const [name, e] of [...g.events].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    conversionRate[name] = g.predictions > 0 ? e.count / g.predictions : 0;
    eventValue[name] = e.value;
  }
  return { ...qualityOf(g.labelled), events: g.eventful, conversionRate, eventValue };
}

/** The `GET /v1/apps/{app}/outcomes` body from a window of the log; versions newest first. */
export function buildOutcomeReport(
  app: string,
  task: OutcomeReport["task"],
  window: OutcomeWindow,
  bounds: WindowBounds,
  data: WindowData,
): OutcomeReport {
  const versions = new Map<number, { total: Group; points: Group[] }>();
  const groups = (version: number, bucket: number): [Group, Group] | undefined => {
    if (bucket < 0 || bucket >= bounds.points) return undefined;
    let v = versions.get(version);
    if (!v) {
      v = { total: emptyGroup(), points: Array.from({ length: bounds.points }, emptyGroup) };
      versions.set(version, v);
    }
    return [v.total, v.points[bucket] as Group];
  };
  for (const c of data.counts) {
    for (const g of groups(c.version, c.bucket) ?? []) {
      g.predictions += c.predictions;
      g.eventful += c.eventful;
    }
  }
  for (const row of data.labelled) {
    for (const g of groups(row.version, row.bucket) ?? []) g.labelled.push(row);
  }
  for (const e of data.events) {
    for (const g of groups(e.version, e.bucket) ?? []) {
      const seen = g.events.get(e.event) ?? { count: 0, value: 0 };
      seen.count += e.count;
      seen.value += e.value;
      g.events.set(e.event, seen);
    }
  }
  return {
    app,
    task,
    window,
    stepSeconds: bounds.stepMs / 1000,
    versions: [...versions.entries()]
      .sort(([a], [b]) => b - a)
      .map(([version, v]) => ({
        version,
        predictions: v.total.predictions,
        metrics: metricsOf(v.total),
        points: v.points.map(
          (g, i): OutcomePoint => ({
            t: new Date(bounds.from + i * bounds.stepMs).toISOString(),
            predictions: g.predictions,
            ...metricsOf(g),
          }),
        ),
      })),
  };
}
