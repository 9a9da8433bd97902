/**
 * The app's policies: what keeps a published app standing when traffic arrives (rate limits,
 * a bulkhead, a request deadline, a response cache, idempotency keys, worker threads for large
 * batches). Every group and field is optional in a spec and has a safe default, so a spec
 * written before policies existed runs with the defaults and `AppSpec.policies` is always
 * complete. Each group is a flat object so the Studio can generate one form per group from
 * `POLICY_GROUPS`, and the runtime reads plain numbers without checking for absence.
 */
import type { JsonSchema } from "./contract.ts";
import {
  filledGroup as filled,
  flagSetting,
  groupsJsonSchema,
  isRecord,
  numberSetting,
  type SettingsGroup,
  settingsGroup,
} from "./settings-groups.ts";

/** Token buckets; a rate of 0 means no limit at that scope. */
export interface RateLimitPolicy {
  /** Sustained requests per second for one API key calling this app. */
  readonly perKeyPerSecond: number;
  /** Requests one API key may make at once before the rate applies. */
  readonly perKeyBurst: number;
  /** Sustained requests per second for all callers of the app together. */
  readonly perAppPerSecond: number;
  readonly perAppBurst: number;
}

/** The app's bulkhead: bounded work in flight and a bounded, short wait queue. */
export interface ConcurrencyPolicy {
  readonly maxInFlight: number;
  /** 0: no waiting, a request beyond `maxInFlight` is shed at once. */
  readonly maxQueue: number;
  /** A request that waits longer is shed with 503. */
  readonly maxQueueWaitMs: number;
}

export interface TimeoutPolicy {
  /** The whole request's deadline; each step's own `timeoutMs` applies inside it. */
  readonly requestMs: number;
}

export interface CachePolicy {
  readonly enabled: boolean;
  readonly ttlSeconds: number;
  readonly maxEntries: number;
}

export interface IdempotencyPolicy {
  readonly enabled: boolean;
  readonly ttlSeconds: number;
}

export interface WorkersPolicy {
  /** Worker threads of the app's pool; 0: batches always run on the event loop. */
  readonly threads: number;
  /** Batches with at least this many rows run in the pool. */
  readonly minBatchRows: number;
}

export interface AppPolicies {
  readonly rateLimit: RateLimitPolicy;
  readonly concurrency: ConcurrencyPolicy;
  readonly timeouts: TimeoutPolicy;
  readonly cache: CachePolicy;
  readonly idempotency: IdempotencyPolicy;
  readonly workers: WorkersPolicy;
}

/** What an app runs with when its spec says nothing: safe for a small model on one replica. */
export const DEFAULT_POLICIES: AppPolicies = {
  rateLimit: { perKeyPerSecond: 200, perKeyBurst: 400, perAppPerSecond: 2000, perAppBurst: 4000 },
  concurrency: { maxInFlight: 64, maxQueue: 64, maxQueueWaitMs: 250 },
  timeouts: { requestMs: 5000 },
  cache: { enabled: false, ttlSeconds: 60, maxEntries: 10000 },
  idempotency: { enabled: true, ttlSeconds: 86400 },
  workers: { threads: 1, minBatchRows: 256 },
};

/** One group of policies: a flat settings schema the Studio turns into one form. */
export type PolicyGroup = SettingsGroup<keyof AppPolicies>;

const RATE_LIMIT = 1_000_000;

function integer(
  title: string,
  description: string,
  defaultValue: number,
  minimum: number,
  maximum: number,
): JsonSchema {
  return numberSetting(title, description, defaultValue, minimum, maximum, true);
}

const flag = flagSetting;
const group = settingsGroup<keyof AppPolicies>;

const d = DEFAULT_POLICIES;

/** The policy groups in the order the Studio shows them. */
export const POLICY_GROUPS: readonly PolicyGroup[] = [
  group(
    "rateLimit",
    "Rate limits",
    "Token buckets per API key and for the whole app; a request over a limit answers 429 with Retry-After. A rate of 0 means no limit. The app's staging and production endpoints, and all its versions with the same limits, draw on the same buckets.",
    {
      perKeyPerSecond: integer(
        "Requests per second per API key",
        "The sustained rate one API key may call this app at. 0: no limit per key.",
        d.rateLimit.perKeyPerSecond,
        0,
        RATE_LIMIT,
      ),
      perKeyBurst: integer(
        "Burst per API key",
        "Requests one API key may send at once before the rate applies.",
        d.rateLimit.perKeyBurst,
        0,
        RATE_LIMIT,
      ),
      perAppPerSecond: integer(
        "Requests per second for the app",
        "The sustained rate of all callers together. 0: no limit for the app.",
        d.rateLimit.perAppPerSecond,
        0,
        RATE_LIMIT,
      ),
      perAppBurst: integer(
        "Burst for the app",
        "Requests all callers together may send at once before the rate applies.",
        d.rateLimit.perAppBurst,
        0,
        RATE_LIMIT,
      ),
    },
  ),
  group(
    "concurrency",
    "Concurrency",
    "The app's bulkhead: at most this many requests run at once, a few wait briefly, and the rest are shed with 503 and Retry-After instead of piling up.",
    {
      maxInFlight: integer(
        "Most requests in flight",
        "Requests of this app running at once (per replica).",
        d.concurrency.maxInFlight,
        1,
        100_000,
      ),
      maxQueue: integer(
        "Most requests waiting",
        "Requests that may wait for a free slot. 0: shed at once when all slots are busy.",
        d.concurrency.maxQueue,
        0,
        100_000,
      ),
      maxQueueWaitMs: integer(
        "Longest wait (ms)",
        "A request waiting longer than this for a slot is shed with 503.",
        d.concurrency.maxQueueWaitMs,
        0,
        60_000,
      ),
    },
  ),
  group(
    "timeouts",
    "Timeouts",
    "The deadline of a whole request; steps that overrun are cancelled and the request answers 504 or takes its fallback.",
    {
      requestMs: integer(
        "Request deadline (ms)",
        "Time a request may take from arrival to answer, every step included.",
        d.timeouts.requestMs,
        1,
        600_000,
      ),
    },
  ),
  group(
    "cache",
    "Response cache",
    "Answers kept per app version and validated input, so a repeated request is not scored again; a new version never serves an old version's answers.",
    {
      enabled: flag(
        "Cache responses",
        "Keep answers for repeated inputs. Off for models whose answer should change between identical requests.",
        d.cache.enabled,
      ),
      ttlSeconds: integer(
        "Cache lifetime (s)",
        "How long a cached answer is served.",
        d.cache.ttlSeconds,
        1,
        604_800,
      ),
      maxEntries: integer(
        "Most cached answers",
        "The least recently used answers are dropped beyond this.",
        d.cache.maxEntries,
        1,
        1_000_000,
      ),
    },
  ),
  group(
    "idempotency",
    "Idempotency keys",
    "A request with an Idempotency-Key header is executed once: the same key with the same body replays the stored answer, with another body answers 422.",
    {
      enabled: flag(
        "Honour Idempotency-Key",
        "Store answers by the caller's Idempotency-Key header.",
        d.idempotency.enabled,
      ),
      ttlSeconds: integer(
        "Keep keys for (s)",
        "How long a key and its answer are kept.",
        d.idempotency.ttlSeconds,
        1,
        2_592_000,
      ),
    },
  ),
  group(
    "workers",
    "Worker threads",
    "Large batches run in a pool of worker threads per app, so one big request does not stall every other one.",
    {
      threads: integer(
        "Threads",
        "Threads in the app's pool (per replica). 0: batches always run on the main thread.",
        d.workers.threads,
        0,
        64,
      ),
      minBatchRows: integer(
        "Smallest batch for the workers (rows)",
        "Batches with at least this many rows run in the pool.",
        d.workers.minBatchRows,
        1,
        100_000,
      ),
    },
  ),
];

/** The published schema of the spec's `policies`: every group and field optional. */
export const policiesJsonSchema: JsonSchema = groupsJsonSchema(
  "What keeps the app standing under load",
  POLICY_GROUPS,
  DEFAULT_POLICIES,
);

/**
 * A spec's `policies` (already checked against `policiesJsonSchema`) with every default filled
 * in, groups and fields in the documented order.
 */
export function fillPolicies(given: unknown): AppPolicies {
  const groups = isRecord(given) ? given : {};
  return {
    rateLimit: filled(DEFAULT_POLICIES.rateLimit, groups.rateLimit),
    concurrency: filled(DEFAULT_POLICIES.concurrency, groups.concurrency),
    timeouts: filled(DEFAULT_POLICIES.timeouts, groups.timeouts),
    cache: filled(DEFAULT_POLICIES.cache, groups.cache),
    idempotency: filled(DEFAULT_POLICIES.idempotency, groups.idempotency),
    workers: filled(DEFAULT_POLICIES.workers, groups.workers),
  };
}
