import { describe, expect, it } from "vitest";
import type { Prediction } from "../../models/predictor.ts";
import { parseAppSpec } from "../../spec/app-spec.ts";
import { DeadlineExceededError, RuntimeError } from "../errors.ts";
import type { ModelRunner, ModelRunOptions } from "../pipeline/model-runner.ts";
import { Pipeline } from "../pipeline/pipeline.ts";
import { compileRecordValidator } from "../record-validation.ts";
import { FaultInjector, type FaultSettings, InjectedFaultError } from "./fault-injector.ts";
import { faultyModelRunner } from "./faulty-model-runner.ts";

/** An in-thread model stand-in: answers "real", counting how it was called. */
function fakeRunner() {
  const calls = { predict: 0, predictNow: 0 };
  const runner: ModelRunner = {
    cancellable: () => false,
    encodedWidth: 3,
    predict: async (records) => {
      calls.predict++;
      return records.map((): Prediction => ({ prediction: "real" }));
    },
    predictNow: (records) => {
      calls.predictNow++;
      return records.map((): Prediction => ({ prediction: "real" }));
    },
  };
  return { runner, calls };
}

const T0 = Date.now();
const armed = (over: Partial<FaultSettings>): FaultSettings => ({
  kind: "error",
  rate: 1,
  delayMs: 1000,
  target: "model",
  until: T0 + 3_600_000,
  ...over,
});

const options = (signal: AbortSignal): ModelRunOptions => ({
  unknownCategories: "bucket",
  explain: false,
  signal,
});
const NO_PATH = () => "";
const RECORDS = [{ x: 1 }];

describe("faultyModelRunner", () => {
  it("unarmed, delegates everything and stays synchronous", async () => {
    const { runner, calls } = fakeRunner();
    const wrapped = faultyModelRunner(runner, new FaultInjector());
    expect(wrapped.cancellable(1)).toBe(false);
    expect(wrapped.encodedWidth).toBe(3);
    expect(wrapped.predictNow(RECORDS, NO_PATH, options(new AbortController().signal))).toEqual([
      { prediction: "real" },
    ]);
    expect(await wrapped.predict(RECORDS, NO_PATH, options(new AbortController().signal))).toEqual([
      { prediction: "real" },
    ]);
    expect(calls).toEqual({ predict: 1, predictNow: 1 });
  });

  it("is cancellable while a model fault is armed, not for an http fault or once it expired", () => {
    let now = T0;
    const faults = new FaultInjector({ now: () => now });
    const wrapped = faultyModelRunner(fakeRunner().runner, faults);
    faults.arm(armed({ target: "http" }));
    expect(wrapped.cancellable(1)).toBe(false);
    faults.arm(armed({ target: "model", rate: 0, until: T0 + 1000 }));
    // Even at rate 0: the model step must have its deadline while any model fault may strike.
    expect(wrapped.cancellable(1)).toBe(true);
    now = T0 + 1000;
    expect(wrapped.cancellable(1)).toBe(false);
  });

  it("error: rejects with InjectedFaultError naming the step, without calling the model", async () => {
    const { runner, calls } = fakeRunner();
    const faults = new FaultInjector();
    faults.arm(armed({ kind: "error" }));
    const wrapped = faultyModelRunner(runner, faults, "score");
    const error = await wrapped
      .predict(RECORDS, NO_PATH, options(new AbortController().signal))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InjectedFaultError);
    // A RuntimeError: the server maps it as a policy's answer, not a bug.
    expect(error).toBeInstanceOf(RuntimeError);
    expect((error as InjectedFaultError).code).toBe("injected_fault");
    expect((error as InjectedFaultError).stepId).toBe("score");
    expect(calls.predict).toBe(0);
    expect(faults.injected).toEqual({ slow: 0, error: 1, hang: 0 });
  });

  it("slow: waits delayMs, then the model answers", async () => {
    const { runner, calls } = fakeRunner();
    const faults = new FaultInjector();
    faults.arm(armed({ kind: "slow", delayMs: 60 }));
    const started = performance.now();
    const answer = await faultyModelRunner(runner, faults).predict(
      RECORDS,
      NO_PATH,
      options(new AbortController().signal),
    );
    expect(performance.now() - started).toBeGreaterThanOrEqual(55);
    expect(answer).toEqual([{ prediction: "real" }]);
    expect(calls.predict).toBe(1);
  });

  it("slow: the signal's abort cuts the wait short, with its reason, and the model is not run", async () => {
    const { runner, calls } = fakeRunner();
    const faults = new FaultInjector();
    faults.arm(armed({ kind: "slow", delayMs: 60_000 }));
    const reason = new DeadlineExceededError(30, "model");
    const started = performance.now();
    await expect(
      faultyModelRunner(runner, faults).predict(RECORDS, NO_PATH, options(AbortSignal.timeout(30))),
    ).rejects.toSatisfy((e) => e instanceof DOMException && e.name === "TimeoutError");
    const controller = new AbortController();
    setTimeout(() => controller.abort(reason), 30);
    await expect(
      faultyModelRunner(runner, faults).predict(RECORDS, NO_PATH, options(controller.signal)),
    ).rejects.toBe(reason);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(calls.predict).toBe(0);
  });

  it("hang: never answers by itself, and rejects with the signal's reason when it aborts", async () => {
    const { runner, calls } = fakeRunner();
    const faults = new FaultInjector();
    faults.arm(armed({ kind: "hang" }));
    const controller = new AbortController();
    let settled = false;
    const pending = faultyModelRunner(runner, faults)
      .predict(RECORDS, NO_PATH, options(controller.signal))
      .then(
        () => "answered",
        (e: unknown) => e,
      )
      .finally(() => {
        settled = true;
      });
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(settled).toBe(false);
    const reason = new Error("deadline");
    controller.abort(reason);
    expect(await pending).toBe(reason);
    expect(calls.predict).toBe(0);
  });

  it("only the rolled share of calls is faulted", async () => {
    const { runner, calls } = fakeRunner();
    let i = 0;
    // Alternates 0 and 0.75: a rate of 0.5 faults every other call.
    const faults = new FaultInjector({ random: () => (i++ % 2) * 0.75 });
    faults.arm(armed({ kind: "error", rate: 0.5 }));
    const wrapped = faultyModelRunner(runner, faults);
    const outcomes: string[] = [];
    for (let n = 0; n < 6; n++) {
      outcomes.push(
        await wrapped.predict(RECORDS, NO_PATH, options(new AbortController().signal)).then(
          () => "ok",
          () => "fault",
        ),
      );
    }
    expect(outcomes).toEqual(["fault", "ok", "fault", "ok", "fault", "ok"]);
    expect(calls.predict).toBe(3);
  });
});

describe("faultyModelRunner in a pipeline", () => {
  function pipeline(runner: ModelRunner, withFallback: boolean): Pipeline {
    const steps = [
      { id: "input", kind: "input" },
      { id: "check", kind: "validate" },
      { id: "score", kind: "model", with: { name: "m", version: 1, timeoutMs: 80 } },
      ...(withFallback ? [{ id: "safe", kind: "fallback", with: { prediction: "no" } }] : []),
      { id: "output", kind: "output" },
    ];
    const spec = parseAppSpec({
      apiVersion: "ballast/v1",
      kind: "App",
      name: "t",
      model: { name: "m", version: 1 },
      steps: steps.map((s, i) => ({ ...s, ...(i > 0 ? { after: [steps[i - 1]?.id] } : {}) })),
    });
    return new Pipeline(spec, {
      model: runner,
      modelRef: { name: "m", version: 1 },
      validateRecord: compileRecordValidator({
        type: "object",
        properties: { x: { type: "number" } },
        required: ["x"],
      }),
      sessionScope: "ws/t",
    });
  }
  const request = { records: RECORDS, paths: NO_PATH, explain: false };

  it("takes the synchronous path unarmed and the awaited one while armed", async () => {
    const faults = new FaultInjector();
    const p = pipeline(faultyModelRunner(fakeRunner().runner, faults, "score"), true);
    expect(p.cancellable(1)).toBe(false);
    expect(p.runNow(request)?.answers[0]?.prediction).toBe("real");
    faults.arm(armed({ kind: "error", rate: 0 }));
    expect(p.cancellable(1)).toBe(true);
    expect(p.runNow(request)).toBeUndefined();
  });

  it("error: the fallback answers, naming the injected fault and the model step", async () => {
    const faults = new FaultInjector();
    faults.arm(armed({ kind: "error" }));
    const p = pipeline(faultyModelRunner(fakeRunner().runner, faults, "score"), true);
    const result = await p.run({ ...request, signal: new AbortController().signal });
    expect(result.answers[0]).toMatchObject({
      prediction: "no",
      fallback: { reason: "injected_fault", step: "score" },
    });
  });

  it("hang: the model step's deadline ends it and the fallback answers", async () => {
    const faults = new FaultInjector();
    faults.arm(armed({ kind: "hang" }));
    const p = pipeline(faultyModelRunner(fakeRunner().runner, faults, "score"), true);
    const started = performance.now();
    const result = await p.run({ ...request, signal: new AbortController().signal });
    const ms = performance.now() - started;
    expect(result.answers[0]).toMatchObject({
      prediction: "no",
      fallback: { reason: "deadline_exceeded", step: "score" },
    });
    // The step's 80 ms budget, not the fault, decided when it ended.
    expect(ms).toBeGreaterThanOrEqual(75);
    expect(ms).toBeLessThan(1000);
  });

  it("hang without a fallback: the request fails with the step's deadline", async () => {
    const faults = new FaultInjector();
    faults.arm(armed({ kind: "hang" }));
    const p = pipeline(faultyModelRunner(fakeRunner().runner, faults, "score"), false);
    const error = await p
      .run({ ...request, signal: new AbortController().signal })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeadlineExceededError);
    expect((error as DeadlineExceededError).stepId).toBe("score");
  });
});
