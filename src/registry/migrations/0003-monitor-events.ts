/**
 * Monitor events: every SLO breach, recovery, drift alert and rollback, recorded so that no
 * alert is silent (the Studio lists them, `GET /v1/events` pages through them) and so that a
 * restarted server knows which rules are still firing instead of announcing them again.
 *
 * An alert row stays open (`resolved_at` null) until its recovery; a partial unique index
 * allows one open alert per app and rule, so two evaluators (replicas, or a restart racing the
 * old process) cannot both announce the same breach. Typed `Kysely<unknown>` like 0001.
 */
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("monitor_events")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("workspace_id", "text", (c) =>
      c.notNull().references("workspaces.id").onDelete("cascade"),
    )
    // The app's name, not its id: events outlive a deleted app, as a log would.
    .addColumn("app_name", "text", (c) => c.notNull())
    .addColumn("app_version", "integer")
    .addColumn("kind", "text", (c) =>
      c.notNull().check(sql`kind in ('alert', 'recovery', 'rollback', 'info')`),
    )
    .addColumn("severity", "text", (c) =>
      c.notNull().check(sql`severity in ('info', 'warning', 'critical')`),
    )
    .addColumn("rule", "text", (c) => c.notNull())
    .addColumn("message", "text", (c) => c.notNull())
    .addColumn("details", "text", (c) => c.notNull())
    // JSON object { items: [{ channel, ok, ... }] }, completed as deliveries finish.
    .addColumn("deliveries", "text", (c) => c.notNull())
    .addColumn("at", "text", (c) => c.notNull())
    // Alerts only: when the recovery (or a more severe alert of the same rule) closed it.
    .addColumn("resolved_at", "text")
    .addColumn("resolved_by", "text")
    .execute();
  await db.schema
    .createIndex("monitor_events_workspace_at_idx")
    .on("monitor_events")
    .columns(["workspace_id", "at", "id"])
    .execute();
  await db.schema
    .createIndex("monitor_events_app_at_idx")
    .on("monitor_events")
    .columns(["workspace_id", "app_name", "at", "id"])
    .execute();
  await db.schema
    .createIndex("monitor_events_open_alert_key")
    .on("monitor_events")
    .columns(["workspace_id", "app_name", "rule"])
    .unique()
    .where(sql.ref("kind"), "=", sql.lit("alert"))
    .where(sql.ref("resolved_at"), "is", null)
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("monitor_events").execute();
}
