/**
 * `GET /v1/apps/{app}/runtime`: the live state of an app's policies on this replica: its
 * bulkhead (in flight, queued, shed), response cache (hit rate), each http step's circuit
 * breaker, the worker pool, what the policies counted (rate limited, fallbacks by reason,
 * cascade escalations) and the event loop's delay. What an engineer looks at when an app
 * sheds or falls back.
 */
import type { FastifyInstance } from "fastify";
import { requirePermission } from "../auth.ts";
import type { ServerContext } from "../context.ts";

export function appRuntimeStateRoutes(ctx: ServerContext) {
  return async (app: FastifyInstance) => {
    app.get<{ Params: { app: string } }>(
      "/v1/apps/:app/runtime",
      {
        schema: {
          tags: ["apps"],
          summary: "The live state of an app's policies on this server",
          description:
            "Bulkhead, cache, circuit breakers, worker pool and policy counters of the deployed version, as this server process sees them (each replica has its own).",
          params: { type: "object", properties: { app: { type: "string" } }, required: ["app"] },
        },
      },
      async (request) => {
        const principal = requirePermission(await ctx.authenticate(request.headers), "read");
        const found = await ctx.registry.apps.getByName(principal.workspaceId, request.params.app);
        const published = await ctx.apps.get(principal.workspaceId, found.name);
        const loop = ctx.eventLoop.stats();
        const counters = ctx.counters.of(principal.workspaceId, found.name);
        if (!published) return { app: found.name, deployed: false, counters, eventLoop: loop };
        const rt = published.runtime;
        const pool = rt.pool();
        return {
          app: found.name,
          deployed: true,
          version: published.version,
          policies: rt.policies,
          bulkhead: {
            inFlight: rt.bulkhead.inFlight,
            queued: rt.bulkhead.queued,
            shed: rt.bulkhead.shed,
          },
          cache: rt.cache
            ? { hits: rt.cache.hits, misses: rt.cache.misses, hitRate: rt.cache.hitRate() }
            : null,
          breakers: rt.pipeline.httpSteps.map((s) => ({
            step: s.stepId,
            state: s.guard.state,
          })),
          pool: pool ? { threads: pool.threads, running: pool.running, queued: pool.queued } : null,
          counters,
          eventLoop: loop,
        };
      },
    );
  };
}
