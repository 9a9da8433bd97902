/**
 * Idempotency keys (policy `idempotency`): a client that retries a request with the same
 * `Idempotency-Key` gets the first answer again instead of a second execution, a reuse of the
 * key with another body is refused (422), and two requests racing with one key execute once.
 *
 * The protocol, per (scope, key):
 * 1. `begin()` atomically claims the key. Exactly one caller gets `started`; it runs the request,
 *    then `complete()` stores the answer (kept `ttlSeconds`) or `release()` forgets the claim
 *    (the request failed with a 5xx or was shed, so a retry must run it again).
 * 2. Everyone else gets `replay` (the stored answer), `in_progress` (the first is still running;
 *    {@link beginOrWait} polls for its answer) or `mismatch` (different fingerprint).
 *
 * A claim is a lease (default 60 s): if the process holding it dies, the claim expires and the
 * next `begin()` takes it over, so a crash never blocks a key until its TTL.
 *
 * Backends: {@link SqliteIdempotencyStore} (`<dataDir>/runtime.db`, the embedded default) and
 * {@link RedisIdempotencyStore} (shared by N replicas). Both run the same test suite.
 */
import { hash } from "node:crypto";
import { canonicalJson } from "../canonical-json.ts";

/** An answer as it was sent, replayed byte for byte. */
export interface StoredResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export type IdempotencyBegin =
  /** This caller runs the request, then calls complete() or release(). */
  | { readonly state: "started" }
  /** The key was used with this body before: answer with the stored response. */
  | { readonly state: "replay"; readonly response: StoredResponse }
  /** Another request with this key and body is running. */
  | { readonly state: "in_progress" }
  /** The key was used with a different body (or method, or path). */
  | { readonly state: "mismatch" };

export interface IdempotencyStore {
  /** Claim `key` in `scope` for the request `fingerprint`, or report who has it. Atomic across processes. */
  begin(
    scope: string,
    key: string,
    fingerprint: string,
    ttlSeconds: number,
  ): Promise<IdempotencyBegin>;
  /**
   * Store the answer of the request this caller started; it is replayed for `ttlSeconds`. The
   * first stored answer wins: completing a key already completed (or claimed by another
   * fingerprint after a lease expired) changes nothing.
   */
  complete(
    scope: string,
    key: string,
    fingerprint: string,
    response: StoredResponse,
    ttlSeconds: number,
  ): Promise<void>;
  /** Forget an in-progress key (the request failed with a 5xx or was shed), so a retry runs again. */
  release(scope: string, key: string, fingerprint: string): Promise<void>;
  /** Stop background work. A shared database or Redis connection is closed by its owner, not here. */
  close(): Promise<void>;
}

/** How long a claim protects a running request before another process may take it over. */
export const DEFAULT_LEASE_MS = 60_000;

/**
 * The fingerprint of a request: sha256 (hex) of its method, path and the canonical JSON of its
 * body, so a retry with the body's keys in another order is still "the same request". An absent
 * body counts as `null`.
 */
export function requestFingerprint(method: string, path: string, body: unknown): string {
  return hash(
    "sha256",
    `${method.toUpperCase()} ${path}\n${canonicalJson(body === undefined ? null : body)}`,
    "hex",
  );
}

/**
 * {@link IdempotencyStore.begin}, and while another request holds the key, poll with a short
 * jittered backoff (5 ms doubling to 100 ms) until it is answered (`replay`), released
 * (`started`: this caller now runs it) or `waitMs` has passed (then `in_progress`: the caller
 * answers "still running", e.g. 409). `signal` aborts the wait with its reason (client gone,
 * deadline), so a waiting request never outlives its own budget.
 */
export async function beginOrWait(
  store: IdempotencyStore,
  scope: string,
  key: string,
  fingerprint: string,
  ttlSeconds: number,
  waitMs: number,
  signal?: AbortSignal,
): Promise<IdempotencyBegin> {
  const deadline = Date.now() + waitMs;
  let delay = 5;
  for (;;) {
    signal?.throwIfAborted();
    const result = await store.begin(scope, key, fingerprint, ttlSeconds);
    const left = deadline - Date.now();
    if (result.state !== "in_progress" || left <= 0) return result;
    await sleep(Math.min(left, delay * (0.5 + Math.random())), signal);
    delay = Math.min(delay * 2, 100);
  }
}

/** Checks shared by every backend, so they refuse the same arguments with the same messages. */
export function assertBeginArgs(scope: string, key: string, fingerprint: string): void {
  if (scope.length === 0) throw new RangeError("idempotency scope must not be empty");
  if (key.length === 0) throw new RangeError("idempotency key must not be empty");
  if (fingerprint.length === 0) throw new RangeError("idempotency fingerprint must not be empty");
}

/** TTLs may be fractional seconds (tests use 0.2 s); the backends store milliseconds >= 1. */
export function ttlToMs(ttlSeconds: number): number {
  if (!Number.isFinite(ttlSeconds) || ttlSeconds <= 0) {
    throw new RangeError(`idempotency ttlSeconds must be a number > 0, got ${ttlSeconds}`);
  }
  return Math.max(1, Math.ceil(ttlSeconds * 1000));
}

/** Checks a response before it is stored, so a replay can never fail on what complete() accepted. */
export function assertStoredResponse(response: StoredResponse): void {
  if (!Number.isInteger(response.status) || response.status < 100 || response.status > 599) {
    throw new RangeError(`stored response status must be an HTTP status, got ${response.status}`);
  }
}

/** Read back what a backend serialized; throws when the stored text is not a response. */
export function parseStoredHeaders(text: string): Readonly<Record<string, string>> {
  const parsed: unknown = JSON.parse(text);
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new Error("stored idempotent response has malformed headers");
  }
  const entries: [string, string][] = [];
  for (const [name, value] of Object.entries(parsed) as [string, unknown][]) {
    if (typeof value !== "string")
      throw new Error("stored idempotent response has malformed headers");
    entries.push([name, value]);
  }
  // fromEntries defines own properties, so even a header named "__proto__" stays a header.
  return Object.fromEntries(entries);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
