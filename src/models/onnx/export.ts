/**
 * Export a Ballast model (GBDT, linear, or either inside the log-target wrapper) to a
 * self-describing ONNX file that onnxruntime and other ONNX runtimes can serve.
 *
 * The graph's input `input` is the Recipe's encoded feature vector: float32 [N, F], numbers as
 * they are, booleans 0/1, datetimes as 5 parts, categories as the Recipe's codes (the level's
 * position in the recipe; any other value → levels.length), missing as NaN. Outputs: `label`
 * (string [N], the class name) and `probabilities` (float [N, K], one column per class in the
 * Recipe's order) for classifiers, `variable` (float [N, 1]) for regressors. The feature names,
 * the Recipe and an import schema travel in `metadata_props`, so the file documents how to
 * feed it and Ballast can import it back without a separate schema file.
 */
import type { Recipe } from "../../features/recipe.ts";
import { recipeFeatures } from "../../features/recipe.ts";
import { GbdtModel, LinearModel, loadModel } from "../../learn/index.ts";
import { LogTargetModel } from "../../learn/log-target.ts";
import type { TrainedModel } from "../../learn/types.ts";
import type { ModelArtifact } from "../artifact.ts";
import {
  INPUT_NAME,
  LABEL_OUTPUT,
  ML_DOMAIN,
  ML_OPSET,
  OPSET,
  PROBABILITIES_OUTPUT,
  VALUE_OUTPUT,
} from "./export-common.ts";
import { addGbdt } from "./export-gbdt.ts";
import { addLinear } from "./export-linear.ts";
import { GraphBuilder, makeModel, tensorInfo } from "./graph-builder.ts";
import { schemaFromRecipe } from "./import-schema.ts";
import { DataType, encodeModel, type StringStringEntryProto } from "./onnx-proto.ts";

/** Keys of the metadata the exporter writes (and the importer reads back). */
export const METADATA = {
  format: "ballast.format",
  task: "ballast.task",
  classes: "ballast.classes",
  featureNames: "ballast.feature_names",
  recipe: "ballast.recipe",
  importSchema: "ballast.import_schema",
  learner: "ballast.learner",
} as const;

/** Value of the `ballast.format` metadata entry. */
export const EXPORT_FORMAT = "ballast-onnx/1";

export interface OnnxExportOptions {
  /** Shown as the graph name and in the doc string, e.g. "churn@3". */
  readonly name?: string;
  /** Ballast's version, recorded as the producer version. */
  readonly producerVersion?: string;
}

/** Thrown for a model the exporter cannot represent (named in the message). */
export class OnnxExportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "OnnxExportError";
  }
}

/** Export a decoded model artifact. */
export function exportArtifactToOnnx(
  artifact: ModelArtifact,
  options: OnnxExportOptions = {},
): Uint8Array {
  if (artifact.model.learner === "onnx")
    throw new OnnxExportError("This model was imported from ONNX; export its original file");
  return exportModelToOnnx(loadModel(artifact.model), artifact.header.recipe, options);
}

/** Export a trained model and the Recipe that encodes its inputs. */
export function exportModelToOnnx(
  model: TrainedModel,
  recipe: Recipe,
  options: OnnxExportOptions = {},
): Uint8Array {
  const features = recipeFeatures(recipe);
  const task = model.task;
  const classes =
    task.kind === "regression"
      ? []
      : (recipe.target.classes ?? Array.from({ length: task.classCount }, (_, i) => String(i)));
  if (task.kind !== "regression" && classes.length !== task.classCount)
    throw new OnnxExportError(
      `The recipe names ${classes.length} classes but the model predicts ${task.classCount}`,
    );

  const g = new GraphBuilder(options.name ?? "ballast");
  g.reserve(INPUT_NAME, LABEL_OUTPUT, PROBABILITIES_OUTPUT, VALUE_OUTPUT);
  let inner = model;
  let exp = false;
  if (inner instanceof LogTargetModel) {
    inner = inner.inner;
    exp = true;
  }
  let value: string | undefined;
  if (inner instanceof GbdtModel) {
    checkWidth(inner.features.length, features.length);
    value = addGbdt(g, inner, INPUT_NAME, classes);
  } else if (inner instanceof LinearModel) {
    checkWidth(inner.features.length, features.length);
    value = addLinear(g, inner, INPUT_NAME, classes);
  } else {
    throw new OnnxExportError(`Models of learner "${model.learner}" cannot be exported to ONNX`);
  }

  const outputs =
    task.kind === "regression"
      ? [tensorInfo(VALUE_OUTPUT, DataType.FLOAT, ["N", 1])]
      : [
          tensorInfo(LABEL_OUTPUT, DataType.STRING, ["N"]),
          tensorInfo(PROBABILITIES_OUTPUT, DataType.FLOAT, ["N", classes.length]),
        ];
  if (task.kind === "regression") {
    if (value === undefined) throw new Error("regression export produced no value");
    g.op(exp ? "Exp" : "Identity", [value], [], VALUE_OUTPUT);
  }
  const graph = g.build([tensorInfo(INPUT_NAME, DataType.FLOAT, ["N", features.length])], outputs);

  const metadata: StringStringEntryProto[] = [
    { key: METADATA.format, value: EXPORT_FORMAT },
    { key: METADATA.task, value: task.kind },
    { key: METADATA.learner, value: model.learner },
    { key: METADATA.featureNames, value: JSON.stringify(features.map((f) => f.name)) },
    { key: METADATA.recipe, value: JSON.stringify(recipe) },
    { key: METADATA.importSchema, value: JSON.stringify(schemaFromRecipe(recipe)) },
  ];
  if (task.kind !== "regression")
    metadata.push({ key: METADATA.classes, value: JSON.stringify(classes) });
  return encodeModel(
    makeModel(
      graph,
      { "": OPSET, [ML_DOMAIN]: ML_OPSET },
      {
        producerName: "ballast",
        producerVersion: options.producerVersion ?? "",
        docString: docString(
          recipe,
          task.kind,
          features.map((f) => f.name),
        ),
        metadataProps: metadata,
      },
    ),
  );
}

function checkWidth(modelWidth: number, recipeWidth: number): void {
  if (modelWidth !== recipeWidth)
    throw new OnnxExportError(
      `The model reads ${modelWidth} features but its recipe encodes ${recipeWidth}`,
    );
}

function docString(recipe: Recipe, task: string, names: readonly string[]): string {
  const lines = [
    `Ballast ${task} model predicting ${recipe.target.column}.`,
    `Input "${INPUT_NAME}": float32 [N, ${names.length}], one row per record, features in this order: ${names.join(", ")}.`,
    "Numbers as they are; booleans 0/1; categories as their code in the recipe (metadata ballast.recipe: the level's index in `levels`, any other value = levels.length); missing = NaN.",
    task === "regression"
      ? `Output "${VALUE_OUTPUT}": float [N, 1].`
      : `Outputs "${LABEL_OUTPUT}": string [N]; "${PROBABILITIES_OUTPUT}": float [N, K] in the order of ballast.classes.`,
  ];
  return lines.join("\n");
}
