/**
 * The data plane: `POST /v1/apps/{app}/predict`. One record or `{"rows": [...]}`, validated
 * against the app's contract before anything runs; every problem a caller can cause is a 4xx
 * that names the field, and nothing here changes state. `?explain=true` adds each prediction's
 * explanation (exact SHAP contributions per input column).
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { EncodeError } from "../../features/recipe.ts";
import { OnnxRunError } from "../../models/onnx/onnx-predictor.ts";
import type { Prediction } from "../../models/predictor.ts";
import type { AppMetricsRecorder } from "../../monitor/app-metrics.ts";
import type { PredictResponseDto } from "../api-types.ts";
import type { AppRuntime, PublishedApp } from "../app-runtime.ts";
import type { Principal } from "../auth.ts";
import { requirePermission } from "../auth.ts";
import { ApiError, badRequest, notFound, unprocessable } from "../errors.ts";
import { describeErrors } from "../validation.ts";

export interface PredictRouteDeps {
  readonly apps: AppRuntime;
  readonly authenticate: (
    headers: Record<string, string | string[] | undefined>,
  ) => Promise<Principal | undefined>;
  /** Every answer is counted here, per app (requests, errors, latency). */
  readonly metrics?: AppMetricsRecorder;
}

/** The app each predict request resolved to, for the metrics hook. */
const served = new WeakMap<FastifyRequest, { workspaceId: string; app: string }>();

/**
 * Count the answer once it is sent, with the latency the server saw (request received to
 * response sent). A request refused before the handler ran (bad JSON, body too large) is
 * attributed if its key and app resolve; without a valid key it belongs to no workspace.
 */
async function recordAnswer(
  deps: PredictRouteDeps,
  request: FastifyRequest<{ Params: { app: string } }>,
  status: number,
  latencyMs: number,
): Promise<void> {
  const metrics = deps.metrics;
  if (!metrics) return;
  let target = served.get(request);
  if (!target) {
    const principal = await deps.authenticate(request.headers);
    const name = request.params?.app;
    if (!principal || typeof name !== "string") return;
    const published = await deps.apps.get(principal.workspaceId, name);
    if (!published) return;
    target = { workspaceId: principal.workspaceId, app: published.name };
  }
  metrics.record({ ...target, status, latencyMs });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Query values accepted for `explain`. */
const EXPLAIN_VALUES = ["true", "false", "1", "0"];

/**
 * Validate and predict one record. Ballast's models answer at once; an imported ONNX model
 * answers with a promise (rows predicted in the same tick share one onnxruntime run).
 */
function predictOne(
  app: PublishedApp,
  record: Record<string, unknown>,
  path: string,
  explain: boolean,
): Prediction | Promise<Prediction> {
  if (!app.validateRecord(record)) {
    const details = describeErrors(app.validateRecord.errors, path);
    throw badRequest(
      "invalid_input",
      `The input does not match the ${app.name} app's contract`,
      details,
    );
  }
  const callerError = (error: unknown): unknown => {
    if (error instanceof EncodeError) {
      return badRequest("invalid_input", error.message, [
        { path: `${path}/${error.field}`, message: error.message },
      ]);
    }
    // Inputs passed the contract, yet the imported model could not compute on them.
    if (error instanceof OnnxRunError) return unprocessable("model_rejected_input", error.message);
    return error;
  };
  try {
    const result = app.predictor.predict(record, {
      unknownCategories: app.spec.contract.unknownCategories,
      explain,
    });
    if (!(result instanceof Promise)) return result;
    const mapped = result.catch((error: unknown) => {
      throw callerError(error);
    });
    // Marked as handled: a later row's 400 may end the request before this promise settles.
    mapped.catch(() => {});
    return mapped;
  } catch (error) {
    throw callerError(error);
  }
}

export function predictRoutes(deps: PredictRouteDeps) {
  return async (app: FastifyInstance) => {
    app.post<{ Params: { app: string }; Querystring: { explain?: string } }>(
      "/v1/apps/:app/predict",
      {
        schema: {
          tags: ["predict"],
          summary: "Predict with a published app",
          description:
            'Send one record, or `{"rows": [...]}`. Each app\'s exact input and output schema is listed under its own path in this document.',
          params: { type: "object", properties: { app: { type: "string" } }, required: ["app"] },
          querystring: {
            type: "object",
            properties: {
              explain: {
                type: "string",
                enum: EXPLAIN_VALUES,
                description:
                  "true: add to each prediction an `explanation` whose base plus contributions (per input column) give the model's score: log-odds of the positive class (binary), the predicted class's softmax input (multiclass), or the prediction or its log (regression)",
              },
            },
          },
        },
        onResponse: (request, reply, done) => {
          recordAnswer(deps, request, reply.statusCode, reply.elapsedTime).catch((error) =>
            request.log.warn({ err: error }, "could not record the request's metrics"),
          );
          done();
        },
      },
      async (request, reply) => {
        const principal = await deps.authenticate(request.headers);
        // Resolve the app first, so a refused key still counts against the app it called.
        const published = principal
          ? await deps.apps.get(principal.workspaceId, request.params.app)
          : undefined;
        if (published)
          served.set(request, { workspaceId: published.workspaceId, app: published.name });
        requirePermission(principal, "invoke");
        if (!published) throw notFound("App", request.params.app);
        const explain = request.query.explain === "true" || request.query.explain === "1";
        if (explain && !published.predictor.canExplain) {
          throw badRequest(
            "explain_unsupported",
            `The model behind the ${published.name} app cannot explain its predictions`,
            [{ path: "querystring/explain", message: "is not supported by this model" }],
          );
        }
        const body: unknown = request.body;
        if (!isRecord(body)) {
          throw badRequest(
            "invalid_body",
            'The body must be a JSON object: one record, or {"rows": [...]}',
          );
        }
        const base = {
          request_id: String(request.id),
          app: published.name,
          app_version: published.version,
          model: { name: published.model.name, version: published.model.version },
        };
        const rows = body.rows;
        if (rows !== undefined && !published.rowsIsInput) {
          if (!Array.isArray(rows))
            throw badRequest("invalid_body", "rows must be an array of records");
          const extra = Object.keys(body).filter((k) => k !== "rows");
          if (extra.length > 0) {
            throw badRequest(
              "invalid_body",
              "A batch body has only the rows field",
              extra.map((k) => ({ path: `/${k}`, message: "is not allowed beside rows" })),
            );
          }
          if (rows.length === 0)
            throw badRequest("invalid_body", "rows is empty; send at least one record");
          const max = published.spec.limits.maxRows;
          if (rows.length > max) {
            throw new ApiError(
              413,
              "too_many_rows",
              `This app takes at most ${max} rows per request; got ${rows.length}`,
            );
          }
          const predictions: (Prediction | Promise<Prediction>)[] = [];
          for (let i = 0; i < rows.length; i++) {
            const record: unknown = rows[i];
            if (!isRecord(record)) {
              throw badRequest("invalid_input", `rows[${i}] must be a JSON object`, [
                { path: `/rows/${i}`, message: "must be an object" },
              ]);
            }
            predictions.push(predictOne(published, record, `/rows/${i}`, explain));
          }
          const response: PredictResponseDto = {
            ...base,
            predictions: await Promise.all(predictions),
          };
          return reply.send(response);
        }
        const prediction = await predictOne(published, body, "", explain);
        const response: PredictResponseDto = { ...base, ...prediction };
        return reply.send(response);
      },
    );
  };
}
