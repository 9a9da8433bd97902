/**
 * The scale-out webhook queue: BullMQ on Redis, so N replicas share one queue per app and any
 * replica's worker may take any replica's event.
 *
 * Two things live in Redis under the configured prefix:
 * - the event record (the source of truth for status, payload, result, callback state):
 *   a hash `<prefix>webhooks:<workspace>:<app>:e:<id>`, plus sorted sets indexing it
 *   (`…:all` by creation time, `…:s:<status>` by the time it entered that status, which the
 *   retention purge reads). Every status change is one Lua script that checks the status it
 *   expects first, so two workers can never both record a result: one result per event id.
 * - one BullMQ queue per app (`<prefix>bull:webhooks.<workspace>.<app>`), whose jobs only
 *   say "look at event X" (job id `e-<id>`, and `c-<id>` for its callback). BullMQ's lock and
 *   stalled-job check are the lease: a job whose worker was killed goes back to the queue
 *   after `leaseMs` (lock) plus up to two stalled checks. Attempts and backoff are counted in
 *   the event record (a retry is `moveToDelayed` + `DelayedError`), the same rules as SQLite.
 *
 * Intake writes the record, then adds the job. A crash (or a Redis error) between the two
 * leaves a `queued` record without a job: retrying the intake with the same Idempotency-Key
 * adds it, and every worker start (and every minute) re-adds jobs for queued records that
 * have none.
 *
 * Durability: a 202 means Redis accepted the writes. That survives a crash of Ballast, but a
 * crash of Redis only with AOF on (`appendonly yes`, `appendfsync always` for no loss at all,
 * `everysec` for at most a second); with RDB snapshots alone, acknowledged events can be lost.
 */
import { randomUUID } from "node:crypto";
import { DelayedError, type Job, Queue, Worker } from "bullmq";
import type { Redis } from "ioredis";
import { openRedis } from "../../store/redis.ts";
import type { InputProblem } from "../errors.ts";
import { deliverCallback } from "./callback.ts";
import {
  type AcceptOutcome,
  type AppWorkerOptions,
  type CallbackState,
  callbackBody,
  DEFAULT_QUEUE_TIMINGS,
  EVENT_STATUSES,
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

/** Create the record unless the id exists; answers the existing fingerprint, or nil. */
const CREATE = `
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('HGET', KEYS[1], 'fingerprint')
end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
return false
`;

/**
 * Move the record from one of the allowed statuses (comma-separated) to a new one (empty: keep
 * the status, only set fields), setting the given fields; with an owner given, only if the
 * record's current attempt is that owner's. Answers {outcome, status before}.
 * KEYS: record, all, then the six status sets in EVENT_STATUSES order.
 * ARGV: allowed, target, now, id, owner (or ''), then field/value pairs.
 */
const TRANSITION = `
local current = redis.call('HGET', KEYS[1], 'status')
if not current then return {'missing', ''} end
local allowed = false
for s in string.gmatch(ARGV[1], '[^,]+') do
  if s == current then allowed = true end
end
if not allowed then return {'refused', current} end
if ARGV[5] ~= '' and redis.call('HGET', KEYS[1], 'owner') ~= ARGV[5] then
  return {'refused', current}
end
local index = {queued = 3, processing = 4, done = 5, failed = 6, dead = 7, quarantined = 8}
local target = ARGV[2]
if target ~= '' and target ~= current then
  redis.call('ZREM', KEYS[index[current]], ARGV[4])
  redis.call('ZADD', KEYS[index[target]], ARGV[3], ARGV[4])
  redis.call('HSET', KEYS[1], 'status', target)
elseif target ~= '' then
  redis.call('ZADD', KEYS[index[target]], ARGV[3], ARGV[4])
end
redis.call('HSET', KEYS[1], 'updatedAt', ARGV[3])
if #ARGV > 5 then redis.call('HSET', KEYS[1], unpack(ARGV, 6)) end
return {'ok', current}
`;

/** Delete a finished record entered into `status` before the cutoff, unless a callback is pending. */
const PURGE = `
local current = redis.call('HGET', KEYS[1], 'status')
if current and current ~= ARGV[2] then return 0 end
local callback = redis.call('HGET', KEYS[1], 'callback')
if callback and string.find(callback, '"status":"pending"', 1, true) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
return 1
`;

type Fields = Record<string, string>;

const iso = (ms: number) => new Date(ms).toISOString();
const json = (value: unknown) => JSON.stringify(value ?? null);

/** Job ids may not contain ':' nor look like integers; event ids may. '%' is not in an event id. */
const jobId = (kind: "e" | "c", id: string) => `${kind}-${id.replaceAll(":", "%3A")}`;

function toEvent(scope: EventScope, id: string, h: Fields): WebhookEvent | undefined {
  if (h.status === undefined) return undefined;
  const num = (v: string | undefined) => (v === undefined || v === "" ? undefined : Number(v));
  const parse = (v: string | undefined): unknown =>
    v === undefined || v === "" ? undefined : JSON.parse(v);
  const completedAt = num(h.completedAt);
  const nextAttemptAt = num(h.nextAttemptAt);
  const record = parse(h.record) as Record<string, unknown> | undefined;
  const result = parse(h.result);
  const callback = parse(h.callback) as CallbackState | undefined;
  return {
    id,
    workspaceId: scope.workspaceId,
    app: scope.app,
    status: h.status as EventStatus,
    received: parse(h.received),
    ...(record !== undefined ? { record } : {}),
    problems: (parse(h.problems) as InputProblem[] | undefined) ?? [],
    attempts: num(h.attempts) ?? 0,
    maxAttempts: num(h.maxAttempts) ?? 1,
    ...(h.status === "done" ? { result: result ?? null } : {}),
    ...(h.error ? { error: h.error } : {}),
    ...(callback ? { callback } : {}),
    ack: parse(h.ack) as IntakeAck,
    createdAt: iso(num(h.createdAt) ?? 0),
    updatedAt: iso(num(h.updatedAt) ?? 0),
    ...(completedAt !== undefined ? { completedAt: iso(completedAt) } : {}),
    ...(h.status === "failed" && nextAttemptAt !== undefined
      ? { nextAttemptAt: iso(nextAttemptAt) }
      : {}),
  };
}

export interface BullmqEventQueueOptions {
  /** redis://… */
  readonly url: string;
  /** Every key starts with this (the server's `redisPrefix`). */
  readonly prefix: string;
  readonly timings?: Partial<QueueTimings>;
  readonly onError?: (error: unknown, scope?: EventScope) => void;
}

interface JobData {
  readonly id: string;
}

interface AppQueue {
  readonly queue: Queue<JobData>;
  worker?: AppWorker;
}

interface AppWorker {
  readonly worker: Worker<JobData>;
  readonly abort: AbortController;
  options: AppWorkerOptions;
  maintenance: NodeJS.Timeout;
}

/** The BullMQ backend of {@link EventQueue}. */
export class BullmqEventQueue implements EventQueue {
  readonly backend = "bullmq";
  private readonly timings: QueueTimings;
  /** Plain commands, failing fast while Redis is away (intake answers an error, not a hang). */
  private readonly redis: Redis;
  /** Workers' connection: BullMQ's blocking reads need `maxRetriesPerRequest: null`. */
  private readonly blocking: Redis;
  private readonly apps = new Map<string, AppQueue>();

  constructor(private readonly options: BullmqEventQueueOptions) {
    this.timings = { ...DEFAULT_QUEUE_TIMINGS, ...options.timings };
    this.redis = openRedis({ url: options.url });
    this.blocking = openRedis({ url: options.url, forBlocking: true });
    for (const client of [this.redis, this.blocking]) {
      client.on("error", (error: unknown) => options.onError?.(error));
    }
  }

  private base(scope: EventScope): string {
    return `${this.options.prefix}webhooks:${scope.workspaceId}:${scope.app}`;
  }

  private keys(scope: EventScope, id: string): string[] {
    const base = this.base(scope);
    return [`${base}:e:${id}`, `${base}:all`, ...EVENT_STATUSES.map((s) => `${base}:s:${s}`)];
  }

  private appQueue(scope: EventScope): AppQueue {
    const k = key(scope);
    let app = this.apps.get(k);
    if (!app) {
      const queue = new Queue<JobData>(`webhooks.${scope.workspaceId}.${scope.app}`, {
        connection: this.redis,
        prefix: `${this.options.prefix}bull`,
        defaultJobOptions: { removeOnComplete: true, removeOnFail: { age: 7 * 24 * 3600 } },
      });
      queue.on("error", (error: unknown) => this.options.onError?.(error, scope));
      app = { queue };
      this.apps.set(k, app);
    }
    return app;
  }

  private async transition(
    scope: EventScope,
    id: string,
    from: readonly EventStatus[],
    to: EventStatus | "",
    fields: Fields = {},
    /** The attempt that must still hold the event (its worker may have lost it to another). */
    owner = "",
  ): Promise<{ outcome: "ok" | "refused" | "missing"; before: string }> {
    const [outcome, before] = (await this.redis.eval(
      TRANSITION,
      8,
      ...this.keys(scope, id),
      from.join(","),
      to,
      String(Date.now()),
      id,
      owner,
      ...Object.entries(fields).flat(),
    )) as ["ok" | "refused" | "missing", string];
    return { outcome, before };
  }

  async enqueue(
    scope: EventScope,
    event: NewEvent & { readonly record: Record<string, unknown> },
  ): Promise<AcceptOutcome> {
    const outcome = await this.accept(scope, event, "queued", event.record, []);
    // A replayed intake of a queued event makes sure its job exists (the first may have failed
    // between writing the record and adding the job); adding an existing job id is a no-op.
    if (outcome.state !== "mismatch" && outcome.event.status === "queued") {
      await this.addEventJob(scope, event.id);
    }
    return outcome;
  }

  async quarantine(
    scope: EventScope,
    event: NewEvent & { readonly problems: readonly InputProblem[] },
  ): Promise<AcceptOutcome> {
    return this.accept(scope, event, "quarantined", undefined, event.problems);
  }

  private async accept(
    scope: EventScope,
    event: NewEvent,
    status: "queued" | "quarantined",
    record: Record<string, unknown> | undefined,
    problems: readonly InputProblem[],
  ): Promise<AcceptOutcome> {
    const now = String(Date.now());
    const ack: IntakeAck = {
      event_id: event.id,
      status,
      ...(status === "quarantined" ? { problems } : {}),
    };
    const [k, all] = this.keys(scope, event.id) as [string, string];
    const fields: Fields = {
      status,
      fingerprint: event.fingerprint,
      ack: json(ack),
      received: json(event.received),
      record: record === undefined ? "" : json(record),
      problems: json(problems),
      attempts: "0",
      maxAttempts: String(event.maxAttempts),
      createdAt: now,
      updatedAt: now,
    };
    const existing = (await this.redis.eval(
      CREATE,
      3,
      k,
      all,
      `${this.base(scope)}:s:${status}`,
      event.id,
      now,
      ...Object.entries(fields).flat(),
    )) as string | null;
    const stored = await this.get(scope, event.id);
    if (!stored) throw new Error(`Event ${event.id} vanished while it was stored`);
    if (existing === null) return { state: "created", event: stored };
    return { state: existing === event.fingerprint ? "replay" : "mismatch", event: stored };
  }

  private async addEventJob(scope: EventScope, id: string): Promise<void> {
    await this.appQueue(scope).queue.add("event", { id }, { jobId: jobId("e", id) });
  }

  private async addCallbackJob(scope: EventScope, id: string): Promise<void> {
    await this.appQueue(scope).queue.add(
      "callback",
      { id },
      {
        jobId: jobId("c", id),
        attempts: this.timings.callbackMaxAttempts,
        backoff: { type: "ballast" },
      },
    );
  }

  async get(scope: EventScope, id: string): Promise<WebhookEvent | undefined> {
    const [k] = this.keys(scope, id) as [string];
    return toEvent(scope, id, await this.redis.hgetall(k));
  }

  async list(scope: EventScope, options: ListOptions): Promise<WebhookEvent[]> {
    const base = this.base(scope);
    const index = options.status ? `${base}:s:${options.status}` : `${base}:all`;
    const ids = await this.redis.zrevrange(index, 0, Math.max(options.limit, 1) - 1);
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hgetall(`${base}:e:${id}`);
    const rows = (await pipeline.exec()) ?? [];
    const out: WebhookEvent[] = [];
    ids.forEach((id, i) => {
      const row = rows[i]?.[1] as Fields | undefined;
      const event = row ? toEvent(scope, id, row) : undefined;
      if (event && (!options.status || event.status === options.status)) out.push(event);
    });
    return out;
  }

  async replay(scope: EventScope, id: string, next: ReplayInput): Promise<ReplayOutcome> {
    const queued = "record" in next;
    const fields: Fields = queued
      ? {
          received: json(next.received),
          record: json(next.record),
          problems: "[]",
          attempts: "0",
          result: "",
          error: "",
          callback: "",
          completedAt: "",
          nextAttemptAt: "",
        }
      : { received: json(next.received), record: "", problems: json(next.problems) };
    const { outcome } = await this.transition(
      scope,
      id,
      ["quarantined", "dead"],
      queued ? "queued" : "quarantined",
      fields,
    );
    const event = await this.get(scope, id);
    if (outcome === "missing" || !event) return { state: "not_found" };
    if (outcome === "refused") return { state: "conflict", event };
    if (queued) {
      // A dead event's job may linger (failed, or completed and kept): replace it.
      const { queue } = this.appQueue(scope);
      await queue.remove(jobId("e", id)).catch(() => 0);
      await queue.remove(jobId("c", id)).catch(() => 0);
      await this.addEventJob(scope, id);
    }
    return { state: queued ? "queued" : "quarantined", event };
  }

  async startWorkers(scope: EventScope, options: AppWorkerOptions): Promise<void> {
    const app = this.appQueue(scope);
    if (app.worker) {
      app.worker.options = options;
      app.worker.worker.concurrency = options.concurrency;
      return;
    }
    const abort = new AbortController();
    const worker = new Worker<JobData>(
      app.queue.name,
      async (job, token, signal) => this.run(scope, job, token, signal),
      {
        connection: this.blocking,
        prefix: `${this.options.prefix}bull`,
        concurrency: options.concurrency,
        lockDuration: this.timings.leaseMs,
        stalledInterval: this.timings.leaseMs,
        // Attempts are counted in the event record; a stalled job is never failed for stalling.
        maxStalledCount: 1_000_000,
        settings: { backoffStrategy: (attemptsMade) => retryDelayMs(attemptsMade, this.timings) },
      },
    );
    worker.on("error", (error: unknown) => this.options.onError?.(error, scope));
    const maintenance = setInterval(() => {
      this.maintain(scope, false).catch((error: unknown) => this.options.onError?.(error, scope));
    }, 60_000);
    maintenance.unref();
    app.worker = { worker, abort, options, maintenance };
    await this.maintain(scope, true);
  }

  /** Re-add jobs for records waiting without one, and purge what outlived its retention. */
  private async maintain(scope: EventScope, starting: boolean): Promise<void> {
    const app = this.apps.get(key(scope));
    const options = app?.worker?.options;
    if (!app || !options) return;
    const base = this.base(scope);
    // At start every waiting record is checked; later only those waiting longer than a lease
    // (a fresh one is normally between its two writes, or just taken by a worker).
    const settled = starting ? "+inf" : String(Date.now() - this.timings.leaseMs);
    for (const status of ["queued", "failed", "processing"] as const) {
      const index = `${base}:s:${status}`;
      const ids = await this.redis.zrangebyscore(index, "-inf", settled, "LIMIT", "0", "1000");
      for (const id of ids) {
        if (!(await app.queue.getJob(jobId("e", id)))) await this.addEventJob(scope, id);
      }
    }
    const cutoff = Date.now() - options.retentionHours * 3_600_000;
    for (const status of ["done", "dead", "quarantined"] as const) {
      const ids = await this.redis.zrangebyscore(
        `${base}:s:${status}`,
        "-inf",
        cutoff,
        "LIMIT",
        "0",
        "1000",
      );
      for (const id of ids) {
        await this.redis.eval(
          PURGE,
          3,
          `${base}:e:${id}`,
          `${base}:all`,
          `${base}:s:${status}`,
          id,
          status,
        );
      }
    }
  }

  private async run(
    scope: EventScope,
    job: Job<JobData>,
    token: string | undefined,
    jobSignal: AbortSignal | undefined,
  ): Promise<void> {
    const worker = this.apps.get(key(scope))?.worker;
    if (!worker) throw new Error("The webhook workers are stopping");
    const stopping = jobSignal
      ? AbortSignal.any([worker.abort.signal, jobSignal])
      : worker.abort.signal;
    if (job.name === "callback") return this.deliver(scope, job, token, worker, stopping);
    return this.process(scope, job, token, worker, stopping);
  }

  /** Put the job back without spending an attempt (this worker is stopping). */
  private async giveBack(job: Job<JobData>, token: string | undefined): Promise<never> {
    await job.moveToDelayed(Date.now(), token);
    throw new DelayedError();
  }

  private async process(
    scope: EventScope,
    job: Job<JobData>,
    token: string | undefined,
    worker: AppWorker,
    stopping: AbortSignal,
  ): Promise<void> {
    const { id } = job.data;
    const event = await this.get(scope, id);
    if (!event || event.status === "quarantined") return;
    const { callbackUrl } = worker.options;
    const finished = (fields: Fields): Fields => ({
      ...fields,
      completedAt: String(Date.now()),
      callback: callbackUrl
        ? json({ url: callbackUrl, status: "pending", attempts: 0 } satisfies CallbackState)
        : "",
      nextAttemptAt: "",
    });
    if (event.status === "done" || event.status === "dead") {
      // Finished before a crash took its worker: only the callback may be left to schedule.
      if (event.callback?.status === "pending") await this.addCallbackJob(scope, id);
      return;
    }
    if (event.status === "processing" && event.attempts >= event.maxAttempts) {
      const dead = finished({
        error: "The worker processing it stopped during its last attempt",
      });
      const { outcome } = await this.transition(scope, id, ["processing"], "dead", dead);
      if (outcome === "ok" && callbackUrl) await this.addCallbackJob(scope, id);
      return;
    }
    const attempts = event.attempts + 1;
    // This attempt's owner: a worker that lost the event (its lock expired, another took it
    // over) can no longer end the attempt, so only the current one records a result.
    const owner = randomUUID();
    const claimed = await this.transition(
      scope,
      id,
      ["queued", "failed", "processing"],
      "processing",
      { attempts: String(attempts), owner },
    );
    if (claimed.outcome !== "ok") return;
    const { processor, timeoutMs } = worker.options;
    const signal = AbortSignal.any([stopping, AbortSignal.timeout(timeoutMs)]);
    let result: unknown;
    try {
      if (!event.record) throw new Error("The event has no valid record to process");
      result = await untilAborted(
        processor({ ...scope, eventId: id, record: event.record }, signal),
        signal,
      );
      JSON.stringify(result ?? null);
    } catch (error) {
      if (stopping.aborted) {
        await this.transition(
          scope,
          id,
          ["processing"],
          "queued",
          { attempts: String(attempts - 1) },
          owner,
        );
        return this.giveBack(job, token);
      }
      const message = errorMessage(error);
      if (attempts >= event.maxAttempts) {
        const { outcome } = await this.transition(
          scope,
          id,
          ["processing"],
          "dead",
          finished({ error: message }),
          owner,
        );
        if (outcome === "ok" && callbackUrl) await this.addCallbackJob(scope, id);
        return;
      }
      const runAt = Date.now() + retryDelayMs(attempts, this.timings);
      await this.transition(
        scope,
        id,
        ["processing"],
        "failed",
        { error: message, nextAttemptAt: String(runAt) },
        owner,
      );
      await job.moveToDelayed(runAt, token);
      throw new DelayedError();
    }
    const { outcome } = await this.transition(
      scope,
      id,
      ["processing"],
      "done",
      finished({ result: json(result), error: "" }),
      owner,
    );
    if (outcome === "ok" && callbackUrl) await this.addCallbackJob(scope, id);
  }

  private async deliver(
    scope: EventScope,
    job: Job<JobData>,
    token: string | undefined,
    worker: AppWorker,
    stopping: AbortSignal,
  ): Promise<void> {
    const { id } = job.data;
    const event = await this.get(scope, id);
    const callback = event?.callback;
    if (!event || callback?.status !== "pending") return;
    const outcome = await deliverCallback({
      url: callback.url,
      secret: worker.options.callbackSecret,
      eventId: id,
      body: callbackBody(event),
      signal: stopping,
    });
    if (stopping.aborted) return this.giveBack(job, token);
    const attempts = callback.attempts + 1;
    const last = attempts >= this.timings.callbackMaxAttempts;
    const next: CallbackState = outcome.ok
      ? {
          url: callback.url,
          status: "delivered",
          attempts,
          lastStatus: outcome.status,
          deliveredAt: iso(Date.now()),
        }
      : {
          url: callback.url,
          status: last ? "failed" : "pending",
          attempts,
          ...(outcome.status !== undefined ? { lastStatus: outcome.status } : {}),
          lastError: outcome.error,
        };
    await this.transition(scope, id, ["done", "dead"], "", { callback: json(next) });
    if (!outcome.ok && !last) throw new Error(outcome.error);
  }

  async stopWorkers(scope: EventScope): Promise<void> {
    const app = this.apps.get(key(scope));
    const worker = app?.worker;
    if (!app || !worker) return;
    app.worker = undefined;
    clearInterval(worker.maintenance);
    worker.abort.abort(new Error("The webhook workers are stopping"));
    await worker.worker.close();
  }

  runningWorkers(): EventScope[] {
    return [...this.apps.entries()]
      .filter(([, app]) => app.worker)
      .map(([k]) => {
        const slash = k.indexOf("/");
        return { workspaceId: k.slice(0, slash), app: k.slice(slash + 1) };
      });
  }

  async stats(scope: EventScope): Promise<QueueStats> {
    const base = this.base(scope);
    const waiting = ["queued", "failed", "processing"] as const;
    const pipeline = this.redis.pipeline();
    for (const status of waiting) pipeline.zcard(`${base}:s:${status}`);
    // Each status set is ordered by when its events entered it; its first member is the
    // oldest candidate, and the oldest of the three by creation time is the backlog's age.
    for (const status of waiting) pipeline.zrange(`${base}:s:${status}`, "0", "0");
    const replies = (await pipeline.exec()) ?? [];
    let depth = 0;
    const firsts: string[] = [];
    replies.forEach(([error, value], i) => {
      if (error) throw error;
      if (i < waiting.length) depth += Number(value);
      else firsts.push(...(value as string[]));
    });
    let oldest: number | null = null;
    for (const id of firsts) {
      const created = await this.redis.hget(`${base}:e:${id}`, "createdAt");
      if (created !== null && created !== "") {
        const at = Number(created);
        if (oldest === null || at < oldest) oldest = at;
      }
    }
    return { depth, oldestCreatedAt: oldest };
  }

  async close(): Promise<void> {
    await Promise.all(this.runningWorkers().map((scope) => this.stopWorkers(scope)));
    await Promise.all([...this.apps.values()].map((app) => app.queue.close()));
    this.apps.clear();
    await Promise.all([
      this.redis.quit().catch(() => undefined),
      this.blocking.quit().catch(() => undefined),
    ]);
  }
}

const key = (scope: EventScope) => `${scope.workspaceId}/${scope.app}`;
