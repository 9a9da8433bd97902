/**
 * The model step under a drill: while a fault aimed at "model" is armed, a share of its calls
 * fail, wait, or hang, the way a stuck worker thread or a broken model would, so the model
 * step's deadline, the request's deadline and the fallback are exercised for real.
 */
import type { ModelRunner } from "../pipeline/model-runner.ts";
import { delay, type FaultInjector, hang, InjectedFaultError } from "./fault-injector.ts";

/**
 * Wraps `inner`. While a model fault is armed, `cancellable()` says yes for every request, so
 * the pipeline takes its awaited path and arms the model step's deadline (an in-thread model
 * normally gets none: nothing could interrupt it); `predictNow` is then never chosen and keeps
 * delegating. Unarmed, each call costs one property read more than `inner`'s.
 *
 * `stepId` names the model step in an injected error (the fallback's `step`).
 */
export function faultyModelRunner(
  inner: ModelRunner,
  faults: FaultInjector,
  stepId = "model",
): ModelRunner {
  return {
    get encodedWidth() {
      return inner.encodedWidth;
    },
    cancellable(rows) {
      const armed = faults.armed;
      if (armed !== undefined && armed.target === "model" && faults.current() !== undefined) {
        return true;
      }
      return inner.cancellable(rows);
    },
    predictNow(records, paths, options) {
      return inner.predictNow(records, paths, options);
    },
    predict(records, paths, options) {
      const fault = faults.armed === undefined ? undefined : faults.roll("model");
      if (fault === undefined) return inner.predict(records, paths, options);
      switch (fault.kind) {
        case "error":
          return Promise.reject(new InjectedFaultError(stepId));
        case "slow":
          return delay(fault.delayMs, options.signal).then(() =>
            inner.predict(records, paths, options),
          );
        case "hang":
          return hang(options.signal);
      }
    },
  };
}
