/**
 * Metric rollups: each replica's traffic per app version per minute (outcome counts, cache
 * hits, and the request and model latency histograms as compact sparse text), so the Monitor
 * page can show days and weeks, and the SLO evaluator can count beyond what one process keeps
 * in memory. Rows of several replicas and minutes merge on read (the histograms add index by
 * index). Typed `Kysely<unknown>` like 0001.
 *
 * No foreign key to the workspace: a write for a workspace deleted in the meantime must not
 * fail the whole minute's batch; expired rows go with the retention delete.
 */
import type { Kysely } from "kysely";

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("metric_rollups")
    .addColumn("workspace_id", "text", (c) => c.notNull())
    .addColumn("app_name", "text", (c) => c.notNull())
    .addColumn("app_version", "integer", (c) => c.notNull())
    // Epoch minute: epoch milliseconds / 60,000, floored.
    .addColumn("minute", "integer", (c) => c.notNull())
    // The writing process (host, pid, start), so replicas never overwrite each other's rows.
    .addColumn("replica", "text", (c) => c.notNull())
    .addColumn("requests", "integer", (c) => c.notNull())
    .addColumn("ok", "integer", (c) => c.notNull())
    .addColumn("client_error", "integer", (c) => c.notNull())
    .addColumn("shed", "integer", (c) => c.notNull())
    .addColumn("rate_limited", "integer", (c) => c.notNull())
    .addColumn("timeout", "integer", (c) => c.notNull())
    .addColumn("error", "integer", (c) => c.notNull())
    .addColumn("cache_hits", "integer", (c) => c.notNull())
    // Sparse HDR histograms (src/monitor/latency-histogram.ts), "" when empty.
    .addColumn("latency", "text", (c) => c.notNull())
    .addColumn("model_latency", "text", (c) => c.notNull())
    // App first, then time: a window of one app is one index range whatever its versions.
    .addPrimaryKeyConstraint("metric_rollups_pkey", [
      "workspace_id",
      "app_name",
      "minute",
      "app_version",
      "replica",
    ])
    .execute();
  // The hourly retention delete.
  await db.schema
    .createIndex("metric_rollups_minute_idx")
    .on("metric_rollups")
    .column("minute")
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("metric_rollups").execute();
}
