import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Frame } from "../../data/frame.ts";
import { schemaOfFrame } from "../../data/index.ts";
import { createRandom } from "../../learn/random.ts";
import { Predictor } from "../../models/predictor.ts";
import { trainModel } from "../../models/train.ts";
import {
  formatTraceparent,
  parseTraceparent,
  type StepSpan,
  type StepTracer,
  traceContextFrom,
} from "../../monitor/trace-context.ts";
import { parseAppSpec } from "../../spec/app-spec.ts";
import { MemorySessionStore } from "../../store/sessions/memory-session-store.ts";
import { compileRecordValidator } from "../record-validation.ts";
import { modelRunner } from "./model-runner.ts";
import { Pipeline } from "./pipeline.ts";

/** A binary target that depends on x with noise, so probabilities are rarely 0 or 1. */
function table(n: number): Frame {
  const random = createRandom(5);
  const x = Float64Array.from({ length: n }, () => random.nextFloat() * 10);
  const codes = Int32Array.from(x, (v) => (v + random.nextFloat() * 6 > 8 ? 1 : 0));
  return {
    rowCount: n,
    columns: [
      { name: "x", type: "number", values: x },
      { name: "y", type: "category", codes, levels: ["no", "yes"] },
    ],
  };
}

/** Spans as the pipeline opens them: a StepTracer that keeps what it is told, in order. */
class RecordingTracer implements StepTracer {
  readonly events: string[] = [];
  readonly traceparents = new Map<string, string>();
  constructor(private readonly traceId: string) {}
  startStep(stepId: string, kind: string): StepSpan {
    const spanId = (this.events.length + 1).toString(16).padStart(16, "0");
    const traceparent = formatTraceparent(this.traceId, spanId, true);
    this.traceparents.set(stepId, traceparent);
    this.events.push(`start ${kind}:${stepId}`);
    return {
      traceparent,
      fail: (error) => {
        this.events.push(`fail ${kind}:${stepId} ${(error as Error).name}`);
      },
      end: () => {
        this.events.push(`end ${kind}:${stepId}`);
      },
    };
  }
}

let predictor: Predictor;
let upstream: Server;
let upstreamUrl: string;
let upstreamStatus = 200;
const received: IncomingHttpHeaders[] = [];

beforeAll(async () => {
  const frame = table(400);
  const { artifact } = await trainModel(frame, schemaOfFrame(frame), {
    target: "y",
    timeBudgetMs: 400,
    seed: 1,
  });
  predictor = new Predictor(artifact);
  upstream = createServer((req, res) => {
    received.push(req.headers);
    req.resume();
    req.on("end", () => {
      res.writeHead(upstreamStatus, { "content-type": "application/json" });
      res.end(JSON.stringify({ prediction: "from-upstream" }));
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/score`;
}, 60_000);

afterAll(async () => {
  upstream.closeAllConnections();
  await new Promise<void>((resolve) => upstream.close(() => resolve()));
});

function pipeline(): Pipeline {
  const steps = [
    { id: "input", kind: "input" },
    { id: "memory", kind: "session", with: { ttlSeconds: 60, maxTurns: 5 } },
    { id: "check", kind: "validate" },
    { id: "model", kind: "model", with: { name: "m", version: 1 } },
    { id: "second", kind: "cascade", with: { name: "m", version: 1, minConfidence: 1 } },
    { id: "enrich", kind: "http", with: { url: upstreamUrl, timeoutMs: 2000 } },
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
    model: modelRunner(predictor),
    modelRef: { name: "m", version: 1 },
    cascadeModel: modelRunner(predictor),
    validateRecord: compileRecordValidator({
      type: "object",
      properties: { x: { type: "number" } },
      required: ["x"],
    }),
    sessions: new MemorySessionStore(),
    sessionScope: "ws/t",
  });
}

const request = (records: Record<string, unknown>[], extra: Record<string, unknown> = {}) => ({
  records,
  paths: () => "",
  explain: false,
  signal: new AbortController().signal,
  ...extra,
});

describe("Pipeline tracing and model time", () => {
  it("opens a span per step in order, sends the http step's traceparent, and times the models", async () => {
    upstreamStatus = 200;
    received.length = 0;
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const tracer = new RecordingTracer(traceId);
    const result = await pipeline().run(
      request([{ x: 4 }], { sessionId: "s1", tracer, traceContext: traceContextFrom({}) }),
    );
    expect(result.answers[0]?.prediction).toBe("from-upstream");
    expect(tracer.events).toEqual([
      "start session:memory",
      "end session:memory",
      "start validate:check",
      "end validate:check",
      "start model:model",
      "end model:model",
      "start cascade:second",
      "end cascade:second",
      "start http:enrich",
      "end http:enrich",
    ]);
    expect(received[0]?.traceparent).toBe(tracer.traceparents.get("enrich"));
    // The model and the cascade model, measured.
    expect(result.modelMs).toBeGreaterThan(0);
    expect(Number.isFinite(result.modelMs)).toBe(true);
  });

  it("records the failing step and opens the fallback's span when it answers", async () => {
    upstreamStatus = 500;
    const tracer = new RecordingTracer("4bf92f3577b34da6a3ce929d0e0e4736");
    const result = await pipeline().run(request([{ x: 4 }], { tracer }));
    expect(result.answers[0]?.fallback).toEqual({ reason: "upstream_failed", step: "enrich" });
    expect(tracer.events).toEqual([
      "start validate:check",
      "end validate:check",
      "start model:model",
      "end model:model",
      "start cascade:second",
      "end cascade:second",
      "start http:enrich",
      "fail http:enrich UpstreamError",
      "end http:enrich",
      "start fallback:safe",
      "end fallback:safe",
    ]);
  });

  it("fails the validate span on a caller's mistake and runs no model", async () => {
    const tracer = new RecordingTracer("4bf92f3577b34da6a3ce929d0e0e4736");
    await expect(pipeline().run(request([{ x: "four" }], { tracer }))).rejects.toThrow(/contract/);
    expect(tracer.events).toEqual([
      "start validate:check",
      "fail validate:check InvalidInputError",
      "end validate:check",
    ]);
  });

  it("without a tracer, still sends the request's trace id with a fresh span id", async () => {
    upstreamStatus = 200;
    received.length = 0;
    const context = traceContextFrom({
      traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    });
    await pipeline().run(request([{ x: 4 }, { x: 9 }], { traceContext: context }));
    const sent = received.map((h) => parseTraceparent(h.traceparent));
    expect(sent).toHaveLength(2);
    for (const t of sent) {
      expect(t?.traceId).toBe("0af7651916cd43dd8448eb211c80319c");
      expect(t?.sampled).toBe(true);
      expect(t?.parentId).not.toBe("b7ad6b7169203331");
    }
    expect(sent[0]?.parentId).not.toBe(sent[1]?.parentId);
    // And nothing at all without a trace context.
    received.length = 0;
    await pipeline().run(request([{ x: 4 }]));
    expect(received[0]?.traceparent).toBeUndefined();
  });
});
