/**
 * The input and output contract of a published app, as JSON Schema derived from the training
 * schema: the same document validates requests, feeds OpenAPI and generates the Studio's form.
 */
import type { Recipe, RecipeInput } from "../features/recipe.ts";
import type { AppSpec } from "./app-spec.ts";

export type JsonSchema = Record<string, unknown>;

function fieldSchema(input: RecipeInput, spec: AppSpec): JsonSchema {
  let schema: JsonSchema;
  switch (input.kind) {
    case "number":
      schema = { type: "number" };
      break;
    case "boolean": {
      const spellings = input.labels ? [...input.labels] : [];
      schema = {
        description: `true/false${input.labels ? ` (or "${input.labels[1]}"/"${input.labels[0]}")` : ""}, or 1/0`,
        enum: [true, false, 1, 0, ...spellings],
      };
      break;
    }
    case "category":
      schema =
        spec.contract.unknownCategories === "reject"
          ? { type: "string", enum: [...input.levels] }
          : {
              type: "string",
              description: "A category; values not seen in training are scored as 'unknown'",
              examples: input.levels.slice(0, 10),
              "x-ballast-categories": [...input.levels],
            };
      break;
    case "datetime":
      schema = {
        type: "string",
        description: "An ISO-8601 date or date-time",
        anyOf: [{ format: "date-time" }, { format: "date" }],
      };
      break;
  }
  if (input.nullable) {
    // Both: a nullable category with an enum also says its type may be null.
    if (Array.isArray(schema.enum)) schema = { ...schema, enum: [...schema.enum, null] };
    if (typeof schema.type === "string") schema = { ...schema, type: [schema.type, "null"] };
  }
  return schema;
}

/** JSON Schema of one input record. Fields that were never missing in training are required. */
export function recordSchema(recipe: Recipe, spec: AppSpec): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  const required: string[] = [];
  for (const input of recipe.inputs) {
    // Defined, not assigned: a column named "__proto__" must be a field, not a prototype.
    Object.defineProperty(properties, input.column, {
      value: fieldSchema(input, spec),
      enumerable: true,
      writable: true,
      configurable: true,
    });
    if (!input.nullable) required.push(input.column);
  }
  return { type: "object", additionalProperties: false, required, properties };
}

/** Request body: one record, or `{ "rows": [record, ...] }`. */
export function requestSchema(recipe: Recipe, spec: AppSpec): JsonSchema {
  const record = recordSchema(recipe, spec);
  return {
    oneOf: [
      record,
      {
        type: "object",
        additionalProperties: false,
        required: ["rows"],
        properties: {
          rows: { type: "array", minItems: 1, maxItems: spec.limits.maxRows, items: record },
        },
      },
    ],
  };
}

function predictionSchema(recipe: Recipe): JsonSchema {
  const classes = recipe.target.classes;
  if (!classes) return { type: "object", properties: { prediction: { type: "number" } } };
  const probabilities: Record<string, JsonSchema> = {};
  for (const c of classes) probabilities[c] = { type: "number", minimum: 0, maximum: 1 };
  return {
    type: "object",
    required: ["prediction", "probabilities"],
    properties: {
      prediction: { type: "string", enum: [...classes] },
      probabilities: { type: "object", properties: probabilities },
    },
  };
}

/** The `explanation` a prediction carries when the request asks for it with `?explain=true`. */
function explanationSchema(recipe: Recipe): JsonSchema {
  const contributions: Record<string, JsonSchema> = {};
  for (const input of recipe.inputs) contributions[input.column] = { type: "number" };
  const classes = recipe.target.classes;
  return {
    type: "object",
    description:
      "Only with ?explain=true. Exact SHAP values: base + the sum of contributions is the model's score on `scale`: log-odds of `class` (binary: the positive class), the softmax input of `class` (multiclass: the predicted class), the prediction itself (raw) or its natural log (log).",
    required: ["scale", "base", "contributions"],
    properties: {
      ...(classes ? { class: { type: "string", enum: [...classes] } } : {}),
      scale: { type: "string", enum: ["log-odds", "softmax-logit", "raw", "log"] },
      base: { type: "number", description: "The expected score over the training data" },
      contributions: {
        type: "object",
        description: "Per input column (a date's parts are summed into its column)",
        properties: contributions,
      },
    },
  };
}

/** Response body for single-record and batch requests. */
export function responseSchema(recipe: Recipe): JsonSchema {
  const prediction = predictionSchema(recipe);
  const one = {
    ...prediction,
    properties: {
      ...(prediction.properties as object),
      explanation: explanationSchema(recipe),
    },
  };
  const envelope = {
    request_id: { type: "string" },
    app: { type: "string" },
    app_version: { type: "integer" },
    model: {
      type: "object",
      properties: { name: { type: "string" }, version: { type: "integer" } },
    },
  };
  return {
    oneOf: [
      { type: "object", properties: { ...envelope, ...(one.properties as object) } },
      {
        type: "object",
        properties: { ...envelope, predictions: { type: "array", items: one } },
      },
    ],
  };
}
