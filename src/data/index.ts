/**
 * The data stage: files in, Frame + Schema + Profile out. Later stages import from here only.
 */
export * from "./frame.ts";
export {
  applyTypeOverrides,
  type BooleanSpelling,
  booleanLabels,
  type ColumnStats,
  hasMissingValues,
  INFERENCE_THRESHOLDS,
  inferColumnType,
  inferStringType,
  looksLikeIdName,
  parseBooleanSpelling,
  parseDatetimeText,
  parseNumberText,
  type StorageKind,
  schemaOfFrame,
  storageKind,
} from "./infer-schema.ts";
export {
  detectFormat,
  FILE_FORMATS,
  type FileFormat,
  type Ingested,
  type IngestOptions,
  ingestFile,
  MISSING_SPELLINGS,
} from "./ingest.ts";
export { IngestError, type IngestErrorCode, isIngestError } from "./ingest-error.ts";
export { HISTOGRAM_BINS, profileColumn, profileFrame, TOP_VALUES } from "./profile.ts";
export { ENUM_MAX_LEVELS, type ReadTableOptions, readDuckDBTable } from "./read-duckdb-table.ts";
