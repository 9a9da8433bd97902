/**
 * Webhooks: `POST /v1/hooks/{app}` takes an event from an outside system, maps it onto the
 * app's contract, validates it, and stores it durably before answering 202 (queued, or
 * quarantined with the problems). The rest inspects and repairs: list and read events, replay a
 * quarantined (with a fixed payload) or dead event, and read the callback signing secret.
 *
 * Permissions: intake is the data plane (an invoker key, like predict); reading events needs
 * `read`, replaying needs `build`, the secret needs `admin`.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { EVENT_ID_HEADER, SIGNATURE_HEADER } from "../../runtime/webhooks/callback.ts";
import {
  EVENT_ID_PATTERN,
  EVENT_STATUSES,
  type EventScope,
  type EventStatus,
  type WebhookEvent,
} from "../../runtime/webhooks/event-queue.ts";
import type { WebhookAckDto, WebhookEventDto, WebhookSecretDto } from "../api-types.ts";
import type { PublishedApp } from "../app-runtime.ts";
import { type Principal, requirePermission } from "../auth.ts";
import type { ServerContext } from "../context.ts";
import { ApiError, badRequest, conflict, notFound, unprocessable } from "../errors.ts";

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function eventDto(event: WebhookEvent): WebhookEventDto {
  return {
    id: event.id,
    app: event.app,
    status: event.status,
    attempts: event.attempts,
    maxAttempts: event.maxAttempts,
    payload: event.received,
    ...(event.record !== undefined ? { record: event.record } : {}),
    problems: event.problems,
    ...(event.status === "done" ? { result: event.result ?? null } : {}),
    ...(event.error !== undefined ? { error: event.error } : {}),
    ...(event.callback ? { callback: event.callback } : {}),
    createdAt: event.createdAt,
    updatedAt: event.updatedAt,
    ...(event.completedAt ? { completedAt: event.completedAt } : {}),
    ...(event.nextAttemptAt ? { nextAttemptAt: event.nextAttemptAt } : {}),
  };
}

const appParams = {
  type: "object",
  properties: { app: { type: "string" } },
  required: ["app"],
} as const;
const eventParams = {
  type: "object",
  properties: { app: { type: "string" }, id: { type: "string" } },
  required: ["app", "id"],
} as const;

const DEFAULT_LIST_LIMIT = 50;
const MAX_LIST_LIMIT = 1000;

export function hookRoutes(ctx: ServerContext) {
  /** An app of the caller's workspace that exists (deployed or not): its events' scope. */
  const scopeOf = async (principal: Principal, name: string): Promise<EventScope> => {
    const found = await ctx.registry.apps.getByName(principal.workspaceId, name);
    return { workspaceId: principal.workspaceId, app: found.name };
  };
  const deployed = async (principal: Principal, name: string): Promise<PublishedApp> => {
    const published = await ctx.apps.get(principal.workspaceId, name);
    if (!published) throw notFound("App", name);
    return published;
  };

  return async (app: FastifyInstance) => {
    // Outside systems do not all say `application/json`: a body of any other type is read as
    // text (in this plugin only) and then as JSON, so a malformed one is a 400, never a 415.
    app.addContentTypeParser("*", { parseAs: "string" }, (_request, body, done) => {
      done(null, typeof body === "string" ? body : body.toString("utf8"));
    });

    app.post<{ Params: { app: string } }>(
      "/v1/hooks/:app",
      {
        schema: {
          tags: ["webhooks"],
          summary: "Send an event to an app's webhook",
          description:
            "One JSON object per event. It is mapped onto the app's contract (the spec's `webhook.rename`, `defaults`, `coerceTypes`), validated, and stored durably before the 202: `queued` events are processed by workers (results at `GET /v1/apps/{app}/events/{event_id}`, and POSTed to the app's callback URL, signed), invalid ones are `quarantined` with their problems and never processed until fixed and replayed. An `Idempotency-Key` header (1-128 of `A-Z a-z 0-9 . _ : -`) becomes the event id: sent again with the same body it answers the first 202 again; with another body, 422. 404 `hooks_disabled` when the app's spec does not enable webhooks.",
          params: appParams,
          headers: {
            type: "object",
            properties: {
              "idempotency-key": {
                type: "string",
                description:
                  "The event's id; a retry with the same key and body is not a second event",
              },
            },
          },
        },
      },
      async (request, reply) => {
        const principal = requirePermission(await ctx.authenticate(request.headers), "invoke");
        const published = await deployed(principal, request.params.app);
        if (!published.spec.webhook.enabled) {
          throw new ApiError(
            404,
            "hooks_disabled",
            `The ${published.name} app does not accept webhooks; enable them in its spec (webhook.enabled: true)`,
          );
        }
        const body = jsonBody(request.body);
        if (!isRecord(body)) {
          throw badRequest("invalid_body", "The body must be a JSON object: one event");
        }
        const key = idempotencyKey(request);
        const outcome = await ctx.webhooks.intake(ctx.webhookApp(published), body, key);
        if (outcome.state === "mismatch") {
          throw unprocessable(
            "idempotency_key_reused",
            `The Idempotency-Key ${outcome.eventId} was used with a different body; use a new key`,
            [{ path: "header/idempotency-key", message: "was used with another body" }],
          );
        }
        const ack: WebhookAckDto = outcome.ack;
        if (outcome.replayed) void reply.header("idempotent-replayed", "true");
        return reply
          .code(202)
          .header(
            "location",
            `/v1/apps/${encodeURIComponent(published.name)}/events/${encodeURIComponent(ack.event_id)}`,
          )
          .send(ack);
      },
    );

    app.get<{ Params: { app: string }; Querystring: { status?: EventStatus; limit?: string } }>(
      "/v1/apps/:app/events",
      {
        schema: {
          tags: ["webhooks"],
          summary: "An app's webhook events, newest first",
          params: appParams,
          querystring: {
            type: "object",
            additionalProperties: false,
            properties: {
              status: {
                type: "string",
                enum: [...EVENT_STATUSES],
                description:
                  "queued, processing, done, failed (retrying), dead (every attempt failed) or quarantined (invalid)",
              },
              limit: {
                type: "string",
                pattern: "^[0-9]{1,4}$",
                description: `Most events answered, 1-${MAX_LIST_LIMIT} (default ${DEFAULT_LIST_LIMIT})`,
              },
            },
          },
        },
      },
      async (request) => {
        const principal = requirePermission(await ctx.authenticate(request.headers), "read");
        const scope = await scopeOf(principal, request.params.app);
        const events = await ctx.webhooks.list(scope, {
          ...(request.query.status ? { status: request.query.status } : {}),
          limit: listLimit(request.query.limit),
        });
        return { events: events.map(eventDto) };
      },
    );

    app.get<{ Params: { app: string; id: string } }>(
      "/v1/apps/:app/events/:id",
      {
        schema: {
          tags: ["webhooks"],
          summary: "A webhook event: status, attempts, payload, problems, result, error, callback",
          params: eventParams,
        },
      },
      async (request) => {
        const principal = requirePermission(await ctx.authenticate(request.headers), "read");
        const scope = await scopeOf(principal, request.params.app);
        const event = await ctx.webhooks.get(scope, request.params.id);
        if (!event) throw notFound("Event", request.params.id);
        return { event: eventDto(event) };
      },
    );

    app.post<{ Params: { app: string; id: string }; Body: unknown }>(
      "/v1/apps/:app/events/:id/replay",
      {
        schema: {
          tags: ["webhooks"],
          summary: "Replay a quarantined or dead event, optionally with a fixed payload",
          description:
            'Optional body `{"payload": {...}}`: the fixed event. The payload (the one given, else the one stored) is mapped and validated again against the app as deployed now. Valid: the event is queued afresh (attempts start over) and the answer is 202 with the event. Still invalid: it stays quarantined with the new problems, 422. Events that are queued, processing, retrying or done answer 409.',
          params: eventParams,
        },
      },
      async (request, reply) => {
        const principal = requirePermission(await ctx.authenticate(request.headers), "build");
        const scope = await scopeOf(principal, request.params.app);
        const { id } = request.params;
        if (!(await ctx.webhooks.get(scope, id))) throw notFound("Event", id);
        const published = await ctx.apps.get(principal.workspaceId, scope.app);
        if (!published) {
          throw conflict(
            `The ${scope.app} app is not deployed; deploy it before replaying its events`,
          );
        }
        const body = jsonBody(request.body);
        if (body !== undefined && body !== null && !isRecord(body)) {
          throw badRequest("invalid_body", 'The body is optional, else {"payload": {...}}');
        }
        const extra = Object.keys(body ?? {}).filter((k) => k !== "payload");
        if (extra.length > 0) {
          throw badRequest(
            "invalid_body",
            'The body is optional, else {"payload": {...}}',
            extra.map((k) => ({ path: `body/${k}`, message: "is not an accepted field" })),
          );
        }
        const payload = body?.payload;
        if (payload !== undefined && !isRecord(payload)) {
          throw badRequest("invalid_body", "payload must be a JSON object: the fixed event", [
            { path: "body/payload", message: "must be an object" },
          ]);
        }
        const outcome = await ctx.webhooks.replay(ctx.webhookApp(published), id, payload);
        switch (outcome.state) {
          case "not_found":
            throw notFound("Event", id);
          case "conflict":
            throw new ApiError(
              409,
              "not_replayable",
              `Event ${id} is ${outcome.event.status}; only quarantined and dead events are replayed`,
            );
          case "quarantined":
            throw unprocessable(
              "invalid_event",
              `The payload still does not match the ${published.name} app's contract; the event stays quarantined`,
              outcome.event.problems,
            );
          case "queued":
            return reply.code(202).send({ event: eventDto(outcome.event) });
        }
      },
    );

    app.get<{ Params: { app: string } }>(
      "/v1/apps/:app/hooks/secret",
      {
        schema: {
          tags: ["webhooks"],
          summary: "The secret the app's callbacks are signed with (admins)",
          description: `Receivers verify the \`${SIGNATURE_HEADER}\` header: \`t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>\`, refusing old timestamps, and drop duplicates by \`${EVENT_ID_HEADER}\` (delivery is at least once).`,
          params: appParams,
        },
      },
      async (request) => {
        const principal = requirePermission(await ctx.authenticate(request.headers), "admin");
        const scope = await scopeOf(principal, request.params.app);
        const secret: WebhookSecretDto = {
          app: scope.app,
          secret: ctx.webhooks.secretFor(scope.workspaceId, scope.app),
          header: SIGNATURE_HEADER,
          scheme: 't=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>',
        };
        return secret;
      },
    );
  };
}

function listLimit(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_LIST_LIMIT;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > MAX_LIST_LIMIT) {
    throw badRequest("invalid_request", `limit must be an integer from 1 to ${MAX_LIST_LIMIT}`, [
      { path: "querystring/limit", message: `must be 1-${MAX_LIST_LIMIT}` },
    ]);
  }
  return n;
}

/** A body that arrived as text (text/plain, or a type Fastify does not parse), read as JSON. */
function jsonBody(body: unknown): unknown {
  if (typeof body !== "string") return body;
  if (body.trim() === "") return undefined;
  try {
    return JSON.parse(body) as unknown;
  } catch (error) {
    throw badRequest("invalid_json", `The body is not JSON: ${(error as Error).message}`);
  }
}

/** The Idempotency-Key header as the event id, or undefined; 400 when it is malformed. */
function idempotencyKey(request: FastifyRequest): string | undefined {
  const raw = request.headers["idempotency-key"];
  if (raw === undefined) return undefined;
  if (typeof raw !== "string" || !EVENT_ID_PATTERN.test(raw)) {
    throw badRequest(
      "invalid_idempotency_key",
      "Idempotency-Key must be 1-128 characters of A-Z a-z 0-9 . _ : -",
      [{ path: "header/idempotency-key", message: "is not a valid event id" }],
    );
  }
  return raw;
}
