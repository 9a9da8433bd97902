/**
 * The embedded {@link IdempotencyStore}: table `idempotency_keys` in `<dataDir>/runtime.db`.
 *
 * Atomic across processes sharing the file: `begin()` is one IMMEDIATE transaction (it takes
 * SQLite's write lock first, so two processes cannot both read "absent") holding an upsert that
 * only overwrites an expired row, then a read of the row. `changes === 1` means this caller
 * claimed the key. Expired rows (finished answers past their TTL, claims past their lease) are
 * purged opportunistically by `begin()`, at most once per `purgeIntervalMs` and in bounded
 * batches, so the table stays small without a timer and no request pays for a large delete.
 */
import type { RuntimeDatabase } from "../runtime-db.ts";
import {
  assertBeginArgs,
  assertStoredResponse,
  DEFAULT_LEASE_MS,
  type IdempotencyBegin,
  type IdempotencyStore,
  parseStoredHeaders,
  type StoredResponse,
  ttlToMs,
} from "./idempotency-store.ts";

export interface SqliteIdempotencyStoreOptions {
  /** How long a claim protects a running request from takeover (default 60 s). */
  readonly leaseMs?: number;
  /** Purge expired rows at most this often (default 60 s). */
  readonly purgeIntervalMs?: number;
  /** Rows deleted per purge (default 500); the rest wait for the next `begin()`. */
  readonly purgeBatchSize?: number;
  /** Wall clock in ms (rows are shared by processes, so not a monotonic clock). Default Date.now. */
  readonly now?: () => number;
}

interface Row {
  readonly fingerprint: string;
  readonly status: number | null;
  readonly headers: string | null;
  readonly body: string | null;
}

interface ClaimParams {
  readonly scope: string;
  readonly key: string;
  readonly fingerprint: string;
  readonly expiresAt: number;
  readonly now: number;
}

interface StoreParams extends ClaimParams {
  readonly status: number;
  readonly headers: string;
  readonly body: string;
}

export class SqliteIdempotencyStore implements IdempotencyStore {
  readonly #leaseMs: number;
  readonly #purgeIntervalMs: number;
  readonly #purgeBatchSize: number;
  readonly #now: () => number;
  readonly #begin: (
    scope: string,
    key: string,
    fingerprint: string,
    expiresAt: number,
    now: number,
  ) => IdempotencyBegin;
  readonly #complete: (
    scope: string,
    key: string,
    fingerprint: string,
    response: StoredResponse,
    expiresAt: number,
    now: number,
  ) => void;
  readonly #release: (scope: string, key: string, fingerprint: string) => void;
  readonly #purge: (now: number, limit: number) => number;
  #lastPurge = Number.NEGATIVE_INFINITY;
  #closed = false;

  /** Creates the table if needed. `db` stays open on close(): its owner (shared with the webhook queue) closes it. */
  constructor(db: RuntimeDatabase, options: SqliteIdempotencyStoreOptions = {}) {
    this.#leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    this.#purgeIntervalMs = options.purgeIntervalMs ?? 60_000;
    this.#purgeBatchSize = options.purgeBatchSize ?? 500;
    this.#now = options.now ?? Date.now;
    db.exec(`
      CREATE TABLE IF NOT EXISTS idempotency_keys (
        scope TEXT NOT NULL,
        key TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        status INTEGER,
        headers TEXT,
        body TEXT,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (scope, key)
      );
      CREATE INDEX IF NOT EXISTS idempotency_keys_expires_at ON idempotency_keys (expires_at);
    `);
    // status IS NULL marks a claim in progress; expires_at is its lease, then the answer's TTL.
    const claim = db.prepare<[ClaimParams]>(`
      INSERT INTO idempotency_keys (scope, key, fingerprint, status, headers, body, expires_at)
      VALUES (@scope, @key, @fingerprint, NULL, NULL, NULL, @expiresAt)
      ON CONFLICT (scope, key) DO UPDATE SET
        fingerprint = excluded.fingerprint, status = NULL, headers = NULL, body = NULL,
        expires_at = excluded.expires_at
      WHERE idempotency_keys.expires_at <= @now
    `);
    const read = db.prepare<[string, string], Row>(
      "SELECT fingerprint, status, headers, body FROM idempotency_keys WHERE scope = ? AND key = ?",
    );
    const store = db.prepare<[StoreParams]>(`
      INSERT INTO idempotency_keys (scope, key, fingerprint, status, headers, body, expires_at)
      VALUES (@scope, @key, @fingerprint, @status, @headers, @body, @expiresAt)
      ON CONFLICT (scope, key) DO UPDATE SET
        fingerprint = excluded.fingerprint, status = excluded.status, headers = excluded.headers,
        body = excluded.body, expires_at = excluded.expires_at
      WHERE (idempotency_keys.fingerprint = excluded.fingerprint AND idempotency_keys.status IS NULL)
        OR idempotency_keys.expires_at <= @now
    `);
    const forget = db.prepare<[string, string, string]>(
      "DELETE FROM idempotency_keys WHERE scope = ? AND key = ? AND fingerprint = ? AND status IS NULL",
    );
    const purge = db.prepare<[number, number]>(
      `DELETE FROM idempotency_keys WHERE rowid IN
         (SELECT rowid FROM idempotency_keys WHERE expires_at <= ? LIMIT ?)`,
    );

    const begin = db.transaction(
      (scope: string, key: string, fingerprint: string, expiresAt: number, now: number) => {
        if (claim.run({ scope, key, fingerprint, expiresAt, now }).changes === 1) {
          return { state: "started" } as const;
        }
        const row = read.get(scope, key);
        if (row === undefined) throw new Error("idempotency row vanished inside its transaction");
        if (row.fingerprint !== fingerprint) return { state: "mismatch" } as const;
        if (row.status === null) return { state: "in_progress" } as const;
        const response: StoredResponse = {
          status: row.status,
          headers: parseStoredHeaders(row.headers ?? "{}"),
          body: row.body ?? "",
        };
        return { state: "replay", response } as const;
      },
    );
    this.#begin = (...args) => begin.immediate(...args);
    this.#complete = (scope, key, fingerprint, response, expiresAt, now) => {
      store.run({
        scope,
        key,
        fingerprint,
        status: response.status,
        headers: JSON.stringify(response.headers),
        body: response.body,
        expiresAt,
        now,
      });
    };
    this.#release = (scope, key, fingerprint) => {
      forget.run(scope, key, fingerprint);
    };
    this.#purge = (now, limit) => purge.run(now, limit).changes;
  }

  async begin(
    scope: string,
    key: string,
    fingerprint: string,
    ttlSeconds: number,
  ): Promise<IdempotencyBegin> {
    this.#assertOpen();
    assertBeginArgs(scope, key, fingerprint);
    const now = this.#now();
    const leaseMs = Math.min(this.#leaseMs, ttlToMs(ttlSeconds));
    if (now - this.#lastPurge >= this.#purgeIntervalMs) this.#purgeNow(now);
    return this.#begin(scope, key, fingerprint, now + leaseMs, now);
  }

  async complete(
    scope: string,
    key: string,
    fingerprint: string,
    response: StoredResponse,
    ttlSeconds: number,
  ): Promise<void> {
    this.#assertOpen();
    assertBeginArgs(scope, key, fingerprint);
    assertStoredResponse(response);
    const now = this.#now();
    this.#complete(scope, key, fingerprint, response, now + ttlToMs(ttlSeconds), now);
  }

  async release(scope: string, key: string, fingerprint: string): Promise<void> {
    this.#assertOpen();
    this.#release(scope, key, fingerprint);
  }

  /** Delete up to `limit` expired rows now; returns how many went. For maintenance and tests. */
  purgeExpired(limit = this.#purgeBatchSize): number {
    this.#assertOpen();
    return this.#purge(this.#now(), limit);
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  #purgeNow(now: number): void {
    const deleted = this.#purge(now, this.#purgeBatchSize);
    // A full batch means more are waiting: let the next begin() continue instead of waiting a period.
    this.#lastPurge = deleted === this.#purgeBatchSize ? Number.NEGATIVE_INFINITY : now;
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error("the idempotency store is closed");
  }
}
