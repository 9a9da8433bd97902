/**
 * The model artifact: one self-describing binary file, content-addressed on disk.
 *
 * Layout (all integers little-endian):
 *
 * | bytes       | content                                                   |
 * |-------------|-----------------------------------------------------------|
 * | 0..7        | magic `BALLAST\0`                                         |
 * | 8..11       | u32 format version (currently 1)                          |
 * | 12..15      | u32 header length H in bytes                              |
 * | 16..16+H    | header: UTF-8 JSON ({@link ArtifactHeader})               |
 * | padding     | zero bytes up to a multiple of 8                          |
 * | arrays      | each typed array's raw bytes, each starting 8-aligned,    |
 * |             | at the offset its header entry gives (from the data start)|
 *
 * The header carries everything needed to serve and to explain the model (input schema,
 * fitted recipe, learner metadata, metrics, baseline statistics of the training data); the
 * arrays carry the numbers (tree nodes, coefficients). Identical models give identical bytes:
 * the header holds no timestamps (the registry records when a version was created).
 */
import type { ColumnSchema } from "../data/frame.ts";
import type { Recipe } from "../features/recipe.ts";
import type { SerializedModel, Task } from "../learn/types.ts";
import type { Baseline } from "./baseline.ts";
import type { TrainingReport } from "./report-types.ts";

export const ARTIFACT_MAGIC = "BALLAST\0";
export const ARTIFACT_FORMAT_VERSION = 1;

type ArrayDtype = "f64" | "f32" | "i32" | "u8" | "u32";
type AnyTypedArray = SerializedModel["arrays"][string];

interface ArrayEntry {
  readonly name: string;
  readonly dtype: ArrayDtype;
  /** Byte offset from the start of the array section. */
  readonly offset: number;
  readonly length: number;
}

/** What training recorded about how the model was chosen, for the report. */
export interface TrainingSummary {
  readonly dataset?: { readonly id?: string; readonly name: string; readonly rows: number };
  readonly metric: string;
  readonly cv: Record<string, number>;
  readonly holdout: Record<string, number>;
  readonly chosen: { readonly learner: string; readonly params: Record<string, unknown> };
  readonly candidates: readonly {
    readonly learner: string;
    readonly params: Record<string, unknown>;
    readonly cvScore: number;
    readonly fitMs: number;
  }[];
  /** Per-feature importance of the final model, normalized to sum to 1, largest first. */
  readonly importance: readonly { readonly feature: string; readonly importance: number }[];
  /**
   * Mean |SHAP value| per feature of the final model over `rows` evenly spaced training rows,
   * largest first: how far each feature moves a typical prediction, in the model's raw-margin
   * units (log-odds for binary; summed over classes' softmax inputs for multiclass; target
   * units for regression, or log units for log-link models). Absent when the model cannot
   * explain its predictions or is too large to explain within the training step's budget, and
   * in artifacts written before explanations existed.
   */
  readonly shapImportance?: {
    readonly rows: number;
    readonly features: readonly { readonly feature: string; readonly importance: number }[];
  };
  /** Hold-out charts and sample predictions (src/models/report.ts); absent in older artifacts. */
  readonly report?: TrainingReport;
}

export interface ArtifactHeader {
  readonly kind: "ballast-model";
  readonly task: Task;
  /** The columns a caller sends (the recipe's inputs), with their training types. */
  readonly inputSchema: readonly ColumnSchema[];
  readonly recipe: Recipe;
  readonly learner: { readonly name: string; readonly meta: Record<string, unknown> };
  readonly training: TrainingSummary;
  readonly baseline: Baseline;
}

export interface ModelArtifact {
  readonly header: ArtifactHeader;
  readonly model: SerializedModel;
}

export class ArtifactError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ArtifactError";
  }
}

function dtypeOf(array: AnyTypedArray): ArrayDtype {
  if (array instanceof Float64Array) return "f64";
  if (array instanceof Float32Array) return "f32";
  if (array instanceof Int32Array) return "i32";
  if (array instanceof Uint32Array) return "u32";
  return "u8";
}

function align8(n: number): number {
  return (n + 7) & ~7;
}

/** Write an artifact to bytes. */
export function encodeArtifact(artifact: ModelArtifact): Uint8Array {
  const names = Object.keys(artifact.model.arrays).sort();
  const entries: ArrayEntry[] = [];
  let offset = 0;
  for (const name of names) {
    const array = artifact.model.arrays[name] as AnyTypedArray;
    entries.push({ name, dtype: dtypeOf(array), offset, length: array.length });
    offset = align8(offset + array.byteLength);
  }
  const header = {
    ...artifact.header,
    learner: { name: artifact.model.learner, meta: artifact.model.meta },
    arrays: entries,
  };
  const headerBytes = new TextEncoder().encode(JSON.stringify(header));
  const dataStart = align8(16 + headerBytes.length);
  const out = new Uint8Array(dataStart + offset);
  out.set(new TextEncoder().encode(ARTIFACT_MAGIC), 0);
  const view = new DataView(out.buffer);
  view.setUint32(8, ARTIFACT_FORMAT_VERSION, true);
  view.setUint32(12, headerBytes.length, true);
  out.set(headerBytes, 16);
  for (const entry of entries) {
    const array = artifact.model.arrays[entry.name] as AnyTypedArray;
    out.set(
      new Uint8Array(array.buffer, array.byteOffset, array.byteLength),
      dataStart + entry.offset,
    );
  }
  return out;
}

/** Read an artifact from bytes, checking magic, version and bounds. */
export function decodeArtifact(bytes: Uint8Array): ModelArtifact {
  if (bytes.length < 16) throw new ArtifactError("Not a Ballast model: the file is too short");
  const magic = new TextDecoder().decode(bytes.subarray(0, 8));
  if (magic !== ARTIFACT_MAGIC) throw new ArtifactError("Not a Ballast model: wrong magic bytes");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version !== ARTIFACT_FORMAT_VERSION) {
    throw new ArtifactError(`Unsupported model format version ${version}`);
  }
  const headerLength = view.getUint32(12, true);
  if (16 + headerLength > bytes.length) throw new ArtifactError("Truncated model header");
  const parsed = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + headerLength))) as
    | (ArtifactHeader & { arrays: ArrayEntry[] })
    | undefined;
  if (parsed?.kind !== "ballast-model") throw new ArtifactError("Not a Ballast model header");
  const dataStart = align8(16 + headerLength);
  const arrays: Record<string, AnyTypedArray> = {};
  for (const entry of parsed.arrays) {
    const start = dataStart + entry.offset;
    const size = entry.length * bytesPer(entry.dtype);
    if (start + size > bytes.length) throw new ArtifactError(`Truncated array ${entry.name}`);
    // Copy into a fresh, aligned buffer so the arrays don't pin the file's bytes. (Not
    // bytes.slice: on a Node Buffer that is a view into a shared pool, not a copy.)
    const copy = new Uint8Array(size);
    copy.set(bytes.subarray(start, start + size));
    arrays[entry.name] = makeArray(entry.dtype, copy.buffer);
  }
  const { arrays: _entries, ...header } = parsed;
  return {
    header,
    model: { learner: header.learner.name, meta: header.learner.meta, arrays },
  };
}

function bytesPer(dtype: ArrayDtype): number {
  return dtype === "f64" ? 8 : dtype === "u8" ? 1 : 4;
}

function makeArray(dtype: ArrayDtype, buffer: ArrayBuffer): AnyTypedArray {
  switch (dtype) {
    case "f64":
      return new Float64Array(buffer);
    case "f32":
      return new Float32Array(buffer);
    case "i32":
      return new Int32Array(buffer);
    case "u32":
      return new Uint32Array(buffer);
    case "u8":
      return new Uint8Array(buffer);
  }
}
