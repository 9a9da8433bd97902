/**
 * Datasets: upload (streamed to a temp file, parsed by DuckDB, stored by content hash, then
 * registered; any failure registers nothing), list, show, change column types, delete.
 */
import { randomUUID } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import path from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { FastifyInstance } from "fastify";
import type { ColumnType } from "../../data/frame.ts";
import { detectFormat, IngestError, ingestFile } from "../../data/index.ts";
import type { ColumnTypeChoice, DatasetDto, DatasetPatchRequest } from "../api-types.ts";
import { requirePermission } from "../auth.ts";
import type { ServerContext } from "../context.ts";
import { storedTypes, withTypes } from "../dataset-frames.ts";
import { ApiError, badRequest, conflict, notFound } from "../errors.ts";

const DATASET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** The types a person may choose for a column. */
export const TYPE_CHOICES: readonly ColumnTypeChoice[] = [
  "number",
  "boolean",
  "category",
  "datetime",
  "text",
];

const TYPES_DESCRIPTION = `Column types over what inference finds, as {"column": type}, type one of ${TYPE_CHOICES.join(", ")}`;

/**
 * The `types` query parameter: JSON {"column": type}. Checked before the upload is read, so a
 * bad parameter costs nothing; unknown columns are found when the file is (see typeError).
 */
function parseTypesParam(raw: string | undefined): Record<string, ColumnType> | undefined {
  if (raw === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw badRequest("invalid_types", 'types must be JSON such as {"zip": "category"}', [
      { path: "querystring/types", message: "is not valid JSON" },
    ]);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw badRequest("invalid_types", 'types must be a JSON object such as {"zip": "category"}', [
      { path: "querystring/types", message: "must be an object" },
    ]);
  }
  const types: Record<string, ColumnType> = {};
  const bad = Object.entries(parsed).filter(
    ([, type]) => !TYPE_CHOICES.includes(type as ColumnTypeChoice),
  );
  if (bad.length > 0) {
    throw badRequest(
      "invalid_types",
      `A column type is one of ${TYPE_CHOICES.join(", ")}`,
      bad.map(([column]) => ({
        path: `querystring/types/${column}`,
        message: `must be one of ${TYPE_CHOICES.join(", ")}`,
      })),
    );
  }
  for (const [column, type] of Object.entries(parsed)) types[column] = type as ColumnType;
  return types;
}

/** A type change the data refuses (unknown column, value that cannot convert), as a 400. */
export function typeError(error: unknown, prefix: string): unknown {
  if (!(error instanceof IngestError)) return error;
  if (error.code !== "unknown_column" && error.code !== "conversion_failed") return error;
  return badRequest(error.code, error.message, [
    { path: `${prefix}/${error.column ?? ""}`, message: error.message },
  ]);
}

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
    // Uploads arrive as raw bytes of any content type (a browser labels a .json file
    // application/json, a .txt text/plain): a scope of their own where no parser claims them.
    await app.register(async (uploads) => {
      uploads.removeAllContentTypeParsers();
      uploads.addContentTypeParser("*", (_request, payload, done) => done(null, payload));

      uploads.post<{
        Querystring: { name?: string; filename?: string; format?: string; types?: string };
      }>(
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
                types: { type: "string", description: TYPES_DESCRIPTION },
              },
            },
          },
        },
        async (request, reply) => {
          const principal = requirePermission(await ctx.authenticate(request.headers), "build");
          const types = parseTypesParam(request.query.types);
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
              if (types) ingested = { ...withTypes(ingested, types), format };
            } catch (error) {
              const typed = typeError(error, "querystring/types");
              if (typed !== error) throw typed;
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
    });

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

    app.patch<{ Params: { ref: string }; Body: DatasetPatchRequest }>(
      "/v1/datasets/:ref",
      {
        schema: {
          tags: ["datasets"],
          summary: "Change column types: the stored file is read again with them and re-profiled",
          description:
            "The dataset keeps its id; models already trained keep their own schema. A column that is unknown or whose values cannot convert answers 400 naming it, and nothing changes.",
          params: {
            type: "object",
            properties: { ref: { type: "string", description: "Dataset id or name" } },
            required: ["ref"],
          },
          body: {
            type: "object",
            additionalProperties: false,
            required: ["types"],
            properties: {
              types: {
                type: "object",
                description: TYPES_DESCRIPTION,
                additionalProperties: { type: "string", enum: [...TYPE_CHOICES] },
              },
            },
          },
        },
      },
      async (request) => {
        const principal = requirePermission(await ctx.authenticate(request.headers), "build");
        const found = await ctx.findDataset(principal.workspaceId, request.params.ref);
        if (!found) throw notFound("Dataset", request.params.ref);
        const current = storedTypes(found);
        const types = { ...current, ...request.body.types };
        if (Object.entries(types).every(([column, type]) => current[column] === type)) {
          return { dataset: toDatasetDto(found, true) };
        }
        let reread: Awaited<ReturnType<typeof ctx.frames.read>>;
        try {
          reread = await ctx.frames.read(found, types);
        } catch (error) {
          throw typeError(error, "/types");
        }
        const updated = await ctx.registry.datasets.updateSchema(principal.workspaceId, found.id, {
          schema: reread.schema,
          profile: reread.profile,
        });
        return { dataset: toDatasetDto(updated, true) };
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
