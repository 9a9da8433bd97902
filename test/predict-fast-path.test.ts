/**
 * The predict fast path (src/server/data-plane/fast-path.ts) answers exactly as the Fastify
 * route does. Each request is sent twice with the same `X-Request-Id`: once as is, which the
 * fast path takes, and once with `?explain=false` (a no-op option), which only the route takes.
 * Status, body and headers must be the same, and the fast path's counter proves which answered.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { oneFieldChanged } from "./helpers/arbitraries.ts";
import { CHURN_RECORD, publishChurn } from "./helpers/churn.ts";
import { api, type Json, startTestServer, type TestServer } from "./helpers/server.ts";
import { churnSpec, saveSpec } from "./helpers/specs.ts";

let server: TestServer;
let viewerKey = "";
let lines: string[] = [];

beforeAll(async () => {
  server = await startTestServer({
    logLevel: "info",
    logDestination: { write: (line: string) => void lines.push(line) },
  });
  await publishChurn(server);
  await saveSpec(
    server,
    churnSpec({
      policies: {
        rateLimit: { perKeyPerSecond: 100_000, perKeyBurst: 100_000 },
        concurrency: { maxInFlight: 8, maxQueue: 8 },
      },
    }),
  );
  const created = await api(server, server.adminKey)("POST", "/v1/keys", {
    name: "viewer",
    role: "viewer",
  });
  expect(created.status).toBe(201);
  viewerKey = created.json.secret;
}, 120_000);

afterAll(async () => server?.close());

interface Answer {
  status: number;
  body: Json;
  headers: Record<string, string | null>;
}

let sequence = 0;

/** POST a raw body to the churn app's predict path (or another app's, or staging's), as given. */
async function post(
  body: string,
  options: {
    key?: string;
    app?: string;
    staging?: boolean;
    query?: string;
    headers?: Record<string, string>;
  } = {},
): Promise<Answer> {
  const environment = options.staging ? "staging/" : "";
  const url = new URL(
    `/v1/apps/${options.app ?? "churn"}/${environment}predict${options.query ?? ""}`,
    server.url,
  );
  const response = await fetch(url, {
    method: "POST",
    headers: {
      authorization: `Bearer ${options.key ?? server.adminKey}`,
      "content-type": "application/json",
      ...options.headers,
    },
    body,
  });
  const text = await response.text();
  const headers: Record<string, string | null> = {};
  for (const name of [
    "content-type",
    "x-request-id",
    "ratelimit-limit",
    "ratelimit-policy",
    "retry-after",
    "connection",
  ]) {
    headers[name] = response.headers.get(name);
  }
  return { status: response.status, body: text === "" ? null : JSON.parse(text), headers };
}

/**
 * The same request through the fast path and through the route: both answers, and whether the
 * fast path took the first. The fast path stands aside while the server's caches of keys and
 * deployments refresh (every few seconds, on the route); then the pair is sent again.
 */
async function both(
  body: string,
  options: { key?: string; app?: string; headers?: Record<string, string> } = {},
) {
  for (let attempt = 0; ; attempt++) {
    const id = `fast-path-${++sequence}`;
    const headers = { ...options.headers, "x-request-id": id };
    const before = server.ballast.fastPath.answered;
    const fast = await post(body, { ...options, headers });
    const took = server.ballast.fastPath.answered - before;
    const afterFast = server.ballast.fastPath.answered;
    const route = await post(body, { ...options, headers, query: "?explain=false" });
    expect(server.ballast.fastPath.answered - afterFast, "a query string goes to the route").toBe(
      0,
    );
    if (took === 1 || attempt === 2) return { fast, route, took, id };
  }
}

describe("the predict fast path", () => {
  it("answers a record and a batch exactly as the route does", async () => {
    // The first call with a key verifies it on the route; after that the fast path knows it.
    await post(JSON.stringify(CHURN_RECORD));
    for (const body of [
      JSON.stringify(CHURN_RECORD),
      JSON.stringify({ rows: [CHURN_RECORD, { ...CHURN_RECORD, tenure: 40 }] }),
    ]) {
      const { fast, route, took, id } = await both(body);
      expect(took).toBe(1);
      expect(fast.status).toBe(200);
      expect(fast.body).toEqual(route.body);
      expect(fast.body.request_id).toBe(id);
      expect(fast.headers).toEqual(route.headers);
      expect(fast.headers["x-request-id"]).toBe(id);
      expect(fast.headers["content-type"]).toBe("application/json; charset=utf-8");
      expect(fast.headers["ratelimit-limit"]).toMatch(/^\d+$/);
    }
  });

  it("refuses bad bodies, keys and apps with the route's status, body and headers", async () => {
    const cases: { name: string; body: string; key?: string; app?: string; status: number }[] = [
      { name: "invalid JSON", body: '{"tenure": ', status: 400 },
      { name: "empty body", body: "", status: 400 },
      { name: "prototype poisoning", body: '{"__proto__": {"x": 1}}', status: 400 },
      { name: "an array", body: "[1, 2]", status: 400 },
      { name: "a string", body: '"churn"', status: 400 },
      {
        name: "a wrong type",
        body: JSON.stringify({ ...CHURN_RECORD, tenure: "long" }),
        status: 400,
      },
      { name: "a missing field", body: JSON.stringify({ tenure: 3 }), status: 400 },
      { name: "empty rows", body: JSON.stringify({ rows: [] }), status: 400 },
      { name: "an unknown app", body: JSON.stringify(CHURN_RECORD), app: "nope", status: 404 },
      { name: "an unknown key", body: JSON.stringify(CHURN_RECORD), key: "blst_nope", status: 401 },
      { name: "a viewer's key", body: JSON.stringify(CHURN_RECORD), key: viewerKey, status: 403 },
    ];
    // Keys are verified once on the route, then known to the fast path (including bad ones).
    await post("{}", { key: "blst_nope" });
    await post("{}", { key: viewerKey });
    await post("{}", { app: "nope" });
    for (const c of cases) {
      const { fast, route, took } = await both(c.body, {
        ...(c.key ? { key: c.key } : {}),
        ...(c.app ? { app: c.app } : {}),
      });
      expect(took, c.name).toBe(1);
      expect(fast.status, c.name).toBe(c.status);
      expect(fast, c.name).toEqual(route);
    }
    const session = await both(JSON.stringify(CHURN_RECORD), {
      headers: { "x-session-id": "not a session id!" },
    });
    expect(session.took).toBe(1);
    expect(session.fast.status).toBe(400);
    expect(session.fast).toEqual(session.route);
  });

  it("matches the route on 300 generated bodies", async () => {
    const record = oneFieldChanged(
      CHURN_RECORD,
      Object.keys(CHURN_RECORD),
      fc.jsonValue({ maxDepth: 2 }),
    );
    const text = fc.string({ maxLength: 60 });
    await fc.assert(
      fc.asyncProperty(fc.oneof(record, record, text), async (body) => {
        const { fast, route, took } = await both(body);
        expect(took).toBe(1);
        expect(fast).toEqual(route);
        expect(fast.status).toBeLessThan(500);
      }),
      { numRuns: 300 },
    );
  });

  it("leaves to the route what only the route does", async () => {
    const record = JSON.stringify(CHURN_RECORD);
    const cases: { name: string; send: () => Promise<Answer> }[] = [
      {
        name: "an Idempotency-Key",
        send: () => post(record, { headers: { "idempotency-key": `fast-path-${++sequence}` } }),
      },
      {
        name: "another content type",
        send: () => post(record, { headers: { "content-type": "text/plain" } }),
      },
      { name: "staging", send: () => post(record, { staging: true }) },
    ];
    for (const c of cases) {
      const before = server.ballast.fastPath.answered;
      const answer = await c.send();
      expect(answer.status, c.name).toBeLessThan(500);
      expect(server.ballast.fastPath.answered - before, c.name).toBe(0);
    }
  });

  it("answers 429 with Retry-After before reading the body, as the route does", async () => {
    await saveSpec(
      server,
      churnSpec({ policies: { rateLimit: { perKeyPerSecond: 1, perKeyBurst: 1 } } }),
    );
    const body = JSON.stringify(CHURN_RECORD);
    // The first request after a deploy resolves the new version on the route and spends the
    // bucket's one token; the next, within the second, is refused on the fast path.
    await post(body);
    const before = server.ballast.fastPath.answered;
    const limited = await post(body, { headers: { "x-request-id": "fast-path-limited" } });
    expect(server.ballast.fastPath.answered - before).toBe(1);
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe("rate_limited");
    expect(Number(limited.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    expect(limited.headers["ratelimit-limit"]).toBe("1");
    expect(limited.headers["x-request-id"]).toBe("fast-path-limited");
  });

  it("logs each request as Fastify does: incoming and completed, with its id and trace id", async () => {
    const fastLines = lines.filter((l) => l.includes('"reqId":"fast-path-1"'));
    const parsed = fastLines.map((l) => JSON.parse(l) as Json);
    const incoming = parsed.find((l) => l.msg === "incoming request");
    const completed = parsed.find((l) => l.msg === "request completed");
    expect(incoming?.req?.method).toBe("POST");
    expect(incoming?.req?.url).toBe("/v1/apps/churn/predict");
    expect(completed?.res?.statusCode).toBe(200);
    expect(typeof completed?.responseTime).toBe("number");
    expect(completed?.traceId).toMatch(/^[0-9a-f]{32}$/);
    // The route's answer to the same request id logged the same two lines.
    const routeLines = parsed.filter((l) => l.req?.url === "/v1/apps/churn/predict?explain=false");
    expect(routeLines).toHaveLength(1);
    lines = [];
  });
});
