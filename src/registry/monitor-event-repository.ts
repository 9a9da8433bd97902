/**
 * Monitor events: the record behind "no alert is silent". Every breach, recovery, drift alert
 * and rollback is a row, written before it is announced, so the Studio and `GET /v1/events`
 * show it whether or not the webhook took it, and a restarted server re-derives which rules are
 * firing from the open alerts instead of announcing them again.
 *
 * An alert stays open until its rule recovers. At most one alert per (workspace, app, rule) is
 * open, enforced by a partial unique index, so evaluators racing on one database (replicas, a
 * restart overlapping the old process) announce a breach once: the loser gets `undefined`.
 */
import type { Kysely, Selectable } from "kysely";
import {
  addMilliseconds,
  decodeJsonObject,
  encodeJsonObject,
  type JsonObject,
  type JsonObjectInput,
  nowIso,
  pageSize,
} from "./codec.ts";
import { constraintViolation, NotFoundError, translateError, ValidationError } from "./errors.ts";
import { newId } from "./ids.ts";
import type {
  Database,
  MonitorEventKind,
  MonitorEventSeverity,
  MonitorEventsTable,
} from "./schema.ts";
import { withTransaction } from "./transaction.ts";

export type { MonitorEventKind, MonitorEventSeverity } from "./schema.ts";

export const MONITOR_EVENT_KINDS: readonly MonitorEventKind[] = [
  "alert",
  "recovery",
  "rollback",
  "info",
];
export const MONITOR_EVENT_SEVERITIES: readonly MonitorEventSeverity[] = [
  "info",
  "warning",
  "critical",
];

/** How one channel took the event. */
export interface MonitorEventDelivery {
  /** "log", "webhook". */
  readonly channel: string;
  readonly ok: boolean;
  readonly attempts?: number;
  /** The webhook's last HTTP status, when it answered. */
  readonly status?: number;
  /** Why the last attempt failed. */
  readonly error?: string;
}

export interface MonitorEvent {
  readonly id: string;
  readonly workspaceId: string;
  readonly app: string;
  readonly version: number | null;
  readonly kind: MonitorEventKind;
  readonly severity: MonitorEventSeverity;
  readonly rule: string;
  readonly message: string;
  readonly details: JsonObject;
  readonly deliveries: readonly MonitorEventDelivery[];
  readonly at: string;
  /** Alerts: when a recovery (or a more severe alert of the rule) closed it; null while firing. */
  readonly resolvedAt: string | null;
  readonly resolvedBy: string | null;
}

export interface NewMonitorEvent {
  readonly app: string;
  readonly version?: number | null;
  readonly kind: MonitorEventKind;
  readonly severity: MonitorEventSeverity;
  readonly rule: string;
  readonly message: string;
  readonly details?: JsonObjectInput;
  readonly deliveries?: readonly MonitorEventDelivery[];
}

export interface MonitorEventListOptions {
  readonly app?: string;
  readonly kind?: MonitorEventKind;
  readonly rule?: string;
  /**
   * Page on from here, newest first: events strictly before `at` (and, at the same `at`, with
   * a smaller id than `id` when given): pass the last event of the previous page.
   */
  readonly before?: { readonly at: string; readonly id?: string };
  /** Default 50, at most 500. */
  readonly limit?: number;
}

const SEVERITY_RANK: Readonly<Record<MonitorEventSeverity, number>> = {
  info: 0,
  warning: 1,
  critical: 2,
};

const MAX_RULE = 200;
const MAX_MESSAGE = 4000;

export class MonitorEventRepository {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /**
   * Records an event and returns it, or undefined when it is not news:
   * - an alert while the rule already has an open alert at least as severe (a less severe one
   *   is resolved by the new alert: an escalation is announced);
   * - a recovery while the rule has no open alert (the open ones are resolved by it).
   * Rollbacks and info events are always recorded. Not for use inside `registry.transaction`:
   * a lost race ends the transaction on PostgreSQL.
   */
  async record(workspaceId: string, event: NewMonitorEvent): Promise<MonitorEvent | undefined> {
    const fresh = toRow(workspaceId, event);
    try {
      return await withTransaction(this.#db, async (trx) => {
        // An app's events are strictly ordered in time, so "newest first" is never a tie: one
        // evaluation can raise a recovery and an alert within the same millisecond.
        const latest = await trx
          .selectFrom("monitor_events")
          .select("at")
          .where("workspace_id", "=", workspaceId)
          .where("app_name", "=", fresh.app_name)
          .orderBy("at", "desc")
          .limit(1)
          .executeTakeFirst();
        const row =
          latest && latest.at >= fresh.at ? { ...fresh, at: addMilliseconds(latest.at, 1) } : fresh;
        if (row.kind === "alert") {
          const open = await trx
            .selectFrom("monitor_events")
            .select(["id", "severity"])
            .where("workspace_id", "=", workspaceId)
            .where("app_name", "=", row.app_name)
            .where("rule", "=", row.rule)
            .where("kind", "=", "alert")
            .where("resolved_at", "is", null)
            .executeTakeFirst();
          if (open && SEVERITY_RANK[open.severity] >= SEVERITY_RANK[row.severity]) return undefined;
          if (open) await resolve(trx, workspaceId, row, [open.id]);
        } else if (row.kind === "recovery") {
          const resolved = await resolve(trx, workspaceId, row);
          if (resolved === 0) return undefined;
        }
        await trx.insertInto("monitor_events").values(row).execute();
        return toEvent(row);
      });
    } catch (error) {
      // Another evaluator opened the same alert a moment before: it announced it, not us.
      if (fresh.kind === "alert" && constraintViolation(error) === "unique") return undefined;
      throw translateError(error, {
        "foreign-key": () => new NotFoundError("workspace", workspaceId),
      });
    }
  }

  async get(workspaceId: string, id: string): Promise<MonitorEvent> {
    const row = await this.#db
      .selectFrom("monitor_events")
      .selectAll()
      .where("workspace_id", "=", workspaceId)
      .where("id", "=", id)
      .executeTakeFirst();
    if (!row) throw new NotFoundError("event", id);
    return toEvent(row);
  }

  /** Events of a workspace (or one app), newest first. */
  async list(workspaceId: string, options: MonitorEventListOptions = {}): Promise<MonitorEvent[]> {
    if (options.kind !== undefined) validateKind(options.kind);
    let query = this.#db
      .selectFrom("monitor_events")
      .selectAll()
      .where("workspace_id", "=", workspaceId)
      .orderBy("at", "desc")
      .orderBy("id", "desc")
      .limit(pageSize(options.limit, 50, 500));
    if (options.app !== undefined) query = query.where("app_name", "=", options.app);
    if (options.kind !== undefined) query = query.where("kind", "=", options.kind);
    if (options.rule !== undefined) query = query.where("rule", "=", options.rule);
    const before = options.before;
    if (before !== undefined) {
      const at = before.at;
      const id = before.id;
      query =
        id === undefined
          ? query.where("at", "<", at)
          : query.where((eb) =>
              eb.or([eb("at", "<", at), eb.and([eb("at", "=", at), eb("id", "<", id)])]),
            );
    }
    return (await query.execute()).map(toEvent);
  }

  /**
   * Open alerts, oldest first: of one app, of a workspace, or of every workspace (what an
   * evaluator restores on start).
   */
  async firing(scope: { readonly workspaceId?: string; readonly app?: string } = {}) {
    let query = this.#db
      .selectFrom("monitor_events")
      .selectAll()
      .where("kind", "=", "alert")
      .where("resolved_at", "is", null)
      .orderBy("at")
      .orderBy("id");
    if (scope.workspaceId !== undefined)
      query = query.where("workspace_id", "=", scope.workspaceId);
    if (scope.app !== undefined) query = query.where("app_name", "=", scope.app);
    return (await query.execute()).map(toEvent);
  }

  /** Replaces an event's delivery results (a webhook finished after the event was recorded). */
  async setDeliveries(id: string, deliveries: readonly MonitorEventDelivery[]): Promise<void> {
    const result = await this.#db
      .updateTable("monitor_events")
      .set({ deliveries: encodeDeliveries(deliveries) })
      .where("id", "=", id)
      .executeTakeFirst();
    if (result.numUpdatedRows === 0n) throw new NotFoundError("event", id);
  }
}

/** Closes open alerts of the row's rule (only `ids` when given); returns how many. */
async function resolve(
  trx: Kysely<Database>,
  workspaceId: string,
  by: Selectable<MonitorEventsTable>,
  ids?: readonly string[],
): Promise<number> {
  let update = trx
    .updateTable("monitor_events")
    .set({ resolved_at: by.at, resolved_by: by.id })
    .where("workspace_id", "=", workspaceId)
    .where("app_name", "=", by.app_name)
    .where("rule", "=", by.rule)
    .where("kind", "=", "alert")
    .where("resolved_at", "is", null);
  if (ids) update = update.where("id", "in", ids);
  const result = await update.executeTakeFirst();
  return Number(result.numUpdatedRows);
}

function validateKind(kind: string): asserts kind is MonitorEventKind {
  if (!(MONITOR_EVENT_KINDS as readonly string[]).includes(kind)) {
    throw new ValidationError(
      "kind",
      `Unknown event kind ${JSON.stringify(kind)}: use ${MONITOR_EVENT_KINDS.join(", ")}`,
    );
  }
}

function toRow(workspaceId: string, event: NewMonitorEvent): Selectable<MonitorEventsTable> {
  validateKind(event.kind);
  if (!(MONITOR_EVENT_SEVERITIES as readonly string[]).includes(event.severity)) {
    throw new ValidationError(
      "severity",
      `Unknown severity ${JSON.stringify(event.severity)}: use ${MONITOR_EVENT_SEVERITIES.join(", ")}`,
    );
  }
  if (event.app.length === 0) throw new ValidationError("app", "app must not be empty");
  if (event.rule.length === 0 || event.rule.length > MAX_RULE) {
    throw new ValidationError("rule", `rule must be 1 to ${MAX_RULE} characters`);
  }
  const version = event.version ?? null;
  if (version !== null && (!Number.isInteger(version) || version < 1)) {
    throw new ValidationError("version", "version must be a positive integer");
  }
  return {
    id: newId("evt"),
    workspace_id: workspaceId,
    app_name: event.app,
    app_version: version,
    kind: event.kind,
    severity: event.severity,
    rule: event.rule,
    message: event.message.slice(0, MAX_MESSAGE),
    details: encodeJsonObject(event.details ?? {}, "details"),
    deliveries: encodeDeliveries(event.deliveries ?? []),
    at: nowIso(),
    resolved_at: null,
    resolved_by: null,
  };
}

function encodeDeliveries(deliveries: readonly MonitorEventDelivery[]): string {
  return encodeJsonObject({ items: deliveries }, "deliveries");
}

function decodeDeliveries(text: string): MonitorEventDelivery[] {
  const { items } = decodeJsonObject(text, "monitor_events.deliveries");
  if (!Array.isArray(items)) {
    throw new Error("Registry column monitor_events.deliveries holds JSON without an items array");
  }
  const out: MonitorEventDelivery[] = [];
  for (const item of items as readonly unknown[]) {
    if (typeof item !== "object" || item === null) continue;
    const d = item as Record<string, unknown>;
    if (typeof d.channel !== "string" || typeof d.ok !== "boolean") continue;
    out.push({
      channel: d.channel,
      ok: d.ok,
      ...(typeof d.attempts === "number" && { attempts: d.attempts }),
      ...(typeof d.status === "number" && { status: d.status }),
      ...(typeof d.error === "string" && { error: d.error }),
    });
  }
  return out;
}

function toEvent(row: Selectable<MonitorEventsTable>): MonitorEvent {
  return {
    id: row.id,
    workspaceId: row.workspace_id,
    app: row.app_name,
    version: row.app_version === null ? null : Number(row.app_version),
    kind: row.kind,
    severity: row.severity,
    rule: row.rule,
    message: row.message,
    details: decodeJsonObject(row.details, "monitor_events.details"),
    deliveries: decodeDeliveries(row.deliveries),
    at: row.at,
    resolvedAt: row.resolved_at,
    resolvedBy: row.resolved_by,
  };
}
