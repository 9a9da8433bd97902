/**
 * Models and their versions. A model is a name people refer to ("churn"); each training
 * run that is kept adds an immutable version (1, 2, 3, ...) pointing at an artifact in the
 * blob store. References read like `churn` (latest), `churn@3` or `churn:3`, or a version
 * id `mv_…`.
 */
import type { Kysely, Selectable } from "kysely";
import type { TaskKind } from "../learn/types.ts";
import {
  decodeJsonObject,
  encodeJsonObject,
  type JsonObject,
  type JsonObjectInput,
  nowIso,
} from "./codec.ts";
import { ConflictError, NotFoundError, translateError, ValidationError } from "./errors.ts";
import { isId, newId } from "./ids.ts";
import { validateLabel, validateModelName, validateSha256 } from "./names.ts";
import type { Database, ModelsTable, ModelVersionsTable } from "./schema.ts";
import { withTransaction } from "./transaction.ts";

export interface Model {
  readonly id: string;
  readonly workspaceId: string;
  readonly name: string;
  /** The highest version number created so far (0 before the first). */
  readonly latestVersion: number;
  readonly createdAt: string;
}

export interface ModelVersion {
  readonly id: string;
  readonly modelId: string;
  readonly workspaceId: string;
  readonly modelName: string;
  /** 1, 2, 3, ... per model, with no gaps. */
  readonly version: number;
  /** The artifact (src/models format) in the blob store. */
  readonly artifactSha256: string;
  readonly task: TaskKind;
  /** The column it predicts. */
  readonly target: string;
  /** The learner that produced it, e.g. "gbdt". */
  readonly learner: string;
  /** Metric name → value, as measured at training time. */
  readonly metrics: JsonObject;
  /** The dataset it was trained on; null when unknown or since deleted. */
  readonly datasetId: string | null;
  readonly createdAt: string;
}

export interface NewModelVersion {
  readonly artifactSha256: string;
  readonly task: TaskKind;
  readonly target: string;
  readonly learner: string;
  /** A JSON object, e.g. `{ auc: 0.91, logloss: 0.31 }`. */
  readonly metrics: JsonObjectInput;
  readonly datasetId?: string | null;
}

/** A parsed model reference: a version id, or a name with an optional version number. */
export type ModelRef =
  | { readonly kind: "id"; readonly id: string }
  | { readonly kind: "name"; readonly name: string; readonly version?: number };

/** Exhaustive over TaskKind, so a new task kind in src/learn fails to compile here. */
const TASK_KINDS: Readonly<Record<TaskKind, true>> = {
  binary: true,
  multiclass: true,
  regression: true,
};

function isTaskKind(value: string): value is TaskKind {
  return Object.hasOwn(TASK_KINDS, value);
}

/**
 * Parses `churn`, `churn@3`, `churn:3`, `churn@latest` or `mv_…`. Model names cannot
 * contain `@` or `:`, so the split is unambiguous.
 */
export function parseModelRef(ref: string): ModelRef {
  if (isId("mv", ref)) return { kind: "id", id: ref };
  const match = /^(.+)[@:]([^@:]+)$/.exec(ref);
  if (!match) return { kind: "name", name: ref };
  const [, name = "", versionText = ""] = match;
  if (versionText === "latest") return { kind: "name", name };
  if (!/^[1-9][0-9]{0,8}$/.test(versionText)) {
    throw new ValidationError(
      "ref",
      `Invalid model reference ${JSON.stringify(ref)}: the version must be a positive integer or "latest"`,
    );
  }
  return { kind: "name", name, version: Number(versionText) };
}

type VersionRow = Selectable<ModelVersionsTable> & { model_name: string; workspace_id: string };

export class ModelRepository {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /**
   * Adds the next version of `modelName`, creating the model on first use. The version
   * number comes from a counter on the model row incremented by one UPDATE: PostgreSQL
   * holds that row's lock until commit and SQLite serializes writers, so concurrent
   * creators get distinct, consecutive numbers, and a failure rolls the counter back too.
   */
  async createModelVersion(
    workspaceId: string,
    modelName: string,
    fields: NewModelVersion,
  ): Promise<ModelVersion> {
    validateModelName(modelName);
    validateSha256("artifactSha256", fields.artifactSha256);
    if (!isTaskKind(fields.task)) {
      throw new ValidationError("task", `Unknown task ${JSON.stringify(fields.task)}`);
    }
    validateLabel("target", fields.target);
    validateLabel("learner", fields.learner);
    const metrics = encodeJsonObject(fields.metrics, "metrics");
    const datasetId = fields.datasetId ?? null;

    try {
      return await withTransaction(this.#db, async (trx) => {
        const now = nowIso();
        // Ensure the model row exists; a concurrent creator's insert makes this a no-op.
        await trx
          .insertInto("models")
          .values({
            id: newId("mdl"),
            workspace_id: workspaceId,
            name: modelName,
            latest_version: 0,
            created_at: now,
          })
          .onConflict((oc) => oc.columns(["workspace_id", "name"]).doNothing())
          .execute();
        const model = await trx
          .updateTable("models")
          .set((eb) => ({ latest_version: eb("latest_version", "+", 1) }))
          .where("workspace_id", "=", workspaceId)
          .where("name", "=", modelName)
          .returning(["id", "latest_version"])
          .executeTakeFirstOrThrow();
        if (datasetId !== null) {
          const dataset = await trx
            .selectFrom("datasets")
            .select("id")
            .where("id", "=", datasetId)
            .where("workspace_id", "=", workspaceId)
            .executeTakeFirst();
          if (!dataset) throw new NotFoundError("dataset", datasetId);
        }
        const row: Selectable<ModelVersionsTable> = {
          id: newId("mv"),
          model_id: model.id,
          version: model.latest_version,
          artifact_sha256: fields.artifactSha256,
          task: fields.task,
          target: fields.target,
          learner: fields.learner,
          metrics,
          dataset_id: datasetId,
          created_at: now,
        };
        await trx.insertInto("model_versions").values(row).execute();
        return toModelVersion({ ...row, model_name: modelName, workspace_id: workspaceId });
      });
    } catch (error) {
      throw translateError(error, {
        "foreign-key": () => new NotFoundError("workspace", workspaceId),
      });
    }
  }

  /** The model named `name`, with its latest version number. */
  async get(workspaceId: string, name: string): Promise<Model> {
    const row = await this.#db
      .selectFrom("models")
      .selectAll()
      .where("workspace_id", "=", workspaceId)
      .where("name", "=", name)
      .executeTakeFirst();
    if (!row) throw new NotFoundError("model", name);
    return toModel(row);
  }

  /** Models of a workspace, by name. */
  async list(workspaceId: string): Promise<Model[]> {
    const rows = await this.#db
      .selectFrom("models")
      .selectAll()
      .where("workspace_id", "=", workspaceId)
      .orderBy("name")
      .execute();
    return rows.map(toModel);
  }

  /**
   * Resolves a reference (`churn`, `churn@3`, `churn:3`, `mv_…`) within a workspace; a bare
   * name means its latest version.
   */
  async getVersion(workspaceId: string, ref: string): Promise<ModelVersion> {
    const parsed = parseModelRef(ref);
    let query = this.#versions().where("models.workspace_id", "=", workspaceId);
    if (parsed.kind === "id") {
      query = query.where("model_versions.id", "=", parsed.id);
    } else {
      query = query.where("models.name", "=", parsed.name);
      query =
        parsed.version === undefined
          ? query.orderBy("model_versions.version", "desc").limit(1)
          : query.where("model_versions.version", "=", parsed.version);
    }
    const row = await query.executeTakeFirst();
    if (!row) throw new NotFoundError("model version", ref);
    return toModelVersion(row);
  }

  /** Versions of one model, newest first. */
  async listVersions(workspaceId: string, modelName: string): Promise<ModelVersion[]> {
    const rows = await this.#versions()
      .where("models.workspace_id", "=", workspaceId)
      .where("models.name", "=", modelName)
      .orderBy("model_versions.version", "desc")
      .execute();
    if (rows.length === 0) await this.get(workspaceId, modelName); // 404 for an unknown model
    return rows.map(toModelVersion);
  }

  /**
   * Deletes a model and all its versions. Refused with ConflictError while any app version
   * serves one of them: delete or repoint those apps first. Artifacts stay in the blob
   * store for the caller to collect.
   */
  async delete(workspaceId: string, name: string): Promise<Model> {
    const model = await this.get(workspaceId, name);
    try {
      await this.#db.deleteFrom("models").where("id", "=", model.id).execute();
    } catch (error) {
      throw translateError(error, {
        "foreign-key": () =>
          new ConflictError("model", name, `Model "${name}" is used by an app version`),
      });
    }
    return model;
  }

  #versions() {
    return this.#db
      .selectFrom("model_versions")
      .innerJoin("models", "models.id", "model_versions.model_id")
      .selectAll("model_versions")
      .select(["models.name as model_name", "models.workspace_id as workspace_id"]);
  }
}

function toModel(row: Selectable<ModelsTable>): Model {
  return {
    id: row.id,
    workspaceId: row.workspace_id,
    name: row.name,
    latestVersion: row.latest_version,
    createdAt: row.created_at,
  };
}

function toModelVersion(row: VersionRow): ModelVersion {
  if (!isTaskKind(row.task)) {
    throw new Error(`Registry row model_versions ${row.id} has unknown task ${row.task}`);
  }
  return {
    id: row.id,
    modelId: row.model_id,
    workspaceId: row.workspace_id,
    modelName: row.model_name,
    version: row.version,
    artifactSha256: row.artifact_sha256,
    task: row.task,
    target: row.target,
    learner: row.learner,
    metrics: decodeJsonObject(row.metrics, "model_versions.metrics"),
    datasetId: row.dataset_id,
    createdAt: row.created_at,
  };
}
