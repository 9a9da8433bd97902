/**
 * Environments and releases: `GET /v1/apps/{app}/environments`, `GET /v1/apps/{app}/releases`
 * (history and the live state of the active one), and the operations `promote`, `approve`,
 * `abort` and `rollback`. Staging answers at `POST /v1/apps/{app}/staging/predict`.
 */
import type { FastifyInstance } from "fastify";
import { ROLLOUT_STRATEGIES } from "../../release/release-plan.ts";
import { STEPS_PATTERN } from "../../spec/release.ts";
import { requirePermission } from "../auth.ts";
import type { ServerContext } from "../context.ts";
import type { PromoteRequest } from "../release-api-types.ts";

const APP_PARAMS = {
  type: "object",
  properties: { app: { type: "string" } },
  required: ["app"],
} as const;

const PROMOTE_BODY = {
  type: "object",
  additionalProperties: false,
  required: ["to"],
  properties: {
    to: { type: "string", enum: ["production", "staging"] },
    version: { type: "integer", minimum: 1 },
    strategy: { type: "string", enum: [...ROLLOUT_STRATEGIES] },
    steps: { type: "string", maxLength: 200, pattern: STEPS_PATTERN },
    intervalSeconds: { type: "integer", minimum: 1, maximum: 86_400 },
    minRequests: { type: "integer", minimum: 1, maximum: 1_000_000 },
    maxErrorRate: { type: "number", minimum: 0, maximum: 1 },
    maxP95Ms: { type: "integer", minimum: 0, maximum: 600_000 },
    maxP95Ratio: { type: "number", minimum: 0, maximum: 1000 },
    requireGolden: { type: "boolean" },
    manualSteps: { type: "string", maxLength: 200 },
    percent: { type: "number", exclusiveMinimum: 0, maximum: 100 },
    splitHeader: { type: "string", pattern: "^[A-Za-z0-9-]{1,64}$" },
    conversionEvent: { type: "string", pattern: "^([a-z0-9_.-]{1,64})?$" },
    valueEvent: { type: "string", pattern: "^([a-z0-9_.-]{1,64})?$" },
  },
} as const;

export function releaseRoutes(ctx: ServerContext) {
  return async (app: FastifyInstance) => {
    app.get<{ Params: { app: string } }>(
      "/v1/apps/:app/environments",
      {
        schema: {
          tags: ["releases"],
          summary: "Which version each environment serves, with history",
          params: APP_PARAMS,
        },
      },
      async (request) => {
        const principal = requirePermission(await ctx.authenticate(request.headers), "read");
        return ctx.releases.environments(principal.workspaceId, request.params.app);
      },
    );

    app.get<{ Params: { app: string } }>(
      "/v1/apps/:app/releases",
      {
        schema: {
          tags: ["releases"],
          summary: "An app's releases, newest first, and the live state of the active one",
          description:
            "The active release's gates, per-version traffic, a shadow's comparison and an A/B test's significance are this server's view (each replica keeps its own metrics).",
          params: APP_PARAMS,
        },
      },
      async (request) => {
        const principal = requirePermission(await ctx.authenticate(request.headers), "read");
        return ctx.releases.releases(principal.workspaceId, request.params.app);
      },
    );

    app.post<{ Params: { app: string }; Body: PromoteRequest }>(
      "/v1/apps/:app/promote",
      {
        schema: {
          tags: ["releases"],
          summary: "Deploy a version to staging, or release it to production by a strategy",
          description:
            "To staging: the version (default the newest) is deployed there. To production: the version (default staging's) must pass the app's golden suite (409 `golden_failed` otherwise, nothing changes), then a release starts: `direct` deploys at once; `canary` moves traffic in steps judged by live gates and rolls back by itself; `shadow` mirrors traffic and `ab` splits callers until someone approves or aborts. Fields besides `to`, `version` and `strategy` override the candidate spec's `release` settings for this release.",
          params: APP_PARAMS,
          body: PROMOTE_BODY,
        },
      },
      async (request, reply) => {
        const principal = requirePermission(await ctx.authenticate(request.headers), "build");
        const result = await ctx.releases.promote(
          principal.workspaceId,
          request.params.app,
          request.body,
        );
        return reply.code(201).send(result);
      },
    );

    for (const [path, summary] of [
      [
        "approve",
        "Approve the active release: a paused canary step goes on; a shadow or A/B candidate is promoted",
      ],
      [
        "abort",
        "Stop the active release without promoting; all traffic back on the stable version",
      ],
      ["rollback", "Roll back the active release, or production to the version it served before"],
    ] as const) {
      app.post<{ Params: { app: string } }>(
        `/v1/apps/:app/${path}`,
        { schema: { tags: ["releases"], summary, params: APP_PARAMS } },
        async (request) => {
          const principal = requirePermission(await ctx.authenticate(request.headers), "build");
          const ws = principal.workspaceId;
          const name = request.params.app;
          if (path === "approve") return ctx.releases.approve(ws, name);
          if (path === "abort") return ctx.releases.abort(ws, name);
          return ctx.releases.rollback(ws, name);
        },
      );
    }
  };
}
