/**
 * The response cache (policy `cache`): remembers an app version's answer to a validated input
 * for `ttlSeconds`, bounded to `maxEntries` (least recently used evicted first), so a repeated
 * request skips the model. One cache per app version: the server makes a new one when a version
 * is deployed and drops the old one, and every key also starts with the version id
 * ({@link cacheKey}), so a new version can never answer from an old version's entries even if a
 * cache were shared.
 *
 * It lives in process on purpose, also with Redis configured: a hit must cost less than the
 * model it saves (microseconds), and a miss on another replica only costs one prediction.
 */
import { hash } from "node:crypto";
import { LRUCache } from "lru-cache";
import { canonicalJson } from "../../store/canonical-json.ts";

export interface ResponseCacheOptions {
  /** At most this many entries; the least recently used is evicted first. Integer >= 1. */
  readonly maxEntries: number;
  /** An entry older than this is never served. 0 keeps entries until evicted. */
  readonly ttlMs: number;
  /** The clock entries age by (milliseconds); tests pass their own. Default `performance`. */
  readonly clock?: { now(): number };
}

/** Boxed so that any value (also `null`) can be cached: lru-cache refuses null values. */
interface Entry {
  readonly value: unknown;
}

export class ResponseCache {
  readonly #entries: LRUCache<string, Entry>;
  #hits = 0;
  #misses = 0;

  constructor(options: ResponseCacheOptions) {
    const { maxEntries, ttlMs } = options;
    if (!Number.isInteger(maxEntries) || maxEntries < 1) {
      throw new RangeError(`maxEntries must be an integer >= 1, got ${maxEntries}`);
    }
    if (!Number.isFinite(ttlMs) || ttlMs < 0) {
      throw new RangeError(`ttlMs must be a finite number >= 0, got ${ttlMs}`);
    }
    this.#entries = new LRUCache<string, Entry>({
      max: maxEntries,
      ...(ttlMs > 0 ? { ttl: Math.ceil(ttlMs) } : {}),
      ...(options.clock ? { perf: options.clock, ttlResolution: 0 } : {}),
    });
  }

  /** The cached value, or undefined (a miss) when absent or expired. Counts the hit or miss. */
  get(key: string): unknown | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) {
      this.#misses++;
      return undefined;
    }
    this.#hits++;
    return entry.value;
  }

  /** Remember `value` for `key`; `undefined` is not a value and forgets the key instead. */
  set(key: string, value: unknown): void {
    if (value === undefined) this.#entries.delete(key);
    else this.#entries.set(key, { value });
  }

  /** Lookups that found a fresh entry, since the cache was made (never decreases). */
  get hits(): number {
    return this.#hits;
  }

  /** Lookups that found nothing (absent or expired), since the cache was made (never decreases). */
  get misses(): number {
    return this.#misses;
  }

  /** Entries held now (expired ones may still count until they are looked up or evicted). */
  get size(): number {
    return this.#entries.size;
  }

  /** hits / (hits + misses); 0 before the first lookup. */
  hitRate(): number {
    const lookups = this.#hits + this.#misses;
    return lookups === 0 ? 0 : this.#hits / lookups;
  }

  /** Drop every entry. The hit and miss counts are kept: metrics read them as counters. */
  clear(): void {
    this.#entries.clear();
  }
}

/**
 * The cache key of a validated input for one app version: `<appVersionId>:<sha256 hex>` of the
 * input's canonical JSON (key order does not matter). `variant` separates answers to the same
 * input that differ by request options (e.g. with explanations); it is hashed with the input,
 * length-prefixed, so no choice of version id, variant and input can collide with another.
 */
export function cacheKey(appVersionId: string, input: unknown, variant?: string): string {
  const text = canonicalJson(input);
  const digest =
    variant === undefined
      ? hash("sha256", text, "hex")
      : hash("sha256", `${variant.length}:${variant}\n${text}`, "hex");
  return `${appVersionId}:${digest}`;
}
