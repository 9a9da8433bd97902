/**
 * The production runtime's policies on a real server: rate limits, the app's bulkhead,
 * deadlines, circuit breakers, fallbacks, cascades, the response cache, idempotency keys,
 * sessions and the worker pool, each configured in the app spec and seen from the outside
 * (status codes, headers, bodies) and from the app's runtime state. Steps that call outside
 * the process call a real HTTP server on loopback whose behaviour the test switches.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHURN_RECORD, publishChurn } from "./helpers/churn.ts";
import { api, type Json, startTestServer, type TestServer } from "./helpers/server.ts";
import { churnSpec, saveSpec } from "./helpers/specs.ts";
import { startUpstream, type Upstream } from "./helpers/upstream.ts";

let server: TestServer;
let upstream: Upstream;
let call: ReturnType<typeof api>;

beforeAll(async () => {
  server = await startTestServer();
  await publishChurn(server);
  upstream = await startUpstream();
  call = api(server, server.adminKey);
}, 120_000);

afterAll(async () => {
  await upstream?.close();
  await server?.close();
});

const predict = (body: unknown = CHURN_RECORD, headers: Record<string, string> = {}) =>
  call("POST", "/v1/apps/churn/predict", body, headers);
const runtimeState = async (): Promise<Json> => (await call("GET", "/v1/apps/churn/runtime")).json;

/** An http step to the test's upstream, with breaker settings a test can reach quickly. */
const httpStep = (settings: Record<string, unknown> = {}) => ({
  id: "enrich",
  kind: "http",
  with: { url: upstream.url, timeoutMs: 500, ...settings },
});

describe("rate limits", () => {
  it("answers 429 with Retry-After and RateLimit headers past the key's burst", async () => {
    await saveSpec(
      server,
      churnSpec({ policies: { rateLimit: { perKeyPerSecond: 1, perKeyBurst: 3 } } }),
    );
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push(await predict());
    expect(answers.slice(0, 3).map((a) => a.status)).toEqual([200, 200, 200]);
    const limited = answers[4] as Json;
    expect(limited.status).toBe(429);
    expect(limited.json.error.code).toBe("rate_limited");
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(limited.headers.get("ratelimit-limit")).toBe("3");
    expect(limited.headers.get("ratelimit-remaining")).toBe("0");
    expect(Number(answers[0]?.headers.get("ratelimit-remaining"))).toBe(2);
    // Another key has its own bucket.
    const key = await call("POST", "/v1/keys", { name: "caller", role: "invoker" });
    const other = api(server, key.json.secret as string);
    expect((await other("POST", "/v1/apps/churn/predict", CHURN_RECORD)).status).toBe(200);
    const state = await runtimeState();
    expect(state.counters.rate_limited).toBeGreaterThanOrEqual(2);
  });
});

describe("deadlines, breakers and fallbacks around an http step", () => {
  it("answers from the step when the upstream is slow but within budget", async () => {
    upstream.mode = { kind: "slow", delayMs: 100, prediction: "from-upstream" };
    await saveSpec(server, churnSpec({ middle: [httpStep({ timeoutMs: 1000 })] }));
    const r = await predict();
    expect(r.status).toBe(200);
    expect(r.json.prediction).toBe("from-upstream");
    expect(r.json.answered_by).toEqual({ step: "enrich" });
  });

  it("cancels a hanging step at its deadline: 504 without a fallback", async () => {
    upstream.mode = { kind: "hang" };
    await saveSpec(server, churnSpec({ middle: [httpStep({ timeoutMs: 200 })] }));
    const started = Date.now();
    const r = await predict();
    expect(r.status).toBe(504);
    expect(r.json.error.code).toBe("deadline_exceeded");
    expect(r.json.error.message).toMatch(/enrich/);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it("takes the fallback when a step hangs, marked as a fallback", async () => {
    upstream.mode = { kind: "hang" };
    await saveSpec(
      server,
      churnSpec({
        middle: [
          httpStep({ timeoutMs: 200 }),
          { id: "safe", kind: "fallback", with: { prediction: "No" } },
        ],
      }),
    );
    const r = await predict();
    expect(r.status).toBe(200);
    expect(r.json.prediction).toBe("No");
    expect(r.json.answered_by).toEqual({ step: "safe" });
    expect(r.json.fallback).toEqual({ reason: "deadline_exceeded", step: "enrich" });
    expect((await runtimeState()).counters["fallback:deadline_exceeded"]).toBeGreaterThanOrEqual(1);
  });

  it("opens the breaker after consecutive failures, shows it, and closes after a good probe", async () => {
    upstream.mode = { kind: "error", status: 500 };
    await saveSpec(
      server,
      churnSpec({
        middle: [
          httpStep({
            breakerConsecutiveFailures: 3,
            breakerHalfOpenAfterSeconds: 1,
            maxRetries: 2,
          }),
        ],
      }),
    );
    upstream.reset();
    const failures = [];
    for (let i = 0; i < 3; i++) failures.push(await predict());
    expect(failures.map((f) => f.status)).toEqual([502, 502, 502]);
    expect(failures[0]?.json.error.code).toBe("upstream_failed");
    // Not idempotent: no retries, one call per request.
    expect(upstream.calls).toBe(3);
    const open = await predict();
    expect(open.status).toBe(503);
    expect(open.json.error.code).toBe("circuit_open");
    expect(Number(open.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(upstream.calls).toBe(3); // refused without calling out
    expect((await runtimeState()).breakers).toEqual([{ step: "enrich", state: "open" }]);

    upstream.mode = { kind: "ok", prediction: "healed" };
    await new Promise((r) => setTimeout(r, 1200));
    const probe = await predict();
    expect(probe.status).toBe(200);
    expect(probe.json.prediction).toBe("healed");
    expect((await runtimeState()).breakers).toEqual([{ step: "enrich", state: "closed" }]);
  });

  it("retries an idempotent step with backoff, and a fallback answers when it keeps failing", async () => {
    upstream.mode = { kind: "error", status: 503 };
    await saveSpec(
      server,
      churnSpec({
        middle: [
          httpStep({ idempotent: true, maxRetries: 2, breakerConsecutiveFailures: 50 }),
          { id: "safe", kind: "fallback", with: { prediction: "No" } },
        ],
      }),
    );
    upstream.reset();
    const r = await predict();
    expect(r.status).toBe(200);
    expect(r.json.fallback).toEqual({ reason: "upstream_failed", step: "enrich" });
    expect(upstream.calls).toBe(3); // the first try and two retries
  });

  it("answers from the fallback while the breaker is open", async () => {
    upstream.mode = { kind: "error", status: 500 };
    await saveSpec(
      server,
      churnSpec({
        middle: [
          httpStep({ breakerConsecutiveFailures: 2, breakerHalfOpenAfterSeconds: 30 }),
          { id: "safe", kind: "fallback", with: { prediction: "No" } },
        ],
      }),
    );
    const reasons = [];
    for (let i = 0; i < 4; i++) reasons.push((await predict()).json.fallback?.reason);
    expect(reasons).toEqual(["upstream_failed", "upstream_failed", "circuit_open", "circuit_open"]);
  });
});

describe("the app's bulkhead", () => {
  it("runs at most maxInFlight, queues at most maxQueue, sheds the rest with 503", async () => {
    upstream.mode = { kind: "slow", delayMs: 400 };
    await saveSpec(
      server,
      churnSpec({
        middle: [httpStep({ timeoutMs: 3000, maxConcurrent: 100 })],
        policies: { concurrency: { maxInFlight: 2, maxQueue: 2, maxQueueWaitMs: 3000 } },
      }),
    );
    const answers = await Promise.all(Array.from({ length: 12 }, () => predict()));
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(4);
    expect(statuses.filter((s) => s === 503)).toHaveLength(8);
    const shed = answers.find((a) => a.status === 503) as Json;
    expect(shed.json.error.code).toBe("overloaded");
    expect(Number(shed.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect((await runtimeState()).bulkhead.shed).toBe(8);
  });

  it("sheds a request that waited longer than maxQueueWaitMs", async () => {
    upstream.mode = { kind: "slow", delayMs: 600 };
    await saveSpec(
      server,
      churnSpec({
        middle: [httpStep({ timeoutMs: 3000 })],
        policies: { concurrency: { maxInFlight: 1, maxQueue: 5, maxQueueWaitMs: 100 } },
      }),
    );
    const answers = await Promise.all(Array.from({ length: 3 }, () => predict()));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 503, 503]);
  });
});

describe("the response cache", () => {
  it("serves a repeated input from the cache, and never across versions", async () => {
    upstream.mode = { kind: "ok", prediction: "cached?" };
    const spec = churnSpec({
      middle: [httpStep()],
      policies: { cache: { enabled: true, ttlSeconds: 60, maxEntries: 100 } },
    });
    await saveSpec(server, spec);
    upstream.reset();
    const first = await predict();
    const second = await predict({ ...CHURN_RECORD });
    // Same input in another key order: the canonical hash is the same.
    const reordered = Object.fromEntries(Object.entries(CHURN_RECORD).reverse());
    const third = await predict(reordered);
    expect([first.status, second.status, third.status]).toEqual([200, 200, 200]);
    expect(second.json.prediction).toBe(first.json.prediction);
    expect(second.json.request_id).not.toBe(first.json.request_id);
    expect(upstream.calls).toBe(1);
    const state = await runtimeState();
    expect(state.cache).toMatchObject({ hits: 2, misses: 1 });

    await saveSpec(server, spec); // the next version: a cold cache
    await predict();
    expect(upstream.calls).toBe(2);
    expect((await runtimeState()).cache).toMatchObject({ hits: 0, misses: 1 });
  });
});

describe("idempotency keys", () => {
  it("replays the same key and body, refuses another body, and runs concurrent ones once", async () => {
    upstream.mode = { kind: "slow", delayMs: 200, prediction: "once" };
    await saveSpec(server, churnSpec({ middle: [httpStep({ timeoutMs: 2000 })] }));
    upstream.reset();
    const key = { "idempotency-key": `order-${Date.now()}` };
    const concurrent = await Promise.all(
      Array.from({ length: 10 }, () => predict(CHURN_RECORD, key)),
    );
    expect(concurrent.map((c) => c.status)).toEqual(Array(10).fill(200));
    expect(upstream.calls).toBe(1);
    const ids = new Set(concurrent.map((c) => c.json.request_id));
    expect(ids.size).toBe(1); // every one is the first answer
    expect(concurrent.filter((c) => c.headers.get("idempotent-replayed") === "true")).toHaveLength(
      9,
    );

    const again = await predict(CHURN_RECORD, key);
    expect(again.json).toEqual(concurrent[0]?.json);
    const other = await predict({ ...CHURN_RECORD, tenure: 40 }, key);
    expect(other.status).toBe(422);
    expect(other.json.error.code).toBe("idempotency_key_reused");
    expect(upstream.calls).toBe(1);

    // A caller's mistake is replayed too; it does not run twice.
    const badKey = { "idempotency-key": `bad-${Date.now()}` };
    const bad1 = await predict({ ...CHURN_RECORD, tenure: "long" }, badKey);
    const bad2 = await predict({ ...CHURN_RECORD, tenure: "long" }, badKey);
    expect([bad1.status, bad2.status]).toEqual([400, 400]);
    expect(bad2.json).toEqual(bad1.json);
    expect((await predict(CHURN_RECORD, { "idempotency-key": "" })).status).toBe(400);
  });
});

describe("sessions", () => {
  it("keeps 200 interleaved sessions apart, and an ended session remembers nothing", async () => {
    await saveSpec(
      server,
      churnSpec({
        session: { ttlSeconds: 600, maxTurns: 10 },
        // 200 at once: room for all of them, so the test sees isolation, not shedding.
        policies: {
          rateLimit: { perKeyPerSecond: 0, perAppPerSecond: 0 },
          concurrency: { maxInFlight: 256, maxQueue: 256, maxQueueWaitMs: 10_000 },
        },
      }),
    );
    const { monthly_charges: _m, tenure: _t, ...partial } = CHURN_RECORD;
    const sessions = Array.from({ length: 200 }, (_, i) => ({
      id: `s-${i}-${Date.now()}`,
      tenure: i % 72,
      monthly: 20 + i,
    }));
    // Turn 1 gives every field; turns 2 and 3 leave out tenure and monthly_charges.
    const turn = (s: (typeof sessions)[number], full: boolean) =>
      predict(full ? { ...partial, tenure: s.tenure, monthly_charges: s.monthly } : partial, {
        "x-session-id": s.id,
      });
    const shuffled = <T>(xs: T[]) =>
      xs
        .map((x) => [Math.random(), x] as const)
        .sort((a, b) => a[0] - b[0])
        .map(([, x]) => x);
    const first = await Promise.all(shuffled(sessions).map((s) => turn(s, true)));
    expect(first.filter((r) => r.status !== 200).map((r) => r.json)).toEqual([]);
    expect(first.every((r) => r.json.session.turn === 1)).toBe(true);
    const second = await Promise.all(
      shuffled(sessions).map(async (s) => ({ s, r: await turn(s, false) })),
    );
    for (const { s, r } of second) {
      expect(r.status).toBe(200);
      expect(r.json.session).toEqual({
        id: s.id,
        turn: 2,
        remembered: ["tenure", "monthly_charges"],
      });
      // The answer is the one for this session's own remembered values.
      const direct = await call("POST", "/v1/apps/churn/predict", {
        ...partial,
        tenure: s.tenure,
        monthly_charges: s.monthly,
      });
      expect(r.json.probabilities).toEqual(direct.json.probabilities);
    }
    const stored = await call("GET", `/v1/apps/churn/sessions/${sessions[7]?.id}`);
    expect(stored.json.fields.tenure).toBe(sessions[7]?.tenure);
    expect(stored.json.turns).toBe(2);

    const ended = await call("DELETE", `/v1/apps/churn/sessions/${sessions[7]?.id}`);
    expect(ended.status).toBe(204);
    expect((await call("GET", `/v1/apps/churn/sessions/${sessions[7]?.id}`)).status).toBe(404);
    const after = await turn(sessions[7] as (typeof sessions)[number], false);
    expect(after.status).toBe(400); // tenure is required and nothing remembers it
    expect(after.json.error.details.map((d: Json) => d.path)).toContain("/tenure");
  }, 60_000);
});

describe("the cascade", () => {
  it("escalates low-confidence rows to the second model and says which answered", async () => {
    // A second churn model to escalate to.
    const train = await call("POST", "/v1/train", {
      dataset: "churn",
      target: "churn",
      timeBudgetSeconds: 2,
    });
    const job = await server.ballast.training.waitFor(train.json.job.id);
    expect(job.status).toBe("succeeded");
    await saveSpec(
      server,
      churnSpec({
        middle: [
          {
            id: "second",
            kind: "cascade",
            with: { name: "churn", version: 2, minConfidence: 0.8 },
          },
        ],
      }),
    );
    // Long two-year contracts are confident "No"s; new month-to-month ones are not.
    const rows = Array.from({ length: 40 }, (_, i) => ({
      ...CHURN_RECORD,
      contract: i % 2 ? "Two year" : "Month-to-month",
      tenure: i % 2 ? 60 + (i % 12) : i % 12,
      monthly_charges: 20 + i * 2.5,
    }));
    const r = await predict({ rows });
    expect(r.status).toBe(200);
    const by = r.json.predictions.map((p: Json) => p.answered_by.step);
    expect(by).toContain("second");
    expect(by).toContain("model");
    for (const p of r.json.predictions as Json[]) {
      const top = Math.max(...(Object.values(p.probabilities) as number[]));
      if (p.answered_by.step === "model") expect(top).toBeGreaterThanOrEqual(0.8);
      else expect(p.answered_by.model).toEqual({ name: "churn", version: 2 });
    }
    expect((await runtimeState()).counters.escalated).toBe(
      by.filter((s: string) => s === "second").length,
    );
  });
});

describe("the worker pool", () => {
  it("predicts large batches in the app's threads, with the same answers", async () => {
    const rows = Array.from({ length: 300 }, (_, i) => ({
      ...CHURN_RECORD,
      tenure: i % 72,
      monthly_charges: 18 + (i % 100),
    }));
    await saveSpec(server, churnSpec({ policies: { workers: { threads: 0, minBatchRows: 1 } } }));
    const inThread = await predict({ rows });
    await saveSpec(server, churnSpec({ policies: { workers: { threads: 1, minBatchRows: 100 } } }));
    const pooled = await predict({ rows });
    expect(pooled.status).toBe(200);
    expect(pooled.json.predictions).toEqual(inThread.json.predictions);
    expect((await runtimeState()).pool).toMatchObject({ threads: 1 });
    const bad = await predict({ rows: [...rows.slice(0, 150), { ...CHURN_RECORD, contract: 7 }] });
    expect(bad.status).toBe(400);
    expect(bad.json.error.details[0].path).toBe("/rows/150/contract");
  });
});
