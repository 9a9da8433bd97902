import { describe, expect, it } from "vitest";
import type { Prediction } from "../../models/predictor.ts";
import { parseAppSpec } from "../../spec/app-spec.ts";
import type { ModelRunner } from "../pipeline/model-runner.ts";
import { Pipeline } from "../pipeline/pipeline.ts";
import { compileRecordValidator } from "../record-validation.ts";
import { FaultInjector, type FaultSettings } from "./fault-injector.ts";
import { faultyFetch } from "./faulty-fetch.ts";

/** An upstream stand-in that always answers `{"prediction": "upstream"}`, counting its calls. */
function fakeUpstream() {
  const calls: { url: string; signal: AbortSignal | undefined }[] = [];
  const fetchImpl: typeof fetch = async (input, init) => {
    calls.push({ url: String(input), signal: init?.signal ?? undefined });
    return new Response(JSON.stringify({ prediction: "upstream" }), {
      status: 200,
      headers: { "content-type": "application/json" },
    });
  };
  return { fetchImpl, calls };
}

const armed = (over: Partial<FaultSettings>): FaultSettings => ({
  kind: "error",
  rate: 1,
  delayMs: 1000,
  target: "http",
  until: Date.now() + 3_600_000,
  ...over,
});

const URL_ = "http://127.0.0.1:9/score";

describe("faultyFetch", () => {
  it("unarmed, or armed for the model, passes every call through", async () => {
    const { fetchImpl, calls } = fakeUpstream();
    const faults = new FaultInjector();
    const wrapped = faultyFetch(fetchImpl, faults);
    expect((await wrapped(URL_)).status).toBe(200);
    faults.arm(armed({ target: "model" }));
    expect((await wrapped(URL_)).status).toBe(200);
    expect(calls.length).toBe(2);
    expect(faults.injected.error).toBe(0);
  });

  it("error: answers 500 with an injected_fault body, without calling the upstream", async () => {
    const { fetchImpl, calls } = fakeUpstream();
    const faults = new FaultInjector();
    faults.arm(armed({ kind: "error" }));
    const response = await faultyFetch(fetchImpl, faults)(URL_, { method: "POST" });
    expect(response.status).toBe(500);
    expect(response.ok).toBe(false);
    expect(await response.json()).toMatchObject({ error: { code: "injected_fault" } });
    expect(calls.length).toBe(0);
    expect(faults.injected.error).toBe(1);
  });

  it("slow: waits delayMs, then calls the upstream with the same arguments", async () => {
    const { fetchImpl, calls } = fakeUpstream();
    const faults = new FaultInjector();
    faults.arm(armed({ kind: "slow", delayMs: 60 }));
    const signal = new AbortController().signal;
    const started = performance.now();
    const response = await faultyFetch(fetchImpl, faults)(URL_, { signal });
    expect(performance.now() - started).toBeGreaterThanOrEqual(55);
    expect(await response.json()).toEqual({ prediction: "upstream" });
    expect(calls).toEqual([{ url: URL_, signal }]);
  });

  it("slow: init.signal's abort cuts the wait short with its reason; the upstream is not called", async () => {
    const { fetchImpl, calls } = fakeUpstream();
    const faults = new FaultInjector();
    faults.arm(armed({ kind: "slow", delayMs: 60_000 }));
    const controller = new AbortController();
    const reason = new Error("attempt timed out");
    setTimeout(() => controller.abort(reason), 30);
    const started = performance.now();
    await expect(faultyFetch(fetchImpl, faults)(URL_, { signal: controller.signal })).rejects.toBe(
      reason,
    );
    expect(performance.now() - started).toBeLessThan(2000);
    expect(calls.length).toBe(0);
  });

  it("slow: honours a Request's own signal too", async () => {
    const { fetchImpl } = fakeUpstream();
    const faults = new FaultInjector();
    faults.arm(armed({ kind: "slow", delayMs: 60_000 }));
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("stop")), 20);
    await expect(
      faultyFetch(fetchImpl, faults)(new Request(URL_, { signal: controller.signal })),
    ).rejects.toBeDefined();
  });

  it("hang: settles only when the signal aborts, with its reason", async () => {
    const { fetchImpl, calls } = fakeUpstream();
    const faults = new FaultInjector();
    faults.arm(armed({ kind: "hang" }));
    const controller = new AbortController();
    let settled = false;
    const pending = faultyFetch(fetchImpl, faults)(URL_, { signal: controller.signal })
      .then(
        () => "answered",
        (e: unknown) => e,
      )
      .finally(() => {
        settled = true;
      });
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(settled).toBe(false);
    const reason = new Error("attempt timed out");
    controller.abort(reason);
    expect(await pending).toBe(reason);
    expect(calls.length).toBe(0);
  });

  it("hang with no signal ends with the fault, failing like a dropped connection", async () => {
    const { fetchImpl } = fakeUpstream();
    const faults = new FaultInjector();
    faults.arm(armed({ kind: "hang", until: Date.now() + 60 }));
    await expect(faultyFetch(fetchImpl, faults)(URL_)).rejects.toThrow(TypeError);
  });
});

describe("faultyFetch under an http step", () => {
  const model: ModelRunner = {
    cancellable: () => false,
    encodedWidth: 0,
    predict: async (records) => records.map((): Prediction => ({ prediction: "model" })),
    predictNow: (records) => records.map((): Prediction => ({ prediction: "model" })),
  };

  function pipeline(fetchImpl: typeof fetch, http: Record<string, unknown>): Pipeline {
    const steps = [
      { id: "input", kind: "input" },
      { id: "check", kind: "validate" },
      { id: "score", kind: "model", with: { name: "m", version: 1 } },
      { id: "enrich", kind: "http", with: { url: URL_, ...http } },
      { id: "safe", kind: "fallback", with: { prediction: "no" } },
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
      model,
      modelRef: { name: "m", version: 1 },
      validateRecord: compileRecordValidator({ type: "object", properties: {} }),
      sessionScope: "ws/t",
      fetch: fetchImpl,
    });
  }
  const run = (p: Pipeline) =>
    p.run({
      records: [{}],
      paths: () => "",
      explain: false,
      signal: new AbortController().signal,
    });

  it("error: the step sees an upstream 500, its breaker opens, the fallback answers", async () => {
    const { fetchImpl, calls } = fakeUpstream();
    const faults = new FaultInjector();
    const p = pipeline(faultyFetch(fetchImpl, faults), {
      breakerConsecutiveFailures: 3,
      breakerErrorRate: 0,
    });
    expect((await run(p)).answers[0]?.prediction).toBe("upstream");
    faults.arm(armed({ kind: "error" }));
    const reasons: (string | undefined)[] = [];
    for (let i = 0; i < 5; i++) reasons.push((await run(p)).answers[0]?.fallback?.reason);
    expect(reasons).toEqual([
      "upstream_failed",
      "upstream_failed",
      "upstream_failed",
      "circuit_open",
      "circuit_open",
    ]);
    const guard = p.httpSteps[0]?.guard;
    expect(guard?.state).toBe("open");
    expect(guard?.opened).toBe(1);
    // The open breaker kept the later calls from reaching even the fault.
    expect(faults.injected.error).toBe(3);
    expect(calls.length).toBe(1);
  });

  it("hang: the step's per-attempt timeout ends each call and counts it", async () => {
    const { fetchImpl } = fakeUpstream();
    const faults = new FaultInjector();
    faults.arm(armed({ kind: "hang" }));
    const p = pipeline(faultyFetch(fetchImpl, faults), { timeoutMs: 50 });
    const started = performance.now();
    const answer = (await run(p)).answers[0];
    expect(performance.now() - started).toBeLessThan(1000);
    expect(answer?.fallback).toEqual({ reason: "deadline_exceeded", step: "enrich" });
    expect(p.httpSteps[0]?.guard.counters.timeouts).toBe(1);
  });

  it("error on an idempotent step: retried like a real 5xx", async () => {
    const { fetchImpl } = fakeUpstream();
    let i = 0;
    // Fault on the first attempt only: the retry reaches the upstream.
    const faults = new FaultInjector({ random: () => (i++ === 0 ? 0 : 0.99) });
    faults.arm(armed({ kind: "error", rate: 0.5 }));
    const p = pipeline(faultyFetch(fetchImpl, faults), { idempotent: true, maxRetries: 2 });
    expect((await run(p)).answers[0]?.prediction).toBe("upstream");
    expect(p.httpSteps[0]?.guard.counters.retries).toBe(1);
  });
});
