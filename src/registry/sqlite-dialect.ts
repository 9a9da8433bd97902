/**
 * The embedded registry: one SQLite file in the data dir, no server to run. WAL lets
 * readers proceed while a write commits; foreign keys are off by default in SQLite and
 * must be switched on per connection; a busy timeout makes a second process (the CLI while
 * the server runs) wait for the write lock instead of failing at once.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import SqliteDatabase from "better-sqlite3";
import {
  CompiledQuery,
  type DatabaseConnection,
  type Driver,
  SqliteDialect,
  type SqliteDialectConfig,
  SqliteDriver,
} from "kysely";

export interface SqliteDialectOptions {
  /** Path of the database file, or ":memory:" for a throwaway registry. */
  readonly path: string;
  /** How long a write waits for another process's lock before failing (default 5000 ms). */
  readonly busyTimeoutMs?: number;
}

export function createSqliteDialect(options: SqliteDialectOptions): SqliteDialect {
  const { path } = options;
  if (path !== ":memory:" && !path.startsWith("file:")) {
    mkdirSync(dirname(path), { recursive: true });
  }
  const database = new SqliteDatabase(path);
  try {
    database.pragma("journal_mode = WAL");
    // With WAL, NORMAL is durable against application crashes and stays consistent on
    // power loss; FULL would fsync every commit for little gain here.
    database.pragma("synchronous = NORMAL");
    database.pragma("foreign_keys = ON");
    database.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`);
  } catch (error) {
    database.close();
    throw error;
  }
  return new ImmediateSqliteDialect({ database });
}

/**
 * Kysely opens SQLite transactions with a plain (deferred) BEGIN, which takes the write lock
 * only at the first write; if another process committed after this transaction's first
 * read, that upgrade fails at once with SQLITE_BUSY, busy timeout or not. BEGIN IMMEDIATE
 * takes the write lock up front (waiting up to the busy timeout), so read-then-write
 * transactions from the server and the CLI simply take turns.
 */
class ImmediateSqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig;

  constructor(config: SqliteDialectConfig) {
    super(config);
    this.#config = config;
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config);
  }
}

class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw("begin immediate"));
  }
}
