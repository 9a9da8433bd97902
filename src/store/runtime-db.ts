/**
 * The embedded runtime store: `<dataDir>/runtime.db`, a SQLite file beside the registry for the
 * data plane's own state (idempotency keys, the webhook queue, its results and quarantine). It
 * is separate from the registry because it is written on the request path, per replica, and
 * must be durable the moment a 202 is sent: synchronous=FULL fsyncs each commit, so an event
 * acknowledged before a crash (even a power cut) is on disk.
 */
import { mkdirSync } from "node:fs";
import path from "node:path";
import SqliteDatabase from "better-sqlite3";

export type RuntimeDatabase = SqliteDatabase.Database;

/** Open (creating if needed) the runtime database at `file` (or ":memory:" in unit tests). */
export function openRuntimeDb(file: string): RuntimeDatabase {
  if (file !== ":memory:") mkdirSync(path.dirname(file), { recursive: true });
  const db = new SqliteDatabase(file);
  try {
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = FULL");
    db.pragma("busy_timeout = 5000");
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}

/** Where the runtime database lives in a data dir. */
export const runtimeDbPath = (dataDir: string) => path.join(dataDir, "runtime.db");
