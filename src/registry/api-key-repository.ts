/**
 * API keys: how people, CI and calling services authenticate. The plaintext is shown once,
 * at creation; only its sha256 is stored, so a leaked database does not leak working keys.
 * Keys carry 256 random bits, so a plain (unsalted, fast) hash is enough: there is nothing
 * to brute-force, and lookup by hash needs no constant-time comparison.
 */
import { createHash, randomBytes } from "node:crypto";
import type { Kysely, Selectable } from "kysely";
import { nowIso } from "./codec.ts";
import { NotFoundError, translateError, ValidationError } from "./errors.ts";
import { newId } from "./ids.ts";
import { validateLabel } from "./names.ts";
import type { ApiKeyRole, ApiKeysTable, Database } from "./schema.ts";

export type { ApiKeyRole } from "./schema.ts";

/**
 * What each role may do, least to most: invoker calls published apps; viewer also reads
 * everything; builder also uploads, trains and publishes; admin also manages keys.
 */
export const API_KEY_ROLES: readonly ApiKeyRole[] = ["invoker", "viewer", "builder", "admin"];

/** Every key starts with this, so secret scanners (and people) recognise a leaked one. */
export const API_KEY_PREFIX = "blst_";

/** `blst_` + 32 random bytes in base64url (43 characters). */
const KEY_FORMAT = /^blst_[A-Za-z0-9_-]{43}$/;
/** Characters kept in `prefix` for display: `blst_` + 8. */
const DISPLAY_PREFIX_LENGTH = API_KEY_PREFIX.length + 8;

/** A key as listed: everything but the secret. */
export interface ApiKey {
  readonly id: string;
  readonly workspaceId: string;
  readonly name: string;
  readonly role: ApiKeyRole;
  /** The key's first characters (`blst_AbCd1234`), to tell keys apart in a list. */
  readonly prefix: string;
  readonly createdAt: string;
  readonly lastUsedAt: string | null;
  readonly revokedAt: string | null;
}

/** What a verified key grants; the server attaches it to the request. */
export interface VerifiedKey {
  readonly keyId: string;
  readonly workspaceId: string;
  readonly role: ApiKeyRole;
}

export class ApiKeyRepository {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /**
   * Mints a key. The returned `key` is the only time the plaintext exists outside the
   * caller's hands: show it once and drop it.
   */
  async createKey(
    workspaceId: string,
    options: { readonly name: string; readonly role: ApiKeyRole },
  ): Promise<{ key: string; record: ApiKey }> {
    validateLabel("name", options.name);
    if (!API_KEY_ROLES.includes(options.role)) {
      throw new ValidationError("role", `Unknown role ${JSON.stringify(options.role)}`);
    }
    const key = API_KEY_PREFIX + randomBytes(32).toString("base64url");
    const row: Selectable<ApiKeysTable> = {
      id: newId("key"),
      workspace_id: workspaceId,
      name: options.name,
      role: options.role,
      prefix: key.slice(0, DISPLAY_PREFIX_LENGTH),
      hash: hashKey(key),
      created_at: nowIso(),
      last_used_at: null,
      revoked_at: null,
    };
    try {
      await this.#db.insertInto("api_keys").values(row).execute();
    } catch (error) {
      throw translateError(error, {
        "foreign-key": () => new NotFoundError("workspace", workspaceId),
      });
    }
    return { key, record: toApiKey(row) };
  }

  /**
   * Resolves a presented key to its grant, or undefined when it is malformed, unknown or
   * revoked. Does not update last_used_at: call {@link touchKey} (throttled) for that.
   */
  async verifyKey(plaintext: string): Promise<VerifiedKey | undefined> {
    if (!KEY_FORMAT.test(plaintext)) return undefined;
    const row = await this.#db
      .selectFrom("api_keys")
      .select(["id", "workspace_id", "role"])
      .where("hash", "=", hashKey(plaintext))
      .where("revoked_at", "is", null)
      .executeTakeFirst();
    return row ? { keyId: row.id, workspaceId: row.workspace_id, role: row.role } : undefined;
  }

  /** Keys of a workspace, newest first; revoked ones included unless asked otherwise. */
  async listKeys(
    workspaceId: string,
    options: { readonly includeRevoked?: boolean } = {},
  ): Promise<ApiKey[]> {
    let query = this.#db
      .selectFrom("api_keys")
      .selectAll()
      .where("workspace_id", "=", workspaceId)
      .orderBy("created_at", "desc")
      .orderBy("id", "desc");
    if (options.includeRevoked === false) query = query.where("revoked_at", "is", null);
    const rows = await query.execute();
    return rows.map(toApiKey);
  }

  async getKey(workspaceId: string, keyId: string): Promise<ApiKey> {
    const row = await this.#db
      .selectFrom("api_keys")
      .selectAll()
      .where("id", "=", keyId)
      .where("workspace_id", "=", workspaceId)
      .executeTakeFirst();
    if (!row) throw new NotFoundError("API key", keyId);
    return toApiKey(row);
  }

  /**
   * Revokes a key from now on; revoking twice keeps the first time. Revocation is a flag,
   * not a delete, so audit trails can still name the key.
   */
  async revokeKey(workspaceId: string, keyId: string): Promise<ApiKey> {
    await this.#db
      .updateTable("api_keys")
      .set({ revoked_at: nowIso() })
      .where("id", "=", keyId)
      .where("workspace_id", "=", workspaceId)
      .where("revoked_at", "is", null)
      .execute();
    return this.getKey(workspaceId, keyId);
  }

  /**
   * Records that a key was used. A write per request would dominate the registry's load,
   * so callers throttle (e.g. at most once a minute per key).
   */
  async touchKey(keyId: string, at: Date = new Date()): Promise<void> {
    await this.#db
      .updateTable("api_keys")
      .set({ last_used_at: at.toISOString() })
      .where("id", "=", keyId)
      .execute();
  }
}

/** sha256 hex of the whole key, as stored in api_keys.hash. */
export function hashKey(plaintext: string): string {
  return createHash("sha256").update(plaintext, "utf8").digest("hex");
}

function toApiKey(row: Selectable<ApiKeysTable>): ApiKey {
  return {
    id: row.id,
    workspaceId: row.workspace_id,
    name: row.name,
    role: row.role,
    prefix: row.prefix,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
  };
}
