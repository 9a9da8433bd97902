/**
 * Time budgets. A request has a deadline and each step has its own inside it; when a budget
 * runs out the work is told to stop (its AbortSignal aborts) and the caller gets
 * DeadlineExceededError at once, whether or not the work listens. A parent signal (the
 * request's) cuts every child short with the parent's own reason, so a request that ran out of
 * time reports the request's deadline, not the step's.
 *
 * Timers are always cleared when the work settles, so a busy server does not accumulate
 * thousands of pending timers for requests that already answered.
 */
import { DeadlineExceededError } from "../errors.ts";

/** setTimeout fires at once beyond this (2^31 - 1 ms, about 24.8 days): treat as "no timer". */
const MAX_TIMER_MS = 2_147_483_647;

const noop = () => {};

/** A signal that aborts when the budget runs out or the parent aborts; `clear()` when done. */
export interface Deadline {
  readonly signal: AbortSignal;
  /** Stop the timer and stop listening to the parent. Safe to call more than once. */
  clear(): void;
}

/**
 * A signal that aborts after `ms` with DeadlineExceededError (carrying `stepId`, when given),
 * or as soon as `parent` aborts, with the parent's reason. A budget of 0 or less is already
 * spent: the signal is aborted on return, so a step with no time left never starts.
 * `Infinity` means no time limit (the parent still applies).
 */
export function deadlineSignal(ms: number, parent?: AbortSignal, stepId?: string): Deadline {
  if (Number.isNaN(ms)) throw new RangeError("A deadline needs a number of milliseconds, not NaN");
  const controller = new AbortController();
  if (parent?.aborted) {
    controller.abort(parent.reason);
    return { signal: controller.signal, clear: noop };
  }
  if (ms <= 0) {
    controller.abort(new DeadlineExceededError(0, stepId));
    return { signal: controller.signal, clear: noop };
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const onParentAbort = () => {
    clear();
    controller.abort(parent?.reason);
  };
  const clear = () => {
    if (timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
    }
    parent?.removeEventListener("abort", onParentAbort);
  };
  if (ms <= MAX_TIMER_MS) {
    timer = setTimeout(() => {
      timer = undefined;
      parent?.removeEventListener("abort", onParentAbort);
      controller.abort(new DeadlineExceededError(ms, stepId));
    }, ms);
  }
  parent?.addEventListener("abort", onParentAbort, { once: true });
  return { signal: controller.signal, clear };
}

export interface WithDeadlineOptions {
  /** The enclosing budget (the request's); its abort wins and its reason is rethrown. */
  readonly parent?: AbortSignal;
  /** Named in the DeadlineExceededError, so the response can say which step overran. */
  readonly stepId?: string;
}

/**
 * Runs `fn` with a signal that aborts after `ms`. Settles with `fn`'s result if it comes first;
 * otherwise rejects at the deadline with DeadlineExceededError (or the parent's reason) without
 * waiting for `fn`, whose late result or error is then ignored. `fn` is not called at all when
 * the budget is already spent or the parent already aborted.
 *
 * On the hot path, so it is built around Node's slow AbortSignal (on Node 20 creating one costs
 * ~8 µs, and the first listener on it ~8 µs more): it creates exactly one signal, never listens
 * to it, and settles straight from its timer and the parent's listener. Its cost is still
 * mostly that one signal, so only give a step its own deadline when its work can actually be
 * cancelled (I/O, a worker thread); synchronous in-thread work cannot be interrupted anyway.
 */
export function withDeadline<T>(
  ms: number,
  fn: (signal: AbortSignal) => Promise<T>,
  options: WithDeadlineOptions = {},
): Promise<T> {
  if (Number.isNaN(ms)) throw new RangeError("A deadline needs a number of milliseconds, not NaN");
  const { parent, stepId } = options;
  if (parent?.aborted) return Promise.reject(parent.reason);
  if (ms <= 0) return Promise.reject(new DeadlineExceededError(0, stepId));
  return new Promise<T>((resolve, reject) => {
    const controller = new AbortController();
    let settled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const onParentAbort = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      parent?.removeEventListener("abort", onParentAbort);
      controller.abort(parent?.reason);
      reject(parent?.reason);
    };
    if (ms <= MAX_TIMER_MS) {
      timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        parent?.removeEventListener("abort", onParentAbort);
        const reason = new DeadlineExceededError(ms, stepId);
        controller.abort(reason);
        reject(reason);
      }, ms);
    }
    parent?.addEventListener("abort", onParentAbort);
    const finish = () => {
      settled = true;
      clearTimeout(timer);
      parent?.removeEventListener("abort", onParentAbort);
    };
    let work: Promise<T>;
    try {
      work = fn(controller.signal);
    } catch (error) {
      if (!settled) {
        finish();
        reject(error);
      }
      return;
    }
    work.then(
      (value) => {
        if (settled) return;
        finish();
        resolve(value);
      },
      (error: unknown) => {
        if (settled) return;
        finish();
        reject(error);
      },
    );
  });
}
