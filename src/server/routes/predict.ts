/**
 * The data plane: `POST /v1/apps/{app}/predict`. One record or `{"rows": [...]}`, validated
 * against the app's contract before anything runs; every problem a caller can cause is a 4xx
 * that names the field, and nothing here changes state.
 */
import type { FastifyInstance } from "fastify";
import { EncodeError } from "../../features/recipe.ts";
import type { Prediction } from "../../models/predictor.ts";
import type { PredictResponseDto } from "../api-types.ts";
import type { AppRuntime, PublishedApp } from "../app-runtime.ts";
import type { Principal } from "../auth.ts";
import { requirePermission } from "../auth.ts";
import { ApiError, badRequest, notFound } from "../errors.ts";
import { describeErrors } from "../validation.ts";

export interface PredictRouteDeps {
  readonly apps: AppRuntime;
  readonly authenticate: (
    headers: Record<string, string | string[] | undefined>,
  ) => Promise<Principal | undefined>;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function predictOne(app: PublishedApp, record: Record<string, unknown>, path: string): Prediction {
  if (!app.validateRecord(record)) {
    const details = describeErrors(app.validateRecord.errors, path);
    throw badRequest(
      "invalid_input",
      `The input does not match the ${app.name} app's contract`,
      details,
    );
  }
  try {
    return app.predictor.predict(record, {
      unknownCategories: app.spec.contract.unknownCategories,
    });
  } catch (error) {
    if (error instanceof EncodeError) {
      throw badRequest("invalid_input", error.message, [
        { path: `${path}/${error.field}`, message: error.message },
      ]);
    }
    throw error;
  }
}

export function predictRoutes(deps: PredictRouteDeps) {
  return async (app: FastifyInstance) => {
    app.post<{ Params: { app: string }; Querystring: Record<string, string> }>(
      "/v1/apps/:app/predict",
      {
        schema: {
          tags: ["predict"],
          summary: "Predict with a published app",
          description:
            'Send one record, or `{"rows": [...]}`. Each app\'s exact input and output schema is listed under its own path in this document.',
          params: { type: "object", properties: { app: { type: "string" } }, required: ["app"] },
        },
      },
      async (request, reply) => {
        const principal = requirePermission(await deps.authenticate(request.headers), "invoke");
        const published = await deps.apps.get(principal.workspaceId, request.params.app);
        if (!published) throw notFound("App", request.params.app);
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
          const predictions: Prediction[] = [];
          for (let i = 0; i < rows.length; i++) {
            const record: unknown = rows[i];
            if (!isRecord(record)) {
              throw badRequest("invalid_input", `rows[${i}] must be a JSON object`, [
                { path: `/rows/${i}`, message: "must be an object" },
              ]);
            }
            predictions.push(predictOne(published, record, `/rows/${i}`));
          }
          const response: PredictResponseDto = { ...base, predictions };
          return reply.send(response);
        }
        const prediction = predictOne(published, body, "");
        const response: PredictResponseDto = { ...base, ...prediction };
        return reply.send(response);
      },
    );
  };
}
