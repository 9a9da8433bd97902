/**
 * `GET /v1/spec/schema`: the app spec's JSON Schema (draft 2020-12), for the Studio's designer
 * forms, editors' completion and `ballast apply` files. The same document validates specs
 * saved through `POST /v1/apps/{app}/versions` (src/spec/app-spec.ts).
 */
import type { FastifyInstance } from "fastify";
import { appSpecJsonSchema } from "../../spec/app-spec.ts";
import { requirePermission } from "../auth.ts";
import type { ServerContext } from "../context.ts";

export function specRoutes(ctx: ServerContext) {
  return async (app: FastifyInstance) => {
    app.get(
      "/v1/spec/schema",
      { schema: { tags: ["apps"], summary: "The app spec's JSON Schema (draft 2020-12)" } },
      async (request, reply) => {
        requirePermission(await ctx.authenticate(request.headers), "read");
        return reply.type("application/schema+json").send(appSpecJsonSchema);
      },
    );
  };
}
