/**
 * Apps and app versions. An app is the named web service people publish; each version
 * freezes one spec (and the model version it serves) and is never edited afterwards: a
 * change is a new version, so what runs in production is always reproducible and a
 * rollback is just deploying an older version.
 */
import type { Kysely, Selectable } from "kysely";
import {
  decodeJsonObject,
  encodeJsonObject,
  type JsonObject,
  type JsonObjectInput,
  nowIso,
} from "./codec.ts";
import { ConflictError, NotFoundError, translateError } from "./errors.ts";
import { isId, newId } from "./ids.ts";
import { validateSlug } from "./names.ts";
import type { AppsTable, AppVersionsTable, Database } from "./schema.ts";
import { withTransaction } from "./transaction.ts";

export interface App {
  readonly id: string;
  readonly workspaceId: string;
  /** A DNS label, unique in the workspace: it appears in URLs and Kubernetes names. */
  readonly name: string;
  /** The highest version number created so far (0 before the first). */
  readonly latestVersion: number;
  readonly createdAt: string;
}

export interface AppVersion {
  readonly id: string;
  readonly appId: string;
  /** 1, 2, 3, ... per app, with no gaps. */
  readonly version: number;
  /** The app spec as stored; src/spec validates it before storing and after loading. */
  readonly spec: JsonObject;
  /** The model version the spec serves; null for apps with no model step. */
  readonly modelVersionId: string | null;
  readonly createdAt: string;
}

export interface NewAppVersion {
  readonly spec: JsonObjectInput;
  readonly modelVersionId?: string | null;
}

export class AppRepository {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** Creates an app. Throws ValidationError for a bad name, ConflictError when it is taken. */
  async create(workspaceId: string, name: string): Promise<App> {
    validateSlug("app", name);
    const row = {
      id: newId("app"),
      workspace_id: workspaceId,
      name,
      latest_version: 0,
      created_at: nowIso(),
    };
    try {
      await this.#db.insertInto("apps").values(row).execute();
    } catch (error) {
      throw translateError(error, {
        unique: () => new ConflictError("app", name),
        "foreign-key": () => new NotFoundError("workspace", workspaceId),
      });
    }
    return toApp(row);
  }

  /** Returns the named app, creating it if needed (idempotent `apply`); safe to race. */
  async ensure(workspaceId: string, name: string): Promise<App> {
    validateSlug("app", name);
    try {
      await this.#db
        .insertInto("apps")
        .values({
          id: newId("app"),
          workspace_id: workspaceId,
          name,
          latest_version: 0,
          created_at: nowIso(),
        })
        .onConflict((oc) => oc.columns(["workspace_id", "name"]).doNothing())
        .execute();
    } catch (error) {
      throw translateError(error, {
        "foreign-key": () => new NotFoundError("workspace", workspaceId),
      });
    }
    return this.getByName(workspaceId, name);
  }

  async get(workspaceId: string, id: string): Promise<App> {
    const row = await this.#db
      .selectFrom("apps")
      .selectAll()
      .where("workspace_id", "=", workspaceId)
      .where("id", "=", id)
      .executeTakeFirst();
    if (!row) throw new NotFoundError("app", id);
    return toApp(row);
  }

  async getByName(workspaceId: string, name: string): Promise<App> {
    const row = await this.#db
      .selectFrom("apps")
      .selectAll()
      .where("workspace_id", "=", workspaceId)
      .where("name", "=", name)
      .executeTakeFirst();
    if (!row) throw new NotFoundError("app", name);
    return toApp(row);
  }

  /** Looks up by id when `ref` is shaped like one (`app_…`), by name otherwise. */
  resolve(workspaceId: string, ref: string): Promise<App> {
    return isId("app", ref) ? this.get(workspaceId, ref) : this.getByName(workspaceId, ref);
  }

  /** Apps of a workspace, by name. */
  async list(workspaceId: string): Promise<App[]> {
    const rows = await this.#db
      .selectFrom("apps")
      .selectAll()
      .where("workspace_id", "=", workspaceId)
      .orderBy("name")
      .execute();
    return rows.map(toApp);
  }

  /** Deletes an app with all its versions and deployment history. */
  async delete(workspaceId: string, id: string): Promise<App> {
    const app = await this.get(workspaceId, id);
    await this.#db.deleteFrom("apps").where("id", "=", app.id).execute();
    return app;
  }

  /**
   * Freezes a spec as the app's next version. Numbering works as for models: one UPDATE of
   * a counter on the app row, so concurrent publishers get consecutive numbers. The model
   * version, if any, must belong to the app's workspace.
   */
  async createVersion(appId: string, input: NewAppVersion): Promise<AppVersion> {
    const spec = encodeJsonObject(input.spec, "spec");
    const modelVersionId = input.modelVersionId ?? null;
    return withTransaction(this.#db, async (trx) => {
      const app = await trx
        .updateTable("apps")
        .set((eb) => ({ latest_version: eb("latest_version", "+", 1) }))
        .where("id", "=", appId)
        .returning(["workspace_id", "latest_version"])
        .executeTakeFirst();
      if (!app) throw new NotFoundError("app", appId);
      if (modelVersionId !== null) {
        const modelVersion = await trx
          .selectFrom("model_versions")
          .innerJoin("models", "models.id", "model_versions.model_id")
          .select("model_versions.id")
          .where("model_versions.id", "=", modelVersionId)
          .where("models.workspace_id", "=", app.workspace_id)
          .executeTakeFirst();
        if (!modelVersion) throw new NotFoundError("model version", modelVersionId);
      }
      const row: Selectable<AppVersionsTable> = {
        id: newId("av"),
        app_id: appId,
        version: app.latest_version,
        spec,
        model_version_id: modelVersionId,
        created_at: nowIso(),
      };
      await trx.insertInto("app_versions").values(row).execute();
      return toAppVersion(row);
    });
  }

  /** A version by number. */
  async getVersion(appId: string, version: number): Promise<AppVersion> {
    const row = await this.#db
      .selectFrom("app_versions")
      .selectAll()
      .where("app_id", "=", appId)
      .where("version", "=", version)
      .executeTakeFirst();
    if (!row) throw new NotFoundError("app version", `${appId}@${version}`);
    return toAppVersion(row);
  }

  /** A version by id (`av_…`); scoped by app so ids from another app do not resolve. */
  async getVersionById(appId: string, appVersionId: string): Promise<AppVersion> {
    const row = await this.#db
      .selectFrom("app_versions")
      .selectAll()
      .where("app_id", "=", appId)
      .where("id", "=", appVersionId)
      .executeTakeFirst();
    if (!row) throw new NotFoundError("app version", appVersionId);
    return toAppVersion(row);
  }

  /** The newest version, or undefined before the first is created. */
  async latestVersion(appId: string): Promise<AppVersion | undefined> {
    const row = await this.#db
      .selectFrom("app_versions")
      .selectAll()
      .where("app_id", "=", appId)
      .orderBy("version", "desc")
      .limit(1)
      .executeTakeFirst();
    return row ? toAppVersion(row) : undefined;
  }

  /** Versions of an app, newest first. */
  async listVersions(appId: string): Promise<AppVersion[]> {
    const rows = await this.#db
      .selectFrom("app_versions")
      .selectAll()
      .where("app_id", "=", appId)
      .orderBy("version", "desc")
      .execute();
    return rows.map(toAppVersion);
  }
}

function toApp(row: Selectable<AppsTable>): App {
  return {
    id: row.id,
    workspaceId: row.workspace_id,
    name: row.name,
    latestVersion: row.latest_version,
    createdAt: row.created_at,
  };
}

function toAppVersion(row: Selectable<AppVersionsTable>): AppVersion {
  return {
    id: row.id,
    appId: row.app_id,
    version: row.version,
    spec: decodeJsonObject(row.spec, "app_versions.spec"),
    modelVersionId: row.model_version_id,
    createdAt: row.created_at,
  };
}
