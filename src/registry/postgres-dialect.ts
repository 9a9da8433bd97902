/**
 * The scale-out registry: PostgreSQL behind a pg connection pool, shared by every replica.
 * The pool reconnects by itself; an idle connection dropped by the server (a restart, a
 * failover) emits an error event that would crash the process if nobody listened, so one
 * listener is always attached.
 */
import { PostgresDialect } from "kysely";
import pg from "pg";

export interface PostgresDialectOptions {
  /** postgres://user:password@host:port/database */
  readonly url: string;
  /** Connections per process (default 10). Replicas × poolSize must fit max_connections. */
  readonly poolSize?: number;
  /** Called when an idle pooled connection fails; defaults to a process warning. */
  readonly onPoolError?: (error: Error) => void;
}

export function createPostgresDialect(options: PostgresDialectOptions): PostgresDialect {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
  });
  pool.on(
    "error",
    options.onPoolError ??
      ((error: Error) => process.emitWarning(`Registry PostgreSQL pool: ${error.message}`)),
  );
  return new PostgresDialect({ pool });
}

/** True for the URLs that select the PostgreSQL dialect. */
export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}
