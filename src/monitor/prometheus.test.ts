/**
 * The Prometheus export from observations and real runtime parts (a bulkhead holding requests,
 * a response cache, a step guard whose breaker has opened, the policy counters, a SQLite webhook
 * queue with a backlog), read back by parsing the text format.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Predictor } from "../models/predictor.ts";
import { ResponseCache } from "../runtime/cache/response-cache.ts";
import { StepGuard } from "../runtime/policies/breaker.ts";
import { Bulkhead } from "../runtime/policies/bulkhead.ts";
import { SqliteEventQueue } from "../runtime/webhooks/sqlite-event-queue.ts";
import { openRuntimeDb, type RuntimeDatabase } from "../store/runtime-db.ts";
import {
  DURATION_BUCKETS,
  escapeLabel,
  type LoadedAppState,
  PrometheusMetrics,
} from "./prometheus.ts";
import { RuntimeCounters } from "./runtime-counters.ts";
import { observation, servedVersion, tinyPredictor } from "./test-support/served-version.ts";

/** Sample lines of the text format as `name{labels}` → value (labels as written). */
function parse(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    out.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return out;
}

let predictor: Predictor;
let dir: string;
let db: RuntimeDatabase;

beforeAll(async () => {
  predictor = await tinyPredictor();
  dir = await mkdtemp(join(tmpdir(), "ballast-prometheus-"));
  db = openRuntimeDb(join(dir, "runtime.db"));
});

afterAll(async () => {
  db?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("PrometheusMetrics", () => {
  it("counts requests per version and outcome, and the two latency histograms", async () => {
    const metrics = new PrometheusMetrics({ processMetrics: false });
    const v1 = servedVersion(predictor, 1);
    const v2 = servedVersion(predictor, 2);
    for (let i = 0; i < 5; i++) metrics.observe(observation(v1, 200, 3, { modelMs: 0.4 }));
    metrics.observe(observation(v1, 200, 0.2, { cacheHit: true }));
    metrics.observe(observation(v1, 429, 0.1));
    metrics.observe(observation(v2, 504, 12_000));
    metrics.observe(observation(v2, 400, 1));
    const text = await metrics.metrics();
    const m = parse(text);
    const ok1 = 'ballast_requests_total{workspace="ws",app="churn",version="1",outcome="ok"}';
    expect(m.get(ok1)).toBe(6);
    expect(
      m.get(
        'ballast_requests_total{workspace="ws",app="churn",version="1",outcome="rate_limited"}',
      ),
    ).toBe(1);
    expect(
      m.get('ballast_requests_total{workspace="ws",app="churn",version="2",outcome="timeout"}'),
    ).toBe(1);
    expect(
      m.get(
        'ballast_requests_total{workspace="ws",app="churn",version="2",outcome="client_error"}',
      ),
    ).toBe(1);
    // Every outcome of a version that served is present, zeros included.
    expect(
      m.get('ballast_requests_total{workspace="ws",app="churn",version="2",outcome="shed"}'),
    ).toBe(0);

    const v1Labels = 'workspace="ws",app="churn",version="1"';
    const h = (name: string, le: string, labels = v1Labels) =>
      m.get(`${name}_bucket{${labels},le="${le}"}`);
    expect(h("ballast_request_duration_seconds", "0.0005")).toBe(2); // 0.2 ms and 0.1 ms
    expect(h("ballast_request_duration_seconds", "0.0025")).toBe(2);
    expect(h("ballast_request_duration_seconds", "0.005")).toBe(7);
    expect(h("ballast_request_duration_seconds", "+Inf")).toBe(7);
    expect(m.get(`ballast_request_duration_seconds_count{${v1Labels}}`)).toBe(7);
    expect(m.get(`ballast_request_duration_seconds_sum{${v1Labels}}`)).toBeCloseTo(0.0153, 9);
    // 12 s is beyond the largest bound: only +Inf holds it.
    const v2Labels = 'workspace="ws",app="churn",version="2"';
    expect(h("ballast_request_duration_seconds", "10", v2Labels)).toBe(1);
    expect(h("ballast_request_duration_seconds", "+Inf", v2Labels)).toBe(2);
    // The model histogram counts only requests where a model ran.
    expect(h("ballast_model_duration_seconds", "0.0005")).toBe(5);
    expect(m.get(`ballast_model_duration_seconds_count{${v1Labels}}`)).toBe(5);
    expect(m.get(`ballast_model_duration_seconds_count{${v2Labels}}`)).toBe(0);
    // Cumulative buckets never decrease.
    let previous = 0;
    for (const le of DURATION_BUCKETS) {
      const value = h("ballast_request_duration_seconds", String(le)) ?? -1;
      expect(value).toBeGreaterThanOrEqual(previous);
      previous = value;
    }
    expect(text).toContain("# TYPE ballast_request_duration_seconds histogram");
    expect(text).toContain("# TYPE ballast_requests_total counter");
    expect(metrics.contentType).toBe("text/plain; version=0.0.4; charset=utf-8");
    // Counters only grow between scrapes.
    metrics.observe(observation(v1, 200, 1));
    expect(parse(await metrics.metrics()).get(ok1)).toBe(7);
  });

  it("reads runtime state at scrape time: in flight, cache, breakers, policy counters, webhooks", async () => {
    const bulkhead = new Bulkhead({
      maxInFlight: 4,
      maxQueue: 4,
      maxQueueWaitMs: 1000,
      name: "churn",
    });
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const running = [bulkhead.run(() => held), bulkhead.run(() => held)];
    const cache = new ResponseCache({ maxEntries: 10, ttlMs: 0 });
    cache.set("a", 1);
    cache.get("a");
    cache.get("a");
    cache.get("b");
    const guard = new StepGuard({
      stepId: "enrich",
      timeoutMs: 1000,
      idempotent: false,
      maxRetries: 0,
      maxConcurrent: 4,
      breakerConsecutiveFailures: 2,
      breakerErrorRate: 0,
      breakerWindowSeconds: 30,
      breakerMinRequests: 1,
      breakerHalfOpenAfterSeconds: 60,
    });
    for (let i = 0; i < 2; i++) {
      await guard.execute(async () => Promise.reject(new Error("down"))).catch(() => undefined);
    }
    expect(guard.state).toBe("open");
    const state: LoadedAppState = {
      version: 3,
      runtime: { bulkhead, cache, pipeline: { httpSteps: [{ stepId: "enrich", guard }] } },
    };
    const counters = new RuntimeCounters();
    counters.count("ws", "churn", "overloaded", 4);
    counters.count("ws", "churn", "rate_limited", 2);
    counters.count("ws", "churn", "fallback:circuit_open", 3);
    counters.count("ws", "churn", "escalated", 5);
    counters.count("ws", "churn", "deadline_exceeded");
    const queue = new SqliteEventQueue(db);
    const scope = { workspaceId: "ws", app: "churn" };
    await queue.enqueue(scope, {
      id: "e1",
      fingerprint: "f1",
      received: {},
      maxAttempts: 3,
      record: { x: 1 },
    });
    await queue.enqueue(scope, {
      id: "e2",
      fingerprint: "f2",
      received: {},
      maxAttempts: 3,
      record: { x: 2 },
    });
    const created = Date.parse((await queue.get(scope, "e1"))?.createdAt ?? "");
    const metrics = new PrometheusMetrics({
      processMetrics: false,
      apps: { get: async (ws, app) => (ws === "ws" && app === "churn" ? state : undefined) },
      counters,
      webhooks: { queueStats: async () => [{ ...scope, ...(await queue.stats(scope)) }] },
      now: () => created + 42_000,
    });
    // The app is known from the counters alone (it has not served through this exporter).
    const m = parse(await metrics.metrics());
    const app = 'workspace="ws",app="churn"';
    expect(m.get(`ballast_requests_in_flight{${app}}`)).toBe(2);
    expect(m.get(`ballast_requests_queued{${app}}`)).toBe(0);
    expect(m.get(`ballast_cache_hits_total{${app},version="3"}`)).toBe(2);
    expect(m.get(`ballast_cache_misses_total{${app},version="3"}`)).toBe(1);
    expect(m.get(`ballast_circuit_breaker_state{${app},step="enrich"}`)).toBe(2);
    expect(m.get(`ballast_shed_total{${app}}`)).toBe(4);
    expect(m.get(`ballast_rate_limited_total{${app}}`)).toBe(2);
    expect(m.get(`ballast_fallbacks_total{${app},reason="circuit_open"}`)).toBe(3);
    expect(m.get(`ballast_cascade_escalations_total{${app}}`)).toBe(5);
    expect(m.get(`ballast_step_failures_total{${app},reason="deadline_exceeded"}`)).toBe(1);
    expect(m.get(`ballast_webhook_queue_depth{${app}}`)).toBe(2);
    expect(m.get(`ballast_webhook_oldest_event_age_seconds{${app}}`)).toBe(42);
    release();
    await Promise.all(running);
    expect(parse(await metrics.metrics()).get(`ballast_requests_in_flight{${app}}`)).toBe(0);
    await queue.close();
  });

  it("exports the process's CPU, memory, event loop and GC with the ballast_ prefix", async () => {
    const text = await new PrometheusMetrics().metrics();
    for (const name of [
      "ballast_process_cpu_seconds_total",
      "ballast_process_resident_memory_bytes",
      "ballast_nodejs_eventloop_lag_p99_seconds",
      "ballast_nodejs_gc_duration_seconds",
      "ballast_nodejs_heap_size_used_bytes",
    ]) {
      expect(text).toContain(`# TYPE ${name}`);
    }
  });

  it("escapes label values", () => {
    expect(escapeLabel('a"b\\c\nd')).toBe('a\\"b\\\\c\\nd');
  });
});
