/**
 * The OpenAPI 3.1 document: the static API as @fastify/swagger collects it from the route
 * schemas, plus one path per published app with that app's exact input and output schema
 * (apps are published at run time, so they are added when the document is requested).
 */
import type { Recipe } from "../features/recipe.ts";
import type { AppSpec } from "../spec/app-spec.ts";
import { recordSchema, requestSchema, responseSchema } from "../spec/contract.ts";

export interface PublishedContract {
  readonly name: string;
  readonly version: number;
  readonly spec: AppSpec;
  readonly recipe: Recipe;
}

type OpenApiDocument = {
  paths?: Record<string, unknown>;
  components?: Record<string, unknown>;
} & Record<string, unknown>;

const errorResponse = {
  description: "Error",
  content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
};

export function withPublishedApps(
  base: OpenApiDocument,
  apps: readonly PublishedContract[],
): OpenApiDocument {
  const doc = structuredClone(base);
  const paths: Record<string, unknown> = { ...(doc.paths ?? {}) };
  const schemas: Record<string, unknown> = {
    ...((doc.components?.schemas as Record<string, unknown>) ?? {}),
    Error: {
      type: "object",
      required: ["error"],
      properties: {
        error: {
          type: "object",
          required: ["code", "message", "details"],
          properties: {
            code: { type: "string" },
            message: { type: "string" },
            details: {
              type: "array",
              items: {
                type: "object",
                properties: { path: { type: "string" }, message: { type: "string" } },
              },
            },
          },
        },
      },
    },
  };
  for (const app of apps) {
    const id = app.name.replace(/[^a-zA-Z0-9]/g, "_");
    schemas[`${id}_record`] = recordSchema(app.recipe, app.spec);
    paths[`/v1/apps/${app.name}/predict`] = {
      post: {
        tags: ["apps"],
        operationId: `predict_${id}`,
        summary: `Predict with ${app.name} (v${app.version}, ${app.recipe.target.task}, target ${app.recipe.target.column})`,
        security: [{ apiKey: [] }],
        parameters: [
          {
            name: "explain",
            in: "query",
            required: false,
            description: "Add each prediction's feature contributions (TreeSHAP for tree models)",
            schema: { type: "boolean", default: false },
          },
        ],
        requestBody: {
          required: true,
          content: { "application/json": { schema: requestSchema(app.recipe, app.spec) } },
        },
        responses: {
          "200": {
            description: "Predictions",
            content: { "application/json": { schema: responseSchema(app.recipe) } },
          },
          "400": errorResponse,
          "401": errorResponse,
          "403": errorResponse,
          "404": errorResponse,
          "413": errorResponse,
        },
      },
    };
  }
  return { ...doc, paths, components: { ...(doc.components ?? {}), schemas } };
}
