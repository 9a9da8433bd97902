/**
 * Conversation sessions of apps with a session step: read one (`GET`) or end it (`DELETE`),
 * which clears everything it remembered. Sessions live only in the session store (in process
 * on the embedded set-up, Redis when configured), keyed by workspace, app and session id.
 */
import type { FastifyInstance } from "fastify";
import { SESSION_ID_PATTERN } from "../../runtime/pipeline/session-step.ts";
import { requirePermission } from "../auth.ts";
import type { ServerContext } from "../context.ts";
import { badRequest, notFound } from "../errors.ts";

const params = {
  type: "object",
  properties: { app: { type: "string" }, id: { type: "string" } },
  required: ["app", "id"],
} as const;

export function appSessionRoutes(ctx: ServerContext) {
  return async (app: FastifyInstance) => {
    const scopeOf = async (
      headers: Record<string, string | string[] | undefined>,
      name: string,
      id: string,
    ) => {
      // Whoever may call the app may read and end the sessions they carry its id for.
      const principal = requirePermission(await ctx.authenticate(headers), "invoke");
      const found = await ctx.registry.apps.getByName(principal.workspaceId, name);
      if (!SESSION_ID_PATTERN.test(id)) {
        throw badRequest("invalid_session_id", "A session id is 1-128 letters, digits or ._:-", [
          { path: "params/id", message: "is not a valid session id" },
        ]);
      }
      return `${principal.workspaceId}/${found.name}`;
    };

    app.get<{ Params: { app: string; id: string } }>(
      "/v1/apps/:app/sessions/:id",
      {
        schema: {
          tags: ["apps"],
          summary: "What a session remembers",
          description:
            "The fields remembered so far and the number of turns; 404 when the session does not exist (never started, ended, or expired).",
          params,
        },
      },
      async (request) => {
        const scope = await scopeOf(request.headers, request.params.app, request.params.id);
        const state = await ctx.sessions.get(scope, request.params.id);
        if (!state) throw notFound("Session", request.params.id);
        return { id: request.params.id, ...state };
      },
    );

    app.delete<{ Params: { app: string; id: string } }>(
      "/v1/apps/:app/sessions/:id",
      {
        schema: {
          tags: ["apps"],
          summary: "End a session",
          description:
            "Clears everything the session remembered; the next request with this id starts a new session at turn 1. 404 when there was no such session.",
          params,
        },
      },
      async (request, reply) => {
        const scope = await scopeOf(request.headers, request.params.app, request.params.id);
        if (!(await ctx.sessions.end(scope, request.params.id))) {
          throw notFound("Session", request.params.id);
        }
        return reply.code(204).send();
      },
    );
  };
}
