/**
 * A dataset's data as the Studio sees it: the stored file read again through DuckDB
 * (src/data/ingest.ts) with the dataset's column types applied. Paging through rows and
 * analyzing targets re-read the same file many times in a row, so recent frames are kept in
 * a small cache bounded by cells, keyed by the file's content hash and the types (a type
 * change is a new key, never a stale frame). Loads of the same key share one read.
 */
import type { ColumnType, Frame, Profile, Schema } from "../data/frame.ts";
import {
  applyTypeOverrides,
  FILE_FORMATS,
  type FileFormat,
  ingestFile,
  profileFrame,
} from "../data/index.ts";
import type { Dataset } from "../registry/dataset-repository.ts";
import type { BlobStore } from "../store/blob-store.ts";

/** Most cells (rows × columns) kept in memory across cached frames. */
const CACHE_CELLS = 10_000_000;

export interface DatasetData {
  readonly frame: Frame;
  readonly schema: Schema;
}

export interface Reread extends DatasetData {
  readonly profile: Profile;
}

/** The column types a dataset was stored with (inference plus a person's overrides). */
export function storedTypes(dataset: Pick<Dataset, "schema">): Record<string, ColumnType> {
  const types: Record<string, ColumnType> = {};
  for (const c of dataset.schema.columns) types[c.name] = c.type;
  return types;
}

/**
 * An import with a person's column types applied and the profile redone for what changed.
 * Throws IngestError `unknown_column` or `conversion_failed` naming the column.
 */
export function withTypes(ingested: Reread, types: Readonly<Record<string, ColumnType>>): Reread {
  const { frame, schema } = applyTypeOverrides(ingested.frame, types, ingested.schema);
  // Unchanged columns come back as the same objects: reprofile only when a type changed.
  const changed = frame.columns.some((c, i) => c !== ingested.frame.columns[i]);
  if (!changed) return { frame, schema, profile: ingested.profile };
  return { frame, schema, profile: profileFrame(frame) };
}

export class DatasetFrames {
  private readonly cache = new Map<string, Promise<DatasetData>>();
  private readonly cells = new Map<string, number>();

  constructor(private readonly blobs: BlobStore) {}

  /** The dataset's rows with its stored types applied. */
  load(dataset: Dataset): Promise<DatasetData> {
    const types = storedTypes(dataset);
    const key = `${dataset.blobSha256}:${dataset.format}:${JSON.stringify(types)}`;
    const hit = this.cache.get(key);
    if (hit) {
      // Most recently used last.
      this.cache.delete(key);
      this.cache.set(key, hit);
      return hit;
    }
    const loading = this.read(dataset, types).then(({ frame, schema }) => ({ frame, schema }));
    this.cache.set(key, loading);
    loading.then(
      (data) => {
        this.cells.set(key, data.frame.rowCount * data.frame.columns.length);
        this.evict();
      },
      () => this.cache.delete(key),
    );
    return loading;
  }

  /**
   * Read the stored file again with `types` over what inference finds, and profile the result:
   * what an upload with those types would have stored. Throws IngestError (unknown_column,
   * conversion_failed) naming the column.
   */
  async read(
    dataset: Pick<Dataset, "blobSha256" | "format">,
    types: Readonly<Record<string, ColumnType>>,
  ): Promise<Reread> {
    const file = this.blobs.path?.(dataset.blobSha256);
    if (!file) throw new Error("The blob store cannot give a local path to read a dataset");
    const format = FILE_FORMATS.includes(dataset.format as FileFormat)
      ? (dataset.format as FileFormat)
      : undefined;
    return withTypes(await ingestFile(file, format ? { format } : {}), types);
  }

  private evict(): void {
    let total = 0;
    for (const n of this.cells.values()) total += n;
    for (const key of this.cache.keys()) {
      if (total <= CACHE_CELLS || this.cache.size <= 1) break;
      const n = this.cells.get(key);
      if (n === undefined) continue; // still loading
      this.cache.delete(key);
      this.cells.delete(key);
      total -= n;
    }
  }
}
