/**
 * Webhooks as the server uses them: intake (normalize, validate, store durably), inspection and
 * replay, per-app callback secrets, and the supervision that keeps one set of workers running
 * per deployed app with `webhook.enabled`, on whichever {@link EventQueue} backend is wired.
 *
 * No HTTP here: outcomes are returned as values and the route maps them to status codes, so the
 * same service could take events from a message bus. Supervision polls the deployed apps every
 * `pollMs` (default 2 s; a publish in this process also asks for a pass at once): a deploy on
 * another replica, or a new version turning hooks on or off, takes effect within that time.
 */
import { randomUUID } from "node:crypto";
import type { ValidateFunction } from "ajv";
import type { AppWebhook } from "../../spec/webhook.ts";
import { canonicalHash } from "../../store/canonical-json.ts";
import type { InputProblem } from "../errors.ts";
import { describeErrors } from "../record-validation.ts";
import { appCallbackSecret } from "./callback.ts";
import type {
  EventProcessor,
  EventQueue,
  EventScope,
  IntakeAck,
  ListOptions,
  QueueStats,
  ReplayInput,
  ReplayOutcome,
  WebhookEvent,
} from "./event-queue.ts";
import { type ContractField, normalizePayload } from "./normalize.ts";

/** What the intake needs of a published app. */
export interface WebhookApp {
  readonly workspaceId: string;
  readonly name: string;
  readonly webhook: AppWebhook;
  /** The contract's fields, for type coercion. */
  readonly fields: readonly ContractField[];
  /** The app's record validator (its contract). */
  readonly validateRecord: ValidateFunction;
}

/** A deployed app as supervision sees it (read from the registry, no model loaded). */
export interface DeployedHookApp {
  readonly workspaceId: string;
  readonly name: string;
  readonly webhook: AppWebhook;
  /** One attempt's time budget (the app's request deadline). */
  readonly timeoutMs: number;
}

export interface WebhookServiceOptions {
  readonly queue: EventQueue;
  /** Every deployed app (any workspace); those with hooks enabled get workers here. */
  readonly deployedApps: () => Promise<readonly DeployedHookApp[]>;
  readonly processor: EventProcessor;
  /** The server secret the per-app callback secrets are derived from. */
  readonly serverSecret: string;
  readonly pollMs?: number;
}

export type IntakeOutcome =
  /** Stored now (`replayed: false`) or earlier with the same body (`replayed: true`). */
  | { readonly state: "accepted"; readonly replayed: boolean; readonly ack: IntakeAck }
  /** The id (Idempotency-Key) was used before with a different body. */
  | { readonly state: "mismatch"; readonly eventId: string };

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** A fresh event id: time-ordered prefix (readable in lists), random rest. */
export function newEventId(): string {
  return `evt_${Date.now().toString(36)}${randomUUID().replaceAll("-", "").slice(0, 16)}`;
}

export class WebhookService {
  readonly queue: EventQueue;
  private processor: EventProcessor;
  private timer: NodeJS.Timeout | undefined;
  private syncing: Promise<void> | undefined;
  private again = false;
  private closed = false;
  private onError: (error: unknown) => void = () => {};

  constructor(private readonly options: WebhookServiceOptions) {
    this.queue = options.queue;
    this.processor = options.processor;
  }

  /**
   * Swap the work done per event (the pipeline executor replaces the first implementation;
   * tests inject a failing one); returns the one it replaces. Workers already running use it
   * from their next event.
   */
  replaceProcessor(processor: EventProcessor): EventProcessor {
    const previous = this.processor;
    this.processor = processor;
    return previous;
  }

  /** The secret an app's callbacks are signed with (admins read it to verify them). */
  secretFor(workspaceId: string, app: string): string {
    return appCallbackSecret(this.options.serverSecret, workspaceId, app);
  }

  /**
   * Take one event: normalize `body` with the app's mapping, validate it against the contract,
   * and store it (queued, or quarantined with its problems). Resolves once it is durable.
   */
  async intake(
    app: WebhookApp,
    body: Record<string, unknown>,
    eventId?: string,
  ): Promise<IntakeOutcome> {
    const scope = { workspaceId: app.workspaceId, app: app.name };
    const id = eventId ?? newEventId();
    const base = {
      id,
      fingerprint: canonicalHash(body),
      received: body,
      maxAttempts: app.webhook.maxAttempts,
    };
    const checked = this.check(app, body);
    const outcome =
      "record" in checked
        ? await this.queue.enqueue(scope, { ...base, record: checked.record })
        : await this.queue.quarantine(scope, { ...base, problems: checked.problems });
    if (outcome.state === "mismatch") return { state: "mismatch", eventId: id };
    return { state: "accepted", replayed: outcome.state === "replay", ack: outcome.event.ack };
  }

  /** Normalize and validate a payload: the record to queue, or the problems that quarantine it. */
  check(app: WebhookApp, payload: unknown): ReplayInput {
    if (!isRecord(payload)) {
      return { received: payload, problems: [{ path: "/", message: "must be a JSON object" }] };
    }
    const record = normalizePayload(payload, app.webhook, app.fields);
    if (app.validateRecord(record)) return { received: payload, record };
    const problems: InputProblem[] = describeErrors(app.validateRecord.errors);
    return {
      received: payload,
      problems:
        problems.length > 0
          ? problems
          : [{ path: "/", message: "does not match the app's contract" }],
    };
  }

  get(scope: EventScope, id: string): Promise<WebhookEvent | undefined> {
    return this.queue.get(scope, id);
  }

  list(scope: EventScope, options: ListOptions): Promise<WebhookEvent[]> {
    return this.queue.list(scope, options);
  }

  /**
   * Replay a quarantined or dead event: its `payload` (a fixed one, or the one stored) is
   * normalized and validated again with the app as deployed now; valid → queued afresh,
   * invalid → stays quarantined with the new problems.
   */
  async replay(app: WebhookApp, id: string, payload?: unknown): Promise<ReplayOutcome> {
    const scope = { workspaceId: app.workspaceId, app: app.name };
    const existing = await this.queue.get(scope, id);
    if (!existing) return { state: "not_found" };
    if (existing.status !== "quarantined" && existing.status !== "dead") {
      return { state: "conflict", event: existing };
    }
    return this.queue.replay(
      scope,
      id,
      this.check(app, payload === undefined ? existing.received : payload),
    );
  }

  /** The backlog of every app with hooks running here (for the metrics export). */
  async queueStats(): Promise<(EventScope & QueueStats)[]> {
    return Promise.all(
      this.queue.runningWorkers().map(async (scope) => ({
        ...scope,
        ...(await this.queue.stats(scope)),
      })),
    );
  }

  /** Hand an error no caller is waiting for (a worker's, a supervision pass's) to the log. */
  report(error: unknown): void {
    this.onError(error);
  }

  /** Start supervising: one pass now, then every `pollMs`; errors later go to `onError`. */
  async start(options: { readonly onError?: (error: unknown) => void } = {}): Promise<void> {
    if (options.onError) this.onError = options.onError;
    await this.sync();
    const every = this.options.pollMs ?? 2000;
    const tick = () => {
      this.timer = setTimeout(() => {
        this.sync()
          .catch((error: unknown) => this.report(error))
          .finally(() => {
            if (!this.closed) tick();
          });
      }, every);
      this.timer.unref();
    };
    tick();
  }

  /** One supervision pass (coalesced: a call during a pass runs one more pass after it). */
  sync(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.syncing) {
      this.again = true;
      return this.syncing;
    }
    this.syncing = (async () => {
      try {
        do {
          this.again = false;
          await this.syncOnce();
        } while (this.again && !this.closed);
      } finally {
        this.syncing = undefined;
      }
    })();
    return this.syncing;
  }

  private async syncOnce(): Promise<void> {
    const apps = await this.options.deployedApps();
    const wanted = new Map<string, DeployedHookApp>();
    for (const app of apps) {
      if (app.webhook.enabled) wanted.set(`${app.workspaceId}/${app.name}`, app);
    }
    for (const scope of this.queue.runningWorkers()) {
      if (!wanted.has(`${scope.workspaceId}/${scope.app}`)) await this.queue.stopWorkers(scope);
    }
    for (const app of wanted.values()) {
      if (this.closed) return;
      const { webhook } = app;
      await this.queue.startWorkers(
        { workspaceId: app.workspaceId, app: app.name },
        {
          concurrency: webhook.concurrency,
          retentionHours: webhook.retentionHours,
          ...(webhook.callbackUrl ? { callbackUrl: webhook.callbackUrl } : {}),
          callbackSecret: this.secretFor(app.workspaceId, app.name),
          timeoutMs: app.timeoutMs,
          processor: (event, signal) => this.processor(event, signal),
        },
      );
    }
  }

  /** Stop supervising and every worker (events in flight go back to the queue), then the queue. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.syncing?.catch(() => undefined);
    await this.queue.close();
  }
}
