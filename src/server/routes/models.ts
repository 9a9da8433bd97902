/**
 * Model versions: list and inspect (by id, `name` for the latest, or `name@version`).
 */
import type { FastifyInstance } from "fastify";
import { decodeArtifact } from "../../models/artifact.ts";
import type { ModelDetailDto } from "../api-types.ts";
import { requirePermission } from "../auth.ts";
import type { ServerContext } from "../context.ts";
import { notFound } from "../errors.ts";

export function modelRoutes(ctx: ServerContext) {
  return async (app: FastifyInstance) => {
    app.get(
      "/v1/models",
      { schema: { tags: ["models"], summary: "List model versions, newest first" } },
      async (request) => {
        const principal = requirePermission(await ctx.authenticate(request.headers), "read");
        const versions = await ctx.listModelVersions(principal.workspaceId);
        return { models: versions.map((v) => ctx.modelVersionDto(v)) };
      },
    );

    app.get<{ Params: { ref: string } }>(
      "/v1/models/:ref",
      {
        schema: {
          tags: ["models"],
          summary: "A model version with its metrics, inputs and the candidates tried",
        },
      },
      async (request) => {
        const principal = requirePermission(await ctx.authenticate(request.headers), "read");
        const version = await ctx.findModelVersion(principal.workspaceId, request.params.ref);
        if (!version) throw notFound("Model", request.params.ref);
        const { header } = decodeArtifact(await ctx.blobs.get(version.artifactSha256));
        const detail: ModelDetailDto = {
          ...ctx.modelVersionDto(version),
          ...(header.recipe.target.classes ? { classes: header.recipe.target.classes } : {}),
          inputs: header.inputSchema,
          excluded: header.recipe.excluded,
          chosen: header.training.chosen,
          candidates: header.training.candidates,
          importance: header.training.importance,
          ...(header.training.shapImportance
            ? { shapImportance: header.training.shapImportance }
            : {}),
        };
        return { model: detail };
      },
    );
  };
}
