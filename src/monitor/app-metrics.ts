/**
 * The in-process recorder of what every published app serves: per app, per 10-second bucket,
 * requests, client errors (4xx), server errors (5xx) and an HDR latency histogram, kept for
 * 24 hours. One recorder, several readers: the Monitor page's time series
 * ({@link AppMetricsRecorder.series}) and, later, a Prometheus exporter reading the lifetime
 * counters and histograms ({@link AppMetricsRecorder.lifetime}), so the numbers can never
 * disagree between the two.
 *
 * Memory stays bounded per app: a ring of 8,640 bucket slots (24 h / 10 s) of plain counters,
 * the closed buckets' histograms as sparse (index, count) pairs, one live histogram for the
 * bucket being filled and one lifetime histogram. Recording is a few array writes and one
 * `recordValue`; merging happens only when someone reads.
 *
 * Each replica records its own traffic; across replicas, aggregate in Prometheus.
 */
import { Int32Histogram } from "hdr-histogram-js";

/** Seconds per bucket: the finest resolution the recorder keeps. */
export const BUCKET_SECONDS = 10;
/** How long buckets are kept. */
export const RETENTION_SECONDS = 24 * 60 * 60;
const SLOTS = RETENTION_SECONDS / BUCKET_SECONDS;
/** Most points a series is rebinned to. */
export const MAX_POINTS = 120;

/** Histogram range in microseconds: 1 µs to 10 minutes, 2 significant digits (1% error). */
const LOWEST_US = 1;
const HIGHEST_US = 600_000_000;
const SIGNIFICANT_DIGITS = 2;

export const METRICS_WINDOWS = ["5m", "15m", "1h", "6h", "24h"] as const;
export type MetricsWindow = (typeof METRICS_WINDOWS)[number];

const WINDOW_SECONDS: Readonly<Record<MetricsWindow, number>> = {
  "5m": 5 * 60,
  "15m": 15 * 60,
  "1h": 60 * 60,
  "6h": 6 * 60 * 60,
  "24h": 24 * 60 * 60,
};

export function windowSeconds(window: MetricsWindow): number {
  return WINDOW_SECONDS[window];
}

/** The step a window is rebinned to: a multiple of the bucket, giving at most MAX_POINTS. */
export function stepSecondsFor(window: MetricsWindow): number {
  const buckets = WINDOW_SECONDS[window] / BUCKET_SECONDS;
  return BUCKET_SECONDS * Math.ceil(buckets / MAX_POINTS);
}

/** One served request, as the server saw it. */
export interface RequestSample {
  readonly workspaceId: string;
  readonly app: string;
  /** The HTTP status sent. */
  readonly status: number;
  /** From request received to response sent. */
  readonly latencyMs: number;
  /** When the response was sent (epoch ms); default now. */
  readonly at?: number;
}

export interface MetricsPoint {
  /** Start of the interval, ISO-8601. */
  readonly t: string;
  readonly requests: number;
  /** Requests per second over the interval (the elapsed part of it, for the current one). */
  readonly rps: number;
  /** Answers with a 4xx or 5xx status. */
  readonly errors: number;
  readonly clientErrors: number;
  readonly serverErrors: number;
  /** errors / requests; 0 without requests. */
  readonly errorRate: number;
  /** Latency percentiles in milliseconds; null without requests. */
  readonly p50: number | null;
  readonly p95: number | null;
  readonly p99: number | null;
}

export interface MetricsTotals {
  readonly requests: number;
  readonly rps: number;
  readonly errors: number;
  readonly clientErrors: number;
  readonly serverErrors: number;
  readonly errorRate: number;
  readonly p50: number | null;
  readonly p95: number | null;
  readonly p99: number | null;
}

export interface MetricsSeries {
  readonly window: MetricsWindow;
  readonly stepSeconds: number;
  readonly series: readonly MetricsPoint[];
  readonly totals: MetricsTotals;
}

/** Since the process started: for counters that only grow (Prometheus `_total`). */
export interface LifetimeMetrics {
  readonly workspaceId: string;
  readonly app: string;
  readonly requests: number;
  readonly clientErrors: number;
  readonly serverErrors: number;
  readonly latencySumMs: number;
  /** Latencies in microseconds. Read it; do not record into it. */
  readonly latencyMicros: Int32Histogram;
}

function newHistogram(): Int32Histogram {
  return new Int32Histogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS);
}

function toMicros(ms: number): number {
  if (!Number.isFinite(ms) || ms <= 0) return LOWEST_US;
  return Math.min(HIGHEST_US, Math.max(LOWEST_US, Math.round(ms * 1000)));
}

/** The non-empty counts of a histogram as (index, count) pairs. */
function compress(histogram: Int32Histogram): Uint32Array {
  const pairs: number[] = [];
  if (histogram.totalCount === 0) return new Uint32Array(0);
  for (let i = 0; i < histogram.countsArrayLength; i++) {
    const count = histogram.getCountAtIndex(i);
    if (count > 0) pairs.push(i, count);
  }
  return Uint32Array.from(pairs);
}

/** One app's ring of buckets. */
class AppSeries {
  /** Bucket number (epoch seconds / 10) held by each slot; -1 = empty. */
  readonly bucket = new Float64Array(SLOTS).fill(-1);
  readonly requests = new Uint32Array(SLOTS);
  readonly clientErrors = new Uint32Array(SLOTS);
  readonly serverErrors = new Uint32Array(SLOTS);
  /** Closed buckets' latency histograms, sparse. */
  readonly latency: (Uint32Array | undefined)[] = new Array(SLOTS);
  /** The bucket being filled and its histogram. */
  liveBucket = -1;
  readonly live = newHistogram();
  readonly lifetime: {
    requests: number;
    clientErrors: number;
    serverErrors: number;
    latencySumMs: number;
    readonly histogram: Int32Histogram;
  } = { requests: 0, clientErrors: 0, serverErrors: 0, latencySumMs: 0, histogram: newHistogram() };

  constructor(
    readonly workspaceId: string,
    readonly app: string,
  ) {}

  record(bucket: number, status: number, micros: number, latencyMs: number): void {
    // A clock that steps back records into the live bucket rather than rewriting history.
    if (bucket > this.liveBucket) this.roll(bucket);
    const slot = this.liveBucket % SLOTS;
    this.requests[slot] = (this.requests[slot] ?? 0) + 1;
    if (status >= 500) this.serverErrors[slot] = (this.serverErrors[slot] ?? 0) + 1;
    else if (status >= 400) this.clientErrors[slot] = (this.clientErrors[slot] ?? 0) + 1;
    this.live.recordValue(micros);
    const life = this.lifetime;
    life.requests++;
    if (status >= 500) life.serverErrors++;
    else if (status >= 400) life.clientErrors++;
    life.latencySumMs += latencyMs;
    life.histogram.recordValue(micros);
  }

  /** Close the live bucket and start `bucket` in its slot. */
  private roll(bucket: number): void {
    if (this.liveBucket >= 0) {
      this.latency[this.liveBucket % SLOTS] = compress(this.live);
      this.live.reset();
    }
    const slot = bucket % SLOTS;
    this.bucket[slot] = bucket;
    this.requests[slot] = 0;
    this.clientErrors[slot] = 0;
    this.serverErrors[slot] = 0;
    this.latency[slot] = undefined;
    this.liveBucket = bucket;
  }

  /** Add bucket `bucket` (if still held) into the accumulators. */
  addBucket(
    bucket: number,
    into: { requests: number; clientErrors: number; serverErrors: number },
    histograms: readonly Int32Histogram[],
  ): void {
    const slot = bucket % SLOTS;
    if (this.bucket[slot] !== bucket) return;
    into.requests += this.requests[slot] ?? 0;
    into.clientErrors += this.clientErrors[slot] ?? 0;
    into.serverErrors += this.serverErrors[slot] ?? 0;
    if (bucket === this.liveBucket) {
      for (const h of histograms) h.add(this.live);
      return;
    }
    const pairs = this.latency[slot];
    if (!pairs) return;
    // Same layout in every histogram here, so counts add index by index (percentiles read
    // only the counts and the total).
    for (const h of histograms) {
      let added = 0;
      for (let i = 0; i < pairs.length; i += 2) {
        const count = pairs[i + 1] as number;
        h.addToCountAtIndex(pairs[i] as number, count);
        added += count;
      }
      h.addToTotalCount(added);
    }
  }
}

function percentiles(h: Int32Histogram): Pick<MetricsPoint, "p50" | "p95" | "p99"> {
  if (h.totalCount === 0) return { p50: null, p95: null, p99: null };
  const ms = (p: number) => Math.round(h.getValueAtPercentile(p)) / 1000;
  return { p50: ms(50), p95: ms(95), p99: ms(99) };
}

function rates(
  counts: { requests: number; clientErrors: number; serverErrors: number },
  seconds: number,
) {
  const errors = counts.clientErrors + counts.serverErrors;
  return {
    requests: counts.requests,
    rps: seconds > 0 ? counts.requests / seconds : 0,
    errors,
    clientErrors: counts.clientErrors,
    serverErrors: counts.serverErrors,
    errorRate: counts.requests > 0 ? errors / counts.requests : 0,
  };
}

export interface AppMetricsOptions {
  /** The clock (epoch ms); tests pass their own. */
  readonly now?: () => number;
}

export class AppMetricsRecorder {
  private readonly apps = new Map<string, AppSeries>();
  private readonly now: () => number;

  constructor(options: AppMetricsOptions = {}) {
    this.now = options.now ?? Date.now;
  }

  /** Count one served request. Cheap: a few array writes and one histogram update. */
  record(sample: RequestSample): void {
    const key = `${sample.workspaceId}\u0000${sample.app}`;
    let series = this.apps.get(key);
    if (!series) {
      series = new AppSeries(sample.workspaceId, sample.app);
      this.apps.set(key, series);
    }
    const at = sample.at ?? this.now();
    series.record(
      Math.floor(at / 1000 / BUCKET_SECONDS),
      sample.status,
      toMicros(sample.latencyMs),
      Math.max(0, sample.latencyMs),
    );
  }

  /**
   * The app's traffic over the last `window`, rebinned to at most {@link MAX_POINTS} points of
   * `stepSeconds` each, oldest first; the last point holds the current bucket. An app that
   * served nothing gets zero points, not an error.
   */
  series(workspaceId: string, app: string, window: MetricsWindow): MetricsSeries {
    const stepSeconds = stepSecondsFor(window);
    const perPoint = stepSeconds / BUCKET_SECONDS;
    const points = Math.ceil(WINDOW_SECONDS[window] / stepSeconds);
    const now = this.now();
    const current = Math.floor(now / 1000 / BUCKET_SECONDS);
    const first = current - points * perPoint + 1;
    const data = this.apps.get(`${workspaceId}\u0000${app}`);
    const point = newHistogram();
    const total = newHistogram();
    const totals = { requests: 0, clientErrors: 0, serverErrors: 0 };
    const series: MetricsPoint[] = [];
    for (let p = 0; p < points; p++) {
      const start = first + p * perPoint;
      const counts = { requests: 0, clientErrors: 0, serverErrors: 0 };
      point.reset();
      if (data) {
        for (let b = start; b < start + perPoint; b++) data.addBucket(b, counts, [point, total]);
      }
      totals.requests += counts.requests;
      totals.clientErrors += counts.clientErrors;
      totals.serverErrors += counts.serverErrors;
      const startMs = start * BUCKET_SECONDS * 1000;
      const elapsed = Math.min(stepSeconds, Math.max(1, (now - startMs) / 1000));
      series.push({
        t: new Date(startMs).toISOString(),
        ...rates(counts, elapsed),
        ...percentiles(point),
      });
    }
    const startMs = first * BUCKET_SECONDS * 1000;
    const elapsed = Math.max(1, Math.min(WINDOW_SECONDS[window], (now - startMs) / 1000));
    return {
      window,
      stepSeconds,
      series,
      totals: { ...rates(totals, elapsed), ...percentiles(total) },
    };
  }

  /** Every app that served a request since the process started, with lifetime counters. */
  lifetime(): LifetimeMetrics[] {
    return [...this.apps.values()].map((s) => ({
      workspaceId: s.workspaceId,
      app: s.app,
      requests: s.lifetime.requests,
      clientErrors: s.lifetime.clientErrors,
      serverErrors: s.lifetime.serverErrors,
      latencySumMs: s.lifetime.latencySumMs,
      latencyMicros: s.lifetime.histogram,
    }));
  }
}
