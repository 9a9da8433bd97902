/**
 * The embedded webhook queue: one table, `webhook_events`, in `<dataDir>/runtime.db` (WAL,
 * synchronous=FULL, so a committed intake survives a crash or a power cut before the 202).
 *
 * Claiming is a lease: a worker sets `status = 'processing'`, its owner id and `lease_until`,
 * and renews the lease while it works. An event whose lease expired (its worker was killed)
 * is claimable again, by this process after a restart or by another one on the same file. Every
 * write that ends an attempt is guarded by `status = 'processing' AND lease_owner = me`, so a
 * worker that lost its lease cannot record a second result: one result per event id.
 *
 * Callbacks are a second, smaller state machine on the same row (`callback_*`), claimed with
 * their own lease, so a result recorded just before a crash is still delivered after it.
 *
 * better-sqlite3 is synchronous: each statement runs to completion on the event loop (a
 * sub-millisecond fsync per commit here), which also makes every claim atomic in-process;
 * across processes SQLite's write lock does (`BEGIN IMMEDIATE`).
 */
import { randomUUID } from "node:crypto";
import os from "node:os";
import type { RuntimeDatabase } from "../../store/runtime-db.ts";
import type { InputProblem } from "../errors.ts";
import { deliverCallback } from "./callback.ts";
import {
  type AcceptOutcome,
  type AppWorkerOptions,
  type CallbackState,
  type CallbackStatus,
  callbackBody,
  DEFAULT_QUEUE_TIMINGS,
  type EventQueue,
  type EventScope,
  type EventStatus,
  errorMessage,
  type IntakeAck,
  type ListOptions,
  type NewEvent,
  type QueueStats,
  type QueueTimings,
  type ReplayInput,
  type ReplayOutcome,
  retryDelayMs,
  untilAborted,
  type WebhookEvent,
} from "./event-queue.ts";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS webhook_events (
  workspace_id TEXT NOT NULL,
  app TEXT NOT NULL,
  id TEXT NOT NULL,
  status TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  ack TEXT NOT NULL,
  received TEXT NOT NULL,
  record TEXT,
  problems TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  run_at INTEGER NOT NULL,
  lease_owner TEXT,
  lease_until INTEGER,
  result TEXT,
  error TEXT,
  callback_url TEXT,
  callback_status TEXT,
  callback_attempts INTEGER NOT NULL DEFAULT 0,
  callback_run_at INTEGER,
  callback_lease_owner TEXT,
  callback_lease_until INTEGER,
  callback_http_status INTEGER,
  callback_error TEXT,
  callback_delivered_at INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  completed_at INTEGER,
  PRIMARY KEY (workspace_id, app, id)
);
CREATE INDEX IF NOT EXISTS webhook_events_due ON webhook_events (workspace_id, app, status, run_at);
CREATE INDEX IF NOT EXISTS webhook_events_created ON webhook_events (workspace_id, app, created_at);
CREATE INDEX IF NOT EXISTS webhook_events_callbacks
  ON webhook_events (workspace_id, app, callback_status, callback_run_at);
`;

interface EventRow {
  workspace_id: string;
  app: string;
  id: string;
  status: EventStatus;
  fingerprint: string;
  ack: string;
  received: string;
  record: string | null;
  problems: string;
  attempts: number;
  max_attempts: number;
  run_at: number;
  lease_owner: string | null;
  lease_until: number | null;
  result: string | null;
  error: string | null;
  callback_url: string | null;
  callback_status: CallbackStatus | null;
  callback_attempts: number;
  callback_run_at: number | null;
  callback_http_status: number | null;
  callback_error: string | null;
  callback_delivered_at: number | null;
  created_at: number;
  updated_at: number;
  completed_at: number | null;
}

const iso = (ms: number) => new Date(ms).toISOString();

function toEvent(row: EventRow): WebhookEvent {
  let callback: CallbackState | undefined;
  if (row.callback_url !== null && row.callback_status !== null) {
    callback = {
      url: row.callback_url,
      status: row.callback_status,
      attempts: row.callback_attempts,
      ...(row.callback_http_status !== null ? { lastStatus: row.callback_http_status } : {}),
      ...(row.callback_error !== null ? { lastError: row.callback_error } : {}),
      ...(row.callback_delivered_at !== null
        ? { deliveredAt: iso(row.callback_delivered_at) }
        : {}),
      ...(row.callback_status === "pending" && row.callback_run_at !== null
        ? { nextAttemptAt: iso(row.callback_run_at) }
        : {}),
    };
  }
  return {
    id: row.id,
    workspaceId: row.workspace_id,
    app: row.app,
    status: row.status,
    received: JSON.parse(row.received) as unknown,
    ...(row.record !== null ? { record: JSON.parse(row.record) as Record<string, unknown> } : {}),
    problems: JSON.parse(row.problems) as InputProblem[],
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    ...(row.result !== null ? { result: JSON.parse(row.result) as unknown } : {}),
    ...(row.error !== null ? { error: row.error } : {}),
    ...(callback ? { callback } : {}),
    ack: JSON.parse(row.ack) as IntakeAck,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
    ...(row.completed_at !== null ? { completedAt: iso(row.completed_at) } : {}),
    ...(row.status === "failed" ? { nextAttemptAt: iso(row.run_at) } : {}),
  };
}

export interface SqliteEventQueueOptions {
  readonly timings?: Partial<QueueTimings>;
  /** Longest idle wait between looks for due work when nothing wakes a worker sooner. */
  readonly idlePollMs?: number;
  /** Called with errors a worker cannot hand to anyone (the database failing under it). */
  readonly onError?: (error: unknown, scope: EventScope) => void;
}

/** The SQLite backend of {@link EventQueue}; `db` is opened (and closed) by its owner. */
export class SqliteEventQueue implements EventQueue {
  readonly backend = "sqlite";
  /** Leases taken here carry this, so a guard can tell this process's claims from others'. */
  readonly owner = `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private readonly timings: QueueTimings;
  private readonly workers = new Map<string, SqliteAppWorker>();
  private readonly statements;

  constructor(
    readonly db: RuntimeDatabase,
    private readonly options: SqliteEventQueueOptions = {},
  ) {
    this.timings = { ...DEFAULT_QUEUE_TIMINGS, ...options.timings };
    db.exec(SCHEMA);
    const pk = "workspace_id = @workspaceId AND app = @app AND id = @id";
    this.statements = {
      get: db.prepare<{ workspaceId: string; app: string; id: string }, EventRow>(
        `SELECT * FROM webhook_events WHERE ${pk}`,
      ),
      insert: db.prepare(
        `INSERT INTO webhook_events (workspace_id, app, id, status, fingerprint, ack, received, record,
           problems, max_attempts, run_at, created_at, updated_at)
         VALUES (@workspaceId, @app, @id, @status, @fingerprint, @ack, @received, @record,
           @problems, @maxAttempts, @now, @now, @now)
         ON CONFLICT DO NOTHING`,
      ),
      list: db.prepare<{ workspaceId: string; app: string; limit: number }, EventRow>(
        `SELECT * FROM webhook_events WHERE workspace_id = @workspaceId AND app = @app
         ORDER BY created_at DESC, rowid DESC LIMIT @limit`,
      ),
      listByStatus: db.prepare<
        { workspaceId: string; app: string; status: string; limit: number },
        EventRow
      >(
        `SELECT * FROM webhook_events WHERE workspace_id = @workspaceId AND app = @app AND status = @status
         ORDER BY created_at DESC, rowid DESC LIMIT @limit`,
      ),
      requeue: db.prepare(
        `UPDATE webhook_events SET status = 'queued', received = @received, record = @record,
           problems = '[]', attempts = 0, run_at = @now, lease_owner = NULL, lease_until = NULL,
           result = NULL, error = NULL, callback_url = NULL, callback_status = NULL,
           callback_attempts = 0, callback_run_at = NULL, callback_lease_owner = NULL,
           callback_lease_until = NULL, callback_http_status = NULL, callback_error = NULL,
           callback_delivered_at = NULL, completed_at = NULL, updated_at = @now
         WHERE ${pk} AND status IN ('quarantined', 'dead')`,
      ),
      requarantine: db.prepare(
        `UPDATE webhook_events SET status = 'quarantined', received = @received, record = NULL,
           problems = @problems, updated_at = @now
         WHERE ${pk} AND status IN ('quarantined', 'dead')`,
      ),
      // Events whose worker died after their last allowed attempt: dead, not retried.
      expireExhausted: db.prepare(
        `UPDATE webhook_events SET status = 'dead', lease_owner = NULL, lease_until = NULL,
           error = 'The worker processing it stopped during its last attempt', completed_at = @now,
           updated_at = @now, callback_url = @callbackUrl,
           callback_status = CASE WHEN @callbackUrl IS NULL THEN NULL ELSE 'pending' END,
           callback_run_at = CASE WHEN @callbackUrl IS NULL THEN NULL ELSE @now END
         WHERE workspace_id = @workspaceId AND app = @app AND status = 'processing'
           AND lease_until <= @now AND attempts >= max_attempts`,
      ),
      claim: db.prepare<
        {
          workspaceId: string;
          app: string;
          owner: string;
          now: number;
          until: number;
          limit: number;
        },
        EventRow
      >(
        `UPDATE webhook_events SET status = 'processing', attempts = attempts + 1,
           lease_owner = @owner, lease_until = @until, updated_at = @now
         WHERE rowid IN (
           SELECT rowid FROM webhook_events
           WHERE workspace_id = @workspaceId AND app = @app AND (
             (status IN ('queued', 'failed') AND run_at <= @now)
             OR (status = 'processing' AND lease_until <= @now))
           ORDER BY run_at LIMIT @limit)
         RETURNING *`,
      ),
      nextDue: db.prepare<{ workspaceId: string; app: string }, { due: number | null }>(
        `SELECT min(due) AS due FROM (
           SELECT min(run_at) AS due FROM webhook_events
             WHERE workspace_id = @workspaceId AND app = @app AND status IN ('queued', 'failed')
           UNION ALL
           SELECT min(lease_until) FROM webhook_events
             WHERE workspace_id = @workspaceId AND app = @app AND status = 'processing'
           UNION ALL
           SELECT min(max(callback_run_at, coalesce(callback_lease_until, 0))) FROM webhook_events
             WHERE workspace_id = @workspaceId AND app = @app AND callback_status = 'pending')`,
      ),
      renew: db.prepare(
        `UPDATE webhook_events SET lease_until = @until
         WHERE workspace_id = @workspaceId AND app = @app AND status = 'processing' AND lease_owner = @owner`,
      ),
      renewCallbacks: db.prepare(
        `UPDATE webhook_events SET callback_lease_until = @until
         WHERE workspace_id = @workspaceId AND app = @app AND callback_status = 'pending'
           AND callback_lease_owner = @owner`,
      ),
      complete: db.prepare(
        `UPDATE webhook_events SET status = 'done', result = @result, error = NULL,
           lease_owner = NULL, lease_until = NULL, completed_at = @now, updated_at = @now,
           callback_url = @callbackUrl,
           callback_status = CASE WHEN @callbackUrl IS NULL THEN NULL ELSE 'pending' END,
           callback_run_at = CASE WHEN @callbackUrl IS NULL THEN NULL ELSE @now END
         WHERE ${pk} AND status = 'processing' AND lease_owner = @owner`,
      ),
      retry: db.prepare(
        `UPDATE webhook_events SET status = 'failed', error = @error, run_at = @runAt,
           lease_owner = NULL, lease_until = NULL, updated_at = @now
         WHERE ${pk} AND status = 'processing' AND lease_owner = @owner`,
      ),
      bury: db.prepare(
        `UPDATE webhook_events SET status = 'dead', error = @error, lease_owner = NULL,
           lease_until = NULL, completed_at = @now, updated_at = @now, callback_url = @callbackUrl,
           callback_status = CASE WHEN @callbackUrl IS NULL THEN NULL ELSE 'pending' END,
           callback_run_at = CASE WHEN @callbackUrl IS NULL THEN NULL ELSE @now END
         WHERE ${pk} AND status = 'processing' AND lease_owner = @owner`,
      ),
      release: db.prepare(
        `UPDATE webhook_events SET status = 'queued', attempts = max(attempts - 1, 0),
           lease_owner = NULL, lease_until = NULL, updated_at = @now
         WHERE ${pk} AND status = 'processing' AND lease_owner = @owner`,
      ),
      claimCallbacks: db.prepare<
        {
          workspaceId: string;
          app: string;
          owner: string;
          now: number;
          until: number;
          limit: number;
        },
        EventRow
      >(
        `UPDATE webhook_events SET callback_lease_owner = @owner, callback_lease_until = @until
         WHERE rowid IN (
           SELECT rowid FROM webhook_events
           WHERE workspace_id = @workspaceId AND app = @app AND callback_status = 'pending'
             AND callback_run_at <= @now
             AND (callback_lease_until IS NULL OR callback_lease_until <= @now)
           ORDER BY callback_run_at LIMIT @limit)
         RETURNING *`,
      ),
      callbackDone: db.prepare(
        `UPDATE webhook_events SET callback_status = @status, callback_attempts = callback_attempts + 1,
           callback_http_status = @httpStatus, callback_error = @error,
           callback_delivered_at = @deliveredAt, callback_run_at = @runAt,
           callback_lease_owner = NULL, callback_lease_until = NULL, updated_at = @now
         WHERE ${pk} AND callback_status = 'pending' AND callback_lease_owner = @owner`,
      ),
      callbackRelease: db.prepare(
        `UPDATE webhook_events SET callback_lease_owner = NULL, callback_lease_until = NULL
         WHERE ${pk} AND callback_status = 'pending' AND callback_lease_owner = @owner`,
      ),
      stats: db.prepare<
        { workspaceId: string; app: string },
        { depth: number; oldest: number | null }
      >(
        `SELECT count(*) AS depth, min(created_at) AS oldest FROM webhook_events
         WHERE workspace_id = @workspaceId AND app = @app
           AND status IN ('queued', 'failed', 'processing')`,
      ),
      purge: db.prepare(
        `DELETE FROM webhook_events
         WHERE workspace_id = @workspaceId AND app = @app
           AND status IN ('done', 'dead', 'quarantined') AND updated_at < @cutoff
           AND (callback_status IS NULL OR callback_status <> 'pending')`,
      ),
    };
  }

  async enqueue(
    scope: EventScope,
    event: NewEvent & { readonly record: Record<string, unknown> },
  ): Promise<AcceptOutcome> {
    const outcome = this.accept(scope, event, "queued", event.record, []);
    if (outcome.state === "created") this.workers.get(key(scope))?.wake();
    return outcome;
  }

  async quarantine(
    scope: EventScope,
    event: NewEvent & { readonly problems: readonly InputProblem[] },
  ): Promise<AcceptOutcome> {
    return this.accept(scope, event, "quarantined", undefined, event.problems);
  }

  private accept(
    scope: EventScope,
    event: NewEvent,
    status: "queued" | "quarantined",
    record: Record<string, unknown> | undefined,
    problems: readonly InputProblem[],
  ): AcceptOutcome {
    const ack: IntakeAck = {
      event_id: event.id,
      status,
      ...(status === "quarantined" ? { problems } : {}),
    };
    const run = this.db.transaction((): AcceptOutcome => {
      const inserted = this.statements.insert.run({
        ...scope,
        id: event.id,
        status,
        fingerprint: event.fingerprint,
        ack: JSON.stringify(ack),
        received: JSON.stringify(event.received),
        record: record === undefined ? null : JSON.stringify(record),
        problems: JSON.stringify(problems),
        maxAttempts: event.maxAttempts,
        now: Date.now(),
      });
      const row = this.statements.get.get({ ...scope, id: event.id });
      if (!row) throw new Error(`Event ${event.id} vanished while it was stored`);
      if (inserted.changes === 1) return { state: "created", event: toEvent(row) };
      return {
        state: row.fingerprint === event.fingerprint ? "replay" : "mismatch",
        event: toEvent(row),
      };
    });
    return run.immediate();
  }

  async get(scope: EventScope, id: string): Promise<WebhookEvent | undefined> {
    const row = this.statements.get.get({ ...scope, id });
    return row ? toEvent(row) : undefined;
  }

  async list(scope: EventScope, options: ListOptions): Promise<WebhookEvent[]> {
    const rows = options.status
      ? this.statements.listByStatus.all({ ...scope, status: options.status, limit: options.limit })
      : this.statements.list.all({ ...scope, limit: options.limit });
    return rows.map(toEvent);
  }

  async replay(scope: EventScope, id: string, next: ReplayInput): Promise<ReplayOutcome> {
    const run = this.db.transaction((): ReplayOutcome => {
      const before = this.statements.get.get({ ...scope, id });
      if (!before) return { state: "not_found" };
      if (before.status !== "quarantined" && before.status !== "dead") {
        return { state: "conflict", event: toEvent(before) };
      }
      const params = { ...scope, id, received: JSON.stringify(next.received), now: Date.now() };
      const queued = "record" in next;
      if (queued) this.statements.requeue.run({ ...params, record: JSON.stringify(next.record) });
      else this.statements.requarantine.run({ ...params, problems: JSON.stringify(next.problems) });
      const after = this.statements.get.get({ ...scope, id });
      if (!after) throw new Error(`Event ${id} vanished while it was replayed`);
      return { state: queued ? "queued" : "quarantined", event: toEvent(after) };
    });
    const outcome = run.immediate();
    if (outcome.state === "queued") this.workers.get(key(scope))?.wake();
    return outcome;
  }

  async startWorkers(scope: EventScope, options: AppWorkerOptions): Promise<void> {
    const existing = this.workers.get(key(scope));
    if (existing) {
      existing.update(options);
      return;
    }
    const worker = new SqliteAppWorker(this, scope, options, this.timings, {
      idlePollMs: this.options.idlePollMs ?? 1000,
      onError: (error) => this.options.onError?.(error, scope),
    });
    this.workers.set(key(scope), worker);
    worker.start();
  }

  async stopWorkers(scope: EventScope): Promise<void> {
    const worker = this.workers.get(key(scope));
    if (!worker) return;
    this.workers.delete(key(scope));
    await worker.stop();
  }

  runningWorkers(): EventScope[] {
    return [...this.workers.values()].map((w) => w.scope);
  }

  async stats(scope: EventScope): Promise<QueueStats> {
    const row = this.statements.stats.get(scope);
    return { depth: row?.depth ?? 0, oldestCreatedAt: row?.oldest ?? null };
  }

  async close(): Promise<void> {
    await Promise.all(this.runningWorkers().map((scope) => this.stopWorkers(scope)));
  }

  // The worker's side: claims and the writes that end an attempt, each guarded by the lease.

  /** @internal */
  claim(scope: EventScope, limit: number, callbackUrl: string | undefined): EventRow[] {
    const now = Date.now();
    const run = this.db.transaction(() => {
      this.statements.expireExhausted.run({ ...scope, now, callbackUrl: callbackUrl ?? null });
      return this.statements.claim.all({
        ...scope,
        owner: this.owner,
        now,
        until: now + this.timings.leaseMs,
        limit,
      });
    });
    return run.immediate();
  }

  /** @internal */
  claimCallbacks(scope: EventScope, limit: number): EventRow[] {
    const now = Date.now();
    return this.statements.claimCallbacks.all({
      ...scope,
      owner: this.owner,
      now,
      until: now + this.timings.leaseMs,
      limit,
    });
  }

  /** @internal When the next event or callback of the app becomes due (ms), if any. */
  nextDue(scope: EventScope): number | undefined {
    return this.statements.nextDue.get(scope)?.due ?? undefined;
  }

  /** @internal */
  renewLeases(scope: EventScope): void {
    const until = Date.now() + this.timings.leaseMs;
    this.statements.renew.run({ ...scope, owner: this.owner, until });
    this.statements.renewCallbacks.run({ ...scope, owner: this.owner, until });
  }

  /** @internal Record the result; false when the event is no longer this worker's. */
  complete(scope: EventScope, id: string, result: unknown, callbackUrl?: string): boolean {
    const info = this.statements.complete.run({
      ...scope,
      id,
      owner: this.owner,
      result: JSON.stringify(result ?? null),
      callbackUrl: callbackUrl ?? null,
      now: Date.now(),
    });
    return info.changes === 1;
  }

  /** @internal A failed attempt: retry later, or dead after the last one. */
  fail(scope: EventScope, row: EventRow, error: string, callbackUrl?: string): void {
    const now = Date.now();
    const params = { ...scope, id: row.id, owner: this.owner, error, now };
    if (row.attempts >= row.max_attempts) {
      this.statements.bury.run({ ...params, callbackUrl: callbackUrl ?? null });
    } else {
      this.statements.retry.run({
        ...params,
        runAt: now + retryDelayMs(row.attempts, this.timings),
      });
    }
  }

  /** @internal Give an event back untouched (its worker is stopping). */
  release(scope: EventScope, id: string): void {
    this.statements.release.run({ ...scope, id, owner: this.owner, now: Date.now() });
  }

  /** @internal */
  callbackFinished(
    scope: EventScope,
    row: EventRow,
    outcome: { ok: boolean; status?: number; error?: string },
  ): void {
    const now = Date.now();
    const attempts = row.callback_attempts + 1;
    const status: CallbackStatus = outcome.ok
      ? "delivered"
      : attempts >= this.timings.callbackMaxAttempts
        ? "failed"
        : "pending";
    this.statements.callbackDone.run({
      ...scope,
      id: row.id,
      owner: this.owner,
      status,
      httpStatus: outcome.status ?? null,
      error: outcome.ok ? null : (outcome.error ?? "failed"),
      deliveredAt: outcome.ok ? now : null,
      runAt:
        status === "pending" ? now + retryDelayMs(attempts, this.timings) : row.callback_run_at,
      now,
    });
  }

  /** @internal */
  callbackRelease(scope: EventScope, id: string): void {
    this.statements.callbackRelease.run({ ...scope, id, owner: this.owner });
  }

  /** @internal */
  purge(scope: EventScope, retentionHours: number): number {
    const cutoff = Date.now() - retentionHours * 3_600_000;
    return this.statements.purge.run({ ...scope, cutoff }).changes;
  }
}

const key = (scope: EventScope) => `${scope.workspaceId}/${scope.app}`;

/**
 * One app's workers in this process: a pump that claims due events (up to `concurrency` in
 * flight) and due callbacks (as many again), woken by intake here and otherwise by a timer set
 * to the next due time; a heartbeat that renews the leases of what it holds; a purge.
 */
class SqliteAppWorker {
  private readonly abort = new AbortController();
  private readonly inFlight = new Set<Promise<void>>();
  private events = 0;
  private callbacks = 0;
  private timer: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private purger: NodeJS.Timeout | undefined;
  private stopped = false;
  private woken = false;

  constructor(
    private readonly queue: SqliteEventQueue,
    readonly scope: EventScope,
    private options: AppWorkerOptions,
    private readonly timings: QueueTimings,
    private readonly settings: { idlePollMs: number; onError: (error: unknown) => void },
  ) {}

  start(): void {
    this.heartbeat = setInterval(
      () => this.guard(() => this.queue.renewLeases(this.scope)),
      Math.max(50, Math.floor(this.timings.leaseMs / 3)),
    );
    this.purger = setInterval(() => this.purge(), 60_000);
    this.purger.unref();
    this.purge();
    this.pump();
  }

  update(options: AppWorkerOptions): void {
    this.options = options;
    this.wake();
  }

  /** Pump soon; many wakes in one turn of the event loop (a burst of intakes) pump once. */
  wake(): void {
    if (this.stopped || this.woken) return;
    this.woken = true;
    setImmediate(() => {
      this.woken = false;
      this.pump();
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.heartbeat);
    clearInterval(this.purger);
    this.abort.abort(new Error("The webhook workers are stopping"));
    await Promise.allSettled([...this.inFlight]);
  }

  private purge(): void {
    this.guard(() => this.queue.purge(this.scope, this.options.retentionHours));
  }

  private guard(work: () => void): void {
    try {
      work();
    } catch (error) {
      this.settings.onError(error);
    }
  }

  private pump(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.guard(() => {
      const { concurrency, callbackUrl } = this.options;
      const freeEvents = concurrency - this.events;
      if (freeEvents > 0) {
        for (const row of this.queue.claim(this.scope, freeEvents, callbackUrl)) {
          this.track(this.process(row), "event");
        }
      }
      const freeCallbacks = concurrency - this.callbacks;
      if (freeCallbacks > 0) {
        for (const row of this.queue.claimCallbacks(this.scope, freeCallbacks)) {
          this.track(this.deliver(row), "callback");
        }
      }
    });
    let wait = this.settings.idlePollMs;
    this.guard(() => {
      const due = this.queue.nextDue(this.scope);
      if (due !== undefined) wait = Math.min(wait, Math.max(due - Date.now(), 0) + 5);
    });
    // Full: a finishing event pumps again; idle or waiting: the timer does.
    this.timer = setTimeout(() => this.pump(), wait);
  }

  private track(work: Promise<void>, kind: "event" | "callback"): void {
    if (kind === "event") this.events++;
    else this.callbacks++;
    const tracked = work
      .catch((error: unknown) => this.settings.onError(error))
      .finally(() => {
        if (kind === "event") this.events--;
        else this.callbacks--;
        this.inFlight.delete(tracked);
        this.wake();
      });
    this.inFlight.add(tracked);
  }

  private async process(row: EventRow): Promise<void> {
    const { processor, timeoutMs, callbackUrl } = this.options;
    const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(timeoutMs)]);
    let result: unknown;
    try {
      if (row.record === null) throw new Error("The event has no valid record to process");
      const record = JSON.parse(row.record) as Record<string, unknown>;
      result = await untilAborted(
        processor({ ...this.scope, eventId: row.id, record }, signal),
        signal,
      );
      // Results must be JSON: find out now, as a failed attempt, not when it is stored.
      JSON.stringify(result ?? null);
    } catch (error) {
      if (this.abort.signal.aborted) this.queue.release(this.scope, row.id);
      else this.queue.fail(this.scope, row, errorMessage(error), callbackUrl);
      return;
    }
    this.queue.complete(this.scope, row.id, result, callbackUrl);
  }

  private async deliver(row: EventRow): Promise<void> {
    if (row.callback_url === null) return;
    const event = toEvent(row);
    const outcome = await deliverCallback({
      url: row.callback_url,
      secret: this.options.callbackSecret,
      eventId: row.id,
      body: callbackBody(event),
      signal: this.abort.signal,
    });
    if (this.abort.signal.aborted) this.queue.callbackRelease(this.scope, row.id);
    else this.queue.callbackFinished(this.scope, row, outcome);
  }
}
