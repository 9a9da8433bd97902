/**
 * Raising a monitor event (an SLO breach or recovery, a drift alert, a rollback): one call,
 * `raise(event)`, that records it, logs it and sends it to the app's alert webhook, so that no
 * alert is silent. The record comes first: the Studio and `GET /v1/events` show an event even
 * when the webhook is down, and the record is what decides whether an alert is news (one open
 * alert per app and rule, see src/registry/monitor-event-repository.ts).
 *
 * The webhook gets the event as JSON, signed exactly as webhook callbacks are
 * (src/runtime/webhooks/callback.ts: `Ballast-Signature: t=…,v1=…` with the app's secret
 * derived from the server secret, `Ballast-Event-Id`), so a receiver verifies both with
 * `verifySignature` and one secret. Delivery runs after `raise` has returned, with a timeout
 * per attempt and a few retries with exponential backoff; its result is written back onto the
 * event's `deliveries`. Nothing here throws into the caller.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { JsonObjectInput } from "../../registry/codec.ts";
import type {
  MonitorEvent,
  MonitorEventDelivery,
  MonitorEventKind,
  MonitorEventRepository,
  MonitorEventSeverity,
} from "../../registry/monitor-event-repository.ts";
import { appCallbackSecret, deliverCallback } from "../../runtime/webhooks/callback.ts";
import { isHttpUrl } from "../../spec/http-url.ts";

/** The part of a pino logger used here (Fastify's `server.log` is one). */
export interface AlertLogger {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
  error(object: object, message: string): void;
}

/** An event to raise. */
export interface RaiseEvent {
  readonly workspaceId: string;
  readonly app: string;
  /** The app version concerned (the one serving, or the one rolled back); null for none. */
  readonly version?: number | null;
  readonly kind: MonitorEventKind;
  /** Default: critical for alerts and rollbacks, info for recoveries and info events. */
  readonly severity?: MonitorEventSeverity;
  /** What raised it, stable across events so alerts and recoveries pair up: "slo:error_rate". */
  readonly rule: string;
  /** One sentence for a person. */
  readonly message: string;
  readonly details?: JsonObjectInput;
  /**
   * The alert webhook; default: the app's `monitoring.alerts.webhookUrl` (from the
   * `webhookUrlOf` option). "" sends none.
   */
  readonly webhookUrl?: string;
}

export type RaiseResult =
  /** Recorded and logged; the webhook, if any, is being delivered. */
  | { readonly outcome: "raised"; readonly event: MonitorEvent }
  /** Not news: the rule already has an open alert as severe, or a recovery with none open. */
  | { readonly outcome: "not_news" }
  /** The record could not be written (it was logged); raise it again later. */
  | { readonly outcome: "failed"; readonly error: unknown };

export interface WebhookDeliveryOptions {
  /** Per attempt. Default 5000 ms. */
  readonly timeoutMs?: number;
  /** Attempts in all, the first included. Default 4. */
  readonly attempts?: number;
  /** The wait before the first retry, doubled for each next one. Default 1000 ms. */
  readonly backoffMs?: number;
  /** The longest wait between attempts. Default 30 s. */
  readonly maxBackoffMs?: number;
}

export interface AlertServiceOptions {
  readonly events: MonitorEventRepository;
  readonly logger: AlertLogger;
  /** The server secret per-app webhook secrets derive from (`loadServerSecret`). */
  readonly serverSecret: string;
  /** The app's current alert webhook URL, for events raised without one ("" or undefined: none). */
  readonly webhookUrlOf?: (workspaceId: string, app: string) => Promise<string | undefined>;
  readonly delivery?: WebhookDeliveryOptions;
}

/** The event as the webhook receives it (and as the API shows it, without `deliveries`). */
export interface AlertPayload {
  readonly id: string;
  readonly at: string;
  readonly app: string;
  readonly version: number | null;
  readonly kind: MonitorEventKind;
  readonly severity: MonitorEventSeverity;
  readonly rule: string;
  readonly message: string;
  readonly details: Readonly<Record<string, unknown>>;
}

export function alertPayload(event: MonitorEvent): AlertPayload {
  return {
    id: event.id,
    at: event.at,
    app: event.app,
    version: event.version,
    kind: event.kind,
    severity: event.severity,
    rule: event.rule,
    message: event.message,
    details: event.details,
  };
}

const DEFAULT_SEVERITY: Readonly<Record<MonitorEventKind, MonitorEventSeverity>> = {
  alert: "critical",
  rollback: "critical",
  recovery: "info",
  info: "info",
};

export class AlertService {
  readonly #options: AlertServiceOptions;
  readonly #delivery: Required<WebhookDeliveryOptions>;
  readonly #inFlight = new Set<Promise<void>>();
  readonly #abort = new AbortController();

  constructor(options: AlertServiceOptions) {
    this.#options = options;
    this.#delivery = {
      timeoutMs: options.delivery?.timeoutMs ?? 5000,
      attempts: Math.max(1, options.delivery?.attempts ?? 4),
      backoffMs: options.delivery?.backoffMs ?? 1000,
      maxBackoffMs: options.delivery?.maxBackoffMs ?? 30_000,
    };
  }

  /**
   * Record, log and (off the caller's path) deliver an event. Never throws: a failure to
   * record is logged with the whole event and answered `failed`.
   */
  async raise(input: RaiseEvent): Promise<RaiseResult> {
    const severity = input.severity ?? DEFAULT_SEVERITY[input.kind];
    const log: MonitorEventDelivery = { channel: "log", ok: true };
    let event: MonitorEvent | undefined;
    try {
      event = await this.#options.events.record(input.workspaceId, {
        app: input.app,
        version: input.version ?? null,
        kind: input.kind,
        severity,
        rule: input.rule,
        message: input.message,
        ...(input.details !== undefined ? { details: input.details } : {}),
        deliveries: [log],
      });
    } catch (error) {
      this.#log(
        "error",
        { err: error, event: { ...input, severity } },
        "monitor event NOT recorded",
      );
      return { outcome: "failed", error };
    }
    if (!event) return { outcome: "not_news" };
    this.#log(
      severity === "critical" ? "error" : severity === "warning" ? "warn" : "info",
      { event: { ...alertPayload(event), workspaceId: event.workspaceId } },
      `${event.kind} ${event.app} ${event.rule}: ${event.message}`,
    );
    this.#track(this.#sendWebhook(event, input.webhookUrl, log));
    return { outcome: "raised", event };
  }

  /** Open alerts (see `MonitorEventRepository.firing`). */
  firing(scope: { readonly workspaceId?: string; readonly app?: string } = {}) {
    return this.#options.events.firing(scope);
  }

  /** Resolves when every delivery under way has finished (tests, orderly shutdown). */
  async idle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all([...this.#inFlight]);
  }

  /** Stops retrying: deliveries under way end now and record why. */
  async close(): Promise<void> {
    this.#abort.abort();
    await this.idle();
  }

  #track(work: Promise<void>): void {
    const task = work.finally(() => this.#inFlight.delete(task));
    this.#inFlight.add(task);
  }

  async #sendWebhook(
    event: MonitorEvent,
    given: string | undefined,
    log: MonitorEventDelivery,
  ): Promise<void> {
    try {
      const url = given ?? (await this.#options.webhookUrlOf?.(event.workspaceId, event.app));
      if (url === undefined || url === "") return;
      const result = isHttpUrl(url)
        ? await this.#deliver(event, url)
        : { channel: "webhook", ok: false, attempts: 0, error: "not an http(s) URL" };
      if (!result.ok) {
        this.#log(
          "warn",
          { eventId: event.id, app: event.app, rule: event.rule, delivery: result },
          "alert webhook not delivered",
        );
      }
      await this.#options.events.setDeliveries(event.id, [log, result]);
    } catch (error) {
      this.#log("error", { err: error, eventId: event.id }, "alert webhook delivery failed");
    }
  }

  async #deliver(event: MonitorEvent, url: string): Promise<MonitorEventDelivery> {
    const { attempts, timeoutMs, backoffMs, maxBackoffMs } = this.#delivery;
    const secret = appCallbackSecret(this.#options.serverSecret, event.workspaceId, event.app);
    const body = alertPayload(event);
    const signal = this.#abort.signal;
    let last: MonitorEventDelivery = { channel: "webhook", ok: false, attempts: 0 };
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (signal.aborted) return { ...last, error: "the server stopped before delivery" };
      const outcome = await deliverCallback({
        url,
        secret,
        eventId: event.id,
        body,
        signal,
        timeoutMs,
      });
      last = outcome.ok
        ? { channel: "webhook", ok: true, attempts: attempt, status: outcome.status }
        : {
            channel: "webhook",
            ok: false,
            attempts: attempt,
            ...(outcome.status !== undefined ? { status: outcome.status } : {}),
            error: outcome.error.replace("callback URL", "alert webhook"),
          };
      if (outcome.ok || attempt === attempts) break;
      const wait = Math.min(maxBackoffMs, backoffMs * 2 ** (attempt - 1));
      try {
        await sleep(wait, undefined, { signal });
      } catch {
        return { ...last, error: "the server stopped before delivery" };
      }
    }
    return last;
  }

  #log(level: "info" | "warn" | "error", object: object, message: string): void {
    try {
      this.#options.logger[level](object, message);
    } catch {
      // A broken logger must not turn an alert into an exception in the evaluator.
    }
  }
}
