/**
 * Model versions: list and inspect (by id, `name` for the latest, or `name@version`), and the
 * training report (hold-out charts, sample predictions, a sentence in plain words).
 */
import type { FastifyInstance } from "fastify";
import { decodeArtifact } from "../../models/artifact.ts";
import { describeReport, METRIC_INFO } from "../../models/report.ts";
import type { ModelDetailDto, ModelReportDto } from "../api-types.ts";
import { requirePermission } from "../auth.ts";
import type { ServerContext } from "../context.ts";
import { ApiError, notFound } from "../errors.ts";

const refParams = {
  type: "object",
  properties: { ref: { type: "string", description: "Model id, name (latest) or name@version" } },
  required: ["ref"],
} as const;

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
          excluded: header.training.report?.excluded ?? header.recipe.excluded,
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

    app.get<{ Params: { ref: string } }>(
      "/v1/models/:ref/report",
      {
        schema: {
          tags: ["models"],
          summary: "The training report: hold-out charts, importance and sample predictions",
          description:
            "Computed when the model was trained, on the rows held out from it: ROC curve and confusion matrix (classification) or predicted-vs-actual and residuals (regression), the candidates tried, feature importance, up to 5 sample rows with the published model's answers, and a one-sentence summary. Models trained before reports existed, and imported models, answer 404 `no_report`.",
          params: refParams,
        },
      },
      async (request) => {
        const principal = requirePermission(await ctx.authenticate(request.headers), "read");
        const version = await ctx.findModelVersion(principal.workspaceId, request.params.ref);
        if (!version) throw notFound("Model", request.params.ref);
        const { header } = decodeArtifact(await ctx.blobs.get(version.artifactSha256));
        const training = header.training;
        const report = training.report;
        if (!report) {
          throw new ApiError(
            404,
            "no_report",
            `${version.modelName}@${version.version} has no training report: it was imported or trained before reports existed; train it again to get one`,
          );
        }
        const names = new Set([
          training.metric,
          ...Object.keys(training.holdout),
          ...Object.keys(training.cv),
        ]);
        const body: ModelReportDto = {
          model: { id: version.id, name: version.modelName, version: version.version },
          task: header.task.kind,
          target: header.recipe.target.column,
          metric: training.metric,
          metricNames: Object.fromEntries(
            [...names].flatMap((n) => (METRIC_INFO[n] ? [[n, METRIC_INFO[n]]] : [])),
          ),
          holdout: training.holdout,
          cv: training.cv,
          summary: describeReport(report, header.recipe.target.column),
          holdoutRows: report.holdoutRows,
          ...(report.classification ? { classification: report.classification } : {}),
          ...(report.regression ? { regression: report.regression } : {}),
          chosen: training.chosen,
          candidates: training.candidates,
          importance: training.importance,
          ...(training.shapImportance ? { shapImportance: training.shapImportance } : {}),
          excluded: report.excluded,
          samples: report.samples,
        };
        return body;
      },
    );
  };
}
