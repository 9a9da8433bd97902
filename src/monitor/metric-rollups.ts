/**
 * 1-minute rollups: what carries an app's metrics beyond the hour the recorder keeps in memory,
 * and across replicas. Once a minute this writer takes every closed minute the recorder holds
 * (per app version: outcome counts, cache hits, the two latency histograms as sparse pairs) and
 * upserts it into the registry's `metric_rollups` under this replica's id; once an hour it
 * deletes rows older than the retention (30 days by default); on close it writes what is left,
 * the current minute included.
 *
 * It is also the reader of long windows and the {@link MetricsSource} of the SLO evaluator:
 * windows that fit in memory are answered by the recorder (this replica, 10-second buckets);
 * longer ones by every replica's rows merged with this replica's minutes not written yet, so a
 * request served a second ago is in the 30-day view too. Minutes and replicas merge exactly:
 * counters add, histograms add index by index.
 */
import { randomUUID } from "node:crypto";
import os from "node:os";
import type { MetricRollup, MetricRollupRepository } from "../registry/metric-rollup-repository.ts";
import type { AppMetricsRecorder, MinuteCounts, VersionFilter } from "./app-metrics.ts";
import { addEncoded, addPairs, compress, encodePairs, percentileMs } from "./latency-histogram.ts";
import {
  CACHE_HITS_INDEX,
  COUNTERS,
  OUTCOME_INDEX,
  type Series,
  type SeriesPoint,
  type SeriesWindow,
  stepSeconds,
  Tally,
  windowSeconds,
} from "./series.ts";
import type { MetricsSource, WindowCounts } from "./sources.ts";

const MINUTE_MS = 60_000;
/** Default retention of the rollups, in days. */
export const DEFAULT_ROLLUP_DAYS = 30;

export interface MetricRollupsOptions {
  readonly recorder: AppMetricsRecorder;
  readonly repository: Pick<MetricRollupRepository, "upsert" | "range" | "deleteOlderThan">;
  /** Rows older than this many days are deleted (default 30). */
  readonly retentionDays?: number;
  /** This process's id in the rows; default host:pid:random. */
  readonly replica?: string;
  /** The clock (epoch ms); tests pass their own. Must be the recorder's. */
  readonly now?: () => number;
  /** How long after a minute ends it is written (default 2 s, so late answers land first). */
  readonly flushDelayMs?: number;
  /** How often expired rows are deleted (default 1 h). */
  readonly purgeEveryMs?: number;
  /** Failures of the timers' writes (the next tick retries them); default: ignored. */
  readonly onError?: (error: unknown) => void;
}

/**
 * A minute (or, from the hour cache, an hour) of one version, whichever side it came from:
 * histograms as pairs (memory, the cache) or still encoded (rows read from the registry).
 */
interface Unit {
  /** Its first minute. */
  readonly minute: number;
  readonly version: number;
  readonly counts: ArrayLike<number>;
  readonly latency: Uint32Array | string;
  readonly model: Uint32Array | string;
}

/** Minutes after an hour has ended before its rows are taken as final and cached. */
const SETTLE_MINUTES = 5;
/** Hours loaded per registry query when the cache fills (a day: 1,440 rows per version). */
const HOURS_PER_LOAD = 24;
/** A cache not read for this long is dropped. */
const CACHE_IDLE_MS = 2 * 3_600_000;

/** One app's settled hours, merged across replicas: hour → version → unit. */
interface HourCache {
  readonly hours: Map<number, Map<number, Unit>>;
  lastUsed: number;
  /** Loads run one at a time per app. */
  chain: Promise<void>;
}

function toRow(m: MinuteCounts, replica: string): MetricRollup {
  const c = m.counts;
  const at = (i: number) => c[i] as number;
  let requests = 0;
  for (let i = 0; i < CACHE_HITS_INDEX; i++) requests += at(i);
  return {
    workspaceId: m.workspaceId,
    app: m.app,
    version: m.version,
    minute: m.minute,
    replica,
    requests,
    ok: at(OUTCOME_INDEX.ok),
    clientError: at(OUTCOME_INDEX.client_error),
    shed: at(OUTCOME_INDEX.shed),
    rateLimited: at(OUTCOME_INDEX.rate_limited),
    timeout: at(OUTCOME_INDEX.timeout),
    error: at(OUTCOME_INDEX.error),
    cacheHits: at(CACHE_HITS_INDEX),
    latency: encodePairs(m.latency),
    modelLatency: encodePairs(m.model),
  };
}

function fromRow(r: MetricRollup): Unit {
  const counts = new Float64Array(COUNTERS);
  counts[OUTCOME_INDEX.ok] = r.ok;
  counts[OUTCOME_INDEX.client_error] = r.clientError;
  counts[OUTCOME_INDEX.shed] = r.shed;
  counts[OUTCOME_INDEX.rate_limited] = r.rateLimited;
  counts[OUTCOME_INDEX.timeout] = r.timeout;
  counts[OUTCOME_INDEX.error] = r.error;
  counts[CACHE_HITS_INDEX] = r.cacheHits;
  return {
    minute: r.minute,
    version: r.version,
    counts,
    latency: r.latency,
    model: r.modelLatency,
  };
}

function addUnit(into: Tally, unit: Unit): void {
  into.addCounts(unit.counts);
  if (typeof unit.latency === "string") addEncoded(into.latency, unit.latency);
  else addPairs(into.latency, unit.latency);
  if (typeof unit.model === "string") addEncoded(into.model, unit.model);
  else addPairs(into.model, unit.model);
}

export class MetricRollups implements MetricsSource {
  readonly replica: string;
  private readonly recorder: AppMetricsRecorder;
  private readonly repository: MetricRollupsOptions["repository"];
  private readonly now: () => number;
  private readonly retentionMinutes: number;
  /** Every minute up to this one that this replica served is in the registry. */
  private flushedThrough = -1;
  private flushing: Promise<number> | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private purgeTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly hourCaches = new Map<string, HourCache>();
  private onError: (error: unknown) => void;

  constructor(private readonly options: MetricRollupsOptions) {
    this.recorder = options.recorder;
    this.repository = options.repository;
    this.now = options.now ?? Date.now;
    this.onError = options.onError ?? (() => {});
    const days = options.retentionDays ?? DEFAULT_ROLLUP_DAYS;
    if (!Number.isFinite(days) || days <= 0) {
      throw new RangeError(`retentionDays must be positive, not ${days}`);
    }
    this.retentionMinutes = Math.ceil(days * 24 * 60);
    this.replica = options.replica ?? `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  }

  private currentMinute(): number {
    return Math.floor(this.now() / MINUTE_MS);
  }

  /**
   * Write each closed minute shortly after it ends, and purge expired rows hourly (unref'd
   * timers); failed writes go to `onError` (default: the constructor's) and are retried.
   */
  start(options: { readonly onError?: (error: unknown) => void } = {}): void {
    if (this.closed || this.flushTimer) return;
    if (options.onError) this.onError = options.onError;
    const report = (error: unknown) => this.onError(error);
    const delay = this.options.flushDelayMs ?? 2000;
    const schedule = () => {
      const untilNext = MINUTE_MS - (Date.now() % MINUTE_MS) + delay;
      this.flushTimer = setTimeout(() => {
        this.flush()
          .catch(report)
          .finally(() => {
            if (!this.closed) schedule();
          });
      }, untilNext);
      this.flushTimer.unref();
    };
    schedule();
    this.purgeTimer = setInterval(
      () => void this.purge().catch(report),
      this.options.purgeEveryMs ?? 3_600_000,
    );
    this.purgeTimer.unref();
    void this.purge().catch(report);
  }

  /**
   * Write every minute not written yet up to the last closed one (with `includeCurrent`, the
   * minute in progress too, rewritten at the next flush with what it gained meanwhile). Answers
   * the rows written. A failed write leaves the minutes to the next flush.
   */
  async flush(options: { readonly includeCurrent?: boolean } = {}): Promise<number> {
    while (this.flushing) await this.flushing.catch(() => undefined);
    const run = this.flushOnce(options.includeCurrent === true);
    this.flushing = run;
    try {
      return await run;
    } finally {
      this.flushing = undefined;
    }
  }

  private async flushOnce(includeCurrent: boolean): Promise<number> {
    const current = this.currentMinute();
    const closed = current - 1;
    const to = includeCurrent ? current : closed;
    const minutes = this.recorder.minutes(this.flushedThrough + 1, to);
    const rows = minutes.map((m) => toRow(m, this.replica));
    if (rows.length > 0) await this.repository.upsert(rows);
    // The current minute stays open: it is written again, whole, once it has closed.
    this.flushedThrough = Math.max(this.flushedThrough, closed);
    this.recorder.prune();
    return rows.length;
  }

  /** Delete rows older than the retention; answers how many went. */
  purge(): Promise<number> {
    return this.repository.deleteOlderThan(this.currentMinute() - this.retentionMinutes);
  }

  /**
   * Stop the timers and write what is left, the current minute included. A failed write is
   * reported to `onError`, not thrown: shutting down must not fail for want of metrics.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.flushTimer);
    clearInterval(this.purgeTimer);
    await this.flush({ includeCurrent: true }).catch((error: unknown) => this.onError(error));
  }

  /** Every replica's rows of one app in a range of minutes, this replica's only as written. */
  private async rows(
    workspaceId: string,
    app: string,
    fromMinute: number,
    toMinute: number,
    filter: VersionFilter,
  ): Promise<Unit[]> {
    if (toMinute < fromMinute) return [];
    const flushed = this.flushedThrough;
    const rows = await this.repository.range({
      workspaceId,
      app,
      fromMinute,
      toMinute,
      ...(filter.version !== undefined ? { version: filter.version } : {}),
    });
    const units: Unit[] = [];
    for (const r of rows) {
      if (r.replica !== this.replica || r.minute <= flushed) units.push(fromRow(r));
    }
    return units;
  }

  /**
   * One app's (or version's) traffic from `fromMinute` to `toMinute`, sorted by minute: every
   * replica's rows, this replica's only up to what it wrote, then its own newer minutes from
   * memory. With `hours`, whole hours that are final (ended `SETTLE_MINUTES` ago and written
   * here) come merged from the hour cache, so a month is ~720 units rather than 43,200 rows
   * per replica and version; only the edges are read minute by minute.
   */
  private async units(
    workspaceId: string,
    app: string,
    fromMinute: number,
    toMinute: number,
    filter: VersionFilter,
    hours: boolean,
  ): Promise<Unit[]> {
    const flushed = this.flushedThrough;
    const units: Unit[] = [];
    let ranges: [number, number][] = [[fromMinute, toMinute]];
    const settled = Math.min(this.currentMinute() - SETTLE_MINUTES, flushed, toMinute);
    const firstHour = Math.ceil(fromMinute / 60);
    const lastHour = Math.floor((settled + 1) / 60) - 1;
    if (hours && lastHour >= firstHour) {
      const cached = await this.cachedHours(workspaceId, app, firstHour, lastHour);
      for (let h = firstHour; h <= lastHour; h++) {
        for (const unit of cached.get(h)?.values() ?? []) {
          if (filter.version === undefined || unit.version === filter.version) units.push(unit);
        }
      }
      ranges = [
        [fromMinute, firstHour * 60 - 1],
        [(lastHour + 1) * 60, toMinute],
      ];
    }
    for (const [from, to] of ranges) {
      units.push(...(await this.rows(workspaceId, app, from, to, filter)));
    }
    const fresh = this.recorder.minutes(Math.max(fromMinute, flushed + 1), toMinute, {
      workspaceId,
      app,
      ...filter,
    });
    for (const m of fresh) units.push(m);
    return units.sort((a, b) => a.minute - b.minute);
  }

  /** The app's hour cache, holding at least the final hours `fromHour` to `toHour`. */
  private async cachedHours(
    workspaceId: string,
    app: string,
    fromHour: number,
    toHour: number,
  ): Promise<Map<number, Map<number, Unit>>> {
    const now = Date.now();
    for (const [key, c] of this.hourCaches) {
      if (now - c.lastUsed > CACHE_IDLE_MS) this.hourCaches.delete(key);
    }
    const key = `${workspaceId}\u0000${app}`;
    let cache = this.hourCaches.get(key);
    if (!cache) {
      cache = { hours: new Map(), lastUsed: now, chain: Promise.resolve() };
      this.hourCaches.set(key, cache);
    }
    cache.lastUsed = now;
    const target = cache;
    const load = target.chain.then(() =>
      this.loadHours(workspaceId, app, target, fromHour, toHour),
    );
    target.chain = load.catch(() => undefined);
    await load;
    return target.hours;
  }

  private async loadHours(
    workspaceId: string,
    app: string,
    cache: HourCache,
    fromHour: number,
    toHour: number,
  ): Promise<void> {
    const oldest = Math.floor((this.currentMinute() - this.retentionMinutes) / 60);
    for (const h of cache.hours.keys()) if (h < oldest) cache.hours.delete(h);
    let h = fromHour;
    while (h <= toHour) {
      if (cache.hours.has(h)) {
        h++;
        continue;
      }
      // A run of missing hours, read a day at a time so no single read blocks for long.
      let end = h;
      while (end < toHour && end - h + 1 < HOURS_PER_LOAD && !cache.hours.has(end + 1)) end++;
      const rows = await this.rows(workspaceId, app, h * 60, end * 60 + 59, {});
      const tallies = new Map<number, Map<number, Tally>>();
      for (const unit of rows) {
        const hour = Math.floor(unit.minute / 60);
        let byVersion = tallies.get(hour);
        if (!byVersion) {
          byVersion = new Map();
          tallies.set(hour, byVersion);
        }
        let tally = byVersion.get(unit.version);
        if (!tally) {
          tally = new Tally();
          byVersion.set(unit.version, tally);
        }
        addUnit(tally, unit);
      }
      for (let hour = h; hour <= end; hour++) {
        const merged = new Map<number, Unit>();
        for (const [version, tally] of tallies.get(hour) ?? []) {
          merged.set(version, {
            minute: hour * 60,
            version,
            counts: Float64Array.from(tally.counts),
            latency: compress(tally.latency),
            model: compress(tally.model),
          });
        }
        cache.hours.set(hour, merged);
      }
      h = end + 1;
    }
  }

  /**
   * An app's traffic over `window`, at most 120 points, oldest first: from memory when the
   * window fits there (this replica), else from the rollups of every replica, in points
   * aligned to whole steps (the last one holds the step in progress).
   */
  async series(
    workspaceId: string,
    app: string,
    window: SeriesWindow,
    filter: VersionFilter = {},
  ): Promise<Series> {
    const seconds = windowSeconds(window);
    if (seconds <= this.recorder.memorySeconds) {
      return this.recorder.series(workspaceId, app, window, filter);
    }
    const step = stepSeconds(seconds, 60);
    const perPoint = step / 60;
    const count = Math.ceil(seconds / step);
    const now = this.now();
    const current = Math.floor(now / MINUTE_MS);
    const first = (Math.floor(current / perPoint) - count + 1) * perPoint;
    // Whole-hour steps can take merged hours; others need every minute.
    const units = await this.units(workspaceId, app, first, current, filter, perPoint % 60 === 0);
    const served = new Set<number>();
    const point = new Tally();
    const total = new Tally();
    const points: SeriesPoint[] = [];
    let next = 0;
    for (let p = 0; p < count; p++) {
      const start = first + p * perPoint;
      point.reset();
      for (; next < units.length; next++) {
        const unit = units[next] as Unit;
        if (unit.minute >= start + perPoint) break;
        addUnit(point, unit);
        served.add(unit.version);
      }
      total.add(point);
      const startMs = start * MINUTE_MS;
      const elapsed = Math.min(step, Math.max(1, (now - startMs) / 1000));
      points.push({ t: new Date(startMs).toISOString(), ...point.totals(elapsed) });
    }
    const elapsed = Math.max(1, (now - first * MINUTE_MS) / 1000);
    return {
      window,
      version: filter.version ?? null,
      stepSeconds: step,
      source: "rollups",
      points,
      totals: total.totals(elapsed),
      versions: [...served].sort((a, b) => b - a),
    };
  }

  /**
   * Counts over the last `windowSeconds`: from this replica's memory when the window fits
   * there, else from every replica's rollups (whole minutes, up to the retention).
   */
  async windowCounts(
    workspaceId: string,
    app: string,
    windowSeconds: number,
    options: { readonly version?: number; readonly slowerThanMs?: number } = {},
  ): Promise<WindowCounts> {
    const filter: VersionFilter = options.version !== undefined ? { version: options.version } : {};
    const tally = new Tally();
    if (windowSeconds <= this.recorder.memorySeconds) {
      this.recorder.tallyRecent(workspaceId, app, windowSeconds, tally, filter);
    } else {
      const minutes = Math.min(this.retentionMinutes, Math.ceil(windowSeconds / 60));
      const current = this.currentMinute();
      const from = current - minutes + 1;
      for (const unit of await this.units(workspaceId, app, from, current, filter, true)) {
        addUnit(tally, unit);
      }
    }
    const slower = options.slowerThanMs;
    return {
      requests: tally.requests,
      outcomes: tally.outcomes(),
      slower: slower !== undefined && slower > 0 ? tally.slowerThan(slower) : 0,
      p95: percentileMs(tally.latency, 95),
    };
  }
}
