/**
 * What the runtime's policies throw when they refuse or cut short a request. They carry what
 * the caller needs to act (when to retry, which step), and no HTTP: the server maps each to its
 * status (429, 503, 504, 502) in one place, so the runtime can also serve webhooks and the CLI.
 */

/** Base class, so the server can tell a policy's answer from a bug. */
export abstract class RuntimeError extends Error {
  abstract readonly code: string;
}

/** A rate limit said no: the caller should wait `retryAfterSeconds`. */
export class RateLimitedError extends RuntimeError {
  readonly code = "rate_limited";
  constructor(
    /** Which bucket refused: the caller's key, the app, or the workspace. */
    readonly scope: "key" | "app" | "workspace",
    readonly limit: number,
    readonly remaining: number,
    /** Seconds until the bucket is full enough again. */
    readonly retryAfterSeconds: number,
    /** Seconds until the bucket is completely refilled (RateLimit-Reset). */
    readonly resetSeconds: number,
  ) {
    super(`Rate limit of the ${scope} reached; retry in ${retryAfterSeconds} s`);
    this.name = "RateLimitedError";
  }
}

/** A bulkhead (concurrency cap), its queue, or a worker pool was full: shed, retry later. */
export class OverloadedError extends RuntimeError {
  readonly code = "overloaded";
  constructor(
    readonly reason: "queue_full" | "queue_timeout" | "pool_full" | "memory",
    readonly retryAfterSeconds: number,
    message = `The app is at capacity (${reason.replace("_", " ")}); retry in ${retryAfterSeconds} s`,
  ) {
    super(message);
    this.name = "OverloadedError";
  }
}

/** The request's or a step's time budget ran out; the work was cancelled. */
export class DeadlineExceededError extends RuntimeError {
  readonly code = "deadline_exceeded";
  constructor(
    readonly budgetMs: number,
    /** The step whose own budget ran out; undefined when it was the whole request's. */
    readonly stepId?: string,
  ) {
    super(
      stepId === undefined
        ? `The request did not finish within its ${budgetMs} ms budget`
        : `Step ${stepId} did not finish within its ${budgetMs} ms budget`,
    );
    this.name = "DeadlineExceededError";
  }
}

/** A step's circuit breaker is open: calls are refused until it half-opens. */
export class CircuitOpenError extends RuntimeError {
  readonly code = "circuit_open";
  constructor(
    readonly stepId: string,
    readonly retryAfterSeconds: number,
  ) {
    super(
      `Step ${stepId} is failing and its circuit breaker is open; retry in ${retryAfterSeconds} s`,
    );
    this.name = "CircuitOpenError";
  }
}

/** Something outside the process (an http step's URL) failed, after any retries. */
export class UpstreamError extends RuntimeError {
  readonly code = "upstream_failed";
  constructor(
    readonly stepId: string,
    message: string,
    /** The upstream's HTTP status, when it answered. */
    readonly status?: number,
  ) {
    super(message);
    this.name = "UpstreamError";
  }
}

/** One problem with a caller's input: where (a JSON Pointer into the body) and what. */
export interface InputProblem {
  readonly path: string;
  readonly message: string;
}

/** The caller's input does not fit the app (its contract, its session's limits): a 4xx. */
export class InvalidInputError extends RuntimeError {
  constructor(
    readonly code: "invalid_input" | "invalid_body" | "session_full" | "model_rejected_input",
    message: string,
    readonly problems: readonly InputProblem[] = [],
    /**
     * 400 for a malformed input, 409 for a request that conflicts with its session's state,
     * 422 for an input that fits the contract yet an imported model cannot compute on.
     */
    readonly status: 400 | 409 | 422 = 400,
  ) {
    super(message);
    this.name = "InvalidInputError";
  }
}
