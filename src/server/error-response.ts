/**
 * Anything thrown in a route, mapped to the uniform error body and its status: our ApiErrors,
 * the registry's not-found/conflict/validation errors, the runtime's policy answers (429, 503,
 * 504, 502 with Retry-After where a retry can help), Fastify's own request errors. Only bugs
 * become 500.
 */

import type { FastifyError } from "fastify";
import { ConflictError, NotFoundError, ValidationError } from "../registry/errors.ts";
import {
  CircuitOpenError,
  DeadlineExceededError,
  InvalidInputError,
  OverloadedError,
  RateLimitedError,
  RuntimeError,
  UpstreamError,
} from "../runtime/errors.ts";
import { InjectedFaultError } from "../runtime/faults/fault-injector.ts";
import { ApiError, type ErrorDetail, errorBody } from "./errors.ts";

/** The `RateLimit-*` headers (IETF draft) for a bucket's state. */
export function rateLimitHeaders(v: {
  readonly limit: number;
  readonly remaining: number;
  readonly resetSeconds: number;
  readonly policy?: string;
}): Record<string, string> {
  const headers: Record<string, string> = {
    "ratelimit-limit": String(v.limit),
    "ratelimit-remaining": String(Math.max(0, Math.floor(v.remaining))),
    "ratelimit-reset": String(Math.max(0, Math.ceil(v.resetSeconds))),
  };
  if (v.policy) headers["ratelimit-policy"] = v.policy;
  return headers;
}

/** A runtime policy's answer as an ApiError, or undefined for anything else. */
export function runtimeApiError(error: unknown): ApiError | undefined {
  if (!(error instanceof RuntimeError)) return undefined;
  if (error instanceof InvalidInputError) {
    return new ApiError(error.status, error.code, error.message, error.problems);
  }
  // A drill's injected failure answers like a failing upstream, under its own code.
  if (error instanceof InjectedFaultError) return new ApiError(502, error.code, error.message);
  if (error instanceof RateLimitedError) {
    return new ApiError(429, error.code, error.message, [], {
      "retry-after": String(error.retryAfterSeconds),
      ...rateLimitHeaders(error),
    });
  }
  if (error instanceof OverloadedError || error instanceof CircuitOpenError) {
    return new ApiError(503, error.code, error.message, [], {
      "retry-after": String(Math.max(1, Math.ceil(error.retryAfterSeconds))),
    });
  }
  if (error instanceof DeadlineExceededError) return new ApiError(504, error.code, error.message);
  if (error instanceof UpstreamError) return new ApiError(502, error.code, error.message);
  return undefined;
}

/** Map anything thrown in a route to the uniform error body; only bugs become 500. */
export function toErrorResponse(error: FastifyError | Error): {
  status: number;
  body: ReturnType<typeof errorBody>;
  headers: Record<string, string>;
} {
  const fromRuntime = runtimeApiError(error);
  if (fromRuntime) error = fromRuntime;
  if (error instanceof ApiError) {
    return {
      status: error.statusCode,
      body: errorBody(error.code, error.message, error.details),
      headers: { ...error.headers },
    };
  }
  if (error instanceof NotFoundError) {
    return { status: 404, body: errorBody("not_found", error.message), headers: {} };
  }
  if (error instanceof ConflictError) {
    return { status: 409, body: errorBody("conflict", error.message), headers: {} };
  }
  if (error instanceof ValidationError) {
    return {
      status: 400,
      body: errorBody("invalid_request", error.message, [
        { path: error.field, message: error.message },
      ]),
      headers: {},
    };
  }
  const fastifyError = error as FastifyError & {
    validation?: {
      instancePath?: string;
      message?: string;
      params?: Record<string, unknown>;
      keyword?: string;
    }[];
    validationContext?: string;
  };
  if (fastifyError.validation) {
    const details: ErrorDetail[] = fastifyError.validation.map((v) => {
      const missing = v.keyword === "required" ? `/${String(v.params?.missingProperty ?? "")}` : "";
      const extra =
        v.keyword === "additionalProperties"
          ? `/${String(v.params?.additionalProperty ?? "")}`
          : "";
      const message =
        v.keyword === "additionalProperties"
          ? "is not an accepted field"
          : v.keyword === "required"
            ? "is required"
            : (v.message ?? "is invalid");
      return {
        path: `${fastifyError.validationContext ?? "body"}${v.instancePath ?? ""}${missing}${extra}`,
        message,
      };
    });
    const first = details[0];
    return {
      status: 400,
      body: errorBody(
        "invalid_request",
        first ? `${first.path} ${first.message}` : "The request is invalid",
        details,
      ),
      headers: {},
    };
  }
  const status = fastifyError.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    const code =
      fastifyError.code === "FST_ERR_CTP_BODY_TOO_LARGE"
        ? "body_too_large"
        : fastifyError.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE"
          ? "unsupported_media_type"
          : error instanceof SyntaxError ||
              fastifyError.code === "FST_ERR_CTP_INVALID_JSON_BODY" ||
              fastifyError.code === "FST_ERR_CTP_EMPTY_JSON_BODY"
            ? "invalid_json"
            : "bad_request";
    return { status, body: errorBody(code, error.message), headers: {} };
  }
  return {
    status: 500,
    body: errorBody(
      "internal",
      "Something went wrong on the server; the request id identifies it in the logs",
    ),
    headers: {},
  };
}

/**
 * The server's answer to anything thrown, logged as the error handler logs it: bugs (5xx) at
 * error with their cause, refusals at debug. Fastify's error handler and the predict fast path
 * both answer with it.
 */
export function answerError(
  error: unknown,
  log: { error(obj: unknown, msg: string): void; debug(obj: unknown, msg: string): void },
): ReturnType<typeof toErrorResponse> {
  const answer = toErrorResponse(error as Error);
  if (answer.status >= 500) log.error({ err: error }, "unhandled error");
  else log.debug({ status: answer.status, ...answer.body }, "request refused");
  return answer;
}
