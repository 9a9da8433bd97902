/**
 * ONNX interop: import an ONNX model with its declared input schema as a model version (served
 * by the same predict route, through onnxruntime), and export a model version as an ONNX file.
 * An import is checked completely (the file loads, its tensors fit the schema, a test batch
 * runs) before anything is stored, so a refused import registers nothing.
 */
import type { FastifyInstance } from "fastify";
import { exportArtifactToOnnx, OnnxExportError } from "../../models/onnx/export.ts";
import { prepareOnnxImport } from "../../models/onnx/import.ts";
import {
  featureCount,
  ONNX_IMPORT_SCHEMA_JSON,
  OnnxImportError,
} from "../../models/onnx/import-schema.ts";
import { ONNX_LEARNER, onnxBytesOf } from "../../models/onnx/onnx-predictor.ts";
import { validateModelName } from "../../registry/names.ts";
import type { ModelVersionDto } from "../api-types.ts";
import { requirePermission } from "../auth.ts";
import type { ServerContext } from "../context.ts";
import { ApiError, badRequest, notFound, unprocessable } from "../errors.ts";

interface ImportBody {
  readonly name: string;
  readonly model: string;
  readonly schema?: unknown;
}

/** The response of a successful import. */
export interface ImportedModelDto {
  readonly model: ModelVersionDto;
  /** The tensors Ballast feeds and reads, and how it reads the output. */
  readonly onnx: {
    readonly input: string;
    readonly output: string;
    readonly inputType: string;
    readonly layout: string;
    /** Width of the input tensor: the encoded columns (a datetime column encodes to 5). */
    readonly features: number;
    readonly sha256: string;
    readonly producer: string;
  };
}

/** Problems with the request itself are 400s; a file that does not fit its schema is a 422. */
const BAD_REQUEST_CODES = new Set(["invalid_schema", "schema_required", "invalid_model"]);

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function decodeBase64(text: string): Uint8Array {
  const compact = text.replace(/\s+/g, "");
  if (compact.length === 0 || compact.length % 4 === 1 || !BASE64.test(compact)) {
    throw badRequest("invalid_base64", "model must be the .onnx file's bytes in base64", [
      { path: "/model", message: "is not base64" },
    ]);
  }
  return Buffer.from(compact, "base64");
}

export function onnxRoutes(ctx: ServerContext, producerVersion = "") {
  // The file travels base64-encoded in JSON: 4/3 of the upload limit, plus room for the schema.
  const bodyLimit = Math.ceil((ctx.config.uploadLimit * 4) / 3) + 4 * 1024 * 1024;

  return async (app: FastifyInstance) => {
    app.post<{ Body: ImportBody }>(
      "/v1/models/import",
      {
        bodyLimit,
        schema: {
          tags: ["models"],
          summary: "Import an ONNX model with its input schema as a new model version",
          description:
            "The model's single input must be a float32 or float64 [N, F] tensor taking the encoded columns in the schema's order: numbers as they are, booleans 0/1, datetimes as 5 numbers (year, month, day, weekday, hour), categories as the index of the level in `levels` (any other value: levels.length), missing as NaN. Classification models give probabilities [N, K] in the order of `classes` (binary: also [N, 1] = probability of the second class); regression models give [N, 1]. Publish the imported version with POST /v1/apps like any other model. Files exported by Ballast carry their schema, so `schema` may be left out for them.",
          body: {
            type: "object",
            additionalProperties: false,
            required: ["name", "model"],
            properties: {
              name: {
                type: "string",
                minLength: 1,
                description: "Model name (a new version is added if it exists)",
              },
              model: {
                type: "string",
                contentEncoding: "base64",
                contentMediaType: "application/octet-stream",
                description: "The .onnx file, base64-encoded",
              },
              schema: ONNX_IMPORT_SCHEMA_JSON,
            },
          },
        },
      },
      async (request, reply) => {
        const principal = requirePermission(await ctx.authenticate(request.headers), "build");
        const body = request.body;
        validateModelName(body.name);
        const bytes = decodeBase64(body.model);
        if (bytes.length > ctx.config.uploadLimit) {
          throw new ApiError(
            413,
            "file_too_large",
            `The file is larger than the ${ctx.config.uploadLimit}-byte limit`,
          );
        }
        let prepared: Awaited<ReturnType<typeof prepareOnnxImport>>;
        try {
          prepared = await prepareOnnxImport(bytes, body.schema);
        } catch (error) {
          if (error instanceof OnnxImportError) {
            throw BAD_REQUEST_CODES.has(error.code)
              ? badRequest(error.code, error.message, error.details)
              : unprocessable(error.code, error.message, error.details);
          }
          throw error;
        }
        const version = await ctx.registerImportedModel(
          principal.workspaceId,
          body.name,
          prepared.artifact,
        );
        const meta = prepared.meta;
        const dto: ImportedModelDto = {
          model: ctx.modelVersionDto(version),
          onnx: {
            input: meta.input,
            output: meta.output,
            inputType: meta.inputType,
            layout: meta.layout,
            features: featureCount(prepared.artifact.header.recipe),
            sha256: meta.sha256,
            producer: meta.producer,
          },
        };
        return reply.code(201).send(dto);
      },
    );

    app.get<{ Params: { ref: string }; Querystring: { format?: "onnx" } }>(
      "/v1/models/:ref/export",
      {
        schema: {
          tags: ["models"],
          summary: "Download a model version as an ONNX file",
          description:
            "GBDT and linear models become ai.onnx.ml TreeEnsemble / standard-operator graphs whose input is the encoded feature vector (float32 [N, F]; see the file's doc string and metadata); an imported model returns its original file.",
          params: {
            type: "object",
            properties: { ref: { type: "string", description: "Model id, name or name@version" } },
            required: ["ref"],
          },
          querystring: {
            type: "object",
            additionalProperties: false,
            properties: { format: { type: "string", enum: ["onnx"], default: "onnx" } },
          },
          response: {
            200: {
              description: "The .onnx file",
              content: {
                "application/octet-stream": { schema: { type: "string", format: "binary" } },
              },
            },
          },
        },
      },
      async (request, reply) => {
        const principal = requirePermission(await ctx.authenticate(request.headers), "build");
        const version = await ctx.findModelVersion(principal.workspaceId, request.params.ref);
        if (!version) throw notFound("Model", request.params.ref);
        const artifact = await ctx.modelArtifact(version);
        let bytes: Uint8Array;
        if (artifact.model.learner === ONNX_LEARNER) {
          bytes = onnxBytesOf(artifact);
        } else {
          try {
            bytes = exportArtifactToOnnx(artifact, {
              name: `${version.modelName}@${version.version}`,
              producerVersion,
            });
          } catch (error) {
            if (error instanceof OnnxExportError)
              throw unprocessable("export_unsupported", error.message);
            throw error;
          }
        }
        const fileName = `${version.modelName}-${version.version}.onnx`;
        return reply
          .header("content-type", "application/octet-stream")
          .header("content-disposition", `attachment; filename="${fileName}"`)
          .send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      },
    );
  };
}
