/**
 * The scale-out {@link IdempotencyStore}: one Redis hash per key, shared by every replica.
 *
 * Each operation is one Lua script, so its read-check-write is atomic on the server (no WATCH,
 * which is per connection and breaks when concurrent requests share a client). A claim is the
 * hash `{f: fingerprint}` with PEXPIRE = the lease, so a claim left by a crashed replica simply
 * disappears and the next `begin()` takes the key; completing adds status, headers and body and
 * resets the expiry to the answer's TTL. Redis expires entries itself: nothing to purge.
 *
 * Key: `<prefix>idem:<encodeURIComponent(scope)>:<key>`; the scope is encoded so that no
 * (scope, key) pair can spell another's key.
 */
import type { Redis } from "ioredis";
import { RedisScript } from "../redis.ts";
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

export interface RedisIdempotencyStoreOptions {
  /** Every key starts with this (config `redisPrefix`, e.g. "ballast:"). */
  readonly prefix: string;
  /** How long a claim protects a running request from takeover (default 60 s). */
  readonly leaseMs?: number;
}

// KEYS[1] entry; ARGV fingerprint, leaseMs.
const BEGIN = new RedisScript(`
local entry = redis.call('HMGET', KEYS[1], 'f', 'status', 'headers', 'body')
if not entry[1] then
  redis.call('HSET', KEYS[1], 'f', ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {'started'}
end
if entry[1] ~= ARGV[1] then return {'mismatch'} end
if not entry[2] then return {'in_progress'} end
return {'replay', entry[2], entry[3], entry[4]}
`);

// KEYS[1] entry; ARGV fingerprint, status, headers, body, ttlMs. The first answer wins.
const COMPLETE = new RedisScript(`
local entry = redis.call('HMGET', KEYS[1], 'f', 'status')
if entry[1] and (entry[1] ~= ARGV[1] or entry[2]) then return 0 end
redis.call('HSET', KEYS[1], 'f', ARGV[1], 'status', ARGV[2], 'headers', ARGV[3], 'body', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
`);

// KEYS[1] entry; ARGV fingerprint. Only this fingerprint's unfinished claim is forgotten.
const RELEASE = new RedisScript(`
local entry = redis.call('HMGET', KEYS[1], 'f', 'status')
if entry[1] == ARGV[1] and not entry[2] then return redis.call('DEL', KEYS[1]) end
return 0
`);

export class RedisIdempotencyStore implements IdempotencyStore {
  readonly #client: Redis;
  readonly #prefix: string;
  readonly #leaseMs: number;
  #closed = false;

  /** `client` is shared (rate limits, sessions); close() leaves it open for its owner to quit. */
  constructor(client: Redis, options: RedisIdempotencyStoreOptions) {
    this.#client = client;
    this.#prefix = options.prefix;
    this.#leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
  }

  async begin(
    scope: string,
    key: string,
    fingerprint: string,
    ttlSeconds: number,
  ): Promise<IdempotencyBegin> {
    this.#assertOpen();
    assertBeginArgs(scope, key, fingerprint);
    const leaseMs = Math.min(this.#leaseMs, ttlToMs(ttlSeconds));
    const reply = await BEGIN.run(this.#client, [this.#key(scope, key)], [fingerprint, leaseMs]);
    if (!Array.isArray(reply)) throw new Error("unexpected reply from the idempotency script");
    const [state, status, headers, body] = reply as unknown[];
    switch (state) {
      case "started":
      case "in_progress":
      case "mismatch":
        return { state };
      case "replay":
        if (typeof status !== "string" || typeof headers !== "string" || typeof body !== "string") {
          throw new Error("stored idempotent response is malformed");
        }
        return {
          state: "replay",
          response: { status: Number(status), headers: parseStoredHeaders(headers), body },
        };
      default:
        throw new Error("unexpected reply from the idempotency script");
    }
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
    await COMPLETE.run(
      this.#client,
      [this.#key(scope, key)],
      [
        fingerprint,
        response.status,
        JSON.stringify(response.headers),
        response.body,
        ttlToMs(ttlSeconds),
      ],
    );
  }

  async release(scope: string, key: string, fingerprint: string): Promise<void> {
    this.#assertOpen();
    await RELEASE.run(this.#client, [this.#key(scope, key)], [fingerprint]);
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  #key(scope: string, key: string): string {
    return `${this.#prefix}idem:${encodeURIComponent(scope)}:${key}`;
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error("the idempotency store is closed");
  }
}
