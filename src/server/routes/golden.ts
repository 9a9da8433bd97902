/**
 * Golden suites: an app's cases (inputs with expected answers and how to match them), added by
 * hand, from the Studio's "try it" form (expected = the production answer now) or captured
 * from a logged live prediction, and run against any version. Promotion to production runs
 * them first (src/server/releases).
 */
import type { FastifyInstance } from "fastify";
import { PredictionLogUnavailableError } from "../../monitor/prediction-log/prediction-log.ts";
import type { NewGoldenCase } from "../../registry/golden-repository.ts";
import {
  DEFAULT_GOLDEN_MATCH,
  expectedOf,
  GoldenMatchError,
  parseGoldenMatch,
} from "../../release/golden/golden-match.ts";
import { requirePermission } from "../auth.ts";
import type { ServerContext } from "../context.ts";
import { ApiError, badRequest } from "../errors.ts";
import type {
  CaptureGoldenRequest,
  GoldenCaseDto,
  NewGoldenCaseRequest,
} from "../release-api-types.ts";
import { runGoldenCase } from "../releases/golden-runner.ts";

const APP_PARAMS = {
  type: "object",
  properties: { app: { type: "string" } },
  required: ["app"],
} as const;

const CASE_SCHEMA = {
  type: "object",
  additionalProperties: false,
  required: ["input"],
  properties: {
    name: { type: "string", minLength: 1, maxLength: 100 },
    input: { type: "object" },
    expected: { type: "object" },
    match: { type: "object" },
    source: { type: "string", enum: ["studio", "api", "cli"] },
  },
} as const;

function dto(c: {
  id: string;
  name: string;
  input: unknown;
  expected: unknown;
  match: unknown;
  source: GoldenCaseDto["source"];
  requestId: string | null;
  createdAt: string;
}): GoldenCaseDto {
  return {
    id: c.id,
    name: c.name,
    input: c.input as Record<string, unknown>,
    expected: c.expected as Record<string, unknown>,
    match: c.match as Record<string, unknown>,
    source: c.source,
    requestId: c.requestId,
    createdAt: c.createdAt,
  };
}

function matchOf(value: unknown, path: string): Record<string, unknown> {
  try {
    return JSON.parse(JSON.stringify(parseGoldenMatch(value ?? DEFAULT_GOLDEN_MATCH, path)));
  } catch (error) {
    if (error instanceof GoldenMatchError) {
      throw badRequest("invalid_match", error.message, [...error.problems]);
    }
    throw error;
  }
}

export function goldenRoutes(ctx: ServerContext) {
  return async (app: FastifyInstance) => {
    app.get<{ Params: { app: string } }>(
      "/v1/apps/:app/golden",
      { schema: { tags: ["golden"], summary: "An app's golden cases", params: APP_PARAMS } },
      async (request) => {
        const principal = requirePermission(await ctx.authenticate(request.headers), "read");
        const found = await ctx.registry.apps.getByName(principal.workspaceId, request.params.app);
        return { cases: (await ctx.registry.golden.listCases(found.id)).map(dto) };
      },
    );

    app.post<{
      Params: { app: string };
      Body: NewGoldenCaseRequest | { cases: NewGoldenCaseRequest[] };
    }>(
      "/v1/apps/:app/golden",
      {
        schema: {
          tags: ["golden"],
          summary: "Add golden cases (one, or `{cases: [...]}` all or nothing)",
          description:
            "A case without `expected` expects what production answers now (prediction and probabilities). `match` defaults to a tolerance of 5% on numbers and ±0.05 on probabilities; see the schema's modes `exact`, `tolerance` and `schema`.",
          params: APP_PARAMS,
          body: {
            oneOf: [
              CASE_SCHEMA,
              {
                type: "object",
                additionalProperties: false,
                required: ["cases"],
                properties: {
                  cases: { type: "array", minItems: 1, maxItems: 1000, items: CASE_SCHEMA },
                },
              },
            ],
          },
        },
      },
      async (request, reply) => {
        const principal = requirePermission(await ctx.authenticate(request.headers), "build");
        const found = await ctx.registry.apps.getByName(principal.workspaceId, request.params.app);
        const body = request.body;
        const many = "cases" in body;
        const given = many ? body.cases : [body];
        const prefix = (i: number) => (many ? `/cases/${i}` : "");
        const needsAnswer = given.some((c) => c.expected === undefined);
        const production = needsAnswer
          ? await ctx.apps.get(principal.workspaceId, found.name)
          : undefined;
        const cases: NewGoldenCase[] = [];
        for (const [i, c] of given.entries()) {
          const match = matchOf(c.match, `${prefix(i)}/match`);
          let expected = c.expected;
          if (expected === undefined) {
            if (!production) {
              throw badRequest(
                "not_deployed",
                "The app has no production version to take the expected answer from",
                [
                  {
                    path: `${prefix(i)}/expected`,
                    message: "is required while nothing is deployed",
                  },
                ],
              );
            }
            const answered = await runGoldenCase(production, {
              name: "capture",
              input: c.input,
              expected: {},
              match: { mode: "exact" },
            });
            if (answered.error || !answered.actual) {
              throw badRequest(
                "invalid_input",
                `The input gets no answer from production: ${answered.error ?? "no answer"}`,
                [{ path: `${prefix(i)}/input`, message: answered.error ?? "gets no answer" }],
              );
            }
            expected = expectedOf(answered.actual);
          }
          cases.push({
            ...(c.name !== undefined ? { name: c.name } : {}),
            input: c.input as Record<string, never>,
            expected: expected as Record<string, never>,
            match: match as Record<string, never>,
            source: c.source ?? "api",
          });
        }
        const added = await ctx.registry.golden.addCases(found.id, cases);
        return reply.code(201).send({ cases: added.map(dto) });
      },
    );

    app.post<{ Params: { app: string }; Body: CaptureGoldenRequest }>(
      "/v1/apps/:app/golden/capture",
      {
        schema: {
          tags: ["golden"],
          summary: "Turn a logged live prediction into a golden case",
          params: APP_PARAMS,
          body: {
            type: "object",
            additionalProperties: false,
            required: ["requestId"],
            properties: {
              requestId: { type: "string", pattern: "^[A-Za-z0-9._:-]{1,128}$" },
              row: { type: "integer", minimum: 0 },
              name: { type: "string", minLength: 1, maxLength: 100 },
              match: { type: "object" },
            },
          },
        },
      },
      async (request, reply) => {
        const principal = requirePermission(await ctx.authenticate(request.headers), "build");
        const found = await ctx.registry.apps.getByName(principal.workspaceId, request.params.app);
        const body = request.body as CaptureGoldenRequest & { row?: number };
        const match = matchOf(body.match, "/match");
        let logged: Awaited<ReturnType<typeof ctx.predictionLog.loggedPrediction>>;
        try {
          logged = await ctx.predictionLog.loggedPrediction(
            principal.workspaceId,
            found.name,
            body.requestId,
            body.row ?? 0,
          );
        } catch (error) {
          if (error instanceof PredictionLogUnavailableError) {
            throw new ApiError(503, "prediction_log_unavailable", error.message, [], {
              "retry-after": "60",
            });
          }
          throw error;
        }
        if (!logged) {
          throw badRequest(
            "not_logged",
            `No logged prediction has request id ${body.requestId} (it may not have been sampled, or not written yet)`,
            [{ path: "/requestId", message: "is not in the prediction log" }],
          );
        }
        const [added] = await ctx.registry.golden.addCases(found.id, [
          {
            ...(body.name !== undefined ? { name: body.name } : {}),
            input: logged.input as Record<string, never>,
            expected: expectedOf(logged.output as Record<string, unknown>) as Record<string, never>,
            match: match as Record<string, never>,
            source: "live",
            requestId: body.requestId,
          },
        ]);
        return reply.code(201).send(dto(added as NonNullable<typeof added>));
      },
    );

    app.delete<{ Params: { app: string; id: string } }>(
      "/v1/apps/:app/golden/:id",
      {
        schema: {
          tags: ["golden"],
          summary: "Delete a golden case",
          params: {
            type: "object",
            properties: { app: { type: "string" }, id: { type: "string" } },
            required: ["app", "id"],
          },
        },
      },
      async (request) => {
        const principal = requirePermission(await ctx.authenticate(request.headers), "build");
        const found = await ctx.registry.apps.getByName(principal.workspaceId, request.params.app);
        return dto(await ctx.registry.golden.deleteCase(found.id, request.params.id));
      },
    );

    app.post<{ Params: { app: string }; Body: { version?: number } | undefined }>(
      "/v1/apps/:app/golden/run",
      {
        schema: {
          tags: ["golden"],
          summary: "Run the golden suite on a version (default: staging's, else production's)",
          params: APP_PARAMS,
          body: {
            type: "object",
            additionalProperties: false,
            properties: { version: { type: "integer", minimum: 1 } },
          },
        },
      },
      async (request) => {
        const principal = requirePermission(await ctx.authenticate(request.headers), "build");
        return ctx.releases.runGolden(
          principal.workspaceId,
          request.params.app,
          request.body?.version,
        );
      },
    );
  };
}
