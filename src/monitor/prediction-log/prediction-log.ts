/**
 * The prediction log: a sample of what each published app was asked and what it answered,
 * kept so outcomes reported later (the true label, a conversion) can be joined to the
 * prediction they follow, and so people can look at real traffic.
 *
 * The request path does almost nothing: `observe` checks the status and the app version's
 * settings, draws one random number against `sampleRate`, and pushes the observation itself (no
 * copy, no JSON) onto a bounded buffer; beyond `maxPendingRows` rows waiting, requests are not
 * logged and are counted as dropped.
 *
 * Writing is in two stages, both off the request path:
 * - every `flushIntervalMs`, or as soon as `flushRows` rows wait, the buffer is turned into
 *   compact lines (personal data masked: observation-rows.ts) appended to the store's spool
 *   file. The event loop only encodes the batch; the log's line thread (line-thread.ts) parses
 *   the request bodies again, masks and serializes them, and makes the lines;
 * - once the spool holds `ingestRows` rows or is `ingestIntervalMs` old, DuckDB stores it in
 *   one transaction. A large insert costs DuckDB far less per row than many small ones: with
 *   every request logged, the churn route went from about 0.78 of its throughput without
 *   monitoring (a commit every 5,000 rows) to about 0.88 (see src/monitor/CONTEXT.md).
 * Every read (reports, outcomes, golden captures) first stores what waits, so it sees every
 * prediction answered before it. A crash loses what had not been stored (up to `ingestRows`
 * rows or `ingestIntervalMs`), as an open transaction would be lost. Another timer applies
 * each app's retention and size cap. `close()` stores everything still waiting.
 */
import type { PredictObservation, PredictObserver } from "../observation.ts";
import { createPiiMasker, type PiiMasker, type PiiMaskerOptions } from "../pii-mask.ts";
import { LineThread } from "./line-thread.ts";
import type { CatalogBatch } from "./log-rows.ts";
import { encodeObservations } from "./observation-rows.ts";
import type { ParsedOutcome } from "./outcome-input.ts";
import {
  type LineChunk,
  PredictionStore,
  type RetentionSettings,
  type WindowData,
  type WindowQuery,
} from "./prediction-store.ts";

export interface PredictionLogOptions {
  /** The DuckDB file (see `predictionLogPath(dataDir)`). */
  readonly path: string;
  /** How personal data in the logged inputs and outputs is masked; default: IP addresses too. */
  readonly masking?: PiiMaskerOptions;
  /** How often the buffer is appended to the spool. Default 1000 ms. */
  readonly flushIntervalMs?: number;
  /**
   * Append early once this many rows wait. Default 250: under load that is every few tens of
   * milliseconds, so the observations waiting are still in V8's young generation when they are
   * dropped. Kept longer (1,000 or 5,000 rows, 0.2-1 s at 6,000 requests a second) they are
   * promoted to the old one: with every request logged, the collector then took ~3.3-4.7 µs a
   * request more of the event loop than with monitoring off, against 0.2-1 µs at 250
   * (`npm run bench:monitor`, see src/monitor/CONTEXT.md).
   */
  readonly flushRows?: number;
  /**
   * Store the spool once it holds this many rows. Default 122,880, DuckDB's row group: from
   * there on an insert writes compressed row groups straight to the file.
   */
  readonly ingestRows?: number;
  /** Store the spool once it is this old, whatever its size. Default 10 s. */
  readonly ingestIntervalMs?: number;
  /** Most rows waiting; beyond it requests are not logged (counted in `dropped`). Default 50,000. */
  readonly maxPendingRows?: number;
  /** How often retention and the size cap run (and once at start). Default 10 minutes. */
  readonly retentionIntervalMs?: number;
  /** The clock retention and outcomes use (epoch ms); tests move it. */
  readonly now?: () => number;
  /** Told about failures nobody awaits (a flush or the retention job); never throws to requests. */
  readonly onError?: (error: unknown, during: "open" | "flush" | "retention") => void;
}

/** What the log did since it started. */
export interface PredictionLogStats {
  /** Rows waiting to be stored: in memory, or in the spool. */
  readonly pending: number;
  /** Rows stored in the log's tables. */
  readonly written: number;
  /** Rows not logged: the buffer was full, the file could not be opened, or a write failed. */
  readonly dropped: number;
  readonly flushes: number;
}

/**
 * Most observations, and most characters of body text, encoded at once: a large flush (after a
 * stall) yields to the event loop between slices, and a slice's text fields, one string, stay
 * far below V8's longest string (~512 M characters) whatever the bodies' size.
 */
const SLICE_OBSERVATIONS = 1000;
const SLICE_CHARS = 32 * 1024 * 1024;

export class PredictionLog implements PredictObserver {
  private pending: PredictObservation[] = [];
  private pendingRows = 0;
  private written = 0;
  private dropped = 0;
  private flushes = 0;
  private flushQueued = false;
  private flushChain: Promise<void> = Promise.resolve();
  private retentionChain: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly masker: PiiMasker;
  private readonly lineThread: LineThread;
  private readonly flushRows: number;
  private readonly ingestRows: number;
  private readonly ingestIntervalMs: number;
  /** Rows appended to the spool and not yet stored (or dropped). */
  private spooledRows = 0;
  private readonly maxPendingRows: number;
  private readonly now: () => number;
  private readonly onError: NonNullable<PredictionLogOptions["onError"]>;
  private readonly flushTimer: NodeJS.Timeout;
  private readonly retentionTimer: NodeJS.Timeout;
  /** The settings last saved per app, so they are written only when they change. */
  private readonly savedSettings = new Map<string, RetentionSettings>();
  /** The store, or undefined when it could not be opened. */
  private readonly store: Promise<PredictionStore | undefined>;

  constructor(options: PredictionLogOptions) {
    const masking = options.masking ?? { ips: true };
    this.masker = createPiiMasker(masking);
    this.onError = options.onError ?? (() => {});
    this.lineThread = new LineThread(masking);
    this.flushRows = options.flushRows ?? 250;
    this.ingestRows = options.ingestRows ?? 122_880;
    this.ingestIntervalMs = options.ingestIntervalMs ?? 10_000;
    this.maxPendingRows = options.maxPendingRows ?? 50_000;
    this.now = options.now ?? Date.now;
    this.store = PredictionStore.open(options.path).then(
      (store) => store,
      (error: unknown) => {
        this.onError(error, "open");
        return undefined;
      },
    );
    this.flushTimer = setInterval(() => void this.spool(), options.flushIntervalMs ?? 1000);
    this.flushTimer.unref();
    this.retentionTimer = setInterval(
      () => void this.enforceRetention(),
      options.retentionIntervalMs ?? 600_000,
    );
    this.retentionTimer.unref();
    void this.enforceRetention();
  }

  /** Constant work per request: see the module comment. Never throws. */
  observe(o: PredictObservation): void {
    if (o.status !== 200 || o.records === undefined || o.answers === undefined) return;
    const settings = o.served.monitoring.predictionLog;
    if (!settings.enabled || !(Math.random() < settings.sampleRate)) return;
    const rows = o.records.length;
    if (this.closed || this.pendingRows + rows > this.maxPendingRows) {
      this.dropped += rows;
      return;
    }
    this.pending.push(o);
    this.pendingRows += rows;
    if (this.pendingRows >= this.flushRows && !this.flushQueued) {
      this.flushQueued = true;
      setImmediate(() => void this.spool());
    }
  }

  stats(): PredictionLogStats {
    return {
      pending: this.pendingRows + this.spooledRows,
      written: this.written,
      dropped: this.dropped,
      flushes: this.flushes,
    };
  }

  /** Store everything that waits now, in memory or in the spool. Never rejects. */
  flush(): Promise<void> {
    return this.chain(() => this.spoolNow(true));
  }

  /** Append what waits to the spool, and store the spool when it is large or old enough. */
  private spool(): Promise<void> {
    return this.chain(() => this.spoolNow(false));
  }

  private chain(work: () => Promise<void>): Promise<void> {
    const run = this.flushChain.then(work);
    this.flushChain = run;
    return run;
  }

  private async spoolNow(ingest: boolean): Promise<void> {
    this.flushQueued = false;
    const store = await this.store;
    if (this.pending.length > 0) {
      const batch = this.pending;
      const rows = this.pendingRows;
      this.pending = [];
      this.pendingRows = 0;
      if (!store) {
        this.dropped += rows;
        return;
      }
      try {
        await this.saveSettings(store, batch);
        this.spooledRows += await store.appendToSpool((catalog, atBase) =>
          this.renderedLines(batch, catalog, atBase),
        );
      } catch (error) {
        // None of the batch was appended.
        this.dropped += rows;
        this.onError(error, "flush");
      }
    }
    if (!store) return;
    const spooled = store.spooled();
    if (
      spooled.rows > 0 &&
      (ingest ||
        spooled.rows >= this.ingestRows ||
        Date.now() - spooled.since >= this.ingestIntervalMs)
    ) {
      const rows = this.spooledRows;
      this.spooledRows = 0;
      try {
        this.written += await store.ingestSpool();
        this.flushes++;
      } catch (error) {
        // The spool was one transaction: none of it is in the file.
        this.dropped += rows;
        this.onError(error, "flush");
      }
    }
  }

  /** The batch's lines, made on the line thread, a slice at a time. */
  private async *renderedLines(
    batch: readonly PredictObservation[],
    catalog: CatalogBatch,
    atBase: number,
  ): AsyncGenerator<LineChunk> {
    for (let from = 0; from < batch.length; ) {
      let to = from;
      let chars = 0;
      while (to < batch.length && to - from < SLICE_OBSERVATIONS && chars < SLICE_CHARS) {
        chars += (batch[to] as PredictObservation).bodyText?.length ?? 0;
        to++;
      }
      const slice = from === 0 && to === batch.length ? batch : batch.slice(from, to);
      from = to;
      const encoded = encodeObservations(slice, this.masker, catalog, atBase);
      const lines = encoded.lines;
      yield { bytes: await this.lineThread.render(encoded), lines };
    }
  }

  private async saveSettings(store: PredictionStore, batch: readonly PredictObservation[]) {
    const at = this.now();
    let last: PredictObservation["served"] | undefined;
    for (const o of batch) {
      // Consecutive observations mostly share their version: look it up when it changes.
      if (o.served === last) continue;
      last = o.served;
      const { workspaceId, app } = o.served;
      const { maxRows, retentionDays } = o.served.monitoring.predictionLog;
      const key = `${workspaceId}\n${app}`;
      const saved = this.savedSettings.get(key);
      if (saved?.maxRows === maxRows && saved.retentionDays === retentionDays) continue;
      const settings = { maxRows, retentionDays };
      await store.saveSettings(workspaceId, app, settings, at);
      this.savedSettings.set(key, settings);
    }
  }

  /**
   * Delete each app's rows beyond its retention and size cap now (the timer does it every
   * `retentionIntervalMs`). Resolves to the rows deleted, or undefined without a store.
   */
  enforceRetention(): Promise<{ predictions: number; outcomes: number } | undefined> {
    const run = this.retentionChain.then(async () => {
      const store = await this.store;
      if (!store || this.closed) return undefined;
      try {
        return await store.enforceRetention(this.now());
      } catch (error) {
        this.onError(error, "retention");
        return undefined;
      }
    });
    this.retentionChain = run;
    return run;
  }

  /** The store, once everything answered so far is in it: reads see every prediction. */
  private async requireStore(): Promise<PredictionStore> {
    if (!this.closed) await this.flush();
    const store = await this.store;
    if (!store) throw new PredictionLogUnavailableError();
    return store;
  }

  /**
   * Store checked outcomes (all or none) and tell how many of them have a logged prediction
   * now; the others are joined when a report reads them, if their prediction is written later.
   */
  async recordOutcomes(
    workspaceId: string,
    app: string,
    outcomes: readonly ParsedOutcome[],
  ): Promise<{ accepted: number; joined: number }> {
    const store = await this.requireStore();
    await store.putOutcomes(workspaceId, app, outcomes, this.now());
    const logged = await store.loggedKeys(workspaceId, app, outcomes);
    let joined = 0;
    for (const o of outcomes) if (logged.has(`${o.requestId}\n${o.row}`)) joined++;
    return { accepted: outcomes.length, joined };
  }

  /** A window of an app's log, for its outcome report. */
  async window(query: WindowQuery): Promise<WindowData> {
    return (await this.requireStore()).window(query);
  }

  /** Per version: predictions and one business event that followed them (A/B tests, outcome gates). */
  async eventStats(query: Parameters<PredictionStore["eventStats"]>[0]) {
    return (await this.requireStore()).eventStats(query);
  }

  /** One logged row by request id (golden cases captured from live traffic). */
  async loggedPrediction(workspaceId: string, app: string, requestId: string, row = 0) {
    return (await this.requireStore()).loggedPrediction(workspaceId, app, requestId, row);
  }

  /** The task of the app's latest logged prediction, if any. */
  async latestTask(workspaceId: string, app: string) {
    return (await this.requireStore()).latestTask(workspaceId, app);
  }

  /** The store itself, for tools and tests that query the log; rejects when it could not open. */
  storeReady(): Promise<PredictionStore> {
    return this.requireStore();
  }

  /** Stop the timers, write everything still waiting, and close the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.flushTimer);
    clearInterval(this.retentionTimer);
    await this.retentionChain;
    await this.flush();
    await this.lineThread.close();
    await (await this.store)?.close();
  }
}

/** The log's file could not be opened (another process holds it, the disk refused). */
export class PredictionLogUnavailableError extends Error {
  constructor() {
    super("The prediction log is not available on this server");
    this.name = "PredictionLogUnavailableError";
  }
}
