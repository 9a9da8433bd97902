/**
 * API keys: create (the secret is returned once), list, revoke. Admin only.
 */
import type { FastifyInstance } from "fastify";
import type { KeyDto } from "../api-types.ts";
import { ROLES, requirePermission } from "../auth.ts";
import type { ServerContext } from "../context.ts";

export function keyRoutes(ctx: ServerContext) {
  return async (app: FastifyInstance) => {
    app.post<{ Body: { role: KeyDto["role"]; name?: string } }>(
      "/v1/keys",
      {
        schema: {
          tags: ["keys"],
          summary: "Create an API key; the secret is in this response only",
          body: {
            type: "object",
            additionalProperties: false,
            required: ["role"],
            properties: {
              role: { type: "string", enum: [...ROLES] },
              name: { type: "string", minLength: 1, maxLength: 100 },
            },
          },
        },
      },
      async (request, reply) => {
        const principal = requirePermission(await ctx.authenticate(request.headers), "admin");
        const created = await ctx.registry.apiKeys.createKey(principal.workspaceId, {
          name: request.body.name ?? `${request.body.role} key`,
          role: request.body.role,
        });
        return reply.code(201).send({ key: ctx.keyDto(created.record), secret: created.key });
      },
    );

    app.get(
      "/v1/keys",
      { schema: { tags: ["keys"], summary: "List API keys (never their secrets)" } },
      async (request) => {
        const principal = requirePermission(await ctx.authenticate(request.headers), "admin");
        const keys = await ctx.registry.apiKeys.listKeys(principal.workspaceId, {
          includeRevoked: true,
        });
        return { keys: keys.map((k) => ctx.keyDto(k)) };
      },
    );

    app.delete<{ Params: { id: string } }>(
      "/v1/keys/:id",
      { schema: { tags: ["keys"], summary: "Revoke an API key" } },
      async (request, reply) => {
        const principal = requirePermission(await ctx.authenticate(request.headers), "admin");
        await ctx.registry.apiKeys.revokeKey(principal.workspaceId, request.params.id);
        ctx.forgetKeys();
        return reply.code(204).send();
      },
    );
  };
}
