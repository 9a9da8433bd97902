/**
 * Conversation state for the `session` step (a chatbot remembering what the user said), kept
 * only here: no step holds state between requests, so one user's state cannot leak into
 * another's answer. A session is addressed by scope (`${workspaceId}/${app}`) AND id (the
 * `x-session-id` header): the same id in another app is another session. It expires after
 * `ttlSeconds` without a turn and is ended explicitly by `DELETE /v1/apps/{app}/sessions/{id}`.
 *
 * Backends: {@link MemorySessionStore} (one process, bounded LRU) and {@link RedisSessionStore}
 * (shared by N replicas). Both store the state as JSON, so a value reads back the same on
 * either (a Date becomes its ISO string), and a caller mutating an object it passed in or got
 * back can never change the stored session.
 */

export interface SessionState {
  /** The fields remembered so far (the latest value of each). */
  readonly fields: Readonly<Record<string, unknown>>;
  /** Requests seen in this session. */
  readonly turns: number;
  /** ISO timestamps. */
  readonly startedAt: string;
  readonly updatedAt: string;
}

export interface SessionStore {
  get(scope: string, sessionId: string): Promise<SessionState | undefined>;
  /**
   * Atomically apply `update` to the session (creating it), refresh its TTL, return the new state.
   * `update` must be a pure function of its argument: a backend may call it again when another
   * replica changed the session in between (optimistic concurrency).
   */
  update(
    scope: string,
    sessionId: string,
    update: (previous: SessionState | undefined) => SessionState,
    ttlSeconds: number,
  ): Promise<SessionState>;
  /** Forget the session at once; true if it existed. */
  end(scope: string, sessionId: string): Promise<boolean>;
  /** Stop background work. A shared Redis connection is closed by its owner, not here. */
  close(): Promise<void>;
}

/** What an `x-session-id` may be: 1-128 of `A-Z a-z 0-9 . _ : -`. */
export const SESSION_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/** Whether `value` is a usable session id (the server answers 400 naming `x-session-id` otherwise). */
export function isSessionId(value: string): boolean {
  return SESSION_ID_PATTERN.test(value);
}

/**
 * The session step's turn: fields remembered earlier fill what this request's record lacks (the
 * caller does that with `previous.fields`), then this record's fields are remembered on top.
 */
export function rememberTurn(
  previous: SessionState | undefined,
  fields: Readonly<Record<string, unknown>>,
  now: Date = new Date(),
): SessionState {
  const at = now.toISOString();
  return {
    fields: { ...previous?.fields, ...fields },
    turns: (previous?.turns ?? 0) + 1,
    startedAt: previous?.startedAt ?? at,
    updatedAt: at,
  };
}

/** Checks shared by every backend, so they refuse the same arguments with the same messages. */
export function assertSessionArgs(scope: string, sessionId: string): void {
  if (scope.length === 0) throw new RangeError("session scope must not be empty");
  if (!isSessionId(sessionId)) {
    throw new RangeError("x-session-id must be 1-128 characters of A-Z a-z 0-9 . _ : -");
  }
}

/** TTLs may be fractional seconds (tests use 0.2 s); the backends store milliseconds >= 1. */
export function sessionTtlMs(ttlSeconds: number): number {
  if (!Number.isFinite(ttlSeconds) || ttlSeconds <= 0) {
    throw new RangeError(`session ttlSeconds must be a number > 0, got ${ttlSeconds}`);
  }
  return Math.max(1, Math.ceil(ttlSeconds * 1000));
}

/** The JSON a backend stores; throws when `update` returned something that is not a state. */
export function serializeSessionState(state: SessionState): string {
  if (!isSessionState(state)) throw new TypeError("a session update must return a SessionState");
  return JSON.stringify(state);
}

/** Read back what {@link serializeSessionState} wrote; throws when the stored text is not a state. */
export function parseSessionState(text: string): SessionState {
  const parsed: unknown = JSON.parse(text);
  if (!isSessionState(parsed)) throw new Error("stored session state is malformed");
  return parsed;
}

function isSessionState(value: unknown): value is SessionState {
  if (value === null || typeof value !== "object") return false;
  const state = value as Partial<Record<keyof SessionState, unknown>>;
  return (
    state.fields !== null &&
    typeof state.fields === "object" &&
    !Array.isArray(state.fields) &&
    typeof state.turns === "number" &&
    Number.isInteger(state.turns) &&
    state.turns >= 0 &&
    typeof state.startedAt === "string" &&
    typeof state.updatedAt === "string"
  );
}
