/**
 * The scale-out {@link SessionStore}: one Redis hash per session, shared by N replicas, so a
 * conversation can land on any replica turn after turn. Key:
 * `<prefix>sess:<encodeURIComponent(scope)>:<sessionId>` (the id's alphabet has no `:`-escape
 * issues, the scope is encoded), fields `v` (a random version token) and `d` (the state's
 * JSON), PEXPIRE = the session's TTL, refreshed by every turn.
 *
 * Why not WATCH/MULTI: WATCH belongs to the connection, and one client serves every concurrent
 * request of a replica, so one request's EXEC would silently drop another's WATCH. Instead:
 * 1. within a replica, updates of one session run one after another (a promise chain per key),
 *    so they never conflict with each other;
 * 2. across replicas, each write is a compare-and-set in Lua: it succeeds only if `v` is still
 *    the token read before `update` ran (a new random token per write, so no ABA); otherwise it
 *    re-reads, re-applies `update` and tries again, with a short jittered backoff.
 */
import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import { RedisScript } from "../redis.ts";
import {
  assertSessionArgs,
  parseSessionState,
  type SessionState,
  type SessionStore,
  serializeSessionState,
  sessionTtlMs,
} from "./session-store.ts";

export interface RedisSessionStoreOptions {
  /** Every key starts with this (config `redisPrefix`, e.g. "ballast:"). */
  readonly prefix: string;
  /** Compare-and-set attempts before update() gives up (default 50). */
  readonly maxAttempts?: number;
}

// KEYS[1] session; ARGV expected token ('' = absent), new token, state JSON, ttlMs.
const COMPARE_AND_SET = new RedisScript(`
local current = redis.call('HGET', KEYS[1], 'v')
if (current or '') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'd', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
`);

/** update() lost the race `maxAttempts` times: another replica keeps changing the session. */
export class SessionConflictError extends Error {
  constructor(
    readonly sessionId: string,
    readonly attempts: number,
  ) {
    super(`Session ${sessionId} kept changing under ${attempts} attempts to update it`);
    this.name = "SessionConflictError";
  }
}

export class RedisSessionStore implements SessionStore {
  readonly #client: Redis;
  readonly #prefix: string;
  readonly #maxAttempts: number;
  /** The tail of each session's queue of updates in this process; deleted when it drains. */
  readonly #chains = new Map<string, Promise<void>>();
  #closed = false;

  /** `client` is shared (rate limits, idempotency); close() leaves it open for its owner to quit. */
  constructor(client: Redis, options: RedisSessionStoreOptions) {
    this.#client = client;
    this.#prefix = options.prefix;
    this.#maxAttempts = options.maxAttempts ?? 50;
  }

  async get(scope: string, sessionId: string): Promise<SessionState | undefined> {
    this.#assertOpen();
    assertSessionArgs(scope, sessionId);
    const text = await this.#client.hget(this.#key(scope, sessionId), "d");
    return text === null ? undefined : parseSessionState(text);
  }

  async update(
    scope: string,
    sessionId: string,
    update: (previous: SessionState | undefined) => SessionState,
    ttlSeconds: number,
  ): Promise<SessionState> {
    this.#assertOpen();
    assertSessionArgs(scope, sessionId);
    const ttlMs = sessionTtlMs(ttlSeconds);
    const key = this.#key(scope, sessionId);
    return this.#serialized(key, async () => {
      for (let attempt = 1; attempt <= this.#maxAttempts; attempt++) {
        const [token, text] = await this.#client.hmget(key, "v", "d");
        const previous = text === null || text === undefined ? undefined : parseSessionState(text);
        const next = serializeSessionState(update(previous));
        const written = await COMPARE_AND_SET.run(
          this.#client,
          [key],
          [token ?? "", randomBytes(12).toString("base64url"), next, ttlMs],
        );
        if (written === 1) return parseSessionState(next);
        await sleep(Math.random() * Math.min(50, 2 ** attempt));
      }
      throw new SessionConflictError(sessionId, this.#maxAttempts);
    });
  }

  async end(scope: string, sessionId: string): Promise<boolean> {
    this.#assertOpen();
    assertSessionArgs(scope, sessionId);
    return (await this.#client.del(this.#key(scope, sessionId))) > 0;
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  /** Run `task` after every earlier task on `key` in this process has settled. */
  async #serialized<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#chains.get(key) ?? Promise.resolve();
    const run = previous.then(task);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.#chains.set(key, tail);
    try {
      return await run;
    } finally {
      if (this.#chains.get(key) === tail) this.#chains.delete(key);
    }
  }

  #key(scope: string, sessionId: string): string {
    return `${this.#prefix}sess:${encodeURIComponent(scope)}:${sessionId}`;
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error("the session store is closed");
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
