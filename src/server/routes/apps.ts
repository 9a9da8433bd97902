/**
 * Apps: publish a model version as an app (a new immutable app version, deployed to
 * production at once), list and inspect apps with their input contract.
 */
import type { FastifyInstance } from "fastify";
import { APP_NAME_PATTERN, AppSpecError, parseAppSpec } from "../../spec/app-spec.ts";
import { recordSchema, responseSchema } from "../../spec/contract.ts";
import type { AppDetailDto } from "../api-types.ts";
import { requirePermission } from "../auth.ts";
import type { ServerContext } from "../context.ts";
import { badRequest, notFound } from "../errors.ts";

interface PublishBody {
  readonly model: string;
  readonly app?: string;
  readonly unknownCategories?: "bucket" | "reject";
  readonly maxRows?: number;
}

export function appRoutes(ctx: ServerContext) {
  return async (app: FastifyInstance) => {
    app.post<{ Body: PublishBody }>(
      "/v1/apps",
      {
        schema: {
          tags: ["apps"],
          summary: "Publish a model version as an app (creates the app or a new version of it)",
          body: {
            type: "object",
            additionalProperties: false,
            required: ["model"],
            properties: {
              model: {
                type: "string",
                minLength: 1,
                description: "Model id, name (latest) or name@version",
              },
              app: {
                type: "string",
                pattern: APP_NAME_PATTERN,
                description: "App name (default: the model name)",
              },
              unknownCategories: { enum: ["bucket", "reject"] },
              maxRows: { type: "integer", minimum: 1, maximum: 100000 },
            },
          },
        },
      },
      async (request, reply) => {
        const principal = requirePermission(await ctx.authenticate(request.headers), "build");
        const body = request.body;
        const version = await ctx.findModelVersion(principal.workspaceId, body.model);
        if (!version) throw notFound("Model", body.model);
        const name =
          body.app ??
          version.modelName
            .toLowerCase()
            .replace(/[^a-z0-9-]+/g, "-")
            .replace(/^-+|-+$/g, "");
        let spec: ReturnType<typeof parseAppSpec>;
        try {
          spec = parseAppSpec({
            apiVersion: "ballast/v1",
            kind: "App",
            name,
            model: { name: version.modelName, version: version.version },
            contract: { unknownCategories: body.unknownCategories ?? "bucket" },
            limits: { maxRows: body.maxRows ?? ctx.config.maxRows },
          });
        } catch (error) {
          if (error instanceof AppSpecError)
            throw badRequest("invalid_spec", error.message, error.details);
          throw error;
        }
        const published = await ctx.publish(principal.workspaceId, spec, version.id);
        return reply.code(201).send({ app: published });
      },
    );

    app.get(
      "/v1/apps",
      { schema: { tags: ["apps"], summary: "List published apps" } },
      async (request) => {
        const principal = requirePermission(await ctx.authenticate(request.headers), "read");
        return { apps: await ctx.listApps(principal.workspaceId) };
      },
    );

    app.get<{ Params: { app: string } }>(
      "/v1/apps/:app",
      { schema: { tags: ["apps"], summary: "An app, its spec and its input and output schema" } },
      async (request) => {
        const principal = requirePermission(await ctx.authenticate(request.headers), "read");
        const apps = await ctx.listApps(principal.workspaceId);
        const found = apps.find((a) => a.name === request.params.app);
        if (!found) throw notFound("App", request.params.app);
        const published = await ctx.apps.get(principal.workspaceId, found.name);
        if (!published) throw notFound("App", request.params.app);
        const header = published.predictor.artifact.header;
        const detail: AppDetailDto = {
          ...found,
          spec: published.spec,
          inputSchema: recordSchema(header.recipe, published.spec),
          outputSchema: responseSchema(header.recipe),
        };
        return { app: detail };
      },
    );
  };
}
