/** ONNX interop: export Ballast models to ONNX, import ONNX models to serve. See CONTEXT.md. */

export {
  EXPORT_FORMAT,
  exportArtifactToOnnx,
  exportModelToOnnx,
  METADATA,
  OnnxExportError,
  type OnnxExportOptions,
} from "./export.ts";
export { float32SplitMismatches, float32Threshold } from "./export-gbdt.ts";
export {
  attr,
  floatTensor,
  GraphBuilder,
  int64Tensor,
  makeModel,
  stringTensor,
  tensorInfo,
} from "./graph-builder.ts";
export { embeddedSchema, type PreparedImport, prepareOnnxImport } from "./import.ts";
export {
  columnSchemas,
  ONNX_IMPORT_SCHEMA_JSON,
  type OnnxImportColumn,
  OnnxImportError,
  type OnnxImportSchema,
  parseImportSchema,
  recipeFromSchema,
  schemaFromRecipe,
} from "./import-schema.ts";
export {
  ONNX_LEARNER,
  OnnxPredictor,
  OnnxRunError,
  type OnnxServingMeta,
  onnxBytesOf,
} from "./onnx-predictor.ts";
export {
  DataType,
  decodeModel,
  encodeModel,
  type ModelProto,
  OnnxFormatError,
} from "./onnx-proto.ts";
