/**
 * SLOs and alerts in the API: `GET /v1/apps/{app}/slo` judges the app's objectives now (the
 * same burn-rate pairs the evaluator alerts on) and lists its open alerts and recent events;
 * `GET /v1/events` pages through the workspace's breaches, recoveries, drift alerts and
 * rollbacks, newest first. Both read the record, so every replica answers alike.
 */
import type { FastifyInstance } from "fastify";
import { alertPayload } from "../../monitor/alerts/alert-service.ts";
import type { SloMonitor } from "../../monitor/slo/slo-monitor.ts";
import { NotFoundError } from "../../registry/errors.ts";
import { isId } from "../../registry/ids.ts";
import {
  MONITOR_EVENT_KINDS,
  type MonitorEvent,
  type MonitorEventKind,
} from "../../registry/monitor-event-repository.ts";
import type { Registry } from "../../registry/registry.ts";
import { APP_NAME_PATTERN } from "../../spec/app-spec.ts";
import { requirePermission } from "../auth.ts";
import type { ServerContext } from "../context.ts";
import { badRequest } from "../errors.ts";
import type { AppSloDto, MonitorEventDto, SloStatusDto } from "../monitor-api-types.ts";

/** What these routes need of the server context. */
export type SloRouteContext = Pick<ServerContext, "authenticate"> & {
  readonly registry: Registry;
  readonly slo: SloMonitor;
};

const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 500;
/** Recent events in an app's SLO view. */
const RECENT_EVENTS = 20;

export function eventDto(event: MonitorEvent): MonitorEventDto {
  return {
    ...alertPayload(event),
    deliveries: event.deliveries.map((d) => ({ channel: d.channel, ok: d.ok })),
  };
}

const eventSchema = {
  type: "object",
  required: [
    "id",
    "at",
    "app",
    "version",
    "kind",
    "severity",
    "rule",
    "message",
    "details",
    "deliveries",
  ],
  properties: {
    id: { type: "string" },
    at: { type: "string", format: "date-time" },
    app: { type: "string" },
    version: { type: ["integer", "null"] },
    kind: { type: "string", enum: [...MONITOR_EVENT_KINDS] },
    severity: { type: "string", enum: ["info", "warning", "critical"] },
    rule: {
      type: "string",
      description: '"slo:latency_p95", "slo:error_rate", "slo:availability", "drift:dataset", ...',
    },
    message: { type: "string" },
    details: { type: "object", additionalProperties: true },
    deliveries: {
      type: "array",
      items: {
        type: "object",
        required: ["channel", "ok"],
        properties: { channel: { type: "string" }, ok: { type: "boolean" } },
      },
    },
  },
} as const;

const sloSchema = {
  type: "object",
  required: ["name", "objective", "current", "budgetRemaining", "burnRates", "state"],
  properties: {
    name: { type: "string", enum: ["latency_p95", "error_rate", "availability"] },
    objective: { type: "number" },
    current: { type: ["number", "null"] },
    budgetRemaining: { type: ["number", "null"] },
    burnRates: {
      type: "array",
      items: {
        type: "object",
        required: ["window", "rate"],
        properties: { window: { type: "string" }, rate: { type: ["number", "null"] } },
      },
    },
    state: { type: "string", enum: ["ok", "warning", "breached", "no_data"] },
  },
} as const;

/** `before`: an event id (continue after it) or an ISO-8601 time; a 400 naming it otherwise. */
async function pageStart(
  ctx: SloRouteContext,
  workspaceId: string,
  raw: string | undefined,
): Promise<{ at: string; id?: string } | undefined> {
  if (raw === undefined) return undefined;
  const invalid = (message: string) =>
    badRequest("invalid_request", `before ${message}`, [{ path: "querystring/before", message }]);
  if (isId("evt", raw)) {
    const found = await ctx.registry.monitorEvents.get(workspaceId, raw).catch((error: unknown) => {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    });
    if (!found) throw invalid("names no event of this workspace");
    return { at: found.at, id: found.id };
  }
  if (!/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?)?$/.test(raw)) {
    throw invalid("must be an event id (evt_…) or an ISO-8601 time");
  }
  const ms = Date.parse(raw);
  if (!Number.isFinite(ms)) throw invalid("is not a valid time");
  return { at: new Date(ms).toISOString() };
}

export function sloRoutes(ctx: SloRouteContext) {
  return async (app: FastifyInstance) => {
    app.get<{ Params: { app: string } }>(
      "/v1/apps/:app/slo",
      {
        schema: {
          tags: ["monitoring"],
          summary: "An app's service-level objectives now, its firing alerts and recent events",
          description:
            "Each objective the production version sets (p95 latency, error rate, availability) judged now with multi-window burn rates: breached when the budget burns at 14.4× over both 1h and 5m or 6× over both 6h and 30m, warning at 1× over both 6h and 30m, no_data without requests to judge. `current` is measured over the last hour; `budgetRemaining` is the share of the period's error budget left (negative once overspent). `firing` lists the open alerts, `events` the latest 20.",
          params: {
            type: "object",
            properties: { app: { type: "string" } },
            required: ["app"],
          },
          response: {
            200: {
              type: "object",
              required: ["app", "slos", "firing", "events"],
              properties: {
                app: { type: "string" },
                slos: { type: "array", items: sloSchema },
                firing: { type: "array", items: eventSchema },
                events: { type: "array", items: eventSchema },
              },
            },
          },
        },
      },
      async (request) => {
        const principal = requirePermission(await ctx.authenticate(request.headers), "read");
        const found = await ctx.registry.apps.getByName(principal.workspaceId, request.params.app);
        const scope = { workspaceId: principal.workspaceId, app: found.name };
        const [statuses, firing, events] = await Promise.all([
          ctx.slo.status(principal.workspaceId, found.name),
          ctx.registry.monitorEvents.firing(scope),
          ctx.registry.monitorEvents.list(principal.workspaceId, {
            app: found.name,
            limit: RECENT_EVENTS,
          }),
        ]);
        const slos: SloStatusDto[] = statuses.map((s) => ({
          name: s.name,
          objective: s.objective,
          current: s.current,
          budgetRemaining: s.budgetRemaining,
          burnRates: s.burnRates,
          state: s.state,
        }));
        const body: AppSloDto = {
          app: found.name,
          slos,
          firing: firing.reverse().map(eventDto),
          events: events.map(eventDto),
        };
        return body;
      },
    );

    app.get<{
      Querystring: { app?: string; kind?: MonitorEventKind; limit?: string; before?: string };
    }>(
      "/v1/events",
      {
        schema: {
          tags: ["monitoring"],
          summary:
            "The workspace's monitor events (breaches, recoveries, drift, rollbacks), newest first",
          description:
            "Every alert, recovery, drift alert and rollback, with where it was delivered. Page with `before`: the id of the last event of the previous page (or an ISO-8601 time: events strictly before it).",
          querystring: {
            type: "object",
            additionalProperties: false,
            properties: {
              app: { type: "string", pattern: APP_NAME_PATTERN, description: "Only this app's" },
              kind: { type: "string", enum: [...MONITOR_EVENT_KINDS] },
              limit: {
                type: "string",
                pattern: "^[0-9]{1,4}$",
                description: `Most events answered, 1-${MAX_LIMIT} (default ${DEFAULT_LIMIT})`,
              },
              before: {
                type: "string",
                maxLength: 64,
                description: "An event id (evt_…) or an ISO-8601 time",
              },
            },
          },
          response: {
            200: {
              type: "object",
              required: ["events"],
              properties: { events: { type: "array", items: eventSchema } },
            },
          },
        },
      },
      async (request) => {
        const principal = requirePermission(await ctx.authenticate(request.headers), "read");
        const { app: appName, kind, before } = request.query;
        const limit =
          request.query.limit === undefined ? DEFAULT_LIMIT : Number(request.query.limit);
        if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
          throw badRequest("invalid_request", `limit must be between 1 and ${MAX_LIMIT}`, [
            { path: "querystring/limit", message: `must be between 1 and ${MAX_LIMIT}` },
          ]);
        }
        const start = await pageStart(ctx, principal.workspaceId, before);
        const events = await ctx.registry.monitorEvents.list(principal.workspaceId, {
          limit,
          ...(appName !== undefined ? { app: appName } : {}),
          ...(kind !== undefined ? { kind } : {}),
          ...(start ? { before: start } : {}),
        });
        return { events: events.map(eventDto) };
      },
    );
  };
}
