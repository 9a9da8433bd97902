/**
 * Steps 2-3 of a predict request, once its body is parsed: the body's shape and the request's
 * options (explain, session), the response cache, the app's bulkhead, the request's deadline
 * and the pipeline's steps, each with its own budget, breaker and fallback; then the answer's
 * shape, and everyone watching told. Shared by the Fastify route and the fast path.
 */

import type { Explanation } from "../../models/predictor.ts";
import {
  outcomeOf,
  type PredictObservation,
  type ServedVersion,
} from "../../monitor/observation.ts";
import { cacheKey } from "../../runtime/cache/response-cache.ts";
import type { PipelineResult, RowAnswer } from "../../runtime/pipeline/pipeline.ts";
import type { SessionTurn } from "../../runtime/pipeline/session-step.ts";
import { SESSION_ID_PATTERN } from "../../runtime/pipeline/session-step.ts";
import { withDeadline } from "../../runtime/policies/deadline.ts";
import type { IdempotencyStore } from "../../store/idempotency/idempotency-store.ts";
import type { PredictResponseDto } from "../api-types.ts";
import type { PublishedApp } from "../app-runtime.ts";
import { requirePermission } from "../auth.ts";
import { runtimeApiError } from "../error-response.ts";
import { ApiError, badRequest, notFound } from "../errors.ts";
import { annotateTrace, stepTracerOf, traceContextOf } from "../request-trace.ts";
import { admittedOf, type PredictRequest, type PredictRouteDeps } from "./admission.ts";

export const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const header = (request: PredictRequest, name: string): string | undefined => {
  const v = request.headers[name];
  return typeof v === "string" ? v : undefined;
};

/** The signal of a request with nothing to cancel (its pipeline runs synchronously). */
const NEVER_ABORTED = new AbortController().signal;

/** The records of a request, one or a batch. */
export interface PredictBatch {
  readonly records: Record<string, unknown>[];
  readonly batch: boolean;
}

/** A request checked and ready to answer. */
export interface PreparedPredict {
  readonly published: PublishedApp;
  readonly body: Record<string, unknown>;
  readonly batch: PredictBatch;
  readonly explain: boolean;
  readonly sessionId: string | undefined;
  /** Its `Idempotency-Key`, when it has one and the app keeps them (then the store too). */
  readonly idempotency: { readonly store: IdempotencyStore; readonly key: string } | undefined;
}

/**
 * The checks between the parsed body and the pipeline: the caller may invoke the app, the app
 * exists, and the body, `explain`, `x-session-id` and `Idempotency-Key` are well formed. Each
 * failure is a 4xx naming what was wrong.
 */
export function preparePredict(deps: PredictRouteDeps, request: PredictRequest): PreparedPredict {
  const state = admittedOf(request);
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
    throw badRequest("invalid_session_id", "x-session-id must be 1-128 letters, digits or ._:-", [
      { path: "header/x-session-id", message: "is not a valid session id" },
    ]);
  }
  const batch = readBatch(published, body);
  const idempotencyKey = header(request, "idempotency-key");
  if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
    throw badRequest(
      "invalid_idempotency_key",
      "Idempotency-Key must be 1-255 visible ASCII characters",
      [{ path: "header/idempotency-key", message: "is not a valid key" }],
    );
  }
  const store =
    idempotencyKey !== undefined && published.runtime.policies.idempotency.enabled
      ? deps.idempotency
      : undefined;
  return {
    published,
    body,
    batch,
    explain,
    sessionId,
    idempotency: store && idempotencyKey !== undefined ? { store, key: idempotencyKey } : undefined,
  };
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
export function observeAnswer(
  deps: PredictRouteDeps,
  request: PredictRequest,
  status: number,
  ms: number,
): void {
  const state = admittedOf(request);
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
    latencyMs: ms,
    modelMs: state.modelMs,
    encoded: ok ? state.encoded : undefined,
    records: ok ? state.records : undefined,
    bodyText: ok ? state.bodyText : undefined,
    bodyRows: state.bodyRows,
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

/** The records of a body: one record, or a batch checked against the app's row limit. */
function readBatch(published: PublishedApp, body: Record<string, unknown>): PredictBatch {
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
export function answer(
  deps: PredictRouteDeps,
  request: PredictRequest,
  published: PublishedApp,
  body: Record<string, unknown>,
  batch: PredictBatch,
  explain: boolean,
  sessionId: string | undefined,
): PredictResponseDto | Promise<PredictResponseDto> {
  const runtime = published.runtime;
  const state = admittedOf(request);
  const cache = runtime.cache;
  const key = cache ? cacheKey(published.appVersionId, body, explain ? "explain" : "") : "";
  if (cache) {
    const hit = cache.get(key) as PipelineResult | undefined;
    if (hit) {
      if (state) {
        state.cacheHit = true;
        state.records = batch.records;
        state.bodyRows = batch.batch;
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
  batch: PredictBatch,
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
  batch: PredictBatch,
  result: PipelineResult,
  key: string,
): PredictResponseDto {
  const state = admittedOf(request);
  if (state) {
    state.records = batch.records;
    state.bodyRows = batch.batch;
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
  const out = new PredictResponse(
    String(request.id),
    published.name,
    published.version,
    // Made once per loaded version, with the observers' description of it.
    servedOf(published).model,
  );
  out.session = result.session;
  if (batch) {
    out.predictions = result.answers;
    return out;
  }
  // A row answer's fields (all of them: COPIED_ANSWER_FIELDS), in the order every step makes
  // them (predictor, cascade, http step, fallback), so the body reads as before.
  const answer = result.answers[0] as RowAnswer;
  out.prediction = answer.prediction;
  out.probabilities = answer.probabilities;
  out.explanation = answer.explanation;
  out.answered_by = answer.answered_by;
  out.fallback = answer.fallback;
  return out;
}

/**
 * The row answer fields `shape` copies into a body, one by one. Checked against `RowAnswer` at
 * compile time: a field added there fails to compile here until `shape` copies it too, rather
 * than vanishing from single-row answers.
 */
const COPIED_ANSWER_FIELDS = {
  prediction: true,
  probabilities: true,
  explanation: true,
  answered_by: true,
  fallback: true,
} as const satisfies Record<keyof RowAnswer, true>;
void COPIED_ANSWER_FIELDS;

/**
 * A predict answer's body. A class with every field from the start, where fields an answer
 * lacks stay undefined (JSON leaves them out): each body then has one hidden class. Merging
 * the row's answer into an object literal (`Object.assign`) took V8's slow path, measured at
 * ~4 µs a request on the fast path (hrtime counters under `npm run bench:serve` load).
 */
class PredictResponse implements PredictResponseDto {
  session: SessionTurn | undefined = undefined;
  prediction: string | number | undefined = undefined;
  probabilities: Record<string, number> | undefined = undefined;
  explanation: Explanation | undefined = undefined;
  answered_by: RowAnswer["answered_by"] = undefined;
  fallback: RowAnswer["fallback"] = undefined;
  predictions: readonly RowAnswer[] | undefined = undefined;

  constructor(
    readonly request_id: string,
    readonly app: string,
    readonly app_version: number,
    readonly model: { readonly name: string; readonly version: number },
  ) {}
}
