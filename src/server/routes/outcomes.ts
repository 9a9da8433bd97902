/**
 * Outcomes: what really happened after a prediction, reported by the caller, and the live
 * quality computed from them.
 *
 * - `POST /v1/apps/{app}/outcomes`: the true value of a logged prediction (`actual`) or a
 *   business event that followed it (`event`, `value`), one or up to 1000 at once, keyed by the
 *   prediction's `request_id` (and `row` for batch predictions). The key that predicted may
 *   report (permission "invoke"). All or nothing: any problem is a 400 naming its field.
 * - `GET /v1/apps/{app}/outcomes?window=`: per version and time step, labelled count, AUC,
 *   accuracy, RMSE/MAE and conversion rates (src/monitor/prediction-log/outcome-report.ts).
 *
 * Both read this server's prediction log (each replica keeps its own).
 */
import type { FastifyInstance } from "fastify";
import type { ArtifactHeader } from "../../models/artifact.ts";
import {
  OUTCOME_BODY_SCHEMA,
  type OutcomeTarget,
  parseOutcomes,
} from "../../monitor/prediction-log/outcome-input.ts";
import {
  buildOutcomeReport,
  OUTCOME_WINDOWS,
  type OutcomeWindow,
  windowBounds,
} from "../../monitor/prediction-log/outcome-report.ts";
import {
  PredictionLog,
  PredictionLogUnavailableError,
} from "../../monitor/prediction-log/prediction-log.ts";
import { requirePermission } from "../auth.ts";
import type { ServerContext } from "../context.ts";
import { ApiError, badRequest, conflict } from "../errors.ts";
import type { OutcomeAcceptedDto, OutcomeReportDto } from "../monitor-api-types.ts";

const APP_PARAMS = {
  type: "object",
  properties: { app: { type: "string" } },
  required: ["app"],
} as const;

function targetOf(header: ArtifactHeader): OutcomeTarget {
  const task = header.task.kind;
  if (task === "regression") return { task };
  return { task, classes: header.recipe.target.classes ?? [] };
}

/**
 * The server's prediction log: the PredictionLog among the context's observers (the context
 * creates it and tells it every answer). Without one, nothing is logged: 503.
 */
function predictionLog(ctx: ServerContext): PredictionLog {
  const log = ctx.observers.find((o): o is PredictionLog => o instanceof PredictionLog);
  if (!log) throw logUnavailable(new PredictionLogUnavailableError().message);
  return log;
}

const logUnavailable = (message: string) =>
  new ApiError(503, "prediction_log_unavailable", message, [], { "retry-after": "60" });

/** The log could not be opened on this server (its file is held by another process). */
function unavailable(error: unknown): never {
  if (error instanceof PredictionLogUnavailableError) throw logUnavailable(error.message);
  throw error;
}

export function outcomeRoutes(ctx: ServerContext) {
  return async (app: FastifyInstance) => {
    app.post<{ Params: { app: string } }>(
      "/v1/apps/:app/outcomes",
      {
        schema: {
          tags: ["apps"],
          summary: "Report what really happened after predictions: true values or business events",
          description:
            'One outcome, or `{"outcomes": [...]}` with 1 to 1000. Each names a prediction by its `request_id` (and `row` for a batch prediction, default 0) and gives either `actual`, the true value (a class label of the model, or a number for regression), or `event`, a business event that followed (with an optional `value`). Reporting the same outcome again replaces it. The whole body is checked first: any problem answers 400 naming the field (`/outcomes/3/actual`) and nothing is stored. `joined` counts the outcomes whose prediction is in this server\'s prediction log now; the others are joined when their prediction is written (within about a second). Outcomes for a request that is never logged (not sampled, not answered 200, or served by another replica) stay unjoined and count nowhere.',
          params: APP_PARAMS,
          body: OUTCOME_BODY_SCHEMA,
          response: {
            202: {
              description: "Stored: how many outcomes, and how many joined a logged prediction now",
              type: "object",
              required: ["accepted", "joined"],
              properties: { accepted: { type: "integer" }, joined: { type: "integer" } },
            },
          },
        },
        // The body is checked by parseOutcomes with these same schemas, item by item, so every
        // problem comes back with its path (Ajv's errors for a oneOf name every branch).
        validatorCompiler: () => () => true,
      },
      async (request, reply) => {
        const principal = requirePermission(await ctx.authenticate(request.headers), "invoke");
        const found = await ctx.registry.apps.getByName(principal.workspaceId, request.params.app);
        const published = await ctx.apps.get(principal.workspaceId, found.name);
        if (!published) {
          throw conflict(`The app ${found.name} has no deployed version to check outcomes against`);
        }
        const parsed = parseOutcomes(request.body, targetOf(published.predictor.artifact.header));
        if (!parsed.ok) {
          const first = parsed.problems[0];
          throw badRequest(
            "invalid_outcome",
            first ? `${first.path} ${first.message}` : "The outcomes are invalid",
            parsed.problems,
          );
        }
        const log = predictionLog(ctx);
        const result = await log
          .recordOutcomes(principal.workspaceId, found.name, parsed.outcomes)
          .catch(unavailable);
        const body: OutcomeAcceptedDto = result;
        return reply.code(202).send(body);
      },
    );

    app.get<{ Params: { app: string }; Querystring: { window?: OutcomeWindow } }>(
      "/v1/apps/:app/outcomes",
      {
        schema: {
          tags: ["apps"],
          summary: "An app's live quality from reported outcomes, per version over time",
          description:
            "Per app version, over the window and per step (at most 60, oldest first): logged predictions, how many got a true value (`labelled`), AUC (binary: by the positive class's probability; multiclass: one-vs-rest macro average over the classes with both positive and negative rows), accuracy, RMSE and MAE (regression), and per business event the share of logged predictions it followed (`conversionRate`) and the sum of its values. Predictions are placed in the step they were made in. This server's prediction log only.",
          params: APP_PARAMS,
          querystring: {
            type: "object",
            additionalProperties: false,
            properties: {
              window: { type: "string", enum: [...OUTCOME_WINDOWS], default: "24h" },
            },
          },
        },
      },
      async (request) => {
        const principal = requirePermission(await ctx.authenticate(request.headers), "read");
        const found = await ctx.registry.apps.getByName(principal.workspaceId, request.params.app);
        const window = request.query.window ?? "24h";
        const log = predictionLog(ctx);
        const published = await ctx.apps.get(principal.workspaceId, found.name);
        const task =
          published?.predictor.artifact.header.task.kind ??
          (await log.latestTask(principal.workspaceId, found.name).catch(unavailable)) ??
          "binary";
        const bounds = windowBounds(window, Date.now());
        const data = await log
          .window({
            workspaceId: principal.workspaceId,
            app: found.name,
            from: bounds.from,
            to: bounds.to,
            stepMs: bounds.stepMs,
          })
          .catch(unavailable);
        const body: OutcomeReportDto = buildOutcomeReport(found.name, task, window, bounds, data);
        return body;
      },
    );
  };
}
