/**
 * Metrics on a real server: predictions answered 200, 400, 429, 502 and 503 by three versions
 * of the churn app (a rate limit and an http step whose breaker opens, set through new app
 * versions), then what the Prometheus scrape, the JSON time series (from memory, and from the
 * rollups once a flush wrote them to the registry) and the process series say about them. Plus
 * the metrics token, the switch that turns Prometheus off, and bad queries refused with 4xx.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHURN_RECORD, publishChurn } from "./helpers/churn.ts";
import { api, type Json, startTestServer, type TestServer } from "./helpers/server.ts";
import { churnSpec, saveSpec } from "./helpers/specs.ts";
import { startUpstream, type Upstream } from "./helpers/upstream.ts";

/** Sample lines of the text format as `name{labels}` → value. */
function parse(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    out.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return out;
}

let server: TestServer;
let upstream: Upstream;
let call: ReturnType<typeof api>;
let workspace: string;
const statuses: number[] = [];

const predict = async (body: unknown = CHURN_RECORD, app = "churn") => {
  const r = await call("POST", `/v1/apps/${app}/predict`, body);
  statuses.push(r.status);
  return r.status;
};

/** Poll until the observers have seen `n` answers (they are told after the response is sent). */
async function seriesAfter(n: number, query: string): Promise<Json> {
  for (let i = 0; i < 100; i++) {
    const r = await call("GET", `/v1/apps/churn/series?${query}`);
    if (r.status === 200 && r.json.totals.requests >= n) return r;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return call("GET", `/v1/apps/churn/series?${query}`);
}

beforeAll(async () => {
  server = await startTestServer();
  call = api(server, server.adminKey);
  await publishChurn(server);
  upstream = await startUpstream({ kind: "error", status: 500 });
  workspace = server.ballast.bootstrap.workspaceId;

  // Version 1: 12 answers, one of them refused for a bad field; an app that does not exist.
  for (let i = 0; i < 11; i++) expect(await predict()).toBe(200);
  expect(await predict({ ...CHURN_RECORD, tenure: "x" })).toBe(400);
  expect(await predict(CHURN_RECORD, "nope")).toBe(404);
  // Version 2: a burst of 2 per key, then 429.
  await saveSpec(
    server,
    churnSpec({ policies: { rateLimit: { perKeyPerSecond: 1, perKeyBurst: 2 } } }),
  );
  for (let i = 0; i < 4; i++) await predict();
  // Version 3: an http step whose upstream fails; the breaker opens after 2 failures.
  await saveSpec(
    server,
    churnSpec({
      middle: [
        {
          id: "enrich",
          kind: "http",
          with: {
            url: upstream.url,
            timeoutMs: 500,
            breakerConsecutiveFailures: 2,
            breakerHalfOpenAfterSeconds: 60,
          },
        },
      ],
    }),
  );
  for (let i = 0; i < 3; i++) await predict();
}, 120_000);

afterAll(async () => {
  await upstream?.close();
  await server?.close();
});

describe("predictions as the metrics count them", () => {
  it("answered what the test expects", () => {
    expect(statuses).toEqual([...Array(11).fill(200), 400, 404, 200, 200, 429, 429, 502, 502, 503]);
  });

  it("scrapes counters per version and outcome, histograms and the breaker gauge", async () => {
    await seriesAfter(19, "window=5m");
    const scrape = await fetch(new URL("/metrics", server.url));
    expect(scrape.status).toBe(200);
    expect(scrape.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    const text = await scrape.text();
    const m = parse(text);
    const labels = (version: number) => `workspace="${workspace}",app="churn",version="${version}"`;
    const requests = (version: number, outcome: string) =>
      m.get(`ballast_requests_total{${labels(version)},outcome="${outcome}"}`);
    expect(requests(1, "ok")).toBe(11);
    expect(requests(1, "client_error")).toBe(1);
    expect(requests(2, "ok")).toBe(2);
    expect(requests(2, "rate_limited")).toBe(2);
    expect(requests(3, "error")).toBe(2); // 502: the upstream failed
    expect(requests(3, "shed")).toBe(1); // 503: the breaker refused
    // The 404 was for no app: nothing is counted for it.
    expect(text).not.toContain('app="nope"');
    expect(m.get(`ballast_request_duration_seconds_count{${labels(1)}}`)).toBe(12);
    expect(m.get(`ballast_request_duration_seconds_bucket{${labels(1)},le="+Inf"}`)).toBe(12);
    expect(m.get(`ballast_request_duration_seconds_sum{${labels(1)}}`)).toBeGreaterThan(0);
    expect(m.get(`ballast_model_duration_seconds_count{${labels(1)}}`)).toBe(11);
    const app = `workspace="${workspace}",app="churn"`;
    expect(m.get(`ballast_circuit_breaker_state{${app},step="enrich"}`)).toBe(2);
    expect(m.get(`ballast_rate_limited_total{${app}}`)).toBe(2);
    expect(m.get(`ballast_requests_in_flight{${app}}`)).toBe(0);
    expect(m.get("ballast_process_resident_memory_bytes")).toBeGreaterThan(0);
  });

  it("answers the last hour from memory, per outcome and per version", async () => {
    const { status, json } = await seriesAfter(19, "window=1h");
    expect(status).toBe(200);
    expect(json).toMatchObject({
      app: "churn",
      window: "1h",
      version: null,
      stepSeconds: 30,
      source: "memory",
      versions: [3, 2, 1],
    });
    expect(json.points).toHaveLength(120);
    expect(json.totals.requests).toBe(19);
    expect(json.totals.outcomes).toEqual({
      ok: 13,
      client_error: 1,
      shed: 1,
      rate_limited: 2,
      timeout: 0,
      error: 2,
    });
    expect(json.totals.errorRate).toBeCloseTo(6 / 19, 12);
    expect(json.totals.p50).toBeGreaterThan(0);
    expect(json.totals.modelP50).toBeGreaterThan(0);
    expect(json.totals.modelP50).toBeLessThanOrEqual(json.totals.p99);
    expect(json.points.reduce((s: number, p: Json) => s + p.requests, 0)).toBe(19);
    const v2 = await call("GET", "/v1/apps/churn/series?window=15m&version=2");
    expect(v2.json).toMatchObject({ version: 2, versions: [2], stepSeconds: 10 });
    expect(v2.json.totals.outcomes).toMatchObject({ ok: 2, rate_limited: 2 });
  });

  it("keeps the older metrics shape", async () => {
    const { json } = await call("GET", "/v1/apps/churn/metrics?window=1h");
    expect(json.totals).toMatchObject({
      requests: 19,
      errors: 6,
      clientErrors: 3,
      serverErrors: 3,
    });
  });

  it("answers long windows from the rollups once a flush wrote them to the registry", async () => {
    const ctx = server.ballast.context;
    await ctx.metricRollups.flush({ includeCurrent: true });
    const now = Math.floor(Date.now() / 60_000);
    const rows = await ctx.registry.metricRollups.range({
      workspaceId: workspace,
      app: "churn",
      fromMinute: now - 10,
      toMinute: now,
    });
    expect(rows.reduce((s, r) => s + r.requests, 0)).toBe(19);
    expect(new Set(rows.map((r) => r.version))).toEqual(new Set([1, 2, 3]));
    for (const window of ["7d", "24h", "30d"]) {
      const { status, json } = await call("GET", `/v1/apps/churn/series?window=${window}`);
      expect(status).toBe(200);
      expect(json.source).toBe("rollups");
      expect(json.points.length).toBeLessThanOrEqual(120);
      expect(json.totals.requests).toBe(19);
      expect(json.totals.outcomes.rate_limited).toBe(2);
      expect(json.versions).toEqual([3, 2, 1]);
    }
    const week = await call("GET", "/v1/apps/churn/series?window=7d&version=1");
    expect(week.json.stepSeconds).toBe(5040);
    expect(week.json.totals.requests).toBe(12);
    const day = await call("GET", "/v1/apps/churn/metrics?window=24h");
    expect(day.json.stepSeconds).toBe(720);
    expect(day.json.totals.requests).toBe(19);
  });

  it("answers this process's resources", async () => {
    server.ballast.context.processMetrics.sample();
    const { status, json } = await call("GET", "/v1/system/series?window=5m");
    expect(status).toBe(200);
    expect(json.window).toBe("5m");
    expect(json.stepSeconds).toBe(10);
    expect(json.points.length).toBeGreaterThanOrEqual(1);
    const last = json.points.at(-1);
    expect(last.rssMb).toBeGreaterThan(10);
    expect(last.heapUsedMb).toBeGreaterThan(1);
    expect(last.cpuPercent).toBeGreaterThanOrEqual(0);
    expect(last.eventLoopP99Ms).toBeGreaterThanOrEqual(0);
    expect(last.gcPauseMs).toBeGreaterThanOrEqual(0);
  });

  it("refuses bad queries with a 4xx naming the field, unknown apps and keys that may not read", async () => {
    const window = await call("GET", "/v1/apps/churn/series?window=2h");
    expect(window.status).toBe(400);
    expect(window.json.error.details[0].path).toBe("querystring/window");
    for (const version of ["0", "x", "1.5", "-1"]) {
      const bad = await call("GET", `/v1/apps/churn/series?version=${version}`);
      expect(bad.status).toBe(400);
      expect(bad.json.error.details[0].path).toBe("querystring/version");
    }
    const missing = await call("GET", "/v1/apps/churn/series?version=99");
    expect(missing.status).toBe(400);
    expect(missing.json.error.details[0].path).toBe("querystring/version");
    expect((await call("GET", "/v1/apps/nope/series")).status).toBe(404);
    expect((await call("GET", "/v1/system/series?window=6h")).status).toBe(400);
    expect((await api(server, undefined)("GET", "/v1/apps/churn/series")).status).toBe(401);
    const invoker = await call("POST", "/v1/keys", { role: "invoker" });
    const refused = await api(server, invoker.json.secret)("GET", "/v1/system/series");
    expect(refused.status).toBe(403);
  });

  it("never answers 5xx to generated series queries", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.constantFrom("5m", "15m", "1h", "6h", "24h", "7d", "30d"),
          fc.string({ maxLength: 6 }),
        ),
        fc.option(
          fc.oneof(fc.integer({ min: -5, max: 12 }).map(String), fc.string({ maxLength: 4 })),
        ),
        async (window, version) => {
          const query = new URLSearchParams({ window });
          if (version !== null) query.set("version", version);
          const { status, json } = await call("GET", `/v1/apps/churn/series?${query}`);
          expect(status).toBeLessThan(500);
          if (status === 200) {
            expect(json.points.length).toBeLessThanOrEqual(120);
            expect(json.totals.requests).toBeLessThanOrEqual(19);
          } else {
            expect(status).toBe(400);
          }
        },
      ),
      { numRuns: 60, seed: 3 },
    );
  });
});

describe("the metrics endpoint's switches", () => {
  it("requires the metrics token when one is configured", async () => {
    const guarded = await startTestServer({ metricsToken: "scrape-secret" });
    try {
      const url = new URL("/metrics", guarded.url);
      const none = await fetch(url);
      expect(none.status).toBe(401);
      expect(none.headers.get("www-authenticate")).toMatch(/^Bearer/);
      const wrong = await fetch(url, { headers: { authorization: "Bearer nope" } });
      expect(wrong.status).toBe(401);
      // An API key is not the metrics token.
      const key = await fetch(url, { headers: { authorization: `Bearer ${guarded.adminKey}` } });
      expect(key.status).toBe(401);
      const right = await fetch(url, { headers: { authorization: "Bearer scrape-secret" } });
      expect(right.status).toBe(200);
      expect(await right.text()).toContain("# TYPE ballast_requests_total counter");
    } finally {
      await guarded.close();
    }
  });

  it("has no /metrics when Prometheus is off", async () => {
    const off = await startTestServer({ prometheus: false });
    try {
      const r = await fetch(new URL("/metrics", off.url));
      expect(r.status).toBe(404);
      await r.text();
    } finally {
      await off.close();
    }
  });
});
