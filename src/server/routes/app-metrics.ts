/**
 * `GET /v1/apps/{app}/metrics?window=`: requests per second, error rate and latency
 * percentiles of an app over the last minutes to hours, from the recorder every predict
 * request goes through (src/monitor/app-metrics.ts). This process's traffic only.
 */
import type { FastifyInstance } from "fastify";
import { METRICS_WINDOWS, type MetricsWindow } from "../../monitor/app-metrics.ts";
import type { AppMetricsDto } from "../api-types.ts";
import { requirePermission } from "../auth.ts";
import type { ServerContext } from "../context.ts";

export function appMetricsRoutes(ctx: ServerContext) {
  return async (app: FastifyInstance) => {
    app.get<{ Params: { app: string }; Querystring: { window?: MetricsWindow } }>(
      "/v1/apps/:app/metrics",
      {
        schema: {
          tags: ["apps"],
          summary: "An app's requests/s, error rate and p50/p95/p99 latency over a window",
          description:
            "Latency in milliseconds from request received to response sent, as this server process saw it; errors are 4xx and 5xx answers. The window is rebinned to at most 120 points of `stepSeconds` each, oldest first; the last holds the current 10 seconds.",
          params: {
            type: "object",
            properties: { app: { type: "string" } },
            required: ["app"],
          },
          querystring: {
            type: "object",
            additionalProperties: false,
            properties: { window: { type: "string", enum: [...METRICS_WINDOWS], default: "1h" } },
          },
        },
      },
      async (request) => {
        const principal = requirePermission(await ctx.authenticate(request.headers), "read");
        // 404 for an app that does not exist (an app that served nothing gets zeros).
        const found = await ctx.registry.apps.getByName(principal.workspaceId, request.params.app);
        const window = request.query.window ?? "1h";
        const series = ctx.metrics.series(principal.workspaceId, found.name, window);
        const body: AppMetricsDto = { app: found.name, ...series };
        return body;
      },
    );
  };
}
