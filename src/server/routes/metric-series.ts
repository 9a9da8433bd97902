/**
 * The Monitor page's time series:
 * - `GET /v1/apps/{app}/series?window=&version=`: requests per outcome, rate, latency and
 *   model-latency percentiles and cache hits of an app, or one of its versions. Windows up to the
 *   in-memory span (1h by default) come from this process's 10-second buckets (`source:
 *   "memory"`); longer ones, up to 30 days, from every replica's 1-minute rollups (`"rollups"`).
 * - `GET /v1/system/series?window=`: this server process's CPU, memory, event-loop delay and
 *   GC pauses, sampled every 10 seconds, for the last hour at most.
 */
import type { FastifyInstance } from "fastify";
import { PROCESS_WINDOWS, type ProcessWindow } from "../../monitor/process-metrics.ts";
import { SERIES_WINDOWS, type SeriesWindow } from "../../monitor/series.ts";
import { requirePermission } from "../auth.ts";
import type { ServerContext } from "../context.ts";
import { badRequest } from "../errors.ts";
import type { AppSeriesDto, ProcessSeriesDto } from "../monitor-api-types.ts";

/** A version number as a query parameter: 1 to 9 digits. */
const VERSION_PATTERN = "^[1-9][0-9]{0,8}$";

export function metricSeriesRoutes(ctx: ServerContext) {
  return async (app: FastifyInstance) => {
    app.get<{
      Params: { app: string };
      Querystring: { window?: SeriesWindow; version?: string };
    }>(
      "/v1/apps/:app/series",
      {
        schema: {
          tags: ["monitoring"],
          summary: "An app's traffic over time: outcomes, latency, model latency, cache hits",
          description:
            "At most 120 points of `stepSeconds`, oldest first; the last holds the current interval. Windows up to 1h come from this server process's 10-second buckets (`source: memory`); 6h to 30d from the 1-minute rollups of every replica (`source: rollups`). Latencies in milliseconds; `errorRate` is the share of requests whose outcome is not `ok`.",
          params: {
            type: "object",
            properties: { app: { type: "string" } },
            required: ["app"],
          },
          querystring: {
            type: "object",
            additionalProperties: false,
            properties: {
              window: { type: "string", enum: [...SERIES_WINDOWS], default: "1h" },
              version: {
                type: "string",
                pattern: VERSION_PATTERN,
                description: "Only this version of the app (all versions when absent)",
              },
            },
          },
        },
      },
      async (request) => {
        const principal = requirePermission(await ctx.authenticate(request.headers), "read");
        const found = await ctx.registry.apps.getByName(principal.workspaceId, request.params.app);
        const window = request.query.window ?? "1h";
        const raw = request.query.version;
        const version = raw === undefined ? undefined : Number(raw);
        if (version !== undefined && version > found.latestVersion) {
          throw badRequest("invalid_request", `The ${found.name} app has no version ${version}`, [
            { path: "querystring/version", message: `must be at most ${found.latestVersion}` },
          ]);
        }
        const series = await ctx.metricRollups.series(
          principal.workspaceId,
          found.name,
          window,
          version === undefined ? {} : { version },
        );
        const body: AppSeriesDto = {
          app: found.name,
          window,
          version: series.version,
          stepSeconds: series.stepSeconds,
          source: series.source,
          points: series.points,
          totals: series.totals,
          versions: series.versions,
        };
        return body;
      },
    );

    app.get<{ Querystring: { window?: ProcessWindow } }>(
      "/v1/system/series",
      {
        schema: {
          tags: ["monitoring"],
          summary: "This server process's CPU, memory, event-loop delay and GC over time",
          description:
            "Sampled every 10 seconds by the process that answers (each replica has its own); at most 120 points, oldest first, only intervals with samples. CPU in percent of one core, memory in MiB, event-loop p99 delay and GC pause in milliseconds.",
          querystring: {
            type: "object",
            additionalProperties: false,
            properties: { window: { type: "string", enum: [...PROCESS_WINDOWS], default: "1h" } },
          },
        },
      },
      async (request) => {
        requirePermission(await ctx.authenticate(request.headers), "read");
        const series = ctx.processMetrics.series(request.query.window ?? "1h");
        const body: ProcessSeriesDto = series;
        return body;
      },
    );
  };
}
