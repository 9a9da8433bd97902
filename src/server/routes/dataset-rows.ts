/**
 * A page of a dataset's rows for the Studio's preview table: read from the stored file with
 * the dataset's column types applied (see ../dataset-frames.ts), values as a caller of an app
 * would send them.
 */
import type { FastifyInstance } from "fastify";
import { cellValue } from "../../data/frame.ts";
import type { CellValue, DatasetRowsDto } from "../api-types.ts";
import { requirePermission } from "../auth.ts";
import type { ServerContext } from "../context.ts";
import { badRequest, notFound } from "../errors.ts";

export const MAX_ROWS_PER_PAGE = 500;
const DEFAULT_ROWS_PER_PAGE = 50;

/** A non-negative integer query value, or a 400 naming the parameter. */
function integerParam(raw: string | undefined, name: string, fallback: number): number {
  if (raw === undefined) return fallback;
  if (!/^\d{1,15}$/.test(raw)) {
    throw badRequest("invalid_request", `${name} must be a whole number`, [
      { path: `querystring/${name}`, message: "must be a non-negative whole number" },
    ]);
  }
  return Number(raw);
}

export function datasetRowRoutes(ctx: ServerContext) {
  return async (app: FastifyInstance) => {
    app.get<{ Params: { ref: string }; Querystring: { offset?: string; limit?: string } }>(
      "/v1/datasets/:ref/rows",
      {
        schema: {
          tags: ["datasets"],
          summary: "A page of the dataset's rows, with its column types applied",
          description:
            "Values as a caller of a published app would send them: numbers, booleans by their file spelling, dates as ISO-8601 text, categories as text, missing as null.",
          params: {
            type: "object",
            properties: { ref: { type: "string", description: "Dataset id or name" } },
            required: ["ref"],
          },
          querystring: {
            type: "object",
            additionalProperties: false,
            properties: {
              offset: {
                type: "string",
                pattern: "^\\d{1,15}$",
                default: "0",
                description: "First row (0-based)",
              },
              limit: {
                type: "string",
                pattern: "^\\d{1,15}$",
                default: String(DEFAULT_ROWS_PER_PAGE),
                description: `Rows to return, 1 to ${MAX_ROWS_PER_PAGE}`,
              },
            },
          },
        },
      },
      async (request) => {
        const principal = requirePermission(await ctx.authenticate(request.headers), "read");
        const offset = integerParam(request.query.offset, "offset", 0);
        const limit = integerParam(request.query.limit, "limit", DEFAULT_ROWS_PER_PAGE);
        if (limit < 1 || limit > MAX_ROWS_PER_PAGE) {
          throw badRequest("invalid_request", `limit must be between 1 and ${MAX_ROWS_PER_PAGE}`, [
            { path: "querystring/limit", message: `must be between 1 and ${MAX_ROWS_PER_PAGE}` },
          ]);
        }
        const dataset = await ctx.findDataset(principal.workspaceId, request.params.ref);
        if (!dataset) throw notFound("Dataset", request.params.ref);
        const { frame } = await ctx.frames.load(dataset);
        const end = Math.min(frame.rowCount, offset + limit);
        const rows: CellValue[][] = [];
        for (let r = offset; r < end; r++) rows.push(frame.columns.map((c) => cellValue(c, r)));
        const body: DatasetRowsDto = {
          columns: frame.columns.map((c) => c.name),
          rows,
          offset,
          limit,
          total: frame.rowCount,
        };
        return body;
      },
    );
  };
}
