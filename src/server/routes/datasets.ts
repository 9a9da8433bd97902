/**
 * Datasets: upload (streamed to a temp file, parsed by DuckDB, stored by content hash, then
 * registered; any failure registers nothing), list, show, delete.
 */
import { randomUUID } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import path from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { FastifyInstance } from "fastify";
import { detectFormat, IngestError, ingestFile } from "../../data/index.ts";
import type { DatasetDto } from "../api-types.ts";
import { requirePermission } from "../auth.ts";
import type { ServerContext } from "../context.ts";
import { ApiError, badRequest, conflict, notFound } from "../errors.ts";

const DATASET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** A dataset name from a file name: the base name without extension, made safe. */
export function datasetNameFromFile(fileName: string): string {
  const base = path.basename(fileName).replace(/\.[^.]*$/, "");
  const safe = base
    .replace(/[^A-Za-z0-9._-]+/g, "-")
    .replace(/^[^A-Za-z0-9]+/, "")
    .slice(0, 100);
  return safe || "dataset";
}

export function datasetRoutes(ctx: ServerContext) {
  return async (app: FastifyInstance) => {
    // Uploads arrive as raw bytes; the route streams them to disk itself.
    app.addContentTypeParser("*", (_request, payload, done) => done(null, payload));

    app.post<{ Querystring: { name?: string; filename?: string; format?: string } }>(
      "/v1/datasets",
      {
        schema: {
          tags: ["datasets"],
          summary: "Import a data file (CSV, TSV, Parquet, JSON, NDJSON) as a dataset",
          description:
            "Send the file's bytes as the body (any content type). `filename` gives the format by its extension unless `format` is set.",
          querystring: {
            type: "object",
            additionalProperties: false,
            properties: {
              name: { type: "string" },
              filename: { type: "string" },
              format: { type: "string", enum: ["csv", "tsv", "parquet", "json", "ndjson"] },
            },
          },
        },
      },
      async (request, reply) => {
        const principal = requirePermission(await ctx.authenticate(request.headers), "build");
        const fileName = request.query.filename ?? request.query.name ?? "";
        const format =
          (request.query.format as ReturnType<typeof detectFormat>) ?? detectFormat(fileName);
        if (!format) {
          throw new ApiError(
            415,
            "unsupported_format",
            `Cannot tell the file's format from ${JSON.stringify(fileName)}; use a .csv, .tsv, .parquet, .json or .ndjson file name, or set format`,
          );
        }
        const name = request.query.name ?? datasetNameFromFile(fileName);
        if (!DATASET_NAME.test(name)) {
          throw badRequest(
            "invalid_name",
            "A dataset name is 1-100 letters, digits, dots, dashes or underscores, starting with a letter or digit",
            [{ path: "name", message: "is not a valid dataset name" }],
          );
        }
        if (await ctx.findDataset(principal.workspaceId, name)) {
          throw conflict(`A dataset named ${name} already exists; pick another name with --name`);
        }
        const body = request.body as NodeJS.ReadableStream | undefined;
        if (!body || typeof (body as { pipe?: unknown }).pipe !== "function") {
          throw badRequest("empty_body", "Send the file's bytes as the request body");
        }
        const tmpDir = path.join(ctx.config.dataDir, "tmp");
        await mkdir(tmpDir, { recursive: true });
        const tmp = path.join(tmpDir, `${randomUUID()}.${format}`);
        try {
          let size = 0;
          const limit = ctx.config.uploadLimit;
          const counter = new Transform({
            transform(chunk: Buffer, _enc, cb) {
              size += chunk.length;
              if (size > limit)
                cb(
                  new ApiError(
                    413,
                    "file_too_large",
                    `The file is larger than the ${limit}-byte limit`,
                  ),
                );
              else cb(null, chunk);
            },
          });
          await pipeline(body, counter, createWriteStream(tmp));
          let ingested: Awaited<ReturnType<typeof ingestFile>>;
          try {
            ingested = await ingestFile(tmp, { format });
          } catch (error) {
            if (error instanceof IngestError) {
              const where = error.line !== undefined ? `line ${error.line}` : error.column;
              throw badRequest(
                error.code,
                error.message,
                where ? [{ path: where, message: error.message }] : [],
              );
            }
            throw error;
          }
          const blob = await ctx.blobs.putFile(tmp);
          const record = await ctx.registry.datasets.create(principal.workspaceId, {
            name,
            format,
            fileName: path.basename(fileName || `${name}.${format}`),
            blobSha256: blob.sha256,
            sizeBytes: blob.size,
            rowCount: ingested.frame.rowCount,
            schema: ingested.schema,
            profile: ingested.profile,
          });
          const dto: DatasetDto = toDatasetDto(record, true);
          return reply.code(201).send({ dataset: dto });
        } finally {
          await rm(tmp, { force: true });
        }
      },
    );

    app.get(
      "/v1/datasets",
      { schema: { tags: ["datasets"], summary: "List datasets" } },
      async (request) => {
        const principal = requirePermission(await ctx.authenticate(request.headers), "read");
        const list = await ctx.registry.datasets.list(principal.workspaceId);
        return { datasets: list.map((d) => toDatasetDto(d, false)) };
      },
    );

    app.get<{ Params: { ref: string } }>(
      "/v1/datasets/:ref",
      { schema: { tags: ["datasets"], summary: "A dataset's schema and profile (by id or name)" } },
      async (request) => {
        const principal = requirePermission(await ctx.authenticate(request.headers), "read");
        const found = await ctx.findDataset(principal.workspaceId, request.params.ref);
        if (!found) throw notFound("Dataset", request.params.ref);
        return { dataset: toDatasetDto(found, true) };
      },
    );

    app.delete<{ Params: { ref: string } }>(
      "/v1/datasets/:ref",
      { schema: { tags: ["datasets"], summary: "Delete a dataset" } },
      async (request, reply) => {
        const principal = requirePermission(await ctx.authenticate(request.headers), "build");
        const found = await ctx.findDataset(principal.workspaceId, request.params.ref);
        if (!found) throw notFound("Dataset", request.params.ref);
        await ctx.registry.datasets.delete(principal.workspaceId, found.id);
        return reply.code(204).send();
      },
    );
  };
}

type DatasetRecord = NonNullable<Awaited<ReturnType<ServerContext["findDataset"]>>>;

export function toDatasetDto(d: DatasetRecord, withProfile: boolean): DatasetDto {
  return {
    id: d.id,
    name: d.name,
    format: d.format,
    fileName: d.fileName,
    sizeBytes: d.sizeBytes,
    rowCount: d.rowCount,
    columns: d.schema.columns,
    ...(withProfile ? { profile: d.profile } : {}),
    createdAt: d.createdAt,
  };
}
