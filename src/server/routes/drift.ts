/**
 * `GET /v1/apps/{app}/drift?window=time|count&version=`: how an app version's live inputs and
 * predictions compare with its training data, per feature (PSI, Kolmogorov-Smirnov, the test
 * the window's size calls for) and for the dataset, from the drift monitor every predict answer
 * goes through (src/monitor/drift/). This process's traffic only; a version that has not served
 * here gets its baseline with empty live bins.
 */
import type { FastifyInstance } from "fastify";
import { type DriftWindowKind, emptyDriftReport } from "../../monitor/drift/drift-monitor.ts";
import { NotFoundError } from "../../registry/errors.ts";
import { parseAppSpec } from "../../spec/app-spec.ts";
import { requirePermission } from "../auth.ts";
import type { ServerContext } from "../context.ts";
import { notFound, unprocessable } from "../errors.ts";
import type { DriftReportDto } from "../monitor-api-types.ts";

const WINDOWS: readonly DriftWindowKind[] = ["time", "count"];

export function driftRoutes(ctx: ServerContext) {
  return async (app: FastifyInstance) => {
    app.get<{
      Params: { app: string };
      Querystring: { window?: DriftWindowKind; version?: string };
    }>(
      "/v1/apps/:app/drift",
      {
        schema: {
          tags: ["apps"],
          summary: "Drift of an app's live inputs and predictions from its training data",
          description:
            "Per feature: PSI over the training deciles (categories: their levels), Kolmogorov-Smirnov for numbers, and the test chosen by the window's size, which decides `drifted`: KS (numbers) or chi-squared (categories) up to 1,000 live rows, the Wasserstein distance over the training standard deviation or the Jensen-Shannon distance above. The dataset has drifted when at least the app's `monitoring.drift.datasetShare` of its features have. `window=time` covers the last `windowMinutes`, `count` the last `windowRows` rows; with fewer than `minRows` rows nothing is flagged. Features are ranked drifted first, then by PSI. This server process's traffic only.",
          params: {
            type: "object",
            properties: { app: { type: "string" } },
            required: ["app"],
          },
          querystring: {
            type: "object",
            additionalProperties: false,
            properties: {
              window: {
                type: "string",
                enum: [...WINDOWS],
                default: "time",
                description: "time: the last `windowMinutes`; count: the last `windowRows` rows.",
              },
              version: {
                type: "string",
                pattern: "^[1-9][0-9]{0,8}$",
                description: "The app version; default: the one deployed in production.",
              },
            },
          },
        },
      },
      async (request) => {
        const principal = requirePermission(await ctx.authenticate(request.headers), "read");
        const found = await ctx.registry.apps.getByName(principal.workspaceId, request.params.app);
        const kind = request.query.window ?? "time";
        const raw = request.query.version;
        let version = raw === undefined ? undefined : Number(raw);
        if (version === undefined) {
          const deployment = await ctx.registry.deployments.currentDeployment(
            found.id,
            "production",
          );
          if (!deployment) throw notFound("Deployed version of app", found.name);
          version = (await ctx.registry.apps.getVersionById(found.id, deployment.appVersionId))
            .version;
        }
        const live = ctx.drift.report(principal.workspaceId, found.name, version, kind);
        if (live) return live;
        // Not served here (yet): the baseline with empty live bins.
        let appVersion: Awaited<ReturnType<typeof ctx.registry.apps.getVersion>>;
        try {
          appVersion = await ctx.registry.apps.getVersion(found.id, version);
        } catch (error) {
          if (error instanceof NotFoundError)
            throw notFound("App version", `${found.name}@${version}`);
          throw error;
        }
        if (!appVersion.modelVersionId) {
          throw unprocessable(
            "no_model",
            `Version ${version} of ${found.name} has no model, so it has no training data to compare with`,
          );
        }
        const model = await ctx.registry.models.getVersion(
          principal.workspaceId,
          appVersion.modelVersionId,
        );
        const { header } = await ctx.modelArtifact(model);
        const body: DriftReportDto = emptyDriftReport(
          {
            app: found.name,
            version,
            header,
            settings: parseAppSpec(appVersion.spec).monitoring.drift,
          },
          kind,
        );
        return body;
      },
    );
  };
}
