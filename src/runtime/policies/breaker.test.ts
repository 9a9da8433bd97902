import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import {
  CircuitOpenError,
  DeadlineExceededError,
  OverloadedError,
  UpstreamError,
} from "../errors.ts";
import { type BreakerState, StepGuard, type StepGuardSettings } from "./breaker.ts";

const settings = (overrides: Partial<StepGuardSettings> = {}): StepGuardSettings => ({
  stepId: "enrich",
  timeoutMs: 1000,
  idempotent: false,
  maxRetries: 2,
  maxConcurrent: 8,
  breakerConsecutiveFailures: 3,
  breakerErrorRate: 0,
  breakerWindowSeconds: 30,
  breakerMinRequests: 20,
  breakerHalfOpenAfterSeconds: 0.2,
  retryInitialDelayMs: 5,
  retryMaxDelayMs: 20,
  ...overrides,
});

/** An upstream the test scripts: each call takes the next outcome ("ok" or a status). */
function upstream(outcomes: (number | "ok")[], fallback: number | "ok" = "ok") {
  const calls = { count: 0 };
  const fn = async (): Promise<string> => {
    const next = outcomes[calls.count] ?? fallback;
    calls.count++;
    if (next === "ok") return "answer";
    throw new UpstreamError("enrich", `Step enrich's URL answered ${next}`, next);
  };
  return { fn, calls };
}

/** A call's value or error, so a test can look at either without try/catch. */
const outcome = <T>(promise: Promise<T>): Promise<{ value?: T; error?: unknown }> =>
  promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );

describe("StepGuard", () => {
  it("opens after N consecutive failures and then refuses without calling the upstream", async () => {
    const guard = new StepGuard(settings({ breakerConsecutiveFailures: 3 }));
    const states: BreakerState[] = [];
    guard.onStateChange((s) => states.push(s));
    const { fn, calls } = upstream([500, "ok", 500, 502, 503], 500);
    for (let i = 0; i < 5; i++) await outcome(guard.execute(fn));
    // The success in between reset the count: open only after the last three.
    expect(guard.state).toBe("open");
    expect(states).toEqual(["open"]);
    expect(guard.opened).toBe(1);
    expect(guard.failures).toBe(4);

    const refused = await outcome(guard.execute(fn));
    expect(calls.count).toBe(5);
    expect(refused.error).toBeInstanceOf(CircuitOpenError);
    expect(refused.error).toMatchObject({ code: "circuit_open", stepId: "enrich" });
    expect((refused.error as CircuitOpenError).retryAfterSeconds).toBe(1);
    expect(guard.counters.rejected).toBe(1);
  });

  it("opens when the error rate over the window reaches the threshold, not before minRequests", async () => {
    const guard = new StepGuard(
      settings({
        breakerConsecutiveFailures: 0,
        breakerErrorRate: 0.5,
        breakerMinRequests: 10,
        breakerWindowSeconds: 30,
      }),
    );
    // ok, fail, ok, fail, ...: never two failures in a row, half of all calls failing.
    const pattern: (number | "ok")[] = Array.from({ length: 10 }, (_, i) => (i % 2 ? 500 : "ok"));
    const { fn } = upstream(pattern);
    for (let i = 0; i < 9; i++) {
      await outcome(guard.execute(fn));
      expect(guard.state).toBe("closed");
    }
    await outcome(guard.execute(fn)); // the 10th call, the 5th failure: 50%
    expect(guard.state).toBe("open");
    expect(guard.opened).toBe(1);
  });

  it("does not open on an error rate below the threshold", async () => {
    const guard = new StepGuard(
      settings({ breakerConsecutiveFailures: 0, breakerErrorRate: 0.5, breakerMinRequests: 4 }),
    );
    const { fn } = upstream(["ok", "ok", 500, "ok", "ok", 500, "ok", "ok", 500]);
    for (let i = 0; i < 9; i++) await outcome(guard.execute(fn));
    expect(guard.state).toBe("closed");
  });

  it("forgets failures older than the window", async () => {
    const guard = new StepGuard(
      settings({
        breakerConsecutiveFailures: 0,
        breakerErrorRate: 0.5,
        breakerMinRequests: 4,
        breakerWindowSeconds: 0.1,
      }),
    );
    const { fn } = upstream([500, 500, 500, "ok", "ok", "ok", 500]);
    for (let i = 0; i < 3; i++) await outcome(guard.execute(fn));
    await sleep(150);
    // Inside a fresh window: 3 ok + 1 failure = 25%; the three old failures no longer count.
    for (let i = 0; i < 4; i++) await outcome(guard.execute(fn));
    expect(guard.state).toBe("closed");
  });

  it("lets one probe through after halfOpenAfter: success closes, failure reopens", async () => {
    const guard = new StepGuard(
      settings({ breakerConsecutiveFailures: 2, breakerHalfOpenAfterSeconds: 0.1 }),
    );
    const states: BreakerState[] = [];
    const stop = guard.onStateChange((s) => states.push(s));
    const failing = upstream([], 500);
    await outcome(guard.execute(failing.fn));
    await outcome(guard.execute(failing.fn));
    expect(guard.state).toBe("open");
    await sleep(130);

    // The probe fails: open again, for another halfOpenAfter.
    const probe = await outcome(guard.execute(failing.fn));
    expect(probe.error).toBeInstanceOf(UpstreamError);
    expect(guard.state).toBe("open");
    expect(guard.opened).toBe(2);
    expect((await outcome(guard.execute(failing.fn))).error).toBeInstanceOf(CircuitOpenError);
    expect(failing.calls.count).toBe(3);
    await sleep(130);

    // The probe succeeds: closed, and calls flow again.
    const healthy = upstream([]);
    expect(await guard.execute(healthy.fn)).toBe("answer");
    expect(guard.state).toBe("closed");
    expect(await guard.execute(healthy.fn)).toBe("answer");
    expect(states).toEqual(["open", "half-open", "open", "half-open", "closed"]);
    stop();
    await outcome(guard.execute(failing.fn));
    await outcome(guard.execute(failing.fn));
    expect(guard.state).toBe("open");
    expect(states).toHaveLength(5);
  });

  it("retries an idempotent step with backoff, and not a non-idempotent one", async () => {
    const idempotent = new StepGuard(settings({ idempotent: true, maxRetries: 2 }));
    const flaky = upstream([503, 500, "ok"]);
    expect(await idempotent.execute(flaky.fn)).toBe("answer");
    expect(flaky.calls.count).toBe(3);
    expect(idempotent.counters.retries).toBe(2);
    expect(idempotent.failures).toBe(0);

    const exhausted = upstream([], 503);
    const last = await outcome(idempotent.execute(exhausted.fn));
    expect(exhausted.calls.count).toBe(3);
    expect(last.error).toMatchObject({ status: 503 });
    expect(idempotent.failures).toBe(1); // one call, one failure, whatever its retries

    const once = new StepGuard(settings({ idempotent: false, maxRetries: 2 }));
    const notRetried = upstream([503, "ok"]);
    expect((await outcome(once.execute(notRetried.fn))).error).toBeInstanceOf(UpstreamError);
    expect(notRetried.calls.count).toBe(1);
    expect(once.counters.retries).toBe(0);
  });

  it("never retries or counts a 4xx answer: the upstream is up and refused on purpose", async () => {
    const guard = new StepGuard(
      settings({ idempotent: true, maxRetries: 3, breakerConsecutiveFailures: 2 }),
    );
    const refusing = upstream([], 422);
    for (let i = 0; i < 4; i++) {
      expect((await outcome(guard.execute(refusing.fn))).error).toMatchObject({ status: 422 });
    }
    expect(refusing.calls.count).toBe(4);
    expect(guard.state).toBe("closed");
    expect(guard.failures).toBe(0);
    // 429 says "too busy": not retried (below 500), but counted.
    const busy = upstream([], 429);
    await outcome(guard.execute(busy.fn));
    await outcome(guard.execute(busy.fn));
    expect(busy.calls.count).toBe(2);
    expect(guard.state).toBe("open");
  });

  it("gives each attempt its own deadline and aborts that attempt's signal", async () => {
    const guard = new StepGuard(settings({ timeoutMs: 30, idempotent: true, maxRetries: 1 }));
    const signals: AbortSignal[] = [];
    const hang = (signal: AbortSignal) => {
      signals.push(signal);
      return new Promise<string>(() => {});
    };
    const result = await outcome(guard.execute(hang));
    expect(result.error).toBeInstanceOf(DeadlineExceededError);
    expect(result.error).toMatchObject({ stepId: "enrich", budgetMs: 30 });
    expect(signals).toHaveLength(2);
    for (const signal of signals) {
      expect(signal.aborted).toBe(true);
      expect(signal.reason).toBeInstanceOf(DeadlineExceededError);
    }
    expect(guard.counters.timeouts).toBe(2);
    expect(guard.failures).toBe(1);
  });

  it("rethrows the caller's abort at once, without retrying or counting it", async () => {
    const guard = new StepGuard(
      settings({ idempotent: true, maxRetries: 3, breakerConsecutiveFailures: 1 }),
    );
    const parent = new AbortController();
    let calls = 0;
    const slow = (signal: AbortSignal) => {
      calls++;
      return new Promise<string>((_, reject) => {
        signal.addEventListener("abort", () => reject(new Error("fetch aborted")));
      });
    };
    const reason = new DeadlineExceededError(50);
    const run = outcome(guard.execute(slow, parent.signal));
    await sleep(10);
    parent.abort(reason);
    expect((await run).error).toBe(reason);
    await sleep(30);
    expect(calls).toBe(1);
    expect(guard.state).toBe("closed");
    expect(guard.failures).toBe(0);

    // Already aborted: nothing runs.
    expect((await outcome(guard.execute(slow, parent.signal))).error).toBe(reason);
    expect(calls).toBe(1);
  });

  it("sheds calls beyond maxConcurrent at once with OverloadedError", async () => {
    const guard = new StepGuard(settings({ maxConcurrent: 2 }));
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const held = [1, 2].map(() => guard.execute(() => gate.then(() => "held")));
    expect(guard.inFlight).toBe(2);
    const shed = await outcome(guard.execute(async () => "third"));
    expect(shed.error).toBeInstanceOf(OverloadedError);
    expect(shed.error).toMatchObject({ code: "overloaded", retryAfterSeconds: 1 });
    expect(guard.counters.shed).toBe(1);
    release();
    expect(await Promise.all(held)).toEqual(["held", "held"]);
    expect(guard.inFlight).toBe(0);
    expect(await guard.execute(async () => "after")).toBe("after");
    expect(guard.failures).toBe(0);
  });

  it("rejects settings that cannot work, naming them", () => {
    expect(() => new StepGuard(settings({ maxConcurrent: 0 }))).toThrow(/maxConcurrent/);
    expect(() => new StepGuard(settings({ timeoutMs: 0 }))).toThrow(/timeoutMs/);
    expect(() => new StepGuard(settings({ breakerErrorRate: 1.5 }))).toThrow(/breakerErrorRate/);
    expect(() => new StepGuard(settings({ maxRetries: 1.5 }))).toThrow(/maxRetries/);
  });
});
