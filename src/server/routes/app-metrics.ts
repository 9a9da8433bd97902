/**
 * `GET /v1/apps/{app}/metrics?window=`: requests per second, error rate and latency
 * percentiles of an app over the last minutes to hours (the first Monitor page's shape; the
 * per-outcome, per-version view is `/series`). Windows up to the in-memory span come from this
 * process's 10-second buckets; 6h and 24h from the 1-minute rollups of every replica, merged
 * with this process's minutes not written yet.
 */
import type { FastifyInstance } from "fastify";
import {
  legacyPoint,
  legacyTotals,
  METRICS_WINDOWS,
  type MetricsWindow,
} from "../../monitor/series.ts";
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
            "Latency in milliseconds from request received to response sent; errors are 4xx and 5xx answers. The window is rebinned to at most 120 points of `stepSeconds` each, oldest first; the last holds the current interval. 5m to 1h: this server process's 10-second buckets; 6h and 24h: every replica's 1-minute rollups.",
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
        const series = await ctx.metricRollups.series(principal.workspaceId, found.name, window);
        const body: AppMetricsDto = {
          app: found.name,
          window,
          stepSeconds: series.stepSeconds,
          series: series.points.map(legacyPoint),
          totals: legacyTotals(series.totals),
        };
        return body;
      },
    );
  };
}
