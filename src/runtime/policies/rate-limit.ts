/**
 * Rate limits: token buckets (a sustained rate plus a burst) per API key, per app and per
 * workspace, checked together on every predict request before its body is read. In process on
 * the embedded default; in Redis when configured, so N replicas share one bucket.
 *
 * The buckets are ours (GCRA, the "generic cell rate algorithm", which is an exact token bucket
 * stored as one number per bucket: the time at which it will be full again). rate-limiter-
 * flexible was the intended library, but it cannot give these semantics:
 * - its limiters count in fixed windows (N points per D seconds from the first hit), which
 *   refill all at once at the window's end instead of one token every 1/rate seconds, and
 *   BurstyRateLimiter (two fixed windows) lets the long-run rate exceed the configured one;
 * - it consumes one key per call, so checking three buckets either spends tokens in buckets
 *   whose request is then refused or needs a racy refund; the Redis script here checks every
 *   bucket and takes from all or none, atomically, in one round trip;
 * - a custom Lua script can be slotted into RateLimiterRedis, but only by depending on its
 *   undocumented argument order and result format, and it registers that script under one
 *   shared command name on the caller's client.
 * The in-process buckets and the Redis script run the same arithmetic, so both backends admit
 * the same requests, and the in-process buckets are also the Redis backend's insurance: when
 * Redis is down or slow, limits fail open to per-replica buckets (reported through
 * `onBackendError`) instead of failing the request.
 */
import { createHash } from "node:crypto";
import type { Redis } from "ioredis";
import { RateLimitedError } from "../errors.ts";

export type RateLimitScope = "key" | "app" | "workspace";

/** One bucket a request draws a token from. */
export interface RateLimitBucket {
  readonly scope: RateLimitScope;
  /** Unique within its scope, e.g. `${workspace}:${app}:${keyId}` for a key's bucket on one app. */
  readonly id: string;
  /** Tokens added per second (the sustained rate); 0 = no limit, the bucket is skipped. */
  readonly perSecond: number;
  /** The bucket's size: requests allowed at once after a quiet spell (at least 1). */
  readonly burst: number;
}

/**
 * What the `RateLimit-*` headers of an admitted request say, for its tightest bucket (the one
 * with the fewest tokens left). `limit` 0 means no bucket applied: send no headers.
 */
export interface RateLimitVerdict {
  /** The bucket's size (`RateLimit-Limit`). */
  readonly limit: number;
  /** Whole tokens left after this request (`RateLimit-Remaining`). */
  readonly remaining: number;
  /** Seconds until the bucket is full again (`RateLimit-Reset`). */
  readonly resetSeconds: number;
  /** `RateLimit-Policy`: `<rate>;w=1;burst=<size>;comment="<scope>"`. */
  readonly policy: string;
  /** Which bucket the numbers are for; undefined when none applied. */
  readonly scope?: RateLimitScope;
}

export interface RateLimiterOptions {
  /** Share buckets through this Redis; in process when absent. The limiter does not close it. */
  readonly redis?: Redis;
  /** Every Redis key starts with it (the deployment's `redisPrefix`). */
  readonly prefix: string;
  /**
   * Called when Redis failed, timed out or was down and the request was limited by this
   * replica's in-process buckets instead. Called once per such request: keep it cheap (count it).
   */
  readonly onBackendError?: (error: Error) => void;
  /** How long a Redis check may take before the in-process buckets decide (default 250 ms). */
  readonly backendTimeoutMs?: number;
  /** Monotonic milliseconds for the in-process buckets (default `performance.now`); for tests. */
  readonly clock?: () => number;
}

/** Checks and spends tokens. Create one per process and share it; it is safe to call concurrently. */
export interface RateLimiter {
  /** Where the buckets live; "redis" still falls back to memory while Redis is unavailable. */
  readonly backend: "memory" | "redis";
  /**
   * Takes one token from every bucket with a rate, or from none: a request refused by one
   * bucket costs the others nothing. Resolves with the headers' numbers; rejects with
   * RateLimitedError (the bucket that must refill longest, `retryAfterSeconds` >= 1).
   */
  consume(buckets: readonly RateLimitBucket[]): Promise<RateLimitVerdict>;
  /**
   * The same as `consume`, synchronously, throwing RateLimitedError; only the in-process
   * backend has it (the hot path then completes without a promise).
   */
  consumeNow?(buckets: readonly RateLimitBucket[]): RateLimitVerdict;
}

/** The verdict when no bucket has a rate: nothing to tell the caller. */
export const UNLIMITED: RateLimitVerdict = Object.freeze({
  limit: 0,
  remaining: 0,
  resetSeconds: 0,
  policy: "",
});

/** Create the process's limiter: in Redis when `redis` is given, else in process. */
export function createRateLimiter(options: RateLimiterOptions): RateLimiter {
  const memory = new MemoryBuckets(options.clock ?? (() => performance.now()));
  if (!options.redis) return memory;
  return new RedisBuckets(options.redis, options.prefix, memory, options);
}

/** Floating point slack when turning token fractions into whole numbers. */
const EPSILON = 1e-9;

/** A bucket configuration's derived numbers, computed once per (perSecond, burst). */
interface BucketShape {
  readonly burst: number;
  /** Milliseconds per token. */
  readonly intervalMs: number;
  /** How far ahead of now the bucket's "full again" time may be: burst * interval. */
  readonly toleranceMs: number;
  /** The same two in microseconds, as Redis script arguments. */
  readonly intervalArg: string;
  readonly toleranceArg: string;
  readonly policy: Readonly<Record<RateLimitScope, string>>;
}

/** Distinct configurations are few (one per app spec); forget them all if that ever stops holding. */
const MAX_SHAPES = 10_000;

/**
 * Bucket shapes by rate then burst: looked up with two numbers, so the hot path builds no
 * string key for them. Created lazily, reused for every request with that configuration.
 */
class Shapes {
  #byRate = new Map<number, Map<number, BucketShape>>();
  #count = 0;

  get(perSecond: number, burst: number): BucketShape {
    let byBurst = this.#byRate.get(perSecond);
    const found = byBurst?.get(burst);
    if (found) return found;
    if (!Number.isFinite(perSecond) || perSecond < 0) {
      throw new RangeError(`A rate limit's perSecond must be a number >= 0, got ${perSecond}`);
    }
    if (!Number.isFinite(burst) || burst < 1) {
      throw new RangeError(`A rate limit's burst must be a number >= 1, got ${burst}`);
    }
    if (this.#count >= MAX_SHAPES) {
      this.#byRate.clear();
      this.#count = 0;
      byBurst = undefined;
    }
    if (!byBurst) {
      byBurst = new Map();
      this.#byRate.set(perSecond, byBurst);
    }
    const intervalMs = 1000 / perSecond;
    const policy = (scope: RateLimitScope) => `${perSecond};w=1;burst=${burst};comment="${scope}"`;
    const shape: BucketShape = {
      burst,
      intervalMs,
      toleranceMs: intervalMs * burst,
      intervalArg: String(intervalMs * 1000),
      toleranceArg: String(intervalMs * 1000 * burst),
      policy: { key: policy("key"), app: policy("app"), workspace: policy("workspace") },
    };
    byBurst.set(burst, shape);
    this.#count++;
    return shape;
  }
}

/** The verdict for admitted buckets: the one with the fewest whole tokens left. */
function verdictOf(
  shapes: readonly BucketShape[],
  scopes: readonly RateLimitScope[],
  untilFullMs: readonly number[],
  n: number,
): RateLimitVerdict {
  let best = -1;
  let bestRemaining = Number.POSITIVE_INFINITY;
  let bestUntilFull = 0;
  for (let i = 0; i < n; i++) {
    const shape = shapes[i] as BucketShape;
    const untilFull = untilFullMs[i] as number;
    const remaining = Math.max(
      0,
      Math.floor((shape.toleranceMs - untilFull) / shape.intervalMs + EPSILON),
    );
    if (remaining < bestRemaining || (remaining === bestRemaining && untilFull > bestUntilFull)) {
      best = i;
      bestRemaining = remaining;
      bestUntilFull = untilFull;
    }
  }
  const shape = shapes[best] as BucketShape;
  const scope = scopes[best] as RateLimitScope;
  return {
    limit: shape.burst,
    remaining: bestRemaining,
    resetSeconds: Math.max(0, Math.ceil(bestUntilFull / 1000 - EPSILON)),
    policy: shape.policy[scope],
    scope,
  };
}

function refusal(
  shape: BucketShape,
  scope: RateLimitScope,
  untilFullMs: number,
  retryMs: number,
): RateLimitedError {
  return new RateLimitedError(
    scope,
    shape.burst,
    0,
    Math.max(1, Math.ceil(retryMs / 1000 - EPSILON)),
    Math.max(1, Math.ceil(untilFullMs / 1000 - EPSILON)),
  );
}

/** Below this many buckets the in-process map is not swept. */
const SWEEP_MIN = 4096;

/**
 * In-process buckets: one number per bucket (when it will be full again), in a map swept of
 * full buckets whenever it doubles, so memory follows the callers active within a refill time.
 */
class MemoryBuckets implements RateLimiter {
  readonly backend = "memory" as const;
  readonly shapes = new Shapes();
  #full = new Map<string, number>();
  #sweepAt = SWEEP_MIN;
  // Scratch space: `take` is synchronous, so one set of arrays serves every call.
  #keys: string[] = [];
  #shapes: BucketShape[] = [];
  #scopes: RateLimitScope[] = [];
  #tats: number[] = [];
  /** Each bucket object's map key, made once: callers reuse their bucket lists. */
  #keyOf = new WeakMap<RateLimitBucket, string>();

  constructor(private readonly clock: () => number) {}

  consumeNow(buckets: readonly RateLimitBucket[]): RateLimitVerdict {
    return this.take(buckets);
  }

  consume(buckets: readonly RateLimitBucket[]): Promise<RateLimitVerdict> {
    try {
      return Promise.resolve(this.take(buckets));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Checks every bucket first and spends only when all admit; throws RateLimitedError. */
  take(buckets: readonly RateLimitBucket[]): RateLimitVerdict {
    const now = this.clock();
    const keys = this.#keys;
    const shapes = this.#shapes;
    const scopes = this.#scopes;
    const tats = this.#tats;
    let n = 0;
    let refused = -1;
    let refusedRetry = 0;
    for (const bucket of buckets) {
      if (bucket.perSecond === 0) continue;
      const shape = this.shapes.get(bucket.perSecond, bucket.burst);
      let key = this.#keyOf.get(bucket);
      if (key === undefined) {
        key = `${bucket.scope}:${bucket.id}`;
        this.#keyOf.set(bucket, key);
      }
      const stored = this.#full.get(key);
      const tat = stored !== undefined && stored > now ? stored : now;
      const retry = tat + shape.intervalMs - shape.toleranceMs - now;
      if (retry > EPSILON && retry > refusedRetry) {
        refused = n;
        refusedRetry = retry;
      }
      keys[n] = key;
      shapes[n] = shape;
      scopes[n] = bucket.scope;
      tats[n] = tat;
      n++;
    }
    if (n === 0) return UNLIMITED;
    if (refused >= 0) {
      throw refusal(
        shapes[refused] as BucketShape,
        scopes[refused] as RateLimitScope,
        (tats[refused] as number) - now,
        refusedRetry,
      );
    }
    for (let i = 0; i < n; i++) {
      const full = (tats[i] as number) + (shapes[i] as BucketShape).intervalMs;
      this.#full.set(keys[i] as string, full);
      tats[i] = full - now;
    }
    if (this.#full.size >= this.#sweepAt) this.#sweep(now);
    return verdictOf(shapes, scopes, tats, n);
  }

  /** Drops buckets that are full again (the same as absent); O(1) amortized per request. */
  #sweep(now: number): void {
    for (const [key, full] of this.#full) if (full <= now) this.#full.delete(key);
    this.#sweepAt = Math.max(SWEEP_MIN, this.#full.size * 2);
  }
}

/**
 * GCRA over N buckets in one atomic step, on Redis's clock (so replicas with skewed clocks
 * agree). KEYS[i] is bucket i; ARGV[2i-1] its microseconds per token, ARGV[2i] its tolerance
 * (burst * interval). Every bucket is checked before any is written. Returns
 * `{admitted, a1, b1, a2, b2, ...}`, in microseconds: when admitted, a = time until the bucket
 * is full again after this request; when refused, a = time until full, b = time until this
 * bucket would admit (<= 0 if it would).
 */
const TAKE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local n = #KEYS
local tats = {}
local refused = false
for i = 1, n do
  local tat = tonumber(redis.call('GET', KEYS[i]) or now) or now
  if tat < now then tat = now end
  tats[i] = tat
  if tat + tonumber(ARGV[2 * i - 1]) - tonumber(ARGV[2 * i]) > now then refused = true end
end
local out = { refused and 0 or 1 }
for i = 1, n do
  local interval = tonumber(ARGV[2 * i - 1])
  if refused then
    out[2 * i] = math.ceil(tats[i] - now)
    out[2 * i + 1] = math.ceil(tats[i] + interval - tonumber(ARGV[2 * i]) - now)
  else
    local full = tats[i] + interval
    redis.call('SET', KEYS[i], string.format('%.17g', full), 'PX', math.ceil((full - now) / 1000) + 1)
    out[2 * i] = math.ceil(full - now)
    out[2 * i + 1] = 0
  end
end
return out
`;
const TAKE_SHA = createHash("sha1").update(TAKE_SCRIPT).digest("hex");

function isNumbers(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((v) => typeof v === "number");
}

/** ioredis states in which a command cannot succeed soon: go straight to the insurance buckets. */
const REDIS_DOWN = new Set(["reconnecting", "close", "end"]);

class RedisBuckets implements RateLimiter {
  readonly backend = "redis" as const;
  readonly #timeoutMs: number;
  readonly #onBackendError: ((error: Error) => void) | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    /** This replica's own buckets, used while Redis cannot answer (fail open, still bounded). */
    private readonly insurance: MemoryBuckets,
    options: RateLimiterOptions,
  ) {
    this.#timeoutMs = options.backendTimeoutMs ?? 250;
    this.#onBackendError = options.onBackendError;
  }

  async consume(buckets: readonly RateLimitBucket[]): Promise<RateLimitVerdict> {
    const shapes: BucketShape[] = [];
    const scopes: RateLimitScope[] = [];
    const args: string[] = [];
    for (const bucket of buckets) {
      if (bucket.perSecond === 0) continue;
      shapes.push(this.insurance.shapes.get(bucket.perSecond, bucket.burst));
      scopes.push(bucket.scope);
      args.push(`${this.prefix}rl:${bucket.scope}:${bucket.id}`);
    }
    const n = shapes.length;
    if (n === 0) return UNLIMITED;
    for (const shape of shapes) args.push(shape.intervalArg, shape.toleranceArg);
    let reply: number[];
    try {
      reply = await this.#run(n, args);
    } catch (error) {
      this.#report(error);
      return this.insurance.take(buckets);
    }
    const times: number[] = [];
    if (reply[0] === 1) {
      for (let i = 0; i < n; i++) times.push((reply[1 + 2 * i] as number) / 1000);
      return verdictOf(shapes, scopes, times, n);
    }
    let refused = 0;
    let refusedRetry = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < n; i++) {
      const retry = reply[2 + 2 * i] as number;
      if (retry > refusedRetry) {
        refused = i;
        refusedRetry = retry;
      }
    }
    throw refusal(
      shapes[refused] as BucketShape,
      scopes[refused] as RateLimitScope,
      (reply[1 + 2 * refused] as number) / 1000,
      refusedRetry / 1000,
    );
  }

  /** Tells the owner; a failing callback must not turn a fallback into a failed request. */
  #report(error: unknown): void {
    if (!this.#onBackendError) return;
    const message = error instanceof Error ? error.message : String(error);
    try {
      this.#onBackendError(
        new Error(`Rate limits fell back to this replica's own buckets: ${message}`, {
          cause: error,
        }),
      );
    } catch {
      // Reporting is best effort.
    }
  }

  /** The script's reply, or a rejection when Redis is down, slow or answers nonsense. */
  async #run(n: number, args: readonly string[]): Promise<number[]> {
    const status = this.redis.status;
    if (REDIS_DOWN.has(status)) throw new Error(`Redis is ${status}`);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`Redis did not answer within ${this.#timeoutMs} ms`)),
        this.#timeoutMs,
      );
    });
    try {
      const reply = await Promise.race([this.#evaluate(n, args), timeout]);
      if (!isNumbers(reply) || reply.length !== 1 + 2 * n) {
        throw new Error("Redis answered the rate limit script with an unexpected reply");
      }
      return reply;
    } finally {
      clearTimeout(timer);
    }
  }

  /** EVALSHA, loading the script with EVAL the first time a server has not seen it. */
  async #evaluate(n: number, args: readonly string[]): Promise<unknown> {
    try {
      return await this.redis.evalsha(TAKE_SHA, n, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
      return this.redis.eval(TAKE_SCRIPT, n, ...args);
    }
  }
}
