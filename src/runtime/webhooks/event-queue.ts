/**
 * The webhook event queue: what both backends (`sqlite-event-queue.ts`, the embedded default in
 * `<dataDir>/runtime.db`, and `bullmq-event-queue.ts` on Redis) promise, so the intake route,
 * the workers and the tests never know which one they talk to (as Kysely's drivers share one
 * `Driver` interface).
 *
 * The promises that matter:
 * - `enqueue`/`quarantine` resolve only once the event is committed (SQLite: fsynced; Redis:
 *   written, and on disk when Redis runs with AOF `appendfsync always`), so a 202 means kept.
 * - An event id is unique per app: a second intake with the same id replays the first outcome
 *   (same fingerprint) or is refused (`mismatch`); it never creates a second event.
 * - A result is recorded once per id: completing an event that is no longer this worker's (its
 *   lease expired and another worker re-claimed it) or already done changes nothing, so a
 *   worker killed mid-event yields exactly one result once another worker takes it over.
 * - Processing is retried with exponential backoff and jitter up to the event's `maxAttempts`,
 *   then the event is `dead`. Callbacks are retried on their own budget.
 */
import type { InputProblem } from "../errors.ts";

/**
 * - `queued`: waiting for a worker. `processing`: a worker holds it (under a lease).
 * - `failed`: the last attempt failed; it is retried at `nextAttemptAt`.
 * - `done`: the result is recorded. `dead`: every attempt failed (the dead-letter list).
 * - `quarantined`: it did not fit the app's contract; never processed until fixed and replayed.
 */
export const EVENT_STATUSES = [
  "queued",
  "processing",
  "done",
  "failed",
  "dead",
  "quarantined",
] as const;
export type EventStatus = (typeof EVENT_STATUSES)[number];

/** An app's events are its own: ids, lists and workers are per workspace and app. */
export interface EventScope {
  readonly workspaceId: string;
  readonly app: string;
}

/** Event ids (an `Idempotency-Key` header, or a generated one): 1-128 of `[A-Za-z0-9._:-]`. */
export const EVENT_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/** What the intake answered first; an intake replayed with the same id answers it again. */
export interface IntakeAck {
  readonly event_id: string;
  readonly status: "queued" | "quarantined";
  readonly problems?: readonly InputProblem[];
}

export type CallbackStatus = "pending" | "delivered" | "failed";

/** Delivery of an event's outcome to the app's callback URL, as recorded on the event. */
export interface CallbackState {
  readonly url: string;
  readonly status: CallbackStatus;
  readonly attempts: number;
  /** The receiver's HTTP status on the last try, when it answered. */
  readonly lastStatus?: number;
  readonly lastError?: string;
  readonly deliveredAt?: string;
  readonly nextAttemptAt?: string;
}

export interface WebhookEvent {
  readonly id: string;
  readonly workspaceId: string;
  readonly app: string;
  readonly status: EventStatus;
  /** The body as the outside system sent it. */
  readonly received: unknown;
  /** The body normalized by the app's mapping (absent while quarantined). */
  readonly record?: Record<string, unknown>;
  /** Why it is quarantined (empty otherwise). */
  readonly problems: readonly InputProblem[];
  /** Processing attempts started (a worker that died mid-attempt counts). */
  readonly attempts: number;
  readonly maxAttempts: number;
  /** The processor's answer, once `done`. */
  readonly result?: unknown;
  /** The last attempt's error (`failed`, `dead`). */
  readonly error?: string;
  readonly callback?: CallbackState;
  readonly ack: IntakeAck;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly completedAt?: string;
  /** When a `failed` event is tried again. */
  readonly nextAttemptAt?: string;
}

/** An event as the intake hands it to the queue. */
export interface NewEvent {
  readonly id: string;
  /** Hash of the canonical received body: the same id with another body is a `mismatch`. */
  readonly fingerprint: string;
  readonly received: unknown;
  readonly maxAttempts: number;
}

export type AcceptOutcome =
  | { readonly state: "created"; readonly event: WebhookEvent }
  /** The id was taken by the same body: answer `event.ack` again. */
  | { readonly state: "replay"; readonly event: WebhookEvent }
  /** The id was taken by a different body. */
  | { readonly state: "mismatch"; readonly event: WebhookEvent };

/** A replay's new content: a valid record to queue, or the problems that keep it quarantined. */
export type ReplayInput =
  | { readonly received: unknown; readonly record: Record<string, unknown> }
  | { readonly received: unknown; readonly problems: readonly InputProblem[] };

export type ReplayOutcome =
  | { readonly state: "queued" | "quarantined"; readonly event: WebhookEvent }
  | { readonly state: "not_found" }
  /** Only `quarantined` and `dead` events are replayed; others are in flight or done. */
  | { readonly state: "conflict"; readonly event: WebhookEvent };

/**
 * The work done per event, injected (today a prediction; later the app's pipeline). It returns
 * the result body, which must be JSON. It should stop when `signal` aborts (the event's time
 * budget ran out, or the server is stopping); the worker stops waiting for it either way.
 */
export type EventProcessor = (
  event: {
    readonly workspaceId: string;
    readonly app: string;
    readonly eventId: string;
    readonly record: Record<string, unknown>;
  },
  signal: AbortSignal,
) => Promise<unknown>;

/** How one app's workers run; `startWorkers` again with new options updates them. */
export interface AppWorkerOptions {
  /** Events processed at once (per replica). */
  readonly concurrency: number;
  /** Finished (done, dead) and quarantined events are deleted after this. */
  readonly retentionHours: number;
  /** Where outcomes are POSTed, signed with `callbackSecret`; absent: results are only kept. */
  readonly callbackUrl?: string;
  readonly callbackSecret: string;
  /** One attempt's time budget. */
  readonly timeoutMs: number;
  readonly processor: EventProcessor;
}

/** Timings shared by both backends (tests shorten them). */
export interface QueueTimings {
  /** A claimed event (or callback) is another worker's to take once its lease is this old. */
  readonly leaseMs: number;
  /** First retry delay; each further attempt doubles it, up to `retryMaxMs`, with jitter. */
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  /** Tries at delivering one callback before it is marked failed. */
  readonly callbackMaxAttempts: number;
}

export const DEFAULT_QUEUE_TIMINGS: QueueTimings = {
  leaseMs: 30_000,
  retryBaseMs: 1000,
  retryMaxMs: 300_000,
  callbackMaxAttempts: 10,
};

export interface ListOptions {
  readonly status?: EventStatus;
  readonly limit: number;
}

/** How backed up an app's queue is (for metrics). */
export interface QueueStats {
  /** Events not finished: queued, failed and waiting for a retry, or being processed. */
  readonly depth: number;
  /** When the oldest of them was received (epoch ms); null when none is waiting. */
  readonly oldestCreatedAt: number | null;
}

export interface EventQueue {
  readonly backend: "sqlite" | "bullmq";
  /** Store a valid event and queue it for processing; resolves once it is durable. */
  enqueue(
    scope: EventScope,
    event: NewEvent & { readonly record: Record<string, unknown> },
  ): Promise<AcceptOutcome>;
  /** Store an invalid event, never processed until replayed; resolves once it is durable. */
  quarantine(
    scope: EventScope,
    event: NewEvent & { readonly problems: readonly InputProblem[] },
  ): Promise<AcceptOutcome>;
  get(scope: EventScope, id: string): Promise<WebhookEvent | undefined>;
  /** Newest first. */
  list(scope: EventScope, options: ListOptions): Promise<WebhookEvent[]>;
  /**
   * Queue a quarantined or dead event again (attempts start over), or keep it quarantined with
   * new problems. The caller normalizes and validates `next` against the app first.
   */
  replay(scope: EventScope, id: string, next: ReplayInput): Promise<ReplayOutcome>;
  /** Start (or update) this replica's workers for an app. */
  startWorkers(scope: EventScope, options: AppWorkerOptions): Promise<void>;
  /** Stop an app's workers; events in flight go back to the queue unharmed. */
  stopWorkers(scope: EventScope): Promise<void>;
  /** Apps with running workers here. */
  runningWorkers(): EventScope[];
  /** The app's backlog, across every replica sharing the queue. */
  stats(scope: EventScope): Promise<QueueStats>;
  /** Stop every worker and release what the queue opened itself. */
  close(): Promise<void>;
}

/**
 * Delay before retry number `attempt` (1 = the first retry): exponential from `retryBaseMs`,
 * capped at `retryMaxMs`, with "equal jitter" (half fixed, half random) so a burst of events
 * that failed together does not retry together, yet each waits at least half its step.
 */
export function retryDelayMs(
  attempt: number,
  timings: Pick<QueueTimings, "retryBaseMs" | "retryMaxMs">,
  random: () => number = Math.random,
): number {
  const exponent = Math.min(Math.max(attempt, 1) - 1, 30);
  const step = Math.min(timings.retryMaxMs, timings.retryBaseMs * 2 ** exponent);
  return Math.round(step / 2 + random() * (step / 2));
}

/** The body POSTed to the app's callback URL for a finished event. */
export function callbackBody(event: {
  readonly id: string;
  readonly app: string;
  readonly status: EventStatus;
  readonly result?: unknown;
  readonly error?: string;
}): Record<string, unknown> {
  return {
    event_id: event.id,
    app: event.app,
    status: event.status,
    result: event.result ?? null,
    ...(event.error !== undefined ? { error: event.error } : {}),
  };
}

/** An error's message for the event record (bounded: a stack trace is for logs). */
export function errorMessage(error: unknown): string {
  const text = error instanceof Error ? error.message || error.name : String(error);
  return text.length > 1000 ? `${text.slice(0, 1000)}…` : text;
}

/** Settles like `work`, or rejects with the signal's reason once `signal` aborts. */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortReason(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) {
    return reason.name === "TimeoutError"
      ? new Error("The event's processing did not finish within its time budget")
      : reason;
  }
  return new Error("The event's processing was cancelled");
}
