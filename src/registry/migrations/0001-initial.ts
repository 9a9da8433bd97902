/**
 * The initial schema. Written once for both dialects: only text, integer and bigint
 * columns, JSON as text, timestamps as ISO-8601 text. Constraints are named so PostgreSQL
 * error messages say which rule a write broke. Typed `Kysely<unknown>` on purpose: a
 * migration must keep describing the schema as it was, whatever schema.ts says later.
 */
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("workspaces")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull())
    .addUniqueConstraint("workspaces_name_key", ["name"])
    .execute();

  await db.schema
    .createTable("api_keys")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("workspace_id", "text", (c) =>
      c.notNull().references("workspaces.id").onDelete("cascade"),
    )
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("role", "text", (c) =>
      c.notNull().check(sql`role in ('admin', 'builder', 'viewer', 'invoker')`),
    )
    .addColumn("prefix", "text", (c) => c.notNull())
    .addColumn("hash", "text", (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("last_used_at", "text")
    .addColumn("revoked_at", "text")
    .addUniqueConstraint("api_keys_hash_key", ["hash"])
    .execute();
  await db.schema
    .createIndex("api_keys_workspace_idx")
    .on("api_keys")
    .column("workspace_id")
    .execute();

  await db.schema
    .createTable("datasets")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("workspace_id", "text", (c) =>
      c.notNull().references("workspaces.id").onDelete("cascade"),
    )
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("format", "text", (c) => c.notNull())
    .addColumn("file_name", "text", (c) => c.notNull())
    .addColumn("blob_sha256", "text", (c) => c.notNull())
    .addColumn("size_bytes", "bigint", (c) => c.notNull().check(sql`size_bytes >= 0`))
    .addColumn("row_count", "bigint", (c) => c.notNull().check(sql`row_count >= 0`))
    .addColumn("schema", "text", (c) => c.notNull())
    .addColumn("profile", "text", (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull())
    .addUniqueConstraint("datasets_workspace_name_key", ["workspace_id", "name"])
    .execute();
  await db.schema.createIndex("datasets_blob_idx").on("datasets").column("blob_sha256").execute();

  await db.schema
    .createTable("models")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("workspace_id", "text", (c) =>
      c.notNull().references("workspaces.id").onDelete("cascade"),
    )
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("latest_version", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("created_at", "text", (c) => c.notNull())
    .addUniqueConstraint("models_workspace_name_key", ["workspace_id", "name"])
    .execute();

  await db.schema
    .createTable("model_versions")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("model_id", "text", (c) => c.notNull().references("models.id").onDelete("cascade"))
    .addColumn("version", "integer", (c) => c.notNull().check(sql`version >= 1`))
    .addColumn("artifact_sha256", "text", (c) => c.notNull())
    .addColumn("task", "text", (c) => c.notNull())
    .addColumn("target", "text", (c) => c.notNull())
    .addColumn("learner", "text", (c) => c.notNull())
    .addColumn("metrics", "text", (c) => c.notNull())
    // A dataset can be deleted (privacy requests) without deleting the models trained on it.
    .addColumn("dataset_id", "text", (c) => c.references("datasets.id").onDelete("set null"))
    .addColumn("created_at", "text", (c) => c.notNull())
    .addUniqueConstraint("model_versions_model_version_key", ["model_id", "version"])
    .execute();
  await db.schema
    .createIndex("model_versions_artifact_idx")
    .on("model_versions")
    .column("artifact_sha256")
    .execute();
  await db.schema
    .createIndex("model_versions_dataset_idx")
    .on("model_versions")
    .column("dataset_id")
    .execute();

  await db.schema
    .createTable("apps")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("workspace_id", "text", (c) =>
      c.notNull().references("workspaces.id").onDelete("cascade"),
    )
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("latest_version", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("created_at", "text", (c) => c.notNull())
    .addUniqueConstraint("apps_workspace_name_key", ["workspace_id", "name"])
    .execute();

  await db.schema
    .createTable("app_versions")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("app_id", "text", (c) => c.notNull().references("apps.id").onDelete("cascade"))
    .addColumn("version", "integer", (c) => c.notNull().check(sql`version >= 1`))
    .addColumn("spec", "text", (c) => c.notNull())
    // No cascade: a model version that an app serves cannot be deleted from under it.
    .addColumn("model_version_id", "text", (c) => c.references("model_versions.id"))
    .addColumn("created_at", "text", (c) => c.notNull())
    .addUniqueConstraint("app_versions_app_version_key", ["app_id", "version"])
    .execute();
  await db.schema
    .createIndex("app_versions_model_version_idx")
    .on("app_versions")
    .column("model_version_id")
    .execute();

  await db.schema
    .createTable("deployments")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("app_id", "text", (c) => c.notNull().references("apps.id").onDelete("cascade"))
    .addColumn("environment", "text", (c) =>
      c.notNull().check(sql`environment in ('production', 'staging')`),
    )
    .addColumn("app_version_id", "text", (c) =>
      c.notNull().references("app_versions.id").onDelete("cascade"),
    )
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("replaced_at", "text")
    .execute();
  await db.schema
    .createIndex("deployments_app_env_created_idx")
    .on("deployments")
    .columns(["app_id", "environment", "created_at"])
    .execute();
  // At most one live deployment per app and environment, whatever races happen above.
  await db.schema
    .createIndex("deployments_current_key")
    .on("deployments")
    .columns(["app_id", "environment"])
    .unique()
    .where(sql.ref("replaced_at"), "is", null)
    .execute();

  await db.schema
    .createTable("jobs")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("workspace_id", "text", (c) =>
      c.notNull().references("workspaces.id").onDelete("cascade"),
    )
    .addColumn("kind", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) =>
      c.notNull().check(sql`status in ('queued', 'running', 'succeeded', 'failed', 'cancelled')`),
    )
    .addColumn("input", "text", (c) => c.notNull())
    .addColumn("progress", "text")
    .addColumn("result", "text")
    .addColumn("error", "text")
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("updated_at", "text", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("jobs_workspace_created_idx")
    .on("jobs")
    .columns(["workspace_id", "created_at"])
    .execute();
  await db.schema
    .createIndex("jobs_status_created_idx")
    .on("jobs")
    .columns(["status", "created_at"])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of [
    "jobs",
    "deployments",
    "app_versions",
    "apps",
    "model_versions",
    "models",
    "datasets",
    "api_keys",
    "workspaces",
  ]) {
    await db.schema.dropTable(table).execute();
  }
}
