/**
 * What a metrics time series is, wherever its numbers come from: the windows the API offers,
 * how each is cut into at most {@link MAX_POINTS} points, the {@link Tally} that sums requests,
 * outcomes, cache hits and two latency histograms (total and model-only) over any set of
 * 10-second buckets or 1-minute rollups, and the point it becomes. The in-memory recorder
 * (app-metrics.ts) and the rollup reader (metric-rollups.ts) both fill Tallies, so a window
 * reads the same whichever source answers it.
 */
import type { Float64Histogram } from "hdr-histogram-js";
import { addHistogram, countAbove, newMergeHistogram, percentileMs } from "./latency-histogram.ts";
import { OUTCOMES, type Outcome } from "./observation.ts";

/** Most points a series is rebinned to. */
export const MAX_POINTS = 120;

export const SERIES_WINDOWS = ["5m", "15m", "1h", "6h", "24h", "7d", "30d"] as const;
export type SeriesWindow = (typeof SERIES_WINDOWS)[number];

const WINDOW_SECONDS: Readonly<Record<SeriesWindow, number>> = {
  "5m": 5 * 60,
  "15m": 15 * 60,
  "1h": 60 * 60,
  "6h": 6 * 60 * 60,
  "24h": 24 * 60 * 60,
  "7d": 7 * 24 * 60 * 60,
  "30d": 30 * 24 * 60 * 60,
};

export function windowSeconds(window: SeriesWindow): number {
  return WINDOW_SECONDS[window];
}

/**
 * The step a window of `seconds` is rebinned to: a whole number of `unitSeconds` (10 s buckets
 * in memory, 60 s rollups), giving at most MAX_POINTS points.
 */
export function stepSeconds(seconds: number, unitSeconds: number): number {
  return unitSeconds * Math.max(1, Math.ceil(seconds / unitSeconds / MAX_POINTS));
}

/** Where each outcome's count sits in a counts array; the cache hits follow the outcomes. */
export const OUTCOME_INDEX: Readonly<Record<Outcome, number>> = {
  ok: 0,
  client_error: 1,
  shed: 2,
  rate_limited: 3,
  timeout: 4,
  error: 5,
};
export const CACHE_HITS_INDEX = OUTCOMES.length;
/** Counters per bucket or minute: the six outcomes, then cache hits. */
export const COUNTERS = OUTCOMES.length + 1;

/** Requests of one interval (or a whole window), as the API shows them. */
export interface SeriesTotals {
  readonly requests: number;
  /** Requests per second over the interval (its elapsed part, for the current one). */
  readonly rps: number;
  /** Requests per outcome; every kind present. */
  readonly outcomes: Readonly<Record<Outcome, number>>;
  /** Share of requests whose outcome is not `ok`; 0 without requests. */
  readonly errorRate: number;
  /** Request latency (received to sent) in ms; null without requests. */
  readonly p50: number | null;
  readonly p95: number | null;
  readonly p99: number | null;
  /** Model-only latency in ms; null when no model ran in the interval. */
  readonly modelP50: number | null;
  readonly modelP95: number | null;
  readonly modelP99: number | null;
  readonly cacheHits: number;
}

export interface SeriesPoint extends SeriesTotals {
  /** Start of the interval, ISO-8601. */
  readonly t: string;
}

/** An app's (or one version's) traffic over a window, oldest point first. */
export interface Series {
  readonly window: SeriesWindow;
  /** null: all versions together. */
  readonly version: number | null;
  readonly stepSeconds: number;
  /** memory: this replica's 10-second buckets; rollups: every replica's 1-minute rollups. */
  readonly source: "memory" | "rollups";
  readonly points: readonly SeriesPoint[];
  readonly totals: SeriesTotals;
  /** Versions that served in the window, newest first. */
  readonly versions: readonly number[];
}

/** A running sum of counters and latency histograms; reset and reuse rather than reallocate. */
export class Tally {
  /** The six outcomes in OUTCOMES order, then cache hits. */
  readonly counts = new Float64Array(COUNTERS);
  readonly latency: Float64Histogram = newMergeHistogram();
  readonly model: Float64Histogram = newMergeHistogram();

  reset(): void {
    this.counts.fill(0);
    if (this.latency.totalCount > 0) this.latency.reset();
    if (this.model.totalCount > 0) this.model.reset();
  }

  get requests(): number {
    let sum = 0;
    for (let i = 0; i < OUTCOMES.length; i++) sum += this.counts[i] as number;
    return sum;
  }

  /** Add `COUNTERS` counters starting at `offset` of `from`. */
  addCounts(from: ArrayLike<number>, offset = 0): void {
    for (let i = 0; i < COUNTERS; i++) {
      this.counts[i] = (this.counts[i] as number) + (from[offset + i] as number);
    }
  }

  add(other: Tally): void {
    this.addCounts(other.counts);
    addHistogram(this.latency, other.latency);
    addHistogram(this.model, other.model);
  }

  outcomes(): Record<Outcome, number> {
    const c = this.counts;
    return {
      ok: c[0] as number,
      client_error: c[1] as number,
      shed: c[2] as number,
      rate_limited: c[3] as number,
      timeout: c[4] as number,
      error: c[5] as number,
    };
  }

  /** Requests slower than `ms` (read off the latency histogram, to its 1% precision). */
  slowerThan(ms: number): number {
    return countAbove(this.latency, ms);
  }

  /** The tally as totals over `seconds` (the rate's denominator). */
  totals(seconds: number): SeriesTotals {
    const requests = this.requests;
    const ok = this.counts[OUTCOME_INDEX.ok] as number;
    return {
      requests,
      rps: seconds > 0 ? requests / seconds : 0,
      outcomes: this.outcomes(),
      errorRate: requests > 0 ? (requests - ok) / requests : 0,
      p50: percentileMs(this.latency, 50),
      p95: percentileMs(this.latency, 95),
      p99: percentileMs(this.latency, 99),
      modelP50: percentileMs(this.model, 50),
      modelP95: percentileMs(this.model, 95),
      modelP99: percentileMs(this.model, 99),
      cacheHits: this.counts[CACHE_HITS_INDEX] as number,
    };
  }
}

/** The windows of `GET /v1/apps/{app}/metrics` (the first Monitor page's API). */
export const METRICS_WINDOWS = ["5m", "15m", "1h", "6h", "24h"] as const;
export type MetricsWindow = (typeof METRICS_WINDOWS)[number];

/** A point in the older metrics shape: errors split by status class instead of outcome. */
export interface LegacyMetricsPoint {
  readonly t: string;
  readonly requests: number;
  readonly rps: number;
  /** Answers with a 4xx or 5xx status. */
  readonly errors: number;
  /** 4xx (rate limited included). */
  readonly clientErrors: number;
  /** 5xx (shed and timeouts included). */
  readonly serverErrors: number;
  readonly errorRate: number;
  readonly p50: number | null;
  readonly p95: number | null;
  readonly p99: number | null;
}

/**
 * Outcomes back to status classes: every outcome but `ok` is a 4xx or 5xx answer (see
 * `outcomeOf`), so the older shape is derived exactly.
 */
export function legacyTotals(t: SeriesTotals): Omit<LegacyMetricsPoint, "t"> {
  const o = t.outcomes;
  const clientErrors = o.client_error + o.rate_limited;
  const serverErrors = o.shed + o.timeout + o.error;
  const errors = clientErrors + serverErrors;
  return {
    requests: t.requests,
    rps: t.rps,
    errors,
    clientErrors,
    serverErrors,
    errorRate: t.requests > 0 ? errors / t.requests : 0,
    p50: t.p50,
    p95: t.p95,
    p99: t.p99,
  };
}

export function legacyPoint(p: SeriesPoint): LegacyMetricsPoint {
  return { t: p.t, ...legacyTotals(p) };
}
