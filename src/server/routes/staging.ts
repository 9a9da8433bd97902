/**
 * Staging's own controls: fault injection for drills, and the live state a drill judges
 * against. Faults exist only in staging: production's runtimes are built without an injector,
 * so no request to these routes can slow or fail a production answer.
 */
import type { FastifyInstance } from "fastify";
import { FaultSettingsError, parseFaultSettings } from "../../runtime/faults/fault-injector.ts";
import { requirePermission } from "../auth.ts";
import type { ServerContext } from "../context.ts";
import { badRequest, notFound } from "../errors.ts";
import type { StagingRuntimeDto } from "../release-api-types.ts";

const APP_PARAMS = {
  type: "object",
  properties: { app: { type: "string" } },
  required: ["app"],
} as const;

export function stagingRoutes(ctx: ServerContext) {
  return async (app: FastifyInstance) => {
    app.put<{ Params: { app: string }; Body: unknown }>(
      "/v1/apps/:app/staging/faults",
      {
        schema: {
          tags: ["staging"],
          summary: "Inject faults into the app's staging deployment (drills)",
          description:
            "Body `{ fault: slow|error|hang, rate: 0..1, durationSeconds: 1..3600, delayMs?, target?: model|http }`. The fault ends by itself after its duration. Staging only: production cannot be given faults.",
          params: APP_PARAMS,
        },
      },
      async (request) => {
        const principal = requirePermission(await ctx.authenticate(request.headers), "build");
        const found = await ctx.registry.apps.getByName(principal.workspaceId, request.params.app);
        const staging = await ctx.apps.serving(principal.workspaceId, found.name, "staging");
        if (!staging) throw notFound("Staging deployment of", found.name);
        let settings: ReturnType<typeof parseFaultSettings>;
        try {
          settings = parseFaultSettings(request.body, Date.now());
        } catch (error) {
          if (error instanceof FaultSettingsError) throw error;
          throw badRequest("invalid_fault", (error as Error).message);
        }
        ctx.apps.stagingFaults(principal.workspaceId, found.name).arm(settings);
        return stagingState(ctx, principal.workspaceId, found.name);
      },
    );

    app.delete<{ Params: { app: string } }>(
      "/v1/apps/:app/staging/faults",
      {
        schema: {
          tags: ["staging"],
          summary: "Stop injecting faults into staging",
          params: APP_PARAMS,
        },
      },
      async (request) => {
        const principal = requirePermission(await ctx.authenticate(request.headers), "build");
        const found = await ctx.registry.apps.getByName(principal.workspaceId, request.params.app);
        const state = await stagingState(ctx, principal.workspaceId, found.name);
        ctx.apps.stagingFaults(principal.workspaceId, found.name).disarm();
        return state;
      },
    );

    app.get<{ Params: { app: string } }>(
      "/v1/apps/:app/staging/runtime",
      {
        schema: {
          tags: ["staging"],
          summary: "Staging's deadline, breakers and faults on this server (what a drill judges)",
          params: APP_PARAMS,
        },
      },
      async (request) => {
        const principal = requirePermission(await ctx.authenticate(request.headers), "read");
        const found = await ctx.registry.apps.getByName(principal.workspaceId, request.params.app);
        return stagingState(ctx, principal.workspaceId, found.name);
      },
    );
  };
}

async function stagingState(
  ctx: ServerContext,
  workspaceId: string,
  name: string,
): Promise<StagingRuntimeDto> {
  const serving = await ctx.apps.serving(workspaceId, name, "staging");
  if (!serving) throw notFound("Staging deployment of", name);
  const rt = serving.stable.runtime;
  const faults = ctx.apps.stagingFaults(workspaceId, name);
  const armed = faults.current();
  return {
    version: serving.stable.version,
    // The deadline starts once the request leaves the bulkhead's queue.
    requestDeadlineMs: rt.policies.timeouts.requestMs + rt.policies.concurrency.maxQueueWaitMs,
    hasFallback: serving.stable.spec.steps.some((s) => s.kind === "fallback"),
    breakers: rt.pipeline.httpSteps.map((s) => ({
      step: s.stepId,
      state: s.guard.state,
      opened: s.guard.opened > 0,
    })),
    faults: {
      armed: armed !== undefined,
      kind: armed?.kind ?? null,
      rate: armed?.rate ?? null,
      until: armed ? new Date(armed.until).toISOString() : null,
      injected: { ...faults.injected },
    },
  };
}
