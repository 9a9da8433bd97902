/**
 * The embedded {@link SessionStore}: sessions in this process's memory, for one replica. It is
 * bounded twice, so a flood of new session ids cannot exhaust memory: each session expires
 * `ttlSeconds` after its last turn, and beyond `maxSessions` the least recently used is
 * evicted (that user's next turn starts a new session, as after a TTL).
 *
 * `update()` is atomic because it is synchronous from read to write (the update function
 * cannot await), so no other request's turn can interleave on this event loop.
 */
import { LRUCache } from "lru-cache";
import {
  assertSessionArgs,
  parseSessionState,
  type SessionState,
  type SessionStore,
  serializeSessionState,
  sessionTtlMs,
} from "./session-store.ts";

export interface MemorySessionStoreOptions {
  /** At most this many live sessions (default 100,000); the least recently used goes first. */
  readonly maxSessions?: number;
  /** The clock sessions age by (milliseconds); tests pass their own. Default `performance`. */
  readonly clock?: { now(): number };
}

export class MemorySessionStore implements SessionStore {
  /** JSON text per session, so callers never share an object with the store. */
  readonly #sessions: LRUCache<string, string>;
  #closed = false;

  constructor(options: MemorySessionStoreOptions = {}) {
    const maxSessions = options.maxSessions ?? 100_000;
    if (!Number.isInteger(maxSessions) || maxSessions < 1) {
      throw new RangeError(`maxSessions must be an integer >= 1, got ${maxSessions}`);
    }
    this.#sessions = new LRUCache<string, string>({
      max: maxSessions,
      ...(options.clock ? { perf: options.clock, ttlResolution: 0 } : {}),
    });
  }

  /** Live sessions (expired ones may count until they are looked up or evicted). */
  get size(): number {
    return this.#sessions.size;
  }

  async get(scope: string, sessionId: string): Promise<SessionState | undefined> {
    this.#assertOpen();
    assertSessionArgs(scope, sessionId);
    const text = this.#sessions.get(sessionKey(scope, sessionId));
    return text === undefined ? undefined : parseSessionState(text);
  }

  async update(
    scope: string,
    sessionId: string,
    update: (previous: SessionState | undefined) => SessionState,
    ttlSeconds: number,
  ): Promise<SessionState> {
    this.#assertOpen();
    assertSessionArgs(scope, sessionId);
    const ttl = sessionTtlMs(ttlSeconds);
    const key = sessionKey(scope, sessionId);
    const text = this.#sessions.get(key);
    const next = serializeSessionState(
      update(text === undefined ? undefined : parseSessionState(text)),
    );
    this.#sessions.set(key, next, { ttl });
    return parseSessionState(next);
  }

  async end(scope: string, sessionId: string): Promise<boolean> {
    this.#assertOpen();
    assertSessionArgs(scope, sessionId);
    const key = sessionKey(scope, sessionId);
    // has() is false for an expired session, which no longer exists for the caller either.
    const existed = this.#sessions.has(key);
    this.#sessions.delete(key);
    return existed;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#sessions.clear();
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error("the session store is closed");
  }
}

/** Length-prefixed, so no (scope, id) pair can spell another's key. */
const sessionKey = (scope: string, sessionId: string) => `${scope.length}:${scope}|${sessionId}`;
