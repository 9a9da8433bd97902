/**
 * The data plane: `POST /v1/apps/{app}/predict`. One record or `{"rows": [...]}`, run through
 * the app's pipeline inside its policies, in this order:
 *
 * 1. before the body is read: the caller's key, the app, and the rate limits (key, app,
 *    workspace), so a flood is refused at the cost of a header parse;
 * 2. the body's shape, an `Idempotency-Key` (replayed, refused when reused with another body,
 *    run once when sent concurrently), the response cache;
 * 3. the app's bulkhead (bounded in-flight and queue, then 503), the request's deadline, and
 *    the pipeline's steps, each with its own budget, breaker and fallback.
 *
 * Every problem a caller can cause is a 4xx that names the field; overload is a 429/503 with
 * `Retry-After`; nothing here changes state except the caller's session and idempotency record.
 * `?explain=true` adds each prediction's explanation (exact SHAP contributions per column).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import {
  outcomeOf,
  type PredictObservation,
  type PredictObserver,
  type ServedVersion,
} from "../../monitor/observation.ts";
import type { RuntimeCounters } from "../../monitor/runtime-counters.ts";
import { cacheKey } from "../../runtime/cache/response-cache.ts";
import { RateLimitedError } from "../../runtime/errors.ts";
import type { PipelineResult, RowAnswer } from "../../runtime/pipeline/pipeline.ts";
import { SESSION_ID_PATTERN } from "../../runtime/pipeline/session-step.ts";
import { withDeadline } from "../../runtime/policies/deadline.ts";
import type {
  RateLimitBucket,
  RateLimiter,
  RateLimitVerdict,
} from "../../runtime/policies/rate-limit.ts";
import {
  beginOrWait,
  type IdempotencyStore,
  requestFingerprint,
  type StoredResponse,
} from "../../store/idempotency/idempotency-store.ts";
import type { PredictResponseDto } from "../api-types.ts";
import type { AppRuntime, Environment, LiveRollout, PublishedApp } from "../app-runtime.ts";
import type { Principal } from "../auth.ts";
import { can, requirePermission } from "../auth.ts";
import { rateLimitHeaders, runtimeApiError, toErrorResponse } from "../error-response.ts";
import { ApiError, badRequest, notFound, unprocessable } from "../errors.ts";
import { annotateTrace, stepTracerOf, traceContextOf } from "../request-trace.ts";
import type { ShadowMirror } from "../shadow-mirror.ts";
import { routeRequest } from "../version-router.ts";

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
 */
interface Admitted {
  readonly principal: Principal | undefined;
  /** The version that answers (the router's pick during a rollout). */
  readonly app: PublishedApp | undefined;
  /** When the request arrived (epoch ms). */
  readonly at: number;
  /** Staging answers are for testing: nobody watching production is told about them. */
  readonly environment: Environment;
  /** A shadow release's candidate, sent these records once the answer is out. */
  shadow?: { readonly candidate: PublishedApp; readonly rollout: LiveRollout | undefined };
  verdict?: RateLimitVerdict | undefined;
  records?: readonly Record<string, unknown>[] | undefined;
  answers?: readonly RowAnswer[] | undefined;
  modelMs?: number | undefined;
  /** The model's encoded rows, for drift (in-thread models, drift watched). */
  encoded?: readonly number[] | undefined;
  cacheHit?: boolean | undefined;
  errorCode?: string | undefined;
}
const admitted = new WeakMap<FastifyRequest, Admitted>();

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;
/** How long a request waits for another one running with its idempotency key. */
const IDEMPOTENCY_WAIT_MS = 10_000;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const header = (request: FastifyRequest, name: string): string | undefined => {
  const v = request.headers[name];
  return typeof v === "string" ? v : undefined;
};

/** The signal of a request with nothing to cancel (its pipeline runs synchronously). */
const NEVER_ABORTED = new AbortController().signal;

/** Query values accepted for `explain`. */
const EXPLAIN_VALUES = ["true", "false", "1", "0"];

type PredictRequest = FastifyRequest<{
  Params: { app: string };
  Querystring: { explain?: string };
}>;

/**
 * Step 1 without waiting, for the common case (a recently verified key, a recently resolved
 * app, in-process rate limits): no promise is made. False when something must be awaited;
 * then nothing has been spent yet and `admit` does the whole step.
 */
function admitNow(
  deps: PredictRouteDeps,
  environment: Environment,
  request: PredictRequest,
  reply: FastifyReply,
): boolean {
  const principal = deps.authenticateNow?.(request.headers);
  if (principal === null || principal === undefined) {
    // Not cached, or no valid key: the slow path decides (and counts nothing either way).
    if (principal === null || deps.authenticateNow === undefined) return false;
    admitted.set(request, { principal, app: undefined, at: Date.now(), environment });
    return true;
  }
  const serving = deps.apps.peekServing(principal.workspaceId, request.params.app, environment);
  if (serving === null) return false;
  const routed = serving ? routeRequest(serving, request.headers, String(request.id)) : undefined;
  const app = routed?.app;
  if (app && can(principal.role, "invoke") && deps.rateLimiter && !deps.rateLimiter.consumeNow) {
    return false;
  }
  const state: Admitted = { principal, app, at: Date.now(), environment };
  if (routed?.shadow) state.shadow = { candidate: routed.shadow, rollout: serving?.rollout };
  admitted.set(request, state);
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
async function admit(
  deps: PredictRouteDeps,
  environment: Environment,
  request: PredictRequest,
  reply: FastifyReply,
) {
  const principal = await deps.authenticate(request.headers);
  // Resolve the app first, so a refused key still counts against the app it called.
  const serving = principal
    ? await deps.apps.serving(principal.workspaceId, request.params.app, environment)
    : undefined;
  const routed = serving ? routeRequest(serving, request.headers, String(request.id)) : undefined;
  const app = routed?.app;
  const state: Admitted = { principal, app, at: Date.now(), environment };
  if (routed?.shadow) state.shadow = { candidate: routed.shadow, rollout: serving?.rollout };
  admitted.set(request, state);
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

/** The caller's buckets: its key on this app, the app, and the workspace. */
function bucketsFor(
  deps: PredictRouteDeps,
  app: PublishedApp,
  principal: Principal,
): RateLimitBucket[] {
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
  if (ws) buckets.push({ scope: "workspace", id: app.workspaceId, ...ws });
  return buckets;
}

/** One description of each app version for the observers, made once per loaded version. */
const servedVersions = new WeakMap<PublishedApp, ServedVersion>();
function servedOf(app: PublishedApp): ServedVersion {
  let served = servedVersions.get(app);
  if (!served) {
    served = {
      workspaceId: app.workspaceId,
      app: app.name,
      version: app.version,
      appVersionId: app.appVersionId,
      model: { name: app.model.name, version: app.model.version },
      predictor: app.predictor,
      monitoring: app.spec.monitoring,
    };
    servedVersions.set(app, served);
  }
  return served;
}

/**
 * Tell the metrics and every observer about an answer. Requests without a valid key, or for an
 * app that does not exist, belong to no app and are not counted.
 */
function observeAnswer(
  deps: PredictRouteDeps,
  request: FastifyRequest,
  status: number,
  ms: number,
): void {
  const state = admitted.get(request);
  const app = state?.app;
  if (!state || !app || state.environment !== "production") return;
  const ok = status < 300;
  const shadow = state.shadow;
  if (ok && shadow?.rollout && deps.shadow && state.records && state.answers) {
    deps.shadow.mirror({
      releaseId: shadow.rollout.releaseId,
      maxInFlight: shadow.rollout.maxInFlight,
      candidate: shadow.candidate,
      records: state.records,
      stableAnswers: state.answers,
      stableModelMs: state.modelMs,
    });
  }
  const observers = deps.observers;
  if (!observers || observers.length === 0) return;
  const observation: PredictObservation = {
    requestId: String(request.id),
    traceId: traceContextOf(request).traceId,
    at: state.at,
    served: servedOf(app),
    status,
    outcome: outcomeOf(status),
    errorCode: state.errorCode,
    latencyMs: ms,
    modelMs: state.modelMs,
    encoded: ok ? state.encoded : undefined,
    records: ok ? state.records : undefined,
    answers: ok ? state.answers : undefined,
    cacheHit: state.cacheHit,
  };
  for (const observer of observers) {
    try {
      observer.observe(observation);
    } catch (error) {
      // A watcher's bug must never become the caller's problem; it is logged once per answer.
      request.log.error({ err: error }, "a predict observer failed");
    }
  }
}

/**
 * The production route, and staging's beside it: `POST /v1/apps/{app}/staging/predict` answers
 * with the version deployed to staging, under its own policies' state, and is never counted in
 * production's metrics, logs or drift.
 */
export function predictRoutes(deps: PredictRouteDeps) {
  return async (app: FastifyInstance) => {
    for (const environment of ["production", "staging"] as const) {
      predictRoute(app, deps, environment);
    }
  };
}

function predictRoute(app: FastifyInstance, deps: PredictRouteDeps, environment: Environment) {
  app.post<{ Params: { app: string }; Querystring: { explain?: string } }>(
    environment === "production" ? "/v1/apps/:app/predict" : "/v1/apps/:app/staging/predict",
    {
      schema: {
        tags: ["predict"],
        summary:
          environment === "production"
            ? "Predict with a published app"
            : "Predict with the version deployed to the app's staging environment",
        description:
          'Send one record, or `{"rows": [...]}`. Each app\'s exact input and output schema is listed under its own path in this document. Every answer carries `RateLimit-*` headers; 429 (rate limited) and 503 (at capacity) carry `Retry-After`. An `Idempotency-Key` header makes a retry safe: the same key with the same body replays the first answer, with another body it is refused (422). Apps with a session step take an `x-session-id` header.',
        params: { type: "object", properties: { app: { type: "string" } }, required: ["app"] },
        querystring: {
          type: "object",
          properties: {
            explain: {
              type: "string",
              enum: EXPLAIN_VALUES,
              description:
                "true: add to each prediction an `explanation` whose base plus contributions (per input column) give the model's score: log-odds of the positive class (binary), the predicted class's softmax input (multiclass), or the prediction or its log (regression)",
            },
          },
        },
      },
      onRequest: (request, reply, done) => {
        let admittedNow: boolean;
        try {
          admittedNow = admitNow(deps, environment, request, reply);
        } catch (error) {
          done(error as Error);
          return;
        }
        if (admittedNow) done();
        else
          admit(deps, environment, request, reply).then(
            () => done(),
            (error: unknown) => done(error as Error),
          );
      },
      onError: (request, _reply, error, done) => {
        const state = admitted.get(request);
        if (state) state.errorCode = toErrorResponse(error).body.error.code;
        done();
      },
      onResponse: (request, reply, done) => {
        observeAnswer(deps, request, reply.statusCode, reply.elapsedTime);
        done();
      },
    },
    (request, reply) => {
      const state = admitted.get(request);
      requirePermission(state?.principal, "invoke");
      const published = state?.app;
      if (!published) throw notFound("App", request.params.app);
      annotateTrace(request, {
        workspaceId: published.workspaceId,
        app: published.name,
        version: published.version,
      });
      const explain = request.query.explain === "true" || request.query.explain === "1";
      if (explain && !published.predictor.canExplain) {
        throw badRequest(
          "explain_unsupported",
          `The model behind the ${published.name} app cannot explain its predictions`,
          [{ path: "querystring/explain", message: "is not supported by this model" }],
        );
      }
      const body: unknown = request.body;
      if (!isRecord(body)) {
        throw badRequest(
          "invalid_body",
          'The body must be a JSON object: one record, or {"rows": [...]}',
        );
      }
      const sessionId = header(request, "x-session-id");
      if (sessionId !== undefined && !SESSION_ID_PATTERN.test(sessionId)) {
        throw badRequest(
          "invalid_session_id",
          "x-session-id must be 1-128 letters, digits or ._:-",
          [{ path: "header/x-session-id", message: "is not a valid session id" }],
        );
      }
      const batch = readBatch(published, body);
      const idempotencyKey = header(request, "idempotency-key");
      const runtime = published.runtime;
      const idem =
        idempotencyKey !== undefined && runtime.policies.idempotency.enabled
          ? deps.idempotency
          : undefined;
      if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
        throw badRequest(
          "invalid_idempotency_key",
          "Idempotency-Key must be 1-255 visible ASCII characters",
          [{ path: "header/idempotency-key", message: "is not a valid key" }],
        );
      }
      if (!idem || idempotencyKey === undefined) {
        const answered = answer(deps, request, published, body, batch, explain, sessionId);
        if (answered instanceof Promise) return answered.then((dto) => reply.send(dto));
        // Sent synchronously: returning nothing tells Fastify there is nothing more to send.
        void reply.send(answered);
        return undefined;
      }
      return answerOnce(deps, request, reply, idem, idempotencyKey, {
        published,
        body,
        batch,
        explain,
        sessionId,
      });
    },
  );
}

/** A request with an `Idempotency-Key`: replayed, refused when reused, or run once. */
async function answerOnce(
  deps: PredictRouteDeps,
  request: PredictRequest,
  reply: FastifyReply,
  idem: IdempotencyStore,
  idempotencyKey: string,
  input: {
    published: PublishedApp;
    body: Record<string, unknown>;
    batch: { records: Record<string, unknown>[]; batch: boolean };
    explain: boolean;
    sessionId: string | undefined;
  },
): Promise<FastifyReply> {
  const { published, body, batch, explain, sessionId } = input;
  const runtime = published.runtime;
  const scope = `${published.workspaceId}/${published.name}`;
  const fingerprint = requestFingerprint("POST", `${request.params.app}?explain=${explain}`, {
    body,
    session: sessionId ?? null,
  });
  const ttl = runtime.policies.idempotency.ttlSeconds;
  const begun = await beginOrWait(
    idem,
    scope,
    idempotencyKey,
    fingerprint,
    ttl,
    IDEMPOTENCY_WAIT_MS,
  );
  if (begun.state === "replay") {
    return reply
      .code(begun.response.status)
      .headers({ ...begun.response.headers, "idempotent-replayed": "true" })
      .type("application/json")
      .send(begun.response.body);
  }
  if (begun.state === "mismatch") {
    throw unprocessable(
      "idempotency_key_reused",
      "This Idempotency-Key was used with a different request body; use a new key",
      [{ path: "header/idempotency-key", message: "was used with another body" }],
    );
  }
  if (begun.state === "in_progress") {
    throw new ApiError(
      409,
      "idempotency_in_progress",
      "A request with this Idempotency-Key is still running; retry shortly",
      [],
      { "retry-after": "1" },
    );
  }
  let stored: StoredResponse | undefined;
  try {
    const result = await answer(deps, request, published, body, batch, explain, sessionId);
    stored = { status: 200, headers: {}, body: JSON.stringify(result) };
  } catch (error) {
    // The caller's own mistakes replay as they were; overload and failures may be retried.
    const mapped = runtimeApiError(error) ?? error;
    const status = mapped instanceof ApiError ? mapped.statusCode : 500;
    if (status < 500 && status !== 429 && status !== 409) {
      const { body: errorJson, headers } = toErrorResponse(mapped as Error);
      stored = { status, headers, body: JSON.stringify(errorJson) };
    }
    if (!stored) await idem.release(scope, idempotencyKey, fingerprint).catch(() => {});
    else await idem.complete(scope, idempotencyKey, fingerprint, stored, ttl);
    throw error;
  }
  await idem.complete(scope, idempotencyKey, fingerprint, stored, ttl);
  return reply.type("application/json").send(stored.body);
}

/** The records of a body: one record, or a batch checked against the app's row limit. */
function readBatch(
  published: PublishedApp,
  body: Record<string, unknown>,
): { records: Record<string, unknown>[]; batch: boolean } {
  const rows = body.rows;
  if (rows === undefined || published.rowsIsInput) return { records: [body], batch: false };
  if (!Array.isArray(rows)) throw badRequest("invalid_body", "rows must be an array of records");
  const extra = Object.keys(body).filter((k) => k !== "rows");
  if (extra.length > 0) {
    throw badRequest(
      "invalid_body",
      "A batch body has only the rows field",
      extra.map((k) => ({ path: `/${k}`, message: "is not allowed beside rows" })),
    );
  }
  if (rows.length === 0)
    throw badRequest("invalid_body", "rows is empty; send at least one record");
  const max = published.spec.limits.maxRows;
  if (rows.length > max) {
    throw new ApiError(
      413,
      "too_many_rows",
      `This app takes at most ${max} rows per request; got ${rows.length}`,
    );
  }
  for (let i = 0; i < rows.length; i++) {
    if (!isRecord(rows[i])) {
      throw badRequest("invalid_input", `rows[${i}] must be a JSON object`, [
        { path: `/rows/${i}`, message: "must be an object" },
      ]);
    }
  }
  return { records: rows as Record<string, unknown>[], batch: true };
}

const ROW_PATH = (i: number) => `/rows/${i}`;
const NO_PATH = () => "";

/**
 * Steps 2-3: the cache, then the pipeline inside the bulkhead and the request's deadline.
 * A request that waits on nothing (no session, http or cascade step, an in-thread model: most
 * predictions) runs synchronously, in a bulkhead slot taken and given back without a promise;
 * anything else goes through `answerLater`.
 */
function answer(
  deps: PredictRouteDeps,
  request: PredictRequest,
  published: PublishedApp,
  body: Record<string, unknown>,
  batch: { records: Record<string, unknown>[]; batch: boolean },
  explain: boolean,
  sessionId: string | undefined,
): PredictResponseDto | Promise<PredictResponseDto> {
  const runtime = published.runtime;
  const state = admitted.get(request);
  const cache = runtime.cache;
  const key = cache ? cacheKey(published.appVersionId, body, explain ? "explain" : "") : "";
  if (cache) {
    const hit = cache.get(key) as PipelineResult | undefined;
    if (hit) {
      if (state) {
        state.cacheHit = true;
        state.records = batch.records;
        state.answers = hit.answers;
      }
      return shape(request, published, hit, batch.batch);
    }
  }
  if (runtime.bulkhead.enterNow()) {
    let result: PipelineResult | undefined;
    try {
      result = runtime.pipeline.runNow({
        records: batch.records,
        paths: batch.batch ? ROW_PATH : NO_PATH,
        explain,
        traceContext: traceContextOf(request),
        tracer: stepTracerOf(request),
      });
    } catch (error) {
      countFailure(deps, published, error);
      throw error;
    } finally {
      runtime.bulkhead.leaveNow();
    }
    if (result) return finish(request, published, batch, result, key);
  }
  return answerLater(deps, request, published, batch, explain, sessionId, key);
}

/** The pipeline when it must wait: in the bulkhead's queue, under the request's deadline. */
async function answerLater(
  deps: PredictRouteDeps,
  request: PredictRequest,
  published: PublishedApp,
  batch: { records: Record<string, unknown>[]; batch: boolean },
  explain: boolean,
  sessionId: string | undefined,
  key: string,
): Promise<PredictResponseDto> {
  const runtime = published.runtime;
  let result: PipelineResult;
  const run = (signal: AbortSignal) =>
    runtime.pipeline.run({
      records: batch.records,
      paths: batch.batch ? ROW_PATH : NO_PATH,
      explain,
      signal,
      traceContext: traceContextOf(request),
      tracer: stepTracerOf(request),
      ...(sessionId !== undefined ? { sessionId } : {}),
    });
  try {
    result = await runtime.bulkhead.run(() =>
      runtime.pipeline.cancellable(batch.records.length)
        ? withDeadline(runtime.policies.timeouts.requestMs, run)
        : run(NEVER_ABORTED),
    );
  } catch (error) {
    countFailure(deps, published, error);
    throw error;
  }
  return finish(request, published, batch, result, key);
}

/** Server-side failures (overload, deadline, upstream) counted per app for the runtime view. */
function countFailure(deps: PredictRouteDeps, published: PublishedApp, error: unknown): void {
  const mapped = runtimeApiError(error);
  if (mapped && mapped.statusCode >= 500) {
    deps.counters?.count(published.workspaceId, published.name, mapped.code);
  }
}

/** Remember the answers for the observers, cache them, and shape the response. */
function finish(
  request: PredictRequest,
  published: PublishedApp,
  batch: { records: Record<string, unknown>[]; batch: boolean },
  result: PipelineResult,
  key: string,
): PredictResponseDto {
  const state = admitted.get(request);
  if (state) {
    state.records = batch.records;
    state.answers = result.answers;
    state.modelMs = result.modelMs;
    state.encoded = result.encoded;
  }
  const cache = published.runtime.cache;
  // Fallback answers are not cached: the next request should try the real steps again.
  if (cache && !result.answers.some((a) => a.fallback)) cache.set(key, result);
  return shape(request, published, result, batch.batch);
}

function shape(
  request: PredictRequest,
  published: PublishedApp,
  result: PipelineResult,
  batch: boolean,
): PredictResponseDto {
  const base = {
    request_id: String(request.id),
    app: published.name,
    app_version: published.version,
    // Made once per loaded version, with the observers' description of it.
    model: servedOf(published).model,
  };
  const session = result.session ? { session: result.session } : {};
  if (batch) return { ...base, ...session, predictions: result.answers };
  return { ...base, ...session, ...result.answers[0] } as PredictResponseDto;
}
