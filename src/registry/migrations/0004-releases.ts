/**
 * Releases and golden suites (issue 7, safe releases). A release is one rollout of a candidate
 * version to production by a strategy (direct, canary, shadow, A/B): the rollout controller
 * moves it step by step and every replica's router reads its traffic share, so its state lives
 * here, shared, rather than in one process. `revision` lets replicas advance it by
 * compare-and-set; `events` keeps its history on the row, in order.
 *
 * A partial unique index allows one active (running or paused) release per app, so two
 * `promote` calls, or two controllers, cannot start competing rollouts. Golden cases are an
 * app's regression suite; golden runs record each suite run against a version, which promotion
 * is gated on. Typed `Kysely<unknown>` like 0001.
 */
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("releases")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("app_id", "text", (c) => c.notNull().references("apps.id").onDelete("cascade"))
    .addColumn("strategy", "text", (c) =>
      c.notNull().check(sql`strategy in ('direct', 'canary', 'shadow', 'ab')`),
    )
    .addColumn("state", "text", (c) =>
      c.notNull().check(sql`state in ('running', 'paused', 'succeeded', 'rolled_back', 'aborted')`),
    )
    .addColumn("candidate_version_id", "text", (c) =>
      c.notNull().references("app_versions.id").onDelete("cascade"),
    )
    // Null for an app's first release: nothing served production before it.
    .addColumn("stable_version_id", "text", (c) =>
      c.references("app_versions.id").onDelete("set null"),
    )
    // JSON object: the strategy's settings for this release (steps, gates, split...).
    .addColumn("plan", "text", (c) => c.notNull())
    .addColumn("step_index", "integer", (c) => c.notNull().check(sql`step_index >= 0`))
    // The candidate's share of production traffic (shadow: the share mirrored to it), 0-100.
    // Double precision in both dialects: SQLite gives it REAL affinity, pg returns a number.
    .addColumn("percent", "double precision", (c) =>
      c.notNull().check(sql`percent >= 0 and percent <= 100`),
    )
    .addColumn("step_started_at", "text", (c) => c.notNull())
    .addColumn("revision", "integer", (c) => c.notNull())
    // JSON array of { at, type, message, percent?, details? }, oldest first.
    .addColumn("events", "text", (c) => c.notNull())
    .addColumn("reason", "text")
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("updated_at", "text", (c) => c.notNull())
    .addColumn("ended_at", "text")
    .execute();
  await db.schema
    .createIndex("releases_app_created_idx")
    .on("releases")
    .columns(["app_id", "created_at", "id"])
    .execute();
  // One active release per app, whatever races happen above.
  await db.schema
    .createIndex("releases_active_key")
    .on("releases")
    .column("app_id")
    .unique()
    .where(sql.ref("state"), "in", sql`('running', 'paused')`)
    .execute();

  await db.schema
    .createTable("golden_cases")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("app_id", "text", (c) => c.notNull().references("apps.id").onDelete("cascade"))
    .addColumn("name", "text", (c) => c.notNull())
    // JSON objects: the request, the expected response, and how to compare them.
    .addColumn("input", "text", (c) => c.notNull())
    .addColumn("expected", "text", (c) => c.notNull())
    .addColumn("match", "text", (c) => c.notNull())
    .addColumn("source", "text", (c) =>
      c.notNull().check(sql`source in ('studio', 'live', 'api', 'cli')`),
    )
    // The live request a case was captured from, when it was.
    .addColumn("request_id", "text")
    .addColumn("created_at", "text", (c) => c.notNull())
    .addUniqueConstraint("golden_cases_app_name_key", ["app_id", "name"])
    .execute();

  await db.schema
    .createTable("golden_runs")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("app_id", "text", (c) => c.notNull().references("apps.id").onDelete("cascade"))
    .addColumn("app_version_id", "text", (c) =>
      c.notNull().references("app_versions.id").onDelete("cascade"),
    )
    .addColumn("passed", "integer", (c) => c.notNull().check(sql`passed >= 0`))
    .addColumn("failed", "integer", (c) => c.notNull().check(sql`failed >= 0`))
    .addColumn("total", "integer", (c) => c.notNull().check(sql`total >= 0`))
    // Boolean as 0/1, the portable form.
    .addColumn("ok", "integer", (c) => c.notNull().check(sql`ok in (0, 1)`))
    // JSON object: per-case outcomes, as the suite runner reports them.
    .addColumn("results", "text", (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("golden_runs_version_created_idx")
    .on("golden_runs")
    .columns(["app_version_id", "created_at"])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ["golden_runs", "golden_cases", "releases"]) {
    await db.schema.dropTable(table).execute();
  }
}
