/**
 * `GET /metrics`: this replica's metrics in the Prometheus text format (src/monitor/
 * prometheus.ts). Open by default, as Prometheus scrapes without an API key; with
 * `metricsToken` configured (BALLAST_METRICS_TOKEN) it requires `Authorization: Bearer <token>`.
 * With `prometheus` off (BALLAST_PROMETHEUS=0) the route does not exist: 404.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyInstance } from "fastify";
import type { ServerContext } from "../context.ts";
import { ApiError } from "../errors.ts";

const digest = (text: string) => createHash("sha256").update(text).digest();

/** True when the request carries `Bearer <token>` (compared in constant time). */
function bearerMatches(header: string | string[] | undefined, token: string): boolean {
  if (typeof header !== "string") return false;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match?.[1]) return false;
  return timingSafeEqual(digest(match[1]), digest(token));
}

export function prometheusRoutes(ctx: ServerContext) {
  return async (app: FastifyInstance) => {
    const exporter = ctx.prometheus;
    if (!exporter) return;
    const token = ctx.config.metricsToken;
    app.get(
      "/metrics",
      {
        schema: {
          tags: ["monitoring"],
          summary: "This replica's metrics for Prometheus (text exposition format 0.0.4)",
          description:
            "Requests by app version and outcome, request and model latency histograms, in-flight requests, cache hits and misses, circuit breaker states (0 closed, 1 half-open, 2 open), fallbacks, cascade escalations, shed and rate-limited requests, webhook backlog, and the process's CPU, memory, event loop and GC, all prefixed `ballast_`. No API key needed; when the server has a metrics token, send it as `Authorization: Bearer <token>`.",
          security: token ? [{ apiKey: [] }] : [],
        },
      },
      async (request, reply) => {
        if (token !== undefined && !bearerMatches(request.headers.authorization, token)) {
          throw new ApiError(
            401,
            "unauthorized",
            "This server's metrics require its metrics token (Authorization: Bearer <token>)",
            [{ path: "header/authorization", message: "must carry the metrics token" }],
            { "www-authenticate": 'Bearer realm="metrics"' },
          );
        }
        const text = await exporter.metrics();
        return reply.type(exporter.contentType).send(text);
      },
    );
  };
}
