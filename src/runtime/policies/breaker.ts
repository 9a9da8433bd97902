/**
 * The guard around a step that calls something outside the process (an http step, a remote
 * model): when that thing is slow or down, the app must keep answering (with its fallback, or a
 * fast 503) instead of piling up requests that wait on it. Built from cockatiel's policies,
 * outermost first:
 *
 *   bulkhead (maxConcurrent, no queue) → circuit breaker → retry (idempotent steps only) →
 *   per-attempt deadline
 *
 * so a call refused by the bulkhead or an open breaker costs nothing, the breaker counts one
 * failure per call (after its retries), and every attempt has its own budget and is aborted
 * when it runs out. What cockatiel throws is translated into the runtime's errors
 * (OverloadedError, CircuitOpenError, DeadlineExceededError); the caller's own abort (the
 * request's deadline) is rethrown as is and never counts against the upstream.
 */
import {
  BrokenCircuitError,
  type BulkheadPolicy,
  BulkheadRejectedError,
  type CircuitBreakerPolicy,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  bulkhead as createBulkhead,
  ExponentialBackoff,
  handleWhen,
  type IBreaker,
  IsolatedCircuitError,
  type RetryPolicy,
  retry,
  TaskCancelledError,
} from "cockatiel";
import type { HttpStepSettings } from "../../spec/steps/http-step.ts";
import {
  CircuitOpenError,
  DeadlineExceededError,
  OverloadedError,
  UpstreamError,
} from "../errors.ts";
import { withDeadline } from "./deadline.ts";

/** An http step's settings as the spec names them, plus the retry timing (defaults here). */
export interface StepGuardSettings extends Omit<HttpStepSettings, "url"> {
  readonly stepId: string;
  /** Scale of the first retry's delay (default 50 ms); later ones grow exponentially, jittered. */
  readonly retryInitialDelayMs?: number;
  /** No retry waits longer than this (default 1000 ms). */
  readonly retryMaxDelayMs?: number;
}

export type BreakerState = "closed" | "open" | "half-open";

/** What a guard has done since it was created; exported as metrics. */
export interface StepGuardCounters {
  /** Calls made through `execute`. */
  readonly calls: number;
  /** Calls that failed in a way the breaker counts (after their retries). */
  readonly failures: number;
  /** Attempts that ran out of their `timeoutMs`. */
  readonly timeouts: number;
  /** Retry attempts made. */
  readonly retries: number;
  /** Times the breaker opened. */
  readonly opened: number;
  /** Calls refused because the breaker was open. */
  readonly rejected: number;
  /** Calls refused because `maxConcurrent` calls were already running. */
  readonly shed: number;
}

/** The caller (the request) gave up: not the upstream's fault, so neither retried nor counted. */
class CallerGaveUp extends Error {
  constructor(readonly reason: unknown) {
    super("The caller aborted the call");
  }
}

/**
 * An upstream that answered 4xx is up and refused this request; that says nothing about its
 * health, except 408 and 429 which say it is too slow or too busy.
 */
const refusedByUpstream = (error: unknown) =>
  error instanceof UpstreamError &&
  error.status !== undefined &&
  error.status < 500 &&
  error.status !== 408 &&
  error.status !== 429;

const countsAsFailure = (error: unknown) =>
  !(error instanceof CallerGaveUp) && !refusedByUpstream(error);

/** Never retry an answer the upstream gave on purpose (any status below 500). */
const isRetryable = (error: unknown) =>
  !(error instanceof CallerGaveUp) &&
  !(error instanceof UpstreamError && error.status !== undefined && error.status < 500);

const STATES: Record<CircuitState, BreakerState> = {
  [CircuitState.Closed]: "closed",
  [CircuitState.Open]: "open",
  [CircuitState.HalfOpen]: "half-open",
  [CircuitState.Isolated]: "open",
};

function positive(name: string, value: number, integer: boolean, min: number): number {
  if (!Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    throw new RangeError(
      `${name} must be ${integer ? "an integer" : "a number"} >= ${min}, got ${value}`,
    );
  }
  return value;
}

/**
 * Runs a step's external call inside its bulkhead, circuit breaker, retries and per-attempt
 * deadline. One per step per app version, so a new version starts with a closed breaker.
 */
export class StepGuard {
  readonly stepId: string;
  readonly timeoutMs: number;
  readonly maxConcurrent: number;
  readonly halfOpenAfterMs: number;

  readonly #bulkhead: BulkheadPolicy;
  readonly #breaker: CircuitBreakerPolicy;
  readonly #retry: RetryPolicy | undefined;
  #openedAt = 0;
  #calls = 0;
  #failures = 0;
  #timeouts = 0;
  #retries = 0;
  #opened = 0;
  #rejected = 0;
  #shed = 0;

  constructor(settings: StepGuardSettings) {
    this.stepId = settings.stepId;
    this.timeoutMs = positive("timeoutMs", settings.timeoutMs, false, 1);
    this.maxConcurrent = positive("maxConcurrent", settings.maxConcurrent, true, 1);
    const maxRetries = positive("maxRetries", settings.maxRetries, true, 0);
    const errorRate = positive("breakerErrorRate", settings.breakerErrorRate, false, 0);
    if (errorRate > 1) throw new RangeError(`breakerErrorRate must be at most 1, got ${errorRate}`);
    this.halfOpenAfterMs =
      positive("breakerHalfOpenAfterSeconds", settings.breakerHalfOpenAfterSeconds, false, 0) *
      1000;
    const breaker = new StepBreaker({
      consecutiveFailures: positive(
        "breakerConsecutiveFailures",
        settings.breakerConsecutiveFailures,
        true,
        0,
      ),
      errorRate,
      windowMs:
        positive("breakerWindowSeconds", settings.breakerWindowSeconds, false, 0.001) * 1000,
      minRequests: positive("breakerMinRequests", settings.breakerMinRequests, true, 0),
    });

    this.#bulkhead = createBulkhead(this.maxConcurrent, 0);
    this.#breaker = circuitBreaker(handleWhen(countsAsFailure), {
      breaker,
      halfOpenAfter: this.halfOpenAfterMs,
    });
    this.#breaker.onFailure(({ handled }) => {
      if (handled) this.#failures++;
    });
    this.#breaker.onBreak(() => {
      this.#opened++;
      this.#openedAt = Date.now();
    });
    if (settings.idempotent && maxRetries > 0) {
      this.#retry = retry(handleWhen(isRetryable), {
        maxAttempts: maxRetries,
        backoff: new ExponentialBackoff({
          initialDelay: settings.retryInitialDelayMs ?? 50,
          maxDelay: settings.retryMaxDelayMs ?? 1000,
        }),
      });
      this.#retry.onRetry(() => {
        this.#retries++;
      });
    }
  }

  /** The breaker's state, for metrics. An open breaker stays "open" until a call probes it. */
  get state(): BreakerState {
    return STATES[this.#breaker.state];
  }

  /** Calls running now. */
  get inFlight(): number {
    return this.maxConcurrent - this.#bulkhead.executionSlots;
  }

  get counters(): StepGuardCounters {
    return {
      calls: this.#calls,
      failures: this.#failures,
      timeouts: this.#timeouts,
      retries: this.#retries,
      opened: this.#opened,
      rejected: this.#rejected,
      shed: this.#shed,
    };
  }

  /** Calls that failed in a way the breaker counts. */
  get failures(): number {
    return this.#failures;
  }

  /** Times the breaker opened. */
  get opened(): number {
    return this.#opened;
  }

  /** Called with every state change (for metrics and logs); returns the unsubscribe function. */
  onStateChange(listener: (state: BreakerState) => void): () => void {
    const subscription = this.#breaker.onStateChange((state) => listener(STATES[state]));
    return () => subscription.dispose();
  }

  /**
   * Calls `fn` inside the guard. `fn` gets the attempt's signal (aborted when the attempt's
   * `timeoutMs` or the parent runs out) and should pass it to its I/O. Rejects with
   * OverloadedError (step at `maxConcurrent`), CircuitOpenError (breaker open),
   * DeadlineExceededError with this step's id (the last attempt timed out), `fn`'s own error
   * (the last attempt failed), or the parent's reason as soon as the parent aborts.
   */
  execute<T>(fn: (signal: AbortSignal) => Promise<T>, parent?: AbortSignal): Promise<T> {
    if (parent?.aborted) return Promise.reject(parent.reason);
    this.#calls++;
    const retryPolicy = this.#retry;
    const attempt = ({ signal }: { signal: AbortSignal }) => this.#attempt(fn, signal);
    const guarded = this.#bulkhead
      .execute(
        ({ signal }) =>
          this.#breaker.execute(
            retryPolicy ? (context) => retryPolicy.execute(attempt, context.signal) : attempt,
            signal,
          ),
        parent,
      )
      .catch((error: unknown) => {
        throw this.#translate(error, parent);
      });
    return parent ? untilAborted(guarded, parent) : guarded;
  }

  async #attempt<T>(fn: (signal: AbortSignal) => Promise<T>, caller: AbortSignal): Promise<T> {
    try {
      return await withDeadline(this.timeoutMs, fn, { parent: caller, stepId: this.stepId });
    } catch (error) {
      if (caller.aborted) throw new CallerGaveUp(caller.reason);
      if (error instanceof DeadlineExceededError && error.stepId === this.stepId) this.#timeouts++;
      throw error;
    }
  }

  #translate(error: unknown, parent: AbortSignal | undefined): unknown {
    if (error instanceof CallerGaveUp) return error.reason;
    if (error instanceof BrokenCircuitError || error instanceof IsolatedCircuitError) {
      this.#rejected++;
      const left = this.#openedAt + this.halfOpenAfterMs - Date.now();
      return new CircuitOpenError(this.stepId, Math.max(1, Math.ceil(left / 1000)));
    }
    if (error instanceof BulkheadRejectedError) {
      this.#shed++;
      return new OverloadedError(
        "queue_full",
        1,
        `Step ${this.stepId} already has ${this.maxConcurrent} calls in flight; retry in 1 s`,
      );
    }
    if (error instanceof TaskCancelledError && parent?.aborted) return parent.reason;
    return error;
  }
}

/** Settles like `work`, or rejects with the signal's reason as soon as it aborts. */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

interface StepBreakerOptions {
  readonly consecutiveFailures: number;
  readonly errorRate: number;
  readonly windowMs: number;
  readonly minRequests: number;
}

/**
 * Opens on N consecutive failures OR an error rate over a time window, as one cockatiel
 * IBreaker. The consecutive part is cockatiel's ConsecutiveBreaker; the rate part is ours
 * because cockatiel's SamplingBreaker advances one sub-window per call, so after a quiet spell
 * it still counts failures from long before the window (and it takes a minimum rate per second
 * rather than a minimum number of calls).
 */
export class StepBreaker implements IBreaker {
  readonly #consecutive: ConsecutiveBreaker | undefined;
  readonly #window: ErrorRateWindow | undefined;

  constructor(options: StepBreakerOptions) {
    this.#consecutive =
      options.consecutiveFailures > 0
        ? new ConsecutiveBreaker(options.consecutiveFailures)
        : undefined;
    this.#window =
      options.errorRate > 0
        ? new ErrorRateWindow(options.windowMs, options.errorRate, options.minRequests)
        : undefined;
  }

  /** For cockatiel's toJSON/hydration: the consecutive count (the window is not carried over). */
  get state(): unknown {
    return { consecutive: this.#consecutive?.state ?? 0 };
  }

  set state(value: unknown) {
    if (typeof value !== "object" || value === null || !("consecutive" in value)) return;
    const consecutive = value.consecutive;
    if (this.#consecutive && typeof consecutive === "number") this.#consecutive.state = consecutive;
  }

  success(state: CircuitState): void {
    this.#consecutive?.success();
    // A successful probe closes the breaker: start judging the rate afresh.
    if (state === CircuitState.HalfOpen) this.#window?.reset();
    this.#window?.record(true);
  }

  failure(state: CircuitState): boolean {
    const consecutive = this.#consecutive ? this.#consecutive.failure() : false;
    this.#window?.record(false);
    if (state !== CircuitState.Closed) return true;
    return consecutive || (this.#window?.tripped() ?? false);
  }
}

/** Sub-windows per window: the window slides in steps of a tenth of its length. */
const SLOTS = 10;

/** Successes and failures over the last `windowMs`, in a ring of sub-windows. */
class ErrorRateWindow {
  readonly #slotMs: number;
  readonly #epochs = new Float64Array(SLOTS).fill(Number.NEGATIVE_INFINITY);
  readonly #ok = new Uint32Array(SLOTS);
  readonly #failed = new Uint32Array(SLOTS);

  constructor(
    windowMs: number,
    private readonly rate: number,
    private readonly minRequests: number,
  ) {
    this.#slotMs = windowMs / SLOTS;
  }

  record(ok: boolean): void {
    const epoch = Math.floor(performance.now() / this.#slotMs);
    const i = epoch % SLOTS;
    if (this.#epochs[i] !== epoch) {
      this.#epochs[i] = epoch;
      this.#ok[i] = 0;
      this.#failed[i] = 0;
    }
    if (ok) this.#ok[i] = (this.#ok[i] as number) + 1;
    else this.#failed[i] = (this.#failed[i] as number) + 1;
  }

  /** True when the window holds enough calls and the failed share reached the rate. */
  tripped(): boolean {
    const oldest = Math.floor(performance.now() / this.#slotMs) - SLOTS;
    let total = 0;
    let failed = 0;
    for (let i = 0; i < SLOTS; i++) {
      if ((this.#epochs[i] as number) <= oldest) continue;
      const f = this.#failed[i] as number;
      total += (this.#ok[i] as number) + f;
      failed += f;
    }
    return total >= Math.max(1, this.minRequests) && failed >= this.rate * total - 1e-9;
  }

  reset(): void {
    this.#epochs.fill(Number.NEGATIVE_INFINITY);
    this.#ok.fill(0);
    this.#failed.fill(0);
  }
}
