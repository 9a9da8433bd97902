/**
 * Live drift per app version: every answered record, encoded as the model's own recipe encodes
 * it, is counted in the version's time and count windows, and a report compares them with the
 * baseline sketches the artifact carries (see compare.ts for the statistics and the test choice).
 *
 * Most answers come with the rows the model encoded (`observation.encoded`, in-thread models):
 * for a version already known, `observe` copies each row's watched values and its prediction
 * into the version's typed queue, a few adjacent writes, so nothing of the request is kept alive
 * (holding thousands of requests' objects until a timer cost more than the counting). Anything
 * else (a version's first answers, rows the worker pool or onnxruntime predicted, a full queue)
 * is pushed onto a bounded pending list of observations, encoded with the recipe when counted.
 * A timer (unref'd) counts both every `flushIntervalMs`, in batches that keep the windows' arrays
 * in cache; every read drains them first, so a report is never behind the requests already
 * answered. When the list is full too (a burst faster than the timer drains) observations are
 * dropped and counted, a sample rather than a queue that grows. Memory per app version is
 * bounded (the windows, see live-window.ts, and {@link QUEUE_BYTES}) and at most
 * `maxVersionsPerApp` versions per app are kept, the least recently served dropped.
 * Each replica sees its own traffic.
 */
import { type CompiledRecipe, recipeFeatures } from "../../features/recipe.ts";
import type { ArtifactHeader } from "../../models/artifact.ts";
import type { RowAnswer } from "../../runtime/pipeline/pipeline.ts";
import type { DriftReportDto } from "../../server/monitor-api-types.ts";
import type { DriftSettings } from "../../spec/monitoring.ts";
import type { PredictObservation, PredictObserver, ServedVersion } from "../observation.ts";
import type { DatasetDrift, DriftSource } from "../sources.ts";
import { datasetVerdict, featureDrift, type LiveFeature, rankFeatures } from "./compare.ts";
import { type ArtifactBins, artifactBins, type FeatureBins } from "./feature-bins.ts";
import {
  COUNT_WINDOW_BYTES,
  CountWindow,
  SketchLayout,
  TimeWindow,
  type WindowRead,
} from "./live-window.ts";

export type DriftWindowKind = "time" | "count";

/**
 * Byte budget of a version's queue of encoded rows (allocated on its first queued row): ~6,000
 * rows of 20 features, 500 ms of 12,000 requests a second; beyond, rows take the pending list.
 */
export const QUEUE_BYTES = 1024 * 1024;

export interface DriftMonitorOptions {
  /** How often pending observations are counted. Default 500 ms. */
  readonly flushIntervalMs?: number;
  /** Most records waiting to be counted; beyond, observations are dropped. Default 50,000. */
  readonly maxPendingRows?: number;
  /** Byte budget of one version's count window. Default 32 MiB. */
  readonly countWindowBytes?: number;
  /** App versions kept per app. Default 4. */
  readonly maxVersionsPerApp?: number;
  /** The clock (tests). */
  readonly now?: () => number;
}

/** What a report needs of an app version: its names, its artifact and its drift settings. */
export interface DriftSubject {
  readonly app: string;
  readonly version: number;
  readonly header: ArtifactHeader;
  readonly settings: DriftSettings;
}

/** One app version's layout and windows. */
class VersionDrift {
  readonly bins: ArtifactBins;
  readonly layout: SketchLayout;
  /** Matrix column of each sketched feature (the recipe's encoded row). */
  private readonly columns: Int32Array;
  readonly time: TimeWindow;
  readonly count: CountWindow;
  /** The recipe's encoded width (the length of one row of `observation.encoded`). */
  private readonly width: number;
  private readonly row: Float64Array;
  private readonly values: Float64Array;
  private readonly cells: Uint16Array;
  private readonly hasPrediction: boolean;
  /** Rows copied by `queueEncoded`, waiting for the timer: `values` then the time, each. */
  private queue: Float64Array | undefined;
  private readonly queueCapacity: number;
  queuedRows = 0;
  lastSeen = 0;

  constructor(
    readonly subject: DriftSubject,
    countWindowBytes: number,
    private readonly recipe?: CompiledRecipe,
    private readonly model?: { readonly name: string; readonly version: number },
  ) {
    const all = artifactBins(subject.header);
    const names = recipeFeatures(subject.header.recipe).map((f) => f.name);
    // Only features the recipe encodes can be watched (an imported model may sketch none).
    const kept: FeatureBins[] = [];
    const columns: number[] = [];
    for (const bins of all.features) {
      const column = names.indexOf(bins.feature);
      if (column < 0) continue;
      kept.push(bins);
      columns.push(column);
    }
    this.bins = { ...all, features: kept };
    this.columns = Int32Array.from(columns);
    this.hasPrediction = all.prediction !== undefined;
    this.layout = new SketchLayout(all.prediction ? [...kept, all.prediction] : kept);
    this.time = new TimeWindow(this.layout, subject.settings.windowMinutes);
    this.count = new CountWindow(this.layout, subject.settings.windowRows, countWindowBytes);
    this.width = names.length;
    this.row = new Float64Array(Math.max(1, names.length));
    this.values = new Float64Array(this.layout.bins.length);
    this.cells = new Uint16Array(this.layout.bins.length);
    this.queueCapacity = Math.max(256, Math.floor(QUEUE_BYTES / (8 * (this.values.length + 1))));
  }

  /** Count one observation's records and answers, encoding the records with the recipe. */
  add(o: PredictObservation): void {
    const records = o.records ?? [];
    const recipe = this.recipe;
    if (!recipe) return;
    for (let i = 0; i < records.length; i++) {
      try {
        recipe.encodeRecord(records[i] as Readonly<Record<string, unknown>>, this.row);
      } catch {
        continue; // not encodable: the model did not answer it either
      }
      const row = this.row;
      for (let f = 0; f < this.columns.length; f++)
        this.values[f] = row[this.columns[f] as number] as number;
      this.addRow(o.at, o.answers?.[i]);
    }
    if (o.at > this.lastSeen) this.lastSeen = o.at;
  }

  /**
   * Queue rows the model already encoded (records × width values, in order) for the next
   * `drain`: the same counts as `add` without encoding again, and constant work now (the watched
   * values and the prediction copied into a typed queue). False, queueing nothing, when they do
   * not fit the recipe or the queue is full.
   */
  queueEncoded(o: PredictObservation, encoded: readonly number[]): boolean {
    const rows = o.records?.length ?? 0;
    const width = this.width;
    if (!this.recipe || width === 0 || encoded.length !== rows * width) return false;
    if (this.queuedRows + rows > this.queueCapacity) return false;
    if (!this.queue) this.queue = new Float64Array(this.queueCapacity * (this.values.length + 1));
    const queue = this.queue;
    const columns = this.columns;
    const stride = this.values.length + 1;
    const answers = o.answers;
    for (let i = 0; i < rows; i++) {
      const base = this.queuedRows++ * stride;
      const offset = i * width;
      for (let f = 0; f < columns.length; f++)
        queue[base + f] = encoded[offset + (columns[f] as number)] as number;
      if (this.hasPrediction) queue[base + columns.length] = this.predictionValue(answers?.[i]);
      queue[base + stride - 1] = o.at;
    }
    if (o.at > this.lastSeen) this.lastSeen = o.at;
    return true;
  }

  /** Count the queued rows. */
  drain(): void {
    const queue = this.queue;
    if (!queue) return;
    const values = this.values;
    const n = values.length;
    for (let r = 0; r < this.queuedRows; r++) {
      const base = r * (n + 1);
      for (let f = 0; f < n; f++) values[f] = queue[base + f] as number;
      this.countValues(queue[base + n] as number);
    }
    this.queuedRows = 0;
  }

  /** The row in `values` (its features, copied in by the caller) and its answer, into both windows. */
  private addRow(at: number, answer: RowAnswer | undefined) {
    if (this.hasPrediction) this.values[this.columns.length] = this.predictionValue(answer);
    this.countValues(at);
  }

  /** The row in `values` (features and prediction) into both windows. */
  private countValues(at: number) {
    const values = this.values;
    this.layout.cellsOf(values, this.cells);
    this.time.add(at, this.cells, values);
    this.count.add(at, this.cells, values);
  }

  /**
   * The model's output as the baseline sketched it: the positive class's probability (binary),
   * the class index (multiclass), the value (regression). Answers from another step or model
   * (a fallback, a cascade's second model) are missing.
   */
  private predictionValue(answer: RowAnswer | undefined): number {
    if (!answer) return Number.NaN;
    const by = answer.answered_by;
    const model = this.model;
    if (
      by &&
      (!by.model || !model || by.model.name !== model.name || by.model.version !== model.version)
    )
      return Number.NaN;
    const { task, classes } = this.bins;
    if (task === "regression")
      return typeof answer.prediction === "number" ? answer.prediction : Number.NaN;
    if (task === "binary") {
      const p = answer.probabilities?.[classes[1] ?? "1"];
      return typeof p === "number" ? p : Number.NaN;
    }
    const k = classes.indexOf(String(answer.prediction));
    return k < 0 ? Number.NaN : k;
  }

  report(kind: DriftWindowKind, now: number): DriftReportDto {
    const read = kind === "time" ? this.time.read(now) : this.count.read();
    return buildReport(this.subject, this.bins, this.layout, read, kind);
  }
}

function liveOf(layout: SketchLayout, read: WindowRead, f: number): LiveFeature {
  const bins = layout.bins[f] as FeatureBins;
  const offset = layout.offsets[f] as number;
  const counts = read.counts.subarray(offset, offset + bins.cellCount + 1);
  const k = layout.numericIndex[f] as number;
  if (k < 0) return { counts, tailBelow: 0, tailAbove: 0 };
  const sorted = read.sorted?.[k];
  return {
    counts,
    tailBelow: read.tailBelow[k] as number,
    tailAbove: read.tailAbove[k] as number,
    ...(sorted ? { sorted } : {}),
  };
}

function buildReport(
  subject: DriftSubject,
  bins: ArtifactBins,
  layout: SketchLayout,
  read: WindowRead,
  kind: DriftWindowKind,
): DriftReportDto {
  const settings = subject.settings;
  const judge = read.rows >= settings.minRows && read.rows > 0;
  const features = bins.features.map((b, f) =>
    featureDrift(b, liveOf(layout, read, f), settings, judge),
  );
  const prediction = bins.prediction
    ? featureDrift(bins.prediction, liveOf(layout, read, bins.features.length), settings, judge)
    : null;
  const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
  return {
    app: subject.app,
    version: subject.version,
    window: { kind, from: iso(read.from), to: iso(read.to), rows: read.rows },
    enoughData: judge,
    dataset: datasetVerdict(features, settings.datasetShare, judge),
    features: rankFeatures(features),
    prediction,
  };
}

/** A report with no live rows (a version that has not served on this replica). */
export function emptyDriftReport(subject: DriftSubject, kind: DriftWindowKind): DriftReportDto {
  const version = new VersionDrift(
    { ...subject, settings: { ...subject.settings, windowRows: 1 } },
    0,
  );
  return buildReport(subject, version.bins, version.layout, version.count.read(), kind);
}

const key = (workspaceId: string, app: string) => `${workspaceId}\u0000${app}`;

export class DriftMonitor implements PredictObserver, DriftSource {
  private readonly byVersionId = new Map<string, VersionDrift>();
  private readonly byApp = new Map<string, Map<number, VersionDrift>>();
  private pending: PredictObservation[] = [];
  private pendingRows = 0;
  /** Versions with rows in their typed queue. */
  private queued: VersionDrift[] = [];
  private readonly maxPendingRows: number;
  private readonly countWindowBytes: number;
  private readonly maxVersionsPerApp: number;
  private readonly now: () => number;
  private readonly timer: ReturnType<typeof setInterval>;
  /** Observations dropped because the pending list was full (a sample was taken instead). */
  dropped = 0;

  constructor(options: DriftMonitorOptions = {}) {
    this.maxPendingRows = options.maxPendingRows ?? 50_000;
    this.countWindowBytes = options.countWindowBytes ?? COUNT_WINDOW_BYTES;
    this.maxVersionsPerApp = options.maxVersionsPerApp ?? 4;
    this.now = options.now ?? Date.now;
    this.timer = setInterval(() => this.flush(), options.flushIntervalMs ?? 500);
    this.timer.unref();
  }

  /**
   * Constant work per row: queue the model's encoded rows when the version is known, else
   * remember the observation for the next flush (or drop it when the list is full).
   */
  observe(observation: PredictObservation): void {
    const records = observation.records;
    if (!records || observation.status !== 200 || !observation.served.monitoring.drift.enabled)
      return;
    const encoded = observation.encoded;
    if (encoded !== undefined) {
      const version = this.byVersionId.get(observation.served.appVersionId);
      if (version) {
        const wasEmpty = version.queuedRows === 0;
        if (version.queueEncoded(observation, encoded)) {
          if (wasEmpty) this.queued.push(version);
          return;
        }
      }
    }
    if (this.pendingRows + records.length > this.maxPendingRows) {
      this.dropped++;
      return;
    }
    this.pending.push(observation);
    this.pendingRows += records.length;
  }

  /** Count every queued row and pending observation now. */
  flush(): void {
    if (this.queued.length > 0) {
      const versions = this.queued;
      this.queued = [];
      for (const version of versions) version.drain();
    }
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.pendingRows = 0;
    for (const o of batch) {
      try {
        const version = this.versionOf(o.served);
        if (o.encoded !== undefined && version.queueEncoded(o, o.encoded)) version.drain();
        else version.add(o);
      } catch {
        // A model whose baseline cannot be read is not watched; the request was answered.
      }
    }
  }

  private versionOf(served: ServedVersion): VersionDrift {
    const found = this.byVersionId.get(served.appVersionId);
    if (found) return found;
    const created = new VersionDrift(
      {
        app: served.app,
        version: served.version,
        header: served.predictor.artifact.header,
        settings: served.monitoring.drift,
      },
      this.countWindowBytes,
      served.predictor.recipe,
      served.model,
    );
    this.byVersionId.set(served.appVersionId, created);
    const k = key(served.workspaceId, served.app);
    let versions = this.byApp.get(k);
    if (!versions) {
      versions = new Map();
      this.byApp.set(k, versions);
    }
    const replaced = versions.get(served.version);
    if (replaced) this.forget(replaced);
    versions.set(served.version, created);
    while (versions.size > this.maxVersionsPerApp) {
      let oldest: VersionDrift | undefined;
      for (const v of versions.values())
        if (v !== created && (!oldest || v.lastSeen < oldest.lastSeen)) oldest = v;
      if (!oldest) break;
      versions.delete(oldest.subject.version);
      this.forget(oldest);
    }
    return created;
  }

  private forget(version: VersionDrift): void {
    for (const [id, v] of this.byVersionId) if (v === version) this.byVersionId.delete(id);
  }

  /** Versions of an app with live drift on this replica, newest first. */
  versions(workspaceId: string, app: string): number[] {
    this.flush();
    return [...(this.byApp.get(key(workspaceId, app))?.keys() ?? [])].sort((a, b) => b - a);
  }

  /** The drift report of an app version over a window; undefined when it has not served here. */
  report(
    workspaceId: string,
    app: string,
    version: number,
    kind: DriftWindowKind,
  ): DriftReportDto | undefined {
    this.flush();
    return this.byApp.get(key(workspaceId, app))?.get(version)?.report(kind, this.now());
  }

  /**
   * Dataset drift of the app version that served most recently, over its time window (what is
   * happening now); null when it has fewer than `minRows` rows there.
   */
  datasetDrift(workspaceId: string, app: string): DatasetDrift | null {
    this.flush();
    const versions = this.byApp.get(key(workspaceId, app));
    if (!versions) return null;
    let latest: VersionDrift | undefined;
    for (const v of versions.values()) if (!latest || v.lastSeen > latest.lastSeen) latest = v;
    if (!latest) return null;
    const report = latest.report("time", this.now());
    if (!report.enoughData) return null;
    return {
      version: report.version,
      drifted: report.dataset.drifted,
      share: report.dataset.share,
      driftedFeatures: report.features.filter((f) => f.drifted).map((f) => f.feature),
      rows: report.window.rows,
    };
  }

  close(): void {
    clearInterval(this.timer);
    this.pending = [];
    this.pendingRows = 0;
    this.queued = [];
  }
}
