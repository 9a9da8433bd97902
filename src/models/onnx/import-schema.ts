/**
 * The declared input schema of an imported ONNX model: the columns a caller sends (with their
 * types and category levels), the task and class labels, and which tensors to feed and read.
 * It becomes a Recipe, so an imported model gets the same request contract, validation and
 * encoding as a model Ballast trained; the model's input tensor is exactly the Recipe's
 * encoded feature vector (see CONTEXT.md).
 */
import { Ajv } from "ajv";
import type { ColumnSchema } from "../../data/frame.ts";
import type { Recipe, RecipeInput } from "../../features/recipe.ts";
import { recipeFeatures } from "../../features/recipe.ts";
import type { TaskKind } from "../../learn/types.ts";

/** One input column of an imported model. */
export interface OnnxImportColumn {
  readonly name: string;
  readonly type: "number" | "boolean" | "category" | "datetime";
  /** Whether callers may leave it out or send null (encoded as NaN). Default false. */
  readonly nullable?: boolean;
  /** category: the known levels; level i is encoded as i, anything else as levels.length. */
  readonly levels?: readonly string[];
  /** boolean: extra spellings accepted for [false, true], e.g. ["No", "Yes"]. */
  readonly labels?: readonly [string, string];
}

/** What `POST /v1/models/import` and `ballast models import --schema` take. */
export interface OnnxImportSchema {
  readonly task: TaskKind;
  /** Name of what the model predicts (shown in the registry). Default "prediction". */
  readonly target?: string;
  /** Class labels in the order of the model's probability columns (classification). */
  readonly classes?: readonly string[];
  readonly columns: readonly OnnxImportColumn[];
  /** The input tensor to feed; default: the model's only input. */
  readonly input?: string;
  /**
   * The output tensor to read: probabilities [N, K] (or [N, 1] / [N] with the probability of
   * the second class for binary) for classification, values [N, 1] or [N] for regression.
   * Default: "probabilities" / "variable" when the model has it, else its only float output.
   */
  readonly output?: string;
}

/** A problem with a declared schema or an ONNX file, naming where it is. */
export class OnnxImportError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details: readonly { readonly path: string; readonly message: string }[] = [],
  ) {
    super(message);
    this.name = "OnnxImportError";
  }
}

/** JSON Schema of {@link OnnxImportSchema}, for request validation and the OpenAPI document. */
export const ONNX_IMPORT_SCHEMA_JSON = {
  type: "object",
  additionalProperties: false,
  required: ["task", "columns"],
  properties: {
    task: { enum: ["binary", "multiclass", "regression"] },
    target: { type: "string", minLength: 1, maxLength: 200 },
    classes: {
      type: "array",
      items: { type: "string" },
      minItems: 2,
      maxItems: 1000,
      description: "Class labels in the order of the model's probability columns",
    },
    columns: {
      type: "array",
      minItems: 1,
      maxItems: 10000,
      description:
        "The columns a caller sends, in the order of the model's input features (datetime columns take 5: year, month, day, weekday, hour)",
      items: {
        type: "object",
        additionalProperties: false,
        required: ["name", "type"],
        properties: {
          name: { type: "string", minLength: 1, maxLength: 200 },
          type: { enum: ["number", "boolean", "category", "datetime"] },
          nullable: { type: "boolean" },
          levels: {
            type: "array",
            items: { type: "string" },
            maxItems: 100000,
            description: "category: level i is encoded as i; any other value as levels.length",
          },
          labels: {
            type: "array",
            items: { type: "string" },
            minItems: 2,
            maxItems: 2,
            description: "boolean: spellings of [false, true]",
          },
        },
      },
    },
    input: { type: "string", minLength: 1, description: "Input tensor name" },
    output: { type: "string", minLength: 1, description: "Output tensor name" },
  },
} as const;

const validateShape = new Ajv({ allErrors: true, strict: false }).compile(ONNX_IMPORT_SCHEMA_JSON);

/** Check a parsed JSON value is a usable schema; throws OnnxImportError naming each problem. */
export function parseImportSchema(value: unknown): OnnxImportSchema {
  if (!validateShape(value)) {
    const details = (validateShape.errors ?? []).map((e) => {
      const extra =
        e.keyword === "additionalProperties"
          ? `/${String((e.params as { additionalProperty?: string }).additionalProperty)}`
          : e.keyword === "required"
            ? `/${String((e.params as { missingProperty?: string }).missingProperty)}`
            : "";
      const message =
        e.keyword === "additionalProperties"
          ? "is not a schema field"
          : e.keyword === "required"
            ? "is required"
            : (e.message ?? "is invalid");
      return { path: `/schema${e.instancePath}${extra}`, message };
    });
    const first = details[0];
    throw new OnnxImportError(
      "invalid_schema",
      first ? `The schema is invalid: ${first.path} ${first.message}` : "The schema is invalid",
      details,
    );
  }
  const schema = value as OnnxImportSchema;
  const problems: { path: string; message: string }[] = [];
  const seen = new Set<string>();
  schema.columns.forEach((c, i) => {
    if (seen.has(c.name))
      problems.push({ path: `/schema/columns/${i}/name`, message: `${c.name} appears twice` });
    seen.add(c.name);
    if (c.type === "category") {
      if (!c.levels)
        problems.push({
          path: `/schema/columns/${i}/levels`,
          message: "is required for a category",
        });
      else if (new Set(c.levels).size !== c.levels.length)
        problems.push({ path: `/schema/columns/${i}/levels`, message: "has duplicate levels" });
    } else if (c.levels) {
      problems.push({ path: `/schema/columns/${i}/levels`, message: `only a category has levels` });
    }
    if (c.labels && c.type !== "boolean")
      problems.push({ path: `/schema/columns/${i}/labels`, message: "only a boolean has labels" });
  });
  const classes = schema.classes;
  if (schema.task === "regression" && classes)
    problems.push({ path: "/schema/classes", message: "a regression model has no classes" });
  if (schema.task === "binary" && classes?.length !== 2)
    problems.push({ path: "/schema/classes", message: "a binary model needs exactly 2 classes" });
  if (schema.task === "multiclass" && !(classes && classes.length >= 3))
    problems.push({
      path: "/schema/classes",
      message: "a multiclass model needs 3 or more classes",
    });
  if (classes && new Set(classes).size !== classes.length)
    problems.push({ path: "/schema/classes", message: "has duplicate labels" });
  const first = problems[0];
  if (first)
    throw new OnnxImportError(
      "invalid_schema",
      `The schema is invalid: ${first.path} ${first.message}`,
      problems,
    );
  return schema;
}

/** The Recipe an imported model's requests go through (no columns are excluded). */
export function recipeFromSchema(schema: OnnxImportSchema): Recipe {
  const inputs = schema.columns.map((c): RecipeInput => {
    const nullable = c.nullable ?? false;
    switch (c.type) {
      case "number":
      case "datetime":
        return { column: c.name, kind: c.type, nullable };
      case "boolean":
        return c.labels
          ? { column: c.name, kind: "boolean", nullable, labels: [c.labels[0], c.labels[1]] }
          : { column: c.name, kind: "boolean", nullable };
      default:
        return { column: c.name, kind: "category", nullable, levels: [...(c.levels ?? [])] };
    }
  });
  const column = schema.target ?? "prediction";
  return {
    formatVersion: 1,
    target: schema.classes
      ? { column, task: schema.task, classes: [...schema.classes] }
      : { column, task: schema.task },
    inputs,
    excluded: [],
  };
}

/** The import schema that describes a Recipe (what the exporter embeds in its metadata). */
export function schemaFromRecipe(recipe: Recipe): OnnxImportSchema {
  return {
    task: recipe.target.task,
    target: recipe.target.column,
    ...(recipe.target.classes ? { classes: [...recipe.target.classes] } : {}),
    columns: recipe.inputs.map((input): OnnxImportColumn => {
      const base = { name: input.column, type: input.kind, nullable: input.nullable };
      if (input.kind === "category") return { ...base, levels: [...input.levels] };
      if (input.kind === "boolean" && input.labels)
        return { ...base, labels: [input.labels[0], input.labels[1]] };
      return base;
    }),
  };
}

/** The input schema shown for the model (the registry's `inputs`), from the declared columns. */
export function columnSchemas(schema: OnnxImportSchema): ColumnSchema[] {
  return schema.columns.map((c) => ({
    name: c.name,
    type: c.type,
    nullable: c.nullable ?? false,
    ...(c.labels ? { labels: [c.labels[0], c.labels[1]] as const } : {}),
  }));
}

/** How many features the declared columns encode to (the input tensor's width). */
export function featureCount(recipe: Recipe): number {
  return recipeFeatures(recipe).length;
}
