/**
 * The http steps' upstream under a drill: while a fault aimed at "http" is armed, a share of
 * the calls answer 500, answer late, or never answer, and the step's own guard (per-attempt
 * timeout, retries, circuit breaker, bulkhead) and the fallback react exactly as they would to
 * a real upstream, because they see nothing but fetch's usual outcomes.
 */
import { delay, type FaultInjector, hang } from "./fault-injector.ts";

/** The signal a fetch call listens to: init's, else the Request's own. */
function signalOf(input: Parameters<typeof fetch>[0], init: RequestInit | undefined) {
  if (init?.signal) return init.signal;
  return input instanceof Request ? input.signal : undefined;
}

/**
 * Wraps `inner` (globalThis.fetch in a staging runtime). `error` answers 500 with a JSON error
 * body coded `injected_fault`; `slow` waits `delayMs` (cut short with the signal's reason when
 * the caller aborts) and then calls `inner`; `hang` waits for the signal and rejects with its
 * reason, as fetch does. A hang with no signal to end it (http steps always pass one) lasts
 * until the fault ends and then fails like a dropped connection, so it cannot leak forever.
 * Unarmed, each call costs one property read more than `inner`'s.
 */
export function faultyFetch(inner: typeof fetch, faults: FaultInjector): typeof fetch {
  return (input, init) => {
    const fault = faults.armed === undefined ? undefined : faults.roll("http");
    if (fault === undefined) return inner(input, init);
    const signal = signalOf(input, init);
    switch (fault.kind) {
      case "error":
        if (signal?.aborted) return Promise.reject(signal.reason);
        return Promise.resolve(
          new Response(
            JSON.stringify({
              error: { code: "injected_fault", message: "A fault injected by a drill" },
            }),
            { status: 500, headers: { "content-type": "application/json" } },
          ),
        );
      case "slow":
        return delay(fault.delayMs, signal).then(() => inner(input, init));
      case "hang":
        if (signal) return hang(signal);
        return delay(Math.max(0, fault.until - Date.now()), undefined).then(() => {
          throw new TypeError("fetch failed: the injected hang ended with the fault");
        });
    }
  };
}
