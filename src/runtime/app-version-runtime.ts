/**
 * Everything one deployed app version runs with besides its model: the compiled pipeline and
 * the policies of its spec (the app's bulkhead, its response cache, its worker pool for large
 * batches). One per app version, created when the version is loaded and disposed of when no
 * request can reach it any more, so a new version never shares a cache or a breaker with the
 * one it replaced.
 */
import type { ValidateFunction } from "ajv";
import type { OnnxPredictor } from "../models/onnx/onnx-predictor.ts";
import type { Predictor } from "../models/predictor.ts";
import { type AppSpec, pipelineOf } from "../spec/app-spec.ts";
import type { AppPolicies } from "../spec/policies.ts";
import type { SessionStore } from "../store/sessions/session-store.ts";
import { ResponseCache } from "./cache/response-cache.ts";
import { OverloadedError } from "./errors.ts";
import type { FaultInjector } from "./faults/fault-injector.ts";
import { faultyFetch } from "./faults/faulty-fetch.ts";
import { faultyModelRunner } from "./faults/faulty-model-runner.ts";
import { modelRunner } from "./pipeline/model-runner.ts";
import { Pipeline, type PipelineEvents } from "./pipeline/pipeline.ts";
import { Bulkhead } from "./policies/bulkhead.ts";
import { AppWorkerPool } from "./worker-pool/app-worker-pool.ts";

export interface AppVersionRuntimeOptions {
  readonly spec: AppSpec;
  readonly appVersionId: string;
  readonly artifact: Uint8Array;
  readonly predictor: Predictor | OnnxPredictor;
  readonly cascadePredictor?: Predictor | OnnxPredictor;
  readonly validateRecord: ValidateFunction;
  readonly sessionScope: string;
  readonly sessions?: SessionStore;
  readonly events?: PipelineEvents;
  /**
   * Staging only (drills): the switch that makes the model step and the http steps' upstream
   * calls slow, failing or hanging on purpose. Never given to a production runtime.
   */
  readonly faults?: FaultInjector;
}

export interface AppVersionRuntime {
  readonly policies: AppPolicies;
  readonly pipeline: Pipeline;
  /** The app's concurrency cap: every predict request runs inside it. */
  readonly bulkhead: Bulkhead;
  /** Present when the spec enables caching (and the pipeline has no session step). */
  readonly cache?: ResponseCache;
  /** The worker pool, if a batch large enough has started it. */
  readonly pool: () => AppWorkerPool | undefined;
  /** Stop accepting pool work once in-flight requests have had their time budget. */
  dispose(): void;
  /** Stop now (server shutdown). */
  close(): Promise<void>;
}

export function createAppVersionRuntime(options: AppVersionRuntimeOptions): AppVersionRuntime {
  const { spec } = options;
  const policies = spec.policies;
  let pool: AppWorkerPool | undefined;
  let closed = false;
  const usePool = policies.workers.threads > 0 && AppWorkerPool.supports(options.artifact);
  const getPool = () => {
    // A version released after its requests' budget: never start threads nobody will stop.
    if (closed) throw new OverloadedError("pool_full", 1, "This app version was replaced; retry");
    if (!pool) {
      pool = AppWorkerPool.create(options.artifact, {
        threads: policies.workers.threads,
        // A bounded queue: beyond it a batch is refused (and taken by a fallback if any).
        maxQueue: Math.max(4, policies.workers.threads * 4),
      });
    }
    return pool;
  };
  const model = modelRunner(
    options.predictor,
    usePool ? { get: getPool, minBatchRows: policies.workers.minBatchRows } : undefined,
  );
  const faults = options.faults;
  const pipeline = new Pipeline(spec, {
    model: faults
      ? faultyModelRunner(
          model,
          faults,
          pipelineOf(spec).find((step) => step.kind === "model")?.id ?? "model",
        )
      : model,
    modelRef: {
      name: spec.model.name,
      version: spec.model.version,
    },
    ...(options.cascadePredictor ? { cascadeModel: modelRunner(options.cascadePredictor) } : {}),
    validateRecord: options.validateRecord,
    sessionScope: options.sessionScope,
    ...(options.sessions ? { sessions: options.sessions } : {}),
    ...(options.events ? { events: options.events } : {}),
    ...(faults ? { fetch: faultyFetch(globalThis.fetch, faults) } : {}),
  });
  const bulkhead = new Bulkhead({
    maxInFlight: policies.concurrency.maxInFlight,
    maxQueue: policies.concurrency.maxQueue,
    maxQueueWaitMs: policies.concurrency.maxQueueWaitMs,
    name: spec.name,
  });
  const cache =
    policies.cache.enabled && !pipeline.hasSession
      ? new ResponseCache({
          maxEntries: policies.cache.maxEntries,
          ttlMs: policies.cache.ttlSeconds * 1000,
        })
      : undefined;
  const close = async () => {
    closed = true;
    const p = pool;
    pool = undefined;
    cache?.clear();
    await p?.close();
  };
  return {
    policies,
    pipeline,
    bulkhead,
    ...(cache ? { cache } : {}),
    pool: () => pool,
    dispose() {
      // Requests already holding this version finish within their deadline; then the threads go.
      setTimeout(() => void close(), policies.timeouts.requestMs + 1000).unref();
    },
    close,
  };
}
