/**
 * Import: check an ONNX file against its declared schema and wrap both into a Ballast model
 * artifact (learner "onnx", the file's bytes kept verbatim as the artifact's `onnx` array).
 * Everything is checked before anything is registered: the file must decode and load in
 * onnxruntime, have one [N, F] float input whose width F matches the declared columns, and an
 * output whose shape fits the task; finally a test batch must run and give that shape.
 */
import { createHash } from "node:crypto";
import * as ort from "onnxruntime-node";
import type { Recipe } from "../../features/recipe.ts";
import type { Task } from "../../learn/types.ts";
import type { ArtifactHeader, ModelArtifact } from "../artifact.ts";
import { METADATA } from "./export.ts";
import {
  columnSchemas,
  featureCount,
  OnnxImportError,
  type OnnxImportSchema,
  parseImportSchema,
  recipeFromSchema,
} from "./import-schema.ts";
import {
  fetchOutput,
  ONNX_LEARNER,
  type OnnxServingMeta,
  type OutputLayout,
  SESSION_OPTIONS,
} from "./onnx-predictor.ts";
import { decodeModel, type ModelProto, OnnxFormatError } from "./onnx-proto.ts";

/** The outcome of a successful check: the artifact to store and what was learned on the way. */
export interface PreparedImport {
  readonly artifact: ModelArtifact;
  readonly schema: OnnxImportSchema;
  readonly meta: OnnxServingMeta;
}

type TensorMeta = ort.InferenceSession.TensorValueMetadata;

const FLOAT_TYPES = new Set(["float32", "float64"]);

function fail(code: string, message: string, path = "/model"): never {
  throw new OnnxImportError(code, message, [{ path, message }]);
}

/** The schema embedded by Ballast's exporter, if the file has one. */
export function embeddedSchema(model: ModelProto): unknown {
  const entry = model.metadataProps?.find((p) => p.key === METADATA.importSchema);
  if (!entry?.value) return undefined;
  try {
    return JSON.parse(entry.value);
  } catch {
    return undefined;
  }
}

function shapeText(shape: readonly (number | string)[]): string {
  return `[${shape.map((d) => (typeof d === "number" && d >= 0 ? String(d) : typeof d === "string" && d ? d : "?")).join(", ")}]`;
}

/** A fixed dimension's size, or undefined for a symbolic or unknown one. */
function fixed(d: number | string | undefined): number | undefined {
  return typeof d === "number" && d >= 0 ? d : undefined;
}

/**
 * Check `onnx` against `schemaValue` (the parsed JSON the caller declared; when undefined, the
 * schema Ballast's exporter embeds in its files) and build the model artifact.
 */
export async function prepareOnnxImport(
  onnx: Uint8Array,
  schemaValue: unknown,
): Promise<PreparedImport> {
  if (onnx.length === 0) fail("invalid_model", "The ONNX file is empty");
  let proto: ModelProto;
  try {
    proto = decodeModel(onnx);
  } catch (error) {
    if (error instanceof OnnxFormatError) fail("invalid_model", error.message);
    throw error;
  }
  if (!proto.graph) fail("invalid_model", "The file is not an ONNX model: it has no graph");
  const declared = schemaValue ?? embeddedSchema(proto);
  if (declared === undefined)
    fail(
      "schema_required",
      "Declare the model's input schema (columns, task, classes); only files exported by Ballast carry their own",
      "/schema",
    );
  const schema = parseImportSchema(declared);
  const recipe = recipeFromSchema(schema);
  const width = featureCount(recipe);

  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(onnx, SESSION_OPTIONS);
  } catch (error) {
    fail("invalid_model", `onnxruntime cannot load the model: ${(error as Error).message}`);
  }
  try {
    const input = pickInput(session, schema, width);
    const output = pickOutput(session, schema);
    checkOutputShape(output, schema);
    const perRow = await dryRun(session, input.meta, output.name, width, input.maxBatch);
    const layout = outputLayout(output.name, perRow, schema);
    const meta: OnnxServingMeta = {
      input: input.meta.name,
      output: output.name,
      inputType: input.meta.type as "float32" | "float64",
      maxBatch: input.maxBatch,
      layout,
      sha256: createHash("sha256").update(onnx).digest("hex"),
      producer: [proto.producerName, proto.producerVersion].filter(Boolean).join(" "),
    };
    return { artifact: makeArtifact(onnx, schema, recipe, meta, proto), schema, meta };
  } finally {
    await session.release();
  }
}

function tensorMetas(list: readonly ort.InferenceSession.ValueMetadata[]): TensorMeta[] {
  return list.filter((m): m is TensorMeta => m.isTensor);
}

function pickInput(
  session: ort.InferenceSession,
  schema: OnnxImportSchema,
  width: number,
): { meta: TensorMeta; maxBatch: number } {
  const all = session.inputMetadata;
  const names = all.map((m) => m.name);
  let chosen: ort.InferenceSession.ValueMetadata | undefined;
  if (schema.input !== undefined) {
    chosen = all.find((m) => m.name === schema.input);
    if (!chosen)
      fail(
        "input_not_found",
        `The model has no input named ${schema.input}; its inputs are: ${names.join(", ")}`,
        "/schema/input",
      );
  } else if (all.length === 1) {
    chosen = all[0];
  }
  if (all.length !== 1 || !chosen)
    fail(
      "unsupported_inputs",
      `The model has ${all.length} inputs (${names.join(", ")}); Ballast feeds one [N, F] float tensor, so the model must have exactly one input`,
    );
  if (!chosen.isTensor || !FLOAT_TYPES.has(chosen.type))
    fail(
      "unsupported_input_type",
      `The model's input ${chosen.name} is ${chosen.isTensor ? `a ${chosen.type} tensor` : "not a tensor"}; Ballast feeds float32 or float64`,
    );
  const shape = chosen.shape;
  if (shape.length !== 2)
    fail(
      "input_shape_mismatch",
      `The model's input ${chosen.name} has shape ${shapeText(shape)}; Ballast feeds [N, ${width}] (rows × features)`,
    );
  const columns = fixed(shape[1]);
  if (columns !== undefined && columns !== width)
    fail(
      "input_width_mismatch",
      `The model's input ${chosen.name} has ${columns} columns but the schema declares ${width} features (${describeWidth(schema)})`,
      "/schema/columns",
    );
  const batch = fixed(shape[0]);
  if (batch !== undefined && batch !== 1)
    fail(
      "input_shape_mismatch",
      `The model's input ${chosen.name} has a fixed batch size of ${batch}; it must be 1 or symbolic`,
    );
  return { meta: chosen, maxBatch: batch === 1 ? 1 : 0 };
}

function describeWidth(schema: OnnxImportSchema): string {
  const datetimes = schema.columns.filter((c) => c.type === "datetime").length;
  return datetimes > 0
    ? `${schema.columns.length} columns, ${datetimes} of them datetime with 5 features each`
    : `${schema.columns.length} columns`;
}

function pickOutput(session: ort.InferenceSession, schema: OnnxImportSchema): TensorMeta {
  const all = session.outputMetadata;
  const names = all.map((m) => m.name).join(", ");
  if (schema.output !== undefined) {
    const found = all.find((m) => m.name === schema.output);
    if (!found)
      fail(
        "output_not_found",
        `The model has no output named ${schema.output}; its outputs are: ${names}`,
        "/schema/output",
      );
    if (!found.isTensor || !FLOAT_TYPES.has(found.type))
      fail(
        "unsupported_output_type",
        `The model's output ${found.name} is ${found.isTensor ? `a ${found.type} tensor` : "not a tensor (a ZipMap? export without it)"}; Ballast reads float32 or float64`,
        "/schema/output",
      );
    return found;
  }
  const floats = tensorMetas(all).filter((m) => FLOAT_TYPES.has(m.type));
  const conventional = schema.task === "regression" ? "variable" : "probabilities";
  const chosen =
    floats.find((m) => m.name === conventional) ?? (floats.length === 1 ? floats[0] : undefined);
  if (!chosen)
    fail(
      "output_ambiguous",
      floats.length === 0
        ? `The model has no float tensor output (outputs: ${names})`
        : `The model has several float outputs (${floats.map((m) => m.name).join(", ")}); name the one to read in the schema's "output"`,
      "/schema/output",
    );
  return chosen;
}

/** Refuse output shapes that cannot fit the task, from the declared (static) shape. */
function checkOutputShape(output: TensorMeta, schema: OnnxImportSchema): void {
  const shape = output.shape;
  const k = schema.classes?.length ?? 0;
  const expected = schema.task === "regression" ? "[N, 1] or [N]" : `[N, ${k}]`;
  if (shape.length > 2)
    fail(
      "output_shape_mismatch",
      `The model's output ${output.name} has shape ${shapeText(shape)}; expected ${expected}`,
      "/schema/output",
    );
  const last = shape.length === 2 ? fixed(shape[1]) : undefined;
  if (last === undefined) return;
  if (schema.task === "regression" && last !== 1)
    fail(
      "output_shape_mismatch",
      `The model's output ${output.name} has ${last} columns; a regression model must give one value per row`,
      "/schema/output",
    );
  if (schema.task !== "regression" && last !== k && !(schema.task === "binary" && last === 1))
    fail(
      "output_width_mismatch",
      `The model's output ${output.name} has ${last} columns but the schema declares ${k} classes (${(schema.classes ?? []).join(", ")})`,
      "/schema/classes",
    );
}

/** How to read the output, from the values per row the test batch produced. */
function outputLayout(output: string, perRow: number, schema: OnnxImportSchema): OutputLayout {
  const k = schema.classes?.length ?? 0;
  if (schema.task === "regression") {
    if (perRow === 1) return "value";
    fail(
      "output_shape_mismatch",
      `The model's output ${output} gives ${perRow} values per row; a regression model must give one`,
      "/schema/output",
    );
  }
  if (perRow === k) return "classes";
  if (schema.task === "binary" && perRow === 1) return "positive";
  fail(
    "output_width_mismatch",
    `The model's output ${output} gives ${perRow} values per row but the schema declares ${k} classes (${(schema.classes ?? []).join(", ")})`,
    "/schema/classes",
  );
}

function makeArtifact(
  onnx: Uint8Array,
  schema: OnnxImportSchema,
  recipe: Recipe,
  meta: OnnxServingMeta,
  proto: ModelProto,
): ModelArtifact {
  const task: Task = {
    kind: schema.task,
    classCount: schema.task === "regression" ? 0 : (schema.classes?.length ?? 0),
  };
  const header: ArtifactHeader = {
    kind: "ballast-model",
    task,
    inputSchema: columnSchemas(schema),
    recipe,
    learner: { name: ONNX_LEARNER, meta: {} },
    training: {
      metric: "none",
      cv: {},
      holdout: {},
      chosen: {
        learner: ONNX_LEARNER,
        params: {
          producer: meta.producer || "unknown",
          opsets: (proto.opsetImport ?? []).map(
            (o) => `${o.domain || "ai.onnx"}:${o.version ?? 0}`,
          ),
          input: meta.input,
          output: meta.output,
        },
      },
      candidates: [],
      importance: [],
    },
    baseline: { rows: 0, features: [] },
  };
  // A copy, so the artifact does not pin (or alias) the caller's buffer.
  const bytes = new Uint8Array(onnx.length);
  bytes.set(onnx);
  return {
    header,
    model: {
      learner: ONNX_LEARNER,
      meta: { ...meta },
      arrays: { onnx: bytes },
    },
  };
}

/**
 * Run a small batch of zeros through the model so shape errors surface now, not when serving;
 * returns the output's values per row.
 */
async function dryRun(
  session: ort.InferenceSession,
  input: TensorMeta,
  output: string,
  width: number,
  maxBatch: number,
): Promise<number> {
  const rows = maxBatch === 1 ? 1 : 2;
  const data =
    input.type === "float64" ? new Float64Array(rows * width) : new Float32Array(rows * width);
  let tensor: ort.Tensor | undefined;
  try {
    const feeds = { [input.name]: new ort.Tensor(input.type, data, [rows, width]) };
    tensor = await fetchOutput(session, feeds, output);
  } catch (error) {
    fail(
      "model_check_failed",
      `The model does not run on a [${rows}, ${width}] input built from the schema: ${(error as Error).message}`,
    );
  }
  if (!tensor || !(tensor.data instanceof Float32Array || tensor.data instanceof Float64Array))
    fail(
      "unsupported_output_type",
      `The model's output ${output} is not a float tensor`,
      "/schema/output",
    );
  if (tensor.data.length % rows !== 0 || tensor.dims[0] !== rows)
    fail(
      "output_shape_mismatch",
      `For ${rows} input rows the model's output ${output} has shape [${tensor.dims.join(", ")}]; its first dimension must be the rows`,
      "/schema/output",
    );
  return tensor.data.length / rows;
}
