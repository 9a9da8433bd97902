/**
 * `POST /v1/datasets/{ref}/analyze`: what training on a target will do, before it runs: the
 * task, the input columns, and every left-out column with its reason (identifiers, constants,
 * free text, leaks, the person's own choices). The same code training runs
 * (src/models/target-analysis.ts), on the same data, so the Studio shows what will happen.
 */
import type { FastifyInstance } from "fastify";
import { RecipeError } from "../../features/recipe.ts";
import { analyzeTarget, TargetAnalysisError } from "../../models/target-analysis.ts";
import type { AnalyzeRequest, TargetAnalysisDto } from "../api-types.ts";
import { requirePermission } from "../auth.ts";
import type { ServerContext } from "../context.ts";
import { badRequest, notFound, unprocessable } from "../errors.ts";

/** The analysis' refusals as API errors naming the field. */
export function analysisError(error: unknown): unknown {
  if (error instanceof TargetAnalysisError) {
    return badRequest("unknown_column", error.message, [
      { path: `/${error.field}`, message: `${error.column} is not a column` },
    ]);
  }
  if (error instanceof RecipeError) {
    if (error.code === "unknown_target") {
      return badRequest("unknown_target", error.message, [
        { path: "/target", message: "is not a column of the dataset" },
      ]);
    }
    if (error.code === "no_features") {
      return unprocessable("no_features", error.message, [
        { path: "/exclude", message: "leaves no column to learn from" },
      ]);
    }
    return unprocessable(error.code, error.message, [{ path: "/target", message: error.message }]);
  }
  return error;
}

const columnList = {
  type: "array",
  items: { type: "string", minLength: 1 },
  maxItems: 10000,
} as const;

export function analysisRoutes(ctx: ServerContext) {
  return async (app: FastifyInstance) => {
    app.post<{ Params: { ref: string }; Body: AnalyzeRequest }>(
      "/v1/datasets/:ref/analyze",
      {
        schema: {
          tags: ["datasets"],
          summary: "What training on a target will do: task, inputs, and why columns are left out",
          description:
            "Columns are left out as `id` (unique per row), `constant`, `leak` (predicts the target almost perfectly on its own, AUC or R² ≥ 0.98 out of fold: usually recorded after the outcome), `user` (in exclude) or `unsupported` (free text). Training leaves out exactly the same columns; `include` keeps flagged ones.",
          params: {
            type: "object",
            properties: { ref: { type: "string", description: "Dataset id or name" } },
            required: ["ref"],
          },
          body: {
            type: "object",
            additionalProperties: false,
            required: ["target"],
            properties: {
              target: { type: "string", minLength: 1, description: "The column to predict" },
              exclude: { ...columnList, description: "Columns to leave out" },
              include: {
                ...columnList,
                description: "Columns to keep even if flagged as leaks or ID-like",
              },
            },
          },
        },
      },
      async (request) => {
        const principal = requirePermission(await ctx.authenticate(request.headers), "read");
        const dataset = await ctx.findDataset(principal.workspaceId, request.params.ref);
        if (!dataset) throw notFound("Dataset", request.params.ref);
        const { frame, schema } = await ctx.frames.load(dataset);
        let analysis: ReturnType<typeof analyzeTarget>;
        try {
          analysis = analyzeTarget(frame, schema, request.body);
        } catch (error) {
          throw analysisError(error);
        }
        const body: TargetAnalysisDto = {
          target: analysis.target,
          task: analysis.task,
          ...(analysis.classes ? { classes: analysis.classes } : {}),
          ...(analysis.positive !== undefined ? { positive: analysis.positive } : {}),
          inputs: analysis.inputs,
          excluded: analysis.excluded,
          warnings: analysis.warnings,
        };
        return body;
      },
    );
  };
}
