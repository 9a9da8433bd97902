/**
 * Step 1 of a predict request, before its body is read: the caller's key, the app (the version
 * the router picks during a rollout), the app's bulkhead, and the rate limits (key, app,
 * workspace), so a flood is refused at the cost of a header parse. Shared by the Fastify route
 * (routes/predict.ts) and the fast path (fast-path.ts).
 */
import type { IncomingHttpHeaders, IncomingMessage } from "node:http";
import type { FastifyBaseLogger } from "fastify";
import type { PredictObserver } from "../../monitor/observation.ts";
import type { RuntimeCounters } from "../../monitor/runtime-counters.ts";
import { RateLimitedError } from "../../runtime/errors.ts";
import type { RowAnswer } from "../../runtime/pipeline/pipeline.ts";
import type {
  RateLimitBucket,
  RateLimiter,
  RateLimitVerdict,
} from "../../runtime/policies/rate-limit.ts";
import type { IdempotencyStore } from "../../store/idempotency/idempotency-store.ts";
import type { AppRuntime, Environment, LiveRollout, PublishedApp } from "../app-runtime.ts";
import type { Principal } from "../auth.ts";
import { can } from "../auth.ts";
import { rateLimitHeaders } from "../error-response.ts";
import type { ShadowMirror } from "../shadow-mirror.ts";
import { routeRequest } from "../version-router.ts";

/**
 * What the data plane reads of a request: Fastify's request on the full route, or the fast
 * path's own small object (fast-path.ts), which answers without Fastify's request cycle.
 */
export interface PredictRequest {
  readonly id: string;
  readonly raw: IncomingMessage;
  readonly headers: IncomingHttpHeaders;
  readonly params: { readonly app: string };
  readonly query: { readonly explain?: string | undefined };
  readonly body?: unknown;
  readonly log: FastifyBaseLogger;
  /**
   * Step 1's findings, on requests that keep them themselves (the fast path's); Fastify's
   * requests have no such slot and keep them in a WeakMap beside the request.
   */
  admitted?: Admitted | undefined;
}

/** Where admission puts the `RateLimit-*` headers: Fastify's reply, or the fast path's. */
export interface HeaderSink {
  headers(values: Record<string, string>): unknown;
}

export interface PredictRouteDeps {
  readonly apps: AppRuntime;
  readonly authenticate: (
    headers: Record<string, string | string[] | undefined>,
  ) => Promise<Principal | undefined>;
  /** The caller's identity when known without waiting (undefined: none; null: ask `authenticate`). */
  readonly authenticateNow?: (
    headers: Record<string, string | string[] | undefined>,
  ) => Principal | undefined | null;
  /** What the policies did (shed, limited, fallbacks), per app. */
  readonly counters?: RuntimeCounters;
  readonly rateLimiter?: RateLimiter;
  /** One bucket per workspace across its apps (0 = off). */
  readonly workspaceRateLimit?: { readonly perSecond: number; readonly burst: number };
  readonly idempotency?: IdempotencyStore;
  /** Everyone watching the answers (metrics, the prediction log, drift), told after each one. */
  readonly observers?: readonly PredictObserver[];
  /** Where a shadow release's mirrored requests go. */
  readonly shadow?: ShadowMirror;
}

/**
 * What the pre-body hook learned about a request, and what the handler then did with it, for
 * the handler and for the observers told in `onResponse`.
 *
 * A class with every field set in its constructor, not an object literal that gains fields as
 * the request goes on: each request's state then has one hidden class from the start, and the
 * later writes are plain stores. Measured on the fast path (hrtime counters around admission,
 * `npm run bench:serve` load): the literal cost ~4 µs a request to make, the class ~0.1 µs.
 */
export class Admitted {
  /** A shadow release's candidate, sent these records once the answer is out. */
  shadow:
    | { readonly candidate: PublishedApp; readonly rollout: LiveRollout | undefined }
    | undefined = undefined;
  verdict: RateLimitVerdict | undefined = undefined;
  records: readonly Record<string, unknown>[] | undefined = undefined;
  /**
   * The body's JSON text, kept by the front door's parser; `records` are its value (one record)
   * or, when `bodyRows`, its `rows`. The prediction log sends this text to its thread.
   */
  bodyText: string | undefined = undefined;
  bodyRows = false;
  answers: readonly RowAnswer[] | undefined = undefined;
  modelMs: number | undefined = undefined;
  /** The model's encoded rows, for drift (in-thread models, drift watched). */
  encoded: readonly number[] | undefined = undefined;
  cacheHit: boolean | undefined = undefined;

  constructor(
    readonly principal: Principal | undefined,
    /** The version that answers (the router's pick during a rollout). */
    readonly app: PublishedApp | undefined,
    /** When the request arrived (epoch ms). */
    readonly at: number,
    /** Staging answers are for testing: nobody watching production is told about them. */
    readonly environment: Environment,
  ) {}
}
const admitted = new WeakMap<PredictRequest, Admitted>();

/** What step 1 learned about a request (undefined before it ran). */
export function admittedOf(request: PredictRequest): Admitted | undefined {
  return request.admitted ?? admitted.get(request);
}

/** Keep step 1's findings: on the request when it has a slot for them, else beside it. */
function remember(request: PredictRequest, state: Admitted): void {
  if ("admitted" in request) request.admitted = state;
  else admitted.set(request, state);
}

/**
 * Step 1 without waiting, for the common case (a recently verified key, a recently resolved
 * app, in-process rate limits): no promise is made. False when something must be awaited;
 * then nothing has been spent yet and `admit` does the whole step.
 */
export function admitNow(
  deps: PredictRouteDeps,
  environment: Environment,
  request: PredictRequest,
  reply: HeaderSink,
): boolean {
  const principal = deps.authenticateNow?.(request.headers);
  if (principal === null || principal === undefined) {
    // Not cached, or no valid key: the slow path decides (and counts nothing either way).
    if (principal === null || deps.authenticateNow === undefined) return false;
    remember(request, new Admitted(principal, undefined, Date.now(), environment));
    return true;
  }
  const serving = deps.apps.peekServing(principal.workspaceId, request.params.app, environment);
  if (serving === null) return false;
  const routed = serving ? routeRequest(serving, request.headers, String(request.id)) : undefined;
  const app = routed?.app;
  if (app && can(principal.role, "invoke") && deps.rateLimiter && !deps.rateLimiter.consumeNow) {
    return false;
  }
  const state = new Admitted(principal, app, Date.now(), environment);
  if (routed?.shadow) state.shadow = { candidate: routed.shadow, rollout: serving?.rollout };
  remember(request, state);
  if (!app || !can(principal.role, "invoke")) return true;
  shedIfFull(deps, app);
  const limiter = deps.rateLimiter;
  if (limiter?.consumeNow) {
    try {
      state.verdict = limiter.consumeNow(bucketsFor(deps, app, principal));
    } catch (error) {
      countLimited(deps, app, error);
      throw error;
    }
    if (state.verdict.limit > 0) void reply.headers(rateLimitHeaders(state.verdict));
  }
  return true;
}

/** Step 1: who is calling which app, and may they, as far as rate limits go. */
export async function admit(
  deps: PredictRouteDeps,
  environment: Environment,
  request: PredictRequest,
  reply: HeaderSink,
) {
  const principal = await deps.authenticate(request.headers);
  // Resolve the app first, so a refused key still counts against the app it called.
  const serving = principal
    ? await deps.apps.serving(principal.workspaceId, request.params.app, environment)
    : undefined;
  const routed = serving ? routeRequest(serving, request.headers, String(request.id)) : undefined;
  const app = routed?.app;
  const state = new Admitted(principal, app, Date.now(), environment);
  if (routed?.shadow) state.shadow = { candidate: routed.shadow, rollout: serving?.rollout };
  remember(request, state);
  // Refused in the handler (401/403/404), without spending capacity or tokens.
  if (!principal || !app || !can(principal.role, "invoke")) return;
  shedIfFull(deps, app);
  if (!deps.rateLimiter) return;
  try {
    state.verdict = await deps.rateLimiter.consume(bucketsFor(deps, app, principal));
  } catch (error) {
    countLimited(deps, app, error);
    throw error;
  }
  if (state.verdict.limit > 0) void reply.headers(rateLimitHeaders(state.verdict));
}

/** A full app sheds before its body is read (and before rate-limit tokens are spent). */
function shedIfFull(deps: PredictRouteDeps, app: PublishedApp): void {
  try {
    app.runtime.bulkhead.refuseIfFull();
  } catch (error) {
    deps.counters?.count(app.workspaceId, app.name, "overloaded");
    throw error;
  }
}

function countLimited(deps: PredictRouteDeps, app: PublishedApp, error: unknown): void {
  if (error instanceof RateLimitedError)
    deps.counters?.count(app.workspaceId, app.name, "rate_limited");
}

/** Buckets per app version and key: made once, so a request builds no id strings. */
const bucketCache = new WeakMap<PublishedApp, Map<string, readonly RateLimitBucket[]>>();
/** Keys seen per app version before its cache is emptied (callers are usually few). */
const MAX_CACHED_KEYS = 10_000;

/** The caller's buckets: its key on this app, the app, and the workspace. */
function bucketsFor(
  deps: PredictRouteDeps,
  app: PublishedApp,
  principal: Principal,
): readonly RateLimitBucket[] {
  let byKey = bucketCache.get(app);
  if (!byKey) {
    byKey = new Map();
    bucketCache.set(app, byKey);
  }
  const cached = byKey.get(principal.keyId);
  if (cached) return cached;
  if (byKey.size >= MAX_CACHED_KEYS) byKey.clear();
  const limits = app.runtime.policies.rateLimit;
  const ws = deps.workspaceRateLimit;
  // A bucket's id names its size: a spec that changes the limit starts fresh buckets.
  const key = `${limits.perKeyPerSecond}/${limits.perKeyBurst}`;
  const all = `${limits.perAppPerSecond}/${limits.perAppBurst}`;
  const buckets: RateLimitBucket[] = [
    {
      scope: "key",
      id: `${app.workspaceId}:${app.name}:${principal.keyId}:${key}`,
      perSecond: limits.perKeyPerSecond,
      burst: limits.perKeyBurst,
    },
    {
      scope: "app",
      id: `${app.workspaceId}:${app.name}:${all}`,
      perSecond: limits.perAppPerSecond,
      burst: limits.perAppBurst,
    },
  ];
  if (ws) {
    buckets.push({
      scope: "workspace",
      id: app.workspaceId,
      perSecond: ws.perSecond,
      burst: ws.burst,
    });
  }
  byKey.set(principal.keyId, buckets);
  return buckets;
}
