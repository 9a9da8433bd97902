/**
 * Datasets: an imported file's metadata. The bytes live in the blob store under
 * `blobSha256`; the schema and profile are kept here so lists, the Studio and training
 * setup never have to reopen the file.
 */
import type { Kysely, Selectable } from "kysely";
import type { Profile, Schema } from "../data/frame.ts";
import { decodeJsonShape, nowIso, toNumber } from "./codec.ts";
import { ConflictError, NotFoundError, translateError, ValidationError } from "./errors.ts";
import { isId, newId } from "./ids.ts";
import { validateDatasetName, validateLabel, validateSha256 } from "./names.ts";
import type { Database, DatasetsTable } from "./schema.ts";

export interface Dataset {
  readonly id: string;
  readonly workspaceId: string;
  /** Unique within the workspace. */
  readonly name: string;
  /** How the file was read: "csv", "parquet", "json", ... (the data module's vocabulary). */
  readonly format: string;
  /** The file name as uploaded, for display and download. */
  readonly fileName: string;
  readonly blobSha256: string;
  readonly sizeBytes: number;
  readonly rowCount: number;
  readonly schema: Schema;
  readonly profile: Profile;
  readonly createdAt: string;
}

export type NewDataset = Omit<Dataset, "id" | "workspaceId" | "createdAt">;

export class DatasetRepository {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** Registers an imported dataset. Throws ConflictError when the name is taken. */
  async create(workspaceId: string, input: NewDataset): Promise<Dataset> {
    validateDatasetName(input.name);
    validateLabel("format", input.format);
    validateLabel("fileName", input.fileName);
    validateSha256("blobSha256", input.blobSha256);
    for (const [field, value] of [
      ["sizeBytes", input.sizeBytes],
      ["rowCount", input.rowCount],
    ] as const) {
      if (!Number.isSafeInteger(value) || value < 0) {
        throw new ValidationError(field, `${field} must be a non-negative integer`);
      }
    }
    const row = {
      id: newId("ds"),
      workspace_id: workspaceId,
      name: input.name,
      format: input.format,
      file_name: input.fileName,
      blob_sha256: input.blobSha256,
      size_bytes: input.sizeBytes,
      row_count: input.rowCount,
      schema: JSON.stringify(input.schema),
      profile: JSON.stringify(input.profile),
      created_at: nowIso(),
    };
    try {
      await this.#db.insertInto("datasets").values(row).execute();
    } catch (error) {
      throw translateError(error, {
        unique: () => new ConflictError("dataset", input.name),
        "foreign-key": () => new NotFoundError("workspace", workspaceId),
      });
    }
    return toDataset(row);
  }

  async get(workspaceId: string, id: string): Promise<Dataset> {
    const row = await this.#db
      .selectFrom("datasets")
      .selectAll()
      .where("workspace_id", "=", workspaceId)
      .where("id", "=", id)
      .executeTakeFirst();
    if (!row) throw new NotFoundError("dataset", id);
    return toDataset(row);
  }

  async getByName(workspaceId: string, name: string): Promise<Dataset> {
    const row = await this.#db
      .selectFrom("datasets")
      .selectAll()
      .where("workspace_id", "=", workspaceId)
      .where("name", "=", name)
      .executeTakeFirst();
    if (!row) throw new NotFoundError("dataset", name);
    return toDataset(row);
  }

  /** Looks up by id when `ref` is shaped like one (`ds_…`), by name otherwise. */
  resolve(workspaceId: string, ref: string): Promise<Dataset> {
    return isId("ds", ref) ? this.get(workspaceId, ref) : this.getByName(workspaceId, ref);
  }

  /** Datasets of a workspace by name. */
  async list(workspaceId: string): Promise<Dataset[]> {
    const rows = await this.#db
      .selectFrom("datasets")
      .selectAll()
      .where("workspace_id", "=", workspaceId)
      .orderBy("name")
      .execute();
    return rows.map(toDataset);
  }

  /**
   * Replaces the schema and profile in place, after a person changed column types: same id,
   * same file and row count. Models trained earlier keep the schema in their own artifacts.
   * Throws NotFoundError.
   */
  async updateSchema(
    workspaceId: string,
    id: string,
    input: { readonly schema: Schema; readonly profile: Profile },
  ): Promise<Dataset> {
    const result = await this.#db
      .updateTable("datasets")
      .set({ schema: JSON.stringify(input.schema), profile: JSON.stringify(input.profile) })
      .where("workspace_id", "=", workspaceId)
      .where("id", "=", id)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) throw new NotFoundError("dataset", id);
    return this.get(workspaceId, id);
  }

  /**
   * Removes the record (models trained on it keep working; their dataset link becomes
   * null). The blob is left for the caller: other datasets may share it, see
   * `registry.isBlobReferenced`.
   */
  async delete(workspaceId: string, id: string): Promise<Dataset> {
    const dataset = await this.get(workspaceId, id);
    await this.#db
      .deleteFrom("datasets")
      .where("workspace_id", "=", workspaceId)
      .where("id", "=", id)
      .execute();
    return dataset;
  }
}

function toDataset(row: Selectable<DatasetsTable>): Dataset {
  return {
    id: row.id,
    workspaceId: row.workspace_id,
    name: row.name,
    format: row.format,
    fileName: row.file_name,
    blobSha256: row.blob_sha256,
    sizeBytes: toNumber(row.size_bytes),
    rowCount: toNumber(row.row_count),
    schema: decodeJsonShape<Schema>(row.schema, "datasets.schema", ["columns"]),
    profile: decodeJsonShape<Profile>(row.profile, "datasets.profile", ["columns"]),
    createdAt: row.created_at,
  };
}
