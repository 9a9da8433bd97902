/**
 * Training: `POST /v1/train` validates the request against the dataset (target exists, is
 * predictable, excluded columns exist) before queuing anything, then a worker trains; progress
 * is at `GET /v1/jobs/{id}` and streamed as server-sent events at `/v1/jobs/{id}/events`.
 */
import type { FastifyInstance } from "fastify";
import type { ColumnType } from "../../data/frame.ts";
import { detectFormat } from "../../data/index.ts";
import type { JobDto, TrainRequest } from "../api-types.ts";
import { requirePermission } from "../auth.ts";
import type { ServerContext } from "../context.ts";
import { badRequest, notFound, unprocessable } from "../errors.ts";

const METRICS = ["auc", "logloss", "accuracy", "f1", "macroF1", "rmse", "mae", "r2"];
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

export function trainingRoutes(ctx: ServerContext) {
  return async (app: FastifyInstance) => {
    app.post<{ Body: TrainRequest }>(
      "/v1/train",
      {
        schema: {
          tags: ["models"],
          summary: "Train a model on a dataset (AutoML); returns a job",
          body: {
            type: "object",
            additionalProperties: false,
            required: ["dataset", "target"],
            properties: {
              dataset: { type: "string", minLength: 1, description: "Dataset id or name" },
              target: { type: "string", minLength: 1, description: "The column to predict" },
              name: {
                type: "string",
                pattern: MODEL_NAME.source,
                description: "Model name (default: dataset name)",
              },
              metric: { type: "string", enum: METRICS },
              timeBudgetSeconds: { type: "number", minimum: 1, maximum: 86400, default: 60 },
              exclude: { type: "array", items: { type: "string" }, maxItems: 10000 },
              include: {
                type: "array",
                items: { type: "string" },
                maxItems: 10000,
                description:
                  "Columns to use even when the target analysis flags them as leaks or ID-like",
              },
              seed: { type: "integer", minimum: 0 },
            },
          },
        },
      },
      async (request, reply) => {
        const principal = requirePermission(await ctx.authenticate(request.headers), "build");
        const body = request.body;
        const dataset = await ctx.findDataset(principal.workspaceId, body.dataset);
        if (!dataset) throw notFound("Dataset", body.dataset);
        const columns = dataset.schema.columns;
        const target = columns.find((c) => c.name === body.target);
        if (!target) {
          throw badRequest(
            "unknown_target",
            `${dataset.name} has no column named ${body.target}; its columns are: ${columns.map((c) => c.name).join(", ")}`,
            [{ path: "/target", message: "is not a column of the dataset" }],
          );
        }
        const profile = dataset.profile.columns.find((c) => c.name === body.target);
        if (profile && profile.distinct < 2) {
          throw unprocessable(
            "constant_target",
            `${body.target} has ${profile.distinct === 0 ? "no values" : "only one value"}; there is nothing to predict`,
            [{ path: "/target", message: "is constant" }],
          );
        }
        if (target.type === "text" || target.type === "id" || target.type === "datetime") {
          throw unprocessable(
            "unsupported_target",
            `${body.target} is a ${target.type} column; pick a category, yes/no or number column to predict`,
            [{ path: "/target", message: `is a ${target.type} column` }],
          );
        }
        for (const field of ["exclude", "include"] as const) {
          const unknown = (body[field] ?? []).filter((c) => !columns.some((col) => col.name === c));
          if (unknown.length > 0) {
            throw badRequest(
              "unknown_column",
              `Cannot ${field} ${unknown.join(", ")}: no such column`,
              unknown.map((c) => ({ path: `/${field}`, message: `${c} is not a column` })),
            );
          }
        }
        const name = body.name ?? dataset.name;
        if (!MODEL_NAME.test(name))
          throw badRequest("invalid_name", `${name} is not a valid model name`);
        const filePath = ctx.blobs.path?.(dataset.blobSha256);
        if (!filePath) throw new Error("The blob store cannot give a local path for training");
        const format = detectFormat(`x.${dataset.format}`) ?? "csv";
        const input: TrainRequest = {
          ...body,
          name,
          timeBudgetSeconds: body.timeBudgetSeconds ?? 60,
        };
        const job = await ctx.registry.jobs.create(principal.workspaceId, { kind: "train", input });
        // Types a person changed after import travel with the schema; the worker re-applies them.
        const types: Record<string, ColumnType> = {};
        for (const c of columns) types[c.name] = c.type;
        ctx.training.start({
          jobId: job.id,
          workspaceId: principal.workspaceId,
          request: input,
          datasetId: dataset.id,
          worker: {
            filePath,
            format,
            types,
            target: body.target,
            exclude: body.exclude ?? [],
            include: body.include ?? [],
            ...(body.metric ? { metric: body.metric } : {}),
            timeBudgetMs: (input.timeBudgetSeconds ?? 60) * 1000,
            seed: body.seed ?? 42,
            dataset: { id: dataset.id, name: dataset.name },
          },
        });
        return reply.code(202).send({ job: ctx.jobDto(job) });
      },
    );

    app.get<{ Params: { id: string } }>(
      "/v1/jobs/:id",
      { schema: { tags: ["models"], summary: "A training job's status, progress and result" } },
      async (request) => {
        const principal = requirePermission(await ctx.authenticate(request.headers), "read");
        const job = await ctx.registry.jobs.get(principal.workspaceId, request.params.id);
        return { job: ctx.jobDto(job) };
      },
    );

    app.get<{ Params: { id: string } }>(
      "/v1/jobs/:id/events",
      {
        schema: {
          tags: ["models"],
          summary: "Server-sent events for a job: `progress` while it runs, `done` when it ends",
        },
      },
      async (request, reply) => {
        const principal = requirePermission(await ctx.authenticate(request.headers), "read");
        const job = await ctx.registry.jobs.get(principal.workspaceId, request.params.id);
        reply.hijack();
        const res = reply.raw;
        res.writeHead(200, {
          "content-type": "text/event-stream",
          "cache-control": "no-cache",
          connection: "keep-alive",
          "x-request-id": String(request.id),
        });
        const send = (event: string, data: JobDto | JobDto["progress"]) =>
          res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
        const dto = ctx.jobDto(job);
        const finished =
          dto.status === "succeeded" || dto.status === "failed" || dto.status === "cancelled";
        if (finished || !ctx.training.isActive(dto.id)) {
          // Finished (or orphaned by a restart): report the stored state and end.
          send("done", dto);
          res.end();
          return;
        }
        if (dto.progress) send("progress", dto.progress);
        const heartbeat = setInterval(() => res.write(": keep-alive\n\n"), 15_000);
        const off = ctx.training.subscribe(dto.id, (event, update) => {
          if (event === "progress" && update.progress) send("progress", update.progress);
          if (event === "done") {
            send("done", update);
            cleanup();
            res.end();
          }
        });
        const cleanup = () => {
          clearInterval(heartbeat);
          off();
        };
        request.raw.on("close", cleanup);
      },
    );
  };
}
