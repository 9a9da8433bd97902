/**
 * Drills end to end on a real server (issue 7): `runDrill` arms a fault in the churn app's
 * staging deployment, loads it, and judges whether its defences held, while production, which
 * runs the same version with its own runtime, keeps answering untouched. What the drill
 * reports is checked against what the test sees for itself: every staging answer (through the
 * fetch the drill is given), the production answers sent alongside, the calls the upstream
 * received, and the runtime views of both environments.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DrillOptions, type DrillReport, runDrill } from "../src/cli/drill.ts";
import { CHURN_RECORD, publishChurn } from "./helpers/churn.ts";
import { cliFor } from "./helpers/cli.ts";
import { api, type Json, startTestServer, type TestServer } from "./helpers/server.ts";
import { churnSpec, saveSpec } from "./helpers/specs.ts";
import { startUpstream, type Upstream } from "./helpers/upstream.ts";

let server: TestServer;
let upstream: Upstream;
let call: ReturnType<typeof api>;

beforeAll(async () => {
  upstream = await startUpstream({ kind: "ok", prediction: "from-upstream" });
  server = await startTestServer();
  call = api(server, server.adminKey);
  await publishChurn(server);
}, 120_000);

afterAll(async () => {
  await server?.close();
  await upstream?.close();
});

/**
 * An http step to the upstream whose breaker a 50% error rate trips for certain within a few
 * dozen calls (30% over at least 10 calls, or 5 in a row), and stays open past the drill.
 */
const httpStep = () => ({
  id: "enrich",
  kind: "http",
  with: {
    url: upstream.url,
    timeoutMs: 500,
    breakerErrorRate: 0.3,
    breakerMinRequests: 10,
    breakerConsecutiveFailures: 5,
    breakerHalfOpenAfterSeconds: 30,
  },
});

const withFallback = () =>
  churnSpec({
    middle: [httpStep(), { id: "safe", kind: "fallback", with: { prediction: "No" } }],
  });

/** Save a spec as the next version, deployed to staging only. */
async function stage(spec: Record<string, unknown>): Promise<number> {
  const saved = await call("POST", "/v1/apps/churn/versions", { spec, deploy: "staging" });
  expect(saved.status, JSON.stringify(saved.json)).toBe(201);
  return saved.json.version.version as number;
}

interface Seen {
  readonly status: number;
  readonly ms: number;
  readonly body: Json;
}

/** A fetch for `runDrill` that records every staging answer as its caller received it. */
function observingFetch(seen: Seen[]): typeof fetch {
  return async (input, init) => {
    const started = performance.now();
    const response = await fetch(input, init);
    if (String(input).endsWith("/staging/predict")) {
      const text = await response.clone().text();
      let body: Json;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      seen.push({ status: response.status, ms: performance.now() - started, body });
    }
    return response;
  };
}

/** Production traffic, two callers at a time, until `until` settles; every answer it got. */
async function productionTraffic(until: Promise<unknown>): Promise<Seen[]> {
  let done = false;
  until.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  const answers: Seen[] = [];
  // Each caller sends at most 50 a second: production and staging draw on the same key's
  // bucket (200/s by default), and back-to-back callers would leave the drill 429s.
  const caller = async () => {
    while (!done) {
      const started = performance.now();
      const paced = sleep(20);
      const r = await call("POST", "/v1/apps/churn/predict", CHURN_RECORD);
      answers.push({ status: r.status, ms: performance.now() - started, body: r.json });
      await paced;
    }
  };
  await Promise.all([caller(), caller()]);
  return answers;
}

const drill = (over: Partial<DrillOptions> & Pick<DrillOptions, "fault" | "rate">) => ({
  baseUrl: server.url,
  apiKey: server.adminKey,
  app: "churn",
  durationSeconds: 2,
  rps: 40,
  input: { ...CHURN_RECORD },
  ...over,
});

const checkOf = (report: DrillReport, name: string) => report.checks.find((c) => c.name === name);

describe("drills on staging", () => {
  it("refuses bad fault settings with 400 naming the field, and arms nothing", async () => {
    // Production and staging both run this version from here on.
    await saveSpec(server, withFallback());
    const cases: [Record<string, unknown>, string][] = [
      [{ fault: "error", rate: 2, durationSeconds: 5 }, "/rate"],
      [{ fault: "explode", rate: 0.5, durationSeconds: 5 }, "/fault"],
      [{ fault: "slow", rate: 0.5, durationSeconds: 0 }, "/durationSeconds"],
      [{ fault: "hang", rate: 0.5, durationSeconds: 5, target: "database" }, "/target"],
    ];
    for (const [body, field] of cases) {
      const r = await call("PUT", "/v1/apps/churn/staging/faults", body);
      expect(r.status, JSON.stringify(r.json)).toBe(400);
      expect(r.json.error.details.map((d: Json) => d.path)).toEqual([field]);
      expect(r.json.error.message).toContain(field);
    }
    const state = await call("GET", "/v1/apps/churn/staging/runtime");
    expect(state.status).toBe(200);
    expect(state.json.faults.armed).toBe(false);
    expect(state.json.faults.injected).toEqual({ slow: 0, error: 0, hang: 0 });
    // Production has no fault route at all.
    const production = await call("PUT", "/v1/apps/churn/faults", {
      fault: "error",
      rate: 1,
      durationSeconds: 5,
    });
    expect(production.status).toBe(404);
  });

  it("an error drill on the http step: the breaker opens, the fallback answers, production never notices", async () => {
    upstream.reset();
    const seen: Seen[] = [];
    const running = runDrill(
      drill({ fault: "error", rate: 0.5, target: "http" }),
      observingFetch(seen),
    );
    const [report, production] = await Promise.all([running, productionTraffic(running)]);

    // The report's verdict.
    expect(report.held, JSON.stringify(report.checks)).toBe(true);
    expect(checkOf(report, "breaker")?.held).toBe(true);
    expect(checkOf(report, "breaker")?.detail).toContain("enrich");
    expect(checkOf(report, "fallback")?.held).toBe(true);
    expect(checkOf(report, "no_500")?.held).toBe(true);
    expect(checkOf(report, "deadline")?.held).toBe(true);
    expect(report.statuses["500"]).toBeUndefined();

    // What staging's callers saw: every request answered 200, by the upstream or by the
    // fallback, which gave both reasons: the injected failures, then the open breaker.
    expect(seen).toHaveLength(report.requests);
    expect(report.requests).toBeGreaterThanOrEqual(70);
    expect(seen.every((s) => s.status === 200)).toBe(true);
    expect(report.statuses).toEqual({ "200": seen.length });
    const reasons = new Map<string, number>();
    for (const s of seen) {
      const reason = s.body.fallback?.reason ?? "none";
      reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
      if (s.body.fallback) {
        expect(s.body.prediction).toBe("No");
        expect(s.body.fallback.step).toBe("enrich");
      } else {
        expect(s.body.prediction).toBe("from-upstream");
      }
    }
    expect(reasons.get("upstream_failed")).toBeGreaterThan(0);
    expect(reasons.get("circuit_open")).toBeGreaterThan(0);
    // Each injected error failed exactly one call (no retries: the step is not idempotent).
    expect(report.injected?.error).toBe(reasons.get("upstream_failed"));
    expect(report.injected?.slow).toBe(0);
    expect(report.injected?.hang).toBe(0);

    // Production, running the same version alongside: all 200 from the upstream, no fallback.
    expect(production.length).toBeGreaterThan(20);
    for (const p of production) {
      expect(p.status).toBe(200);
      expect(p.body.fallback).toBeUndefined();
      expect(p.body.prediction).toBe("from-upstream");
      expect(p.body.answered_by).toEqual({ step: "enrich" });
    }
    // The upstream saw every production call and exactly staging's unfaulted calls: the
    // injected failures and the open breaker's refusals never left the process.
    expect(upstream.calls).toBe(production.length + (reasons.get("none") ?? 0));
    const runtime = await call("GET", "/v1/apps/churn/runtime");
    expect(runtime.json.breakers).toEqual([{ step: "enrich", state: "closed" }]);
    const fallbacks = Object.keys(runtime.json.counters ?? {}).filter((k) =>
      k.startsWith("fallback"),
    );
    expect(fallbacks).toEqual([]);

    // Staging's own view after the drill: the breaker it opened, the fault disarmed.
    const staging = await call("GET", "/v1/apps/churn/staging/runtime");
    expect(staging.json.breakers).toEqual([{ step: "enrich", state: "open", opened: true }]);
    expect(staging.json.faults.armed).toBe(false);
  }, 20_000);

  it("`ballast drill` prints the report and exits 0 when the defences held", async () => {
    // A fresh staging version: its own breaker, closed, so this drill must open it again.
    await stage(withFallback());
    const before = await call("GET", "/v1/apps/churn/staging/runtime");
    expect(before.json.breakers).toEqual([{ step: "enrich", state: "closed", opened: false }]);
    const cli = cliFor(() => server);
    const result = await cli(
      "drill",
      "churn",
      "--fault",
      "error",
      "--rate",
      "50%",
      "--duration",
      "2s",
      "--rps",
      "20",
      "--target",
      "http",
      "--input",
      JSON.stringify(CHURN_RECORD),
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain("error at 50% on http");
    expect(result.stdout).toMatch(/breaker\s+yes\s+enrich: \S+ \(opened\)/);
    expect(result.stdout).toMatch(/fallback\s+yes/);
    expect(result.stdout).toMatch(/no_500\s+yes/);
    expect(result.stdout).toContain("HELD: every applicable check passed.");
    const after = await call("GET", "/v1/apps/churn/staging/runtime");
    expect(after.json.breakers[0].opened).toBe(true);
  }, 30_000);

  it("a hang drill on the model of an app without a fallback: every answer within the deadline", async () => {
    const requestMs = 1000;
    await stage(churnSpec({ policies: { timeouts: { requestMs } } }));
    const seen: Seen[] = [];
    const running = runDrill(
      drill({ fault: "hang", rate: 0.5, target: "model", rps: 20 }),
      observingFetch(seen),
    );
    const [report, production] = await Promise.all([running, productionTraffic(running)]);

    expect(report.held, JSON.stringify(report.checks)).toBe(true);
    expect(checkOf(report, "deadline")?.held).toBe(true);
    expect(checkOf(report, "no_500")?.held).toBe(true);
    expect(checkOf(report, "fallback")?.held).toBeNull();
    expect(checkOf(report, "breaker")?.held).toBeNull();

    // Only answers and deadline answers: the hung model is cut off by the request's deadline,
    // not earlier and not much later.
    expect(seen).toHaveLength(report.requests);
    const hung = seen.filter((s) => s.status === 504);
    const answered = seen.filter((s) => s.status === 200);
    expect(hung.length + answered.length).toBe(seen.length);
    expect(hung.length).toBeGreaterThan(0);
    expect(answered.length).toBeGreaterThan(0);
    expect(hung.length).toBe(report.injected?.hang);
    for (const s of hung) {
      expect(s.body.error.code).toBe("deadline_exceeded");
      expect(s.ms).toBeGreaterThanOrEqual(requestMs - 50);
      expect(s.ms).toBeLessThan(requestMs + 500);
    }
    expect(report.statuses).toEqual({ "200": answered.length, "504": hung.length });

    // Production (the version with the http step and fallback) answered normally throughout.
    expect(production.length).toBeGreaterThan(10);
    for (const p of production) {
      expect(p.status).toBe(200);
      expect(p.body.fallback).toBeUndefined();
      expect(p.ms).toBeLessThan(requestMs);
    }
  }, 20_000);
});
