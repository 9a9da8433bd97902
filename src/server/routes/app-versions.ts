/**
 * App versions for the designer: list an app's immutable versions, and save an edited spec as
 * a new version deployed to production at once (one transaction, as publishing does). The
 * spec is checked by parseAppSpec (the published JSON Schema, `GET /v1/spec/schema`, plus the
 * pipeline's graph rules) and every problem is named by its path under `/spec`, e.g.
 * `/spec/limits/maxRows`, which the designer maps back onto its nodes.
 */
import type { FastifyInstance } from "fastify";
import type { AppVersion } from "../../registry/app-repository.ts";
import { AppSpecError, parseAppSpec } from "../../spec/app-spec.ts";
import type { AppVersionDto, CreateAppVersionRequest } from "../api-types.ts";
import { requirePermission } from "../auth.ts";
import type { ServerContext } from "../context.ts";
import { badRequest } from "../errors.ts";

function modelOf(spec: unknown): AppVersionDto["model"] {
  try {
    const parsed = parseAppSpec(spec);
    return { name: parsed.model.name, version: parsed.model.version };
  } catch {
    return null;
  }
}

function versionDto(version: AppVersion, deployedId: string | undefined): AppVersionDto {
  return {
    version: version.version,
    spec: version.spec,
    model: modelOf(version.spec),
    createdAt: version.createdAt,
    deployed: version.id === deployedId,
  };
}

const appParams = {
  type: "object",
  properties: { app: { type: "string" } },
  required: ["app"],
} as const;

export function appVersionRoutes(ctx: ServerContext) {
  return async (app: FastifyInstance) => {
    app.get<{ Params: { app: string } }>(
      "/v1/apps/:app/versions",
      {
        schema: {
          tags: ["apps"],
          summary: "An app's versions with their specs, newest first",
          params: appParams,
        },
      },
      async (request) => {
        const principal = requirePermission(await ctx.authenticate(request.headers), "read");
        const found = await ctx.registry.apps.getByName(principal.workspaceId, request.params.app);
        const [versions, current] = await Promise.all([
          ctx.registry.apps.listVersions(found.id),
          ctx.registry.deployments.currentDeployment(found.id, "production"),
        ]);
        return { versions: versions.map((v) => versionDto(v, current?.appVersionId)) };
      },
    );

    app.post<{ Params: { app: string }; Body: CreateAppVersionRequest }>(
      "/v1/apps/:app/versions",
      {
        schema: {
          tags: ["apps"],
          summary:
            "Save a spec as the app's next version, deploy it to staging and (by default) promote it to production",
          description:
            "The spec (see `GET /v1/spec/schema`) must name this app and an existing model version. An invalid spec answers 400 with one detail per problem, its path under `/spec`; nothing is created.",
          params: appParams,
          body: {
            type: "object",
            additionalProperties: false,
            required: ["spec"],
            properties: {
              spec: { type: "object", description: "An app spec (GET /v1/spec/schema)" },
              deploy: {
                type: "string",
                enum: ["production", "staging"],
                default: "production",
                description:
                  "staging: deploy the new version to staging only (promote it later); production (default): also promote it to production directly, gated on the golden suite",
              },
            },
          },
        },
      },
      async (request, reply) => {
        const principal = requirePermission(await ctx.authenticate(request.headers), "build");
        const found = await ctx.registry.apps.getByName(principal.workspaceId, request.params.app);
        let spec: ReturnType<typeof parseAppSpec>;
        try {
          spec = parseAppSpec(request.body.spec);
        } catch (error) {
          if (error instanceof AppSpecError) {
            const details = error.details.map((d) => ({
              path: `/spec${d.path === "/" ? "" : d.path}`,
              message: d.message,
            }));
            const first = details[0];
            throw badRequest(
              "invalid_spec",
              first ? `The app spec is invalid: ${first.path} ${first.message}` : error.message,
              details,
            );
          }
          throw error;
        }
        if (spec.name !== found.name) {
          throw badRequest(
            "invalid_spec",
            `The spec is named ${spec.name} but is saved to the app ${found.name}`,
            [{ path: "/spec/name", message: `must be ${found.name}` }],
          );
        }
        const ref = `${spec.model.name}@${spec.model.version}`;
        const model = await ctx.findModelVersion(principal.workspaceId, ref);
        if (!model) {
          throw badRequest("unknown_model", `There is no model version ${ref}`, [
            { path: "/spec/model", message: `${ref} does not exist` },
          ]);
        }
        // A cascade's second model must exist too, or the version could never load.
        for (const [index, step] of spec.steps.entries()) {
          if (step.kind !== "cascade") continue;
          const second = `${String(step.with?.name)}@${String(step.with?.version)}`;
          if (!(await ctx.findModelVersion(principal.workspaceId, second))) {
            throw badRequest("unknown_model", `There is no model version ${second}`, [
              { path: `/spec/steps/${index}/with/name`, message: `${second} does not exist` },
            ]);
          }
        }
        const deploy = request.body.deploy ?? "production";
        const { app: published, version: created } = await ctx.publishVersion(
          principal.workspaceId,
          spec,
          model.id,
          { deploy },
        );
        const live = await ctx.registry.deployments.currentDeployment(found.id, "production");
        return reply.code(201).send({
          version: versionDto(created, live?.appVersionId),
          app: published,
        });
      },
    );
  };
}
