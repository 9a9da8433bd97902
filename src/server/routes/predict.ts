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
 *
 * The steps themselves live in `data-plane/` (admission.ts, answer.ts), shared with the fast
 * path (data-plane/fast-path.ts), which answers most production predictions before Fastify
 * routes them; this route answers the rest (idempotency keys, `explain`, staging, keys and apps
 * not yet cached, tracing on) and documents the endpoint in the OpenAPI contract.
 */
import type { FastifyInstance, FastifyReply } from "fastify";
import {
  beginOrWait,
  requestFingerprint,
  type StoredResponse,
} from "../../store/idempotency/idempotency-store.ts";
import type { Environment } from "../app-runtime.ts";
import {
  admit,
  admitNow,
  admittedOf,
  type PredictRequest,
  type PredictRouteDeps,
} from "../data-plane/admission.ts";
import {
  answer,
  observeAnswer,
  type PreparedPredict,
  preparePredict,
} from "../data-plane/answer.ts";
import { runtimeApiError, toErrorResponse } from "../error-response.ts";
import { ApiError, unprocessable } from "../errors.ts";
import { jsonBodyParser } from "../json-body.ts";

export type { PredictRouteDeps } from "../data-plane/admission.ts";

/** How long a request waits for another one running with its idempotency key. */
const IDEMPOTENCY_WAIT_MS = 10_000;

/** Query values accepted for `explain`. */
const EXPLAIN_VALUES = ["true", "false", "1", "0"];

/**
 * The production route, and staging's beside it: `POST /v1/apps/{app}/staging/predict` answers
 * with the version deployed to staging, under its own policies' state, and is never counted in
 * production's metrics, logs or drift.
 */
export function predictRoutes(deps: PredictRouteDeps) {
  return async (app: FastifyInstance) => {
    keepBodyText(app);
    for (const environment of ["production", "staging"] as const) {
      predictRoute(app, deps, environment);
    }
  };
}

/**
 * JSON bodies parsed as everywhere else (json-body.ts), with their text kept on the
 * request's admission state: the prediction log sends that text to its thread rather than
 * serializing the records on the event loop (the fast path keeps it the same way). Admission
 * (`onRequest`) runs before the body is parsed, so the state is there.
 */
function keepBodyText(app: FastifyInstance): void {
  const parse = jsonBodyParser(app);
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (request, text, done) => {
    const state = admittedOf(request as unknown as PredictRequest);
    if (state) state.bodyText = text as string;
    parse(request, text as string, done);
  });
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
      onResponse: (request, reply, done) => {
        observeAnswer(deps, request, reply.statusCode, reply.elapsedTime);
        done();
      },
    },
    (request, reply) => {
      const prepared = preparePredict(deps, request);
      if (prepared.idempotency) return answerOnce(deps, request, reply, prepared);
      const { published, body, batch, explain, sessionId } = prepared;
      const answered = answer(deps, request, published, body, batch, explain, sessionId);
      if (answered instanceof Promise) return answered.then((dto) => reply.send(dto));
      // Sent synchronously: returning nothing tells Fastify there is nothing more to send.
      void reply.send(answered);
      return undefined;
    },
  );
}

/** A request with an `Idempotency-Key`: replayed, refused when reused, or run once. */
async function answerOnce(
  deps: PredictRouteDeps,
  request: PredictRequest,
  reply: FastifyReply,
  input: PreparedPredict,
): Promise<FastifyReply> {
  const { published, body, batch, explain, sessionId } = input;
  const { store: idem, key: idempotencyKey } = input.idempotency as NonNullable<
    PreparedPredict["idempotency"]
  >;
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
