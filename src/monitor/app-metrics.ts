/**
 * The in-process recorder of what every published app version serves: per workspace, app and
 * version, per 10-second bucket, the requests of each outcome (ok, client_error, shed,
 * rate_limited, timeout, error), the response-cache hits, and two HDR latency histograms: the
 * whole request (received to sent) and the model step(s) alone. It keeps the last hour by default
 * (`memoryMinutes`); the 1-minute rollups (metric-rollups.ts) carry the history beyond, so the
 * Monitor page reads short windows here and long ones from the registry.
 *
 * It is a {@link PredictObserver}: `observe` runs on the request's thread after every answer, so
 * it does constant work with no allocation: one Map lookup by the app version's id (a string the
 * caller already holds), a few typed-array increments and one or two `recordValue`s. Merging
 * happens only when someone reads. Memory stays bounded per version: a ring of bucket slots of
 * plain counters, closed buckets' histograms as sparse (index, count) pairs, and two live
 * histograms for the bucket being filled.
 *
 * Each replica records its own traffic; the rollups and Prometheus aggregate across replicas.
 */
import {
  addCounts,
  addPairs,
  compress,
  compressCounts,
  indexOfMicros,
  newCounts,
  toMicros,
} from "./latency-histogram.ts";
import {
  type Outcome,
  outcomeOf,
  type PredictObservation,
  type PredictObserver,
} from "./observation.ts";
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

/** Seconds per bucket: the finest resolution the recorder keeps. */
export const BUCKET_SECONDS = 10;
const BUCKET_MS = BUCKET_SECONDS * 1000;
/** Buckets per rollup minute. */
const BUCKETS_PER_MINUTE = 60 / BUCKET_SECONDS;
/** How much the recorder keeps by default. */
export const DEFAULT_MEMORY_MINUTES = 60;

/** One served request, for callers that do not hold an observation (tests, older code). */
export interface RequestSample {
  readonly workspaceId: string;
  readonly app: string;
  /** The app version that answered; 0 when unknown. */
  readonly version?: number;
  /** The HTTP status sent. */
  readonly status: number;
  /** From request received to response sent. */
  readonly latencyMs: number;
  /** Time in the model step(s); absent when no model ran. */
  readonly modelMs?: number;
  readonly cacheHit?: boolean;
  /** When the response was sent (epoch ms); default now. */
  readonly at?: number;
}

/** One app version's traffic over one minute: what a rollup row holds. */
export interface MinuteCounts {
  readonly workspaceId: string;
  readonly app: string;
  readonly version: number;
  /** Epoch minute (epoch ms / 60,000, floored). */
  readonly minute: number;
  /** The six outcomes in OUTCOMES order, then cache hits. */
  readonly counts: Float64Array;
  /** Latency histograms as sparse (index, count) pairs (latency-histogram.ts). */
  readonly latency: Uint32Array;
  readonly model: Uint32Array;
}

/** Which of an app's versions a read covers. */
export interface VersionFilter {
  readonly version?: number;
}

/** One app version's ring of buckets. */
class VersionSeries {
  /** Bucket number (epoch seconds / 10) held by each slot; -1 = empty. */
  readonly bucket: Float64Array;
  /** COUNTERS counters per slot. */
  readonly counts: Uint32Array;
  /** Closed buckets' histograms, sparse. */
  readonly latency: (Uint32Array | undefined)[];
  readonly model: (Uint32Array | undefined)[];
  /** The bucket being filled and its histograms' counts (plain arrays: cheapest to count). */
  liveBucket = -1;
  readonly live = newCounts();
  readonly liveModel = newCounts();
  /** Whether the live bucket's arrays hold anything (they are cleared only then). */
  private liveUsed = false;

  constructor(
    readonly workspaceId: string,
    readonly app: string,
    readonly version: number,
    readonly slots: number,
  ) {
    this.bucket = new Float64Array(slots).fill(-1);
    this.counts = new Uint32Array(slots * COUNTERS);
    this.latency = new Array(slots);
    this.model = new Array(slots);
  }

  record(
    bucket: number,
    outcome: number,
    micros: number,
    modelMicros: number,
    cacheHit: boolean,
  ): void {
    // A clock that steps back records into the live bucket rather than rewriting history.
    if (bucket > this.liveBucket) this.roll(bucket);
    const base = (this.liveBucket % this.slots) * COUNTERS;
    const counts = this.counts;
    counts[base + outcome] = (counts[base + outcome] as number) + 1;
    if (cacheHit) {
      counts[base + CACHE_HITS_INDEX] = (counts[base + CACHE_HITS_INDEX] as number) + 1;
    }
    const live = this.live;
    const i = indexOfMicros(micros);
    live[i] = (live[i] as number) + 1;
    if (modelMicros > 0) {
      const model = this.liveModel;
      const m = indexOfMicros(modelMicros);
      model[m] = (model[m] as number) + 1;
    }
    this.liveUsed = true;
  }

  /** Close the live bucket and start `bucket` in its slot. */
  private roll(bucket: number): void {
    if (this.liveUsed) {
      const closed = this.liveBucket % this.slots;
      this.latency[closed] = compressCounts(this.live);
      this.model[closed] = compressCounts(this.liveModel);
      this.live.fill(0);
      this.liveModel.fill(0);
      this.liveUsed = false;
    }
    const slot = bucket % this.slots;
    this.bucket[slot] = bucket;
    this.counts.fill(0, slot * COUNTERS, (slot + 1) * COUNTERS);
    this.latency[slot] = undefined;
    this.model[slot] = undefined;
    this.liveBucket = bucket;
  }

  /** Add bucket `bucket` (if still held) into `into`; true if it held any request. */
  addBucket(bucket: number, into: Tally): boolean {
    const slot = bucket % this.slots;
    if (this.bucket[slot] !== bucket) return false;
    const before = into.requests;
    into.addCounts(this.counts, slot * COUNTERS);
    if (bucket === this.liveBucket) {
      if (this.liveUsed) {
        addCounts(into.latency, this.live);
        addCounts(into.model, this.liveModel);
      }
    } else {
      const latency = this.latency[slot];
      const model = this.model[slot];
      if (latency) addPairs(into.latency, latency);
      if (model) addPairs(into.model, model);
    }
    return into.requests > before;
  }
}

export interface AppMetricsOptions {
  /** The clock (epoch ms); tests pass their own. */
  readonly now?: () => number;
  /** Minutes of 10-second buckets kept in memory (default 60). */
  readonly memoryMinutes?: number;
}

/** The app key of the per-app index. */
const appKey = (workspaceId: string, app: string) => `${workspaceId}\u0000${app}`;

export class AppMetricsRecorder implements PredictObserver {
  /** By app version id (or a synthetic key for samples without one). */
  private readonly byId = new Map<string, VersionSeries>();
  /** Each app's versions, for reads. */
  private readonly byApp = new Map<string, VersionSeries[]>();
  private readonly now: () => number;
  private readonly slots: number;
  /** How far back the buckets reach. */
  readonly memorySeconds: number;

  constructor(options: AppMetricsOptions = {}) {
    this.now = options.now ?? Date.now;
    const minutes = options.memoryMinutes ?? DEFAULT_MEMORY_MINUTES;
    if (!Number.isInteger(minutes) || minutes < 1) {
      throw new RangeError(`memoryMinutes must be a whole number of at least 1, not ${minutes}`);
    }
    this.memorySeconds = minutes * 60;
    this.slots = minutes * BUCKETS_PER_MINUTE;
  }

  /**
   * Count one answer, under the bucket of when it was sent (`at` + latency). Cheap: a Map
   * lookup, typed-array increments, no allocation once the version has been seen.
   */
  observe(o: PredictObservation): void {
    const served = o.served;
    const series =
      this.byId.get(served.appVersionId) ??
      this.add(served.appVersionId, served.workspaceId, served.app, served.version);
    const sent = o.at + o.latencyMs;
    series.record(
      Math.floor((Number.isFinite(sent) ? sent : this.now()) / BUCKET_MS),
      OUTCOME_INDEX[o.outcome],
      toMicros(o.latencyMs),
      o.modelMs === undefined ? 0 : toMicros(o.modelMs),
      o.cacheHit === true,
    );
  }

  /** Count one answer described by its status (tests, callers without an observation). */
  record(sample: RequestSample): void {
    const version = sample.version ?? 0;
    const id = `${appKey(sample.workspaceId, sample.app)}\u0000${version}`;
    const series = this.byId.get(id) ?? this.add(id, sample.workspaceId, sample.app, version);
    const outcome: Outcome = outcomeOf(sample.status);
    series.record(
      Math.floor((sample.at ?? this.now()) / BUCKET_MS),
      OUTCOME_INDEX[outcome],
      toMicros(sample.latencyMs),
      sample.modelMs === undefined ? 0 : toMicros(sample.modelMs),
      sample.cacheHit === true,
    );
  }

  private add(id: string, workspaceId: string, app: string, version: number): VersionSeries {
    const series = new VersionSeries(workspaceId, app, version, this.slots);
    this.byId.set(id, series);
    const key = appKey(workspaceId, app);
    const list = this.byApp.get(key);
    if (list) list.push(series);
    else this.byApp.set(key, [series]);
    return series;
  }

  private versionsOf(workspaceId: string, app: string, filter: VersionFilter): VersionSeries[] {
    const all = this.byApp.get(appKey(workspaceId, app)) ?? [];
    return filter.version === undefined ? all : all.filter((s) => s.version === filter.version);
  }

  /** The bucket number now. */
  currentBucket(): number {
    return Math.floor(this.now() / BUCKET_MS);
  }

  /**
   * The app's traffic over the last `window` from memory, rebinned to at most 120 points,
   * oldest first; the last point holds the current bucket. An app that served nothing gets
   * zero points, not an error. The window must fit in memory (`memorySeconds`).
   */
  series(
    workspaceId: string,
    app: string,
    window: SeriesWindow,
    filter: VersionFilter = {},
  ): Series {
    const seconds = windowSeconds(window);
    if (seconds > this.memorySeconds) {
      throw new RangeError(`The ${window} window is longer than the metrics kept in memory`);
    }
    const step = stepSeconds(seconds, BUCKET_SECONDS);
    const perPoint = step / BUCKET_SECONDS;
    const count = Math.ceil(seconds / step);
    const now = this.now();
    const current = Math.floor(now / BUCKET_MS);
    const first = current - count * perPoint + 1;
    const versions = this.versionsOf(workspaceId, app, filter);
    const served = new Set<number>();
    const point = new Tally();
    const total = new Tally();
    const points: SeriesPoint[] = [];
    for (let p = 0; p < count; p++) {
      const start = first + p * perPoint;
      point.reset();
      for (const s of versions) {
        for (let b = start; b < start + perPoint; b++) {
          if (s.addBucket(b, point)) served.add(s.version);
        }
      }
      total.add(point);
      const startMs = start * BUCKET_MS;
      const elapsed = Math.min(step, Math.max(1, (now - startMs) / 1000));
      points.push({ t: new Date(startMs).toISOString(), ...point.totals(elapsed) });
    }
    const startMs = first * BUCKET_MS;
    const elapsed = Math.max(1, Math.min(seconds, (now - startMs) / 1000));
    return {
      window,
      version: filter.version ?? null,
      stepSeconds: step,
      source: "memory",
      points,
      totals: total.totals(elapsed),
      versions: [...served].sort((a, b) => b - a),
    };
  }

  /**
   * Sum the last `seconds` (rounded up to whole buckets, ending with the current one) into
   * `into`; at most what memory holds.
   */
  tallyRecent(
    workspaceId: string,
    app: string,
    seconds: number,
    into: Tally,
    filter: VersionFilter = {},
  ): void {
    const buckets = Math.min(this.slots, Math.max(1, Math.ceil(seconds / BUCKET_SECONDS)));
    const current = this.currentBucket();
    for (const s of this.versionsOf(workspaceId, app, filter)) {
      for (let b = current - buckets + 1; b <= current; b++) s.addBucket(b, into);
    }
  }

  /**
   * Each version's traffic per minute from `fromMinute` to `toMinute` (inclusive), minutes
   * without requests left out: what the rollup writer persists and the rollup reader adds for
   * minutes not persisted yet. Minutes older than memory are gone; pass `app` to read one app.
   */
  minutes(
    fromMinute: number,
    toMinute: number,
    scope?: { readonly workspaceId: string; readonly app: string } & VersionFilter,
  ): MinuteCounts[] {
    // The first minute whose buckets are all still in memory.
    const oldest = Math.ceil((this.currentBucket() - this.slots + 1) / BUCKETS_PER_MINUTE);
    const from = Math.max(fromMinute, oldest);
    const candidates = scope
      ? this.versionsOf(scope.workspaceId, scope.app, scope)
      : [...this.byId.values()];
    const out: MinuteCounts[] = [];
    const tally = new Tally();
    for (const s of candidates) {
      // A version that has not served since `from` has nothing to give.
      if (s.liveBucket < from * BUCKETS_PER_MINUTE) continue;
      for (let m = from; m <= toMinute; m++) {
        tally.reset();
        let any = false;
        for (let b = m * BUCKETS_PER_MINUTE; b < (m + 1) * BUCKETS_PER_MINUTE; b++) {
          any = s.addBucket(b, tally) || any;
        }
        if (!any) continue;
        out.push({
          workspaceId: s.workspaceId,
          app: s.app,
          version: s.version,
          minute: m,
          counts: Float64Array.from(tally.counts),
          latency: compress(tally.latency),
          model: compress(tally.model),
        });
      }
    }
    return out;
  }

  /**
   * Forget versions that have served nothing within memory (after their minutes were
   * persisted), so a long-running replica does not keep every version it ever served.
   */
  prune(): number {
    const oldest = this.currentBucket() - this.slots;
    let dropped = 0;
    for (const [id, s] of this.byId) {
      if (s.liveBucket >= oldest) continue;
      this.byId.delete(id);
      const key = appKey(s.workspaceId, s.app);
      const rest = (this.byApp.get(key) ?? []).filter((v) => v !== s);
      if (rest.length > 0) this.byApp.set(key, rest);
      else this.byApp.delete(key);
      dropped++;
    }
    return dropped;
  }
}
