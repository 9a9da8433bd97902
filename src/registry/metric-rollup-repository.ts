/**
 * Metric rollups: one row per workspace, app, app version, minute and replica, written by each
 * replica's rollup writer once a minute (src/monitor/metric-rollups.ts) and read back, merged
 * across replicas and minutes, for windows longer than what a process keeps in memory. The
 * latency histograms are opaque text here (the monitor encodes and merges them), so the
 * registry knows nothing about HDR layouts.
 *
 * A write replaces the row of the same key: the writer always sends the whole minute it holds,
 * so writing a minute again (a retry after a failed flush) is harmless.
 */
import type { Kysely, Selectable } from "kysely";
import { toNumber } from "./codec.ts";
import { ValidationError } from "./errors.ts";
import type { Database, MetricRollupsTable } from "./schema.ts";

/** One replica's traffic of one app version in one minute. */
export interface MetricRollup {
  readonly workspaceId: string;
  readonly app: string;
  readonly version: number;
  /** Epoch minute (epoch ms / 60,000, floored). */
  readonly minute: number;
  readonly replica: string;
  readonly requests: number;
  readonly ok: number;
  readonly clientError: number;
  readonly shed: number;
  readonly rateLimited: number;
  readonly timeout: number;
  readonly error: number;
  readonly cacheHits: number;
  /** Encoded sparse histograms; "" when empty. */
  readonly latency: string;
  readonly modelLatency: string;
}

export interface MetricRollupRange {
  readonly workspaceId: string;
  readonly app: string;
  /** First and last epoch minute, inclusive. */
  readonly fromMinute: number;
  readonly toMinute: number;
  /** One version only; all when absent. */
  readonly version?: number;
}

/** Rows per statement: 16 columns each stays far below SQLite's bound-parameter limit. */
const BATCH = 500;

const COUNT_FIELDS = [
  "requests",
  "ok",
  "clientError",
  "shed",
  "rateLimited",
  "timeout",
  "error",
  "cacheHits",
] as const;

function checkRow(row: MetricRollup): void {
  if (!Number.isSafeInteger(row.minute) || row.minute < 0) {
    throw new ValidationError("minute", "minute must be a non-negative epoch minute");
  }
  if (!Number.isSafeInteger(row.version) || row.version < 0) {
    throw new ValidationError("version", "version must be a non-negative integer");
  }
  for (const field of COUNT_FIELDS) {
    const n = row[field];
    // PostgreSQL integer columns: one replica's minute never comes near 2^31 requests.
    if (!Number.isInteger(n) || n < 0 || n > 2_147_483_647) {
      throw new ValidationError(field, `${field} must be a non-negative 32-bit integer`);
    }
  }
  if (row.replica === "") throw new ValidationError("replica", "replica must not be empty");
}

function toRecord(row: Selectable<MetricRollupsTable>): MetricRollup {
  return {
    workspaceId: row.workspace_id,
    app: row.app_name,
    version: toNumber(row.app_version),
    minute: toNumber(row.minute),
    replica: row.replica,
    requests: toNumber(row.requests),
    ok: toNumber(row.ok),
    clientError: toNumber(row.client_error),
    shed: toNumber(row.shed),
    rateLimited: toNumber(row.rate_limited),
    timeout: toNumber(row.timeout),
    error: toNumber(row.error),
    cacheHits: toNumber(row.cache_hits),
    latency: row.latency,
    modelLatency: row.model_latency,
  };
}

export class MetricRollupRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Insert or replace rows (same workspace, app, minute, version and replica). */
  async upsert(rows: readonly MetricRollup[]): Promise<void> {
    const keys = new Set<string>();
    for (const row of rows) {
      checkRow(row);
      // PostgreSQL refuses to update one row twice in a statement: say which row it was.
      const key = JSON.stringify([row.workspaceId, row.app, row.minute, row.version, row.replica]);
      if (keys.has(key)) throw new ValidationError("rows", `Duplicate rollup row ${key}`);
      keys.add(key);
    }
    for (let i = 0; i < rows.length; i += BATCH) {
      await this.db
        .insertInto("metric_rollups")
        .values(
          rows.slice(i, i + BATCH).map((r) => ({
            workspace_id: r.workspaceId,
            app_name: r.app,
            app_version: r.version,
            minute: r.minute,
            replica: r.replica,
            requests: r.requests,
            ok: r.ok,
            client_error: r.clientError,
            shed: r.shed,
            rate_limited: r.rateLimited,
            timeout: r.timeout,
            error: r.error,
            cache_hits: r.cacheHits,
            latency: r.latency,
            model_latency: r.modelLatency,
          })),
        )
        .onConflict((oc) =>
          oc
            .columns(["workspace_id", "app_name", "minute", "app_version", "replica"])
            .doUpdateSet((eb) => ({
              requests: eb.ref("excluded.requests"),
              ok: eb.ref("excluded.ok"),
              client_error: eb.ref("excluded.client_error"),
              shed: eb.ref("excluded.shed"),
              rate_limited: eb.ref("excluded.rate_limited"),
              timeout: eb.ref("excluded.timeout"),
              error: eb.ref("excluded.error"),
              cache_hits: eb.ref("excluded.cache_hits"),
              latency: eb.ref("excluded.latency"),
              model_latency: eb.ref("excluded.model_latency"),
            })),
        )
        .execute();
    }
  }

  /** Every replica's rows of one app (or version) in a range of minutes, oldest first. */
  async range(range: MetricRollupRange): Promise<MetricRollup[]> {
    let query = this.db
      .selectFrom("metric_rollups")
      .selectAll()
      .where("workspace_id", "=", range.workspaceId)
      .where("app_name", "=", range.app)
      .where("minute", ">=", range.fromMinute)
      .where("minute", "<=", range.toMinute);
    if (range.version !== undefined) query = query.where("app_version", "=", range.version);
    const rows = await query.orderBy("minute").orderBy("app_version").orderBy("replica").execute();
    return rows.map(toRecord);
  }

  /** Delete every row older than `minute` (the retention); answers how many went. */
  async deleteOlderThan(minute: number): Promise<number> {
    const result = await this.db
      .deleteFrom("metric_rollups")
      .where("minute", "<", minute)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
