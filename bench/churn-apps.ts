/**
 * The churn apps the serving benchmarks publish: one model step between input and output, with
 * every policy on (rate limits set above what the load reaches, the bulkhead, the deadline;
 * cache and idempotency off) and monitoring either off or fully on (every request logged,
 * drift sketches).
 */
const STEPS = [
  { id: "input", kind: "input" },
  { id: "validate", kind: "validate", after: ["input"] },
  { id: "model", kind: "model", after: ["validate"], with: { name: "churn", version: 1 } },
  { id: "output", kind: "output", after: ["model"] },
];

export const POLICIES_ON = {
  rateLimit: {
    perKeyPerSecond: 1_000_000,
    perKeyBurst: 1_000_000,
    perAppPerSecond: 1_000_000,
    perAppBurst: 1_000_000,
  },
  concurrency: { maxInFlight: 64, maxQueue: 64, maxQueueWaitMs: 250 },
  timeouts: { requestMs: 5000 },
  cache: { enabled: false },
  idempotency: { enabled: false },
};

export const MONITORING_OFF = { predictionLog: { enabled: false }, drift: { enabled: false } };
export const MONITORING_ON = {
  predictionLog: { enabled: true, sampleRate: 1 },
  drift: { enabled: true },
};

/** The body of `POST /v1/apps/{name}/versions` for a churn app with these settings. */
export function churnAppSpec(
  name: string,
  policies: Record<string, unknown>,
  monitoring: Record<string, unknown>,
) {
  return {
    spec: { apiVersion: "ballast/v1", kind: "App", name, steps: STEPS, policies, monitoring },
  };
}
