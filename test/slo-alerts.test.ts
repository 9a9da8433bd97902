/**
 * SLOs and alerts end to end on a real server: the churn app gets a p95 latency objective it
 * cannot meet (1 ms, with an http step to a loopback upstream that takes 20 ms) and an alert
 * webhook on a loopback receiver. Traffic breaches it: the receiver gets one signed alert that
 * verifies with the app's secret, the event is in `/v1/events` and `/v1/apps/churn/slo` says
 * breached, and later passes of the evaluator announce nothing more. A new version relaxes
 * the objective: one signed recovery follows. Then the events API's paging and its answers to
 * bad queries (fast-check: a 4xx naming the field, never a 500).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  appCallbackSecret,
  loadServerSecret,
  verifySignature,
} from "../src/runtime/webhooks/callback.ts";
import { CHURN_RECORD, publishChurn } from "./helpers/churn.ts";
import { api, type Json, startTestServer, type TestServer } from "./helpers/server.ts";
import { churnSpec, saveSpec } from "./helpers/specs.ts";
import { startUpstream, type Upstream } from "./helpers/upstream.ts";

const INTERVAL_MS = 150;

interface Received {
  readonly eventId: string;
  readonly signature: string;
  readonly raw: string;
}

async function startReceiver() {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    let raw = "";
    req.on("data", (chunk: Buffer) => {
      raw += chunk.toString();
    });
    req.on("end", () => {
      received.push({
        eventId: String(req.headers["ballast-event-id"] ?? ""),
        signature: String(req.headers["ballast-signature"] ?? ""),
        raw,
      });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/alerts`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, ms = 20_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

let server: TestServer;
let upstream: Upstream;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
let call: ReturnType<typeof api>;
let secret: string;

beforeAll(async () => {
  server = await startTestServer({ sloIntervalMs: INTERVAL_MS });
  await publishChurn(server);
  upstream = await startUpstream({ kind: "slow", delayMs: 20, prediction: "slow-upstream" });
  receiver = await startReceiver();
  call = api(server, server.adminKey);
  secret = appCallbackSecret(
    loadServerSecret(server.dataDir),
    server.ballast.bootstrap.workspaceId,
    "churn",
  );
}, 120_000);

afterAll(async () => {
  await receiver?.close();
  await upstream?.close();
  await server?.close();
});

const payloads = () => receiver.received.map((r) => JSON.parse(r.raw) as Json);

describe("an SLO breach and its recovery", () => {
  it("alerts once, signed, recorded and shown, then recovers on a relaxed objective", async () => {
    await saveSpec(server, {
      ...churnSpec({
        middle: [{ id: "enrich", kind: "http", with: { url: upstream.url, timeoutMs: 2000 } }],
      }),
      monitoring: {
        slo: { latencyP95Ms: 1 },
        alerts: { webhookUrl: receiver.url },
      },
    });
    for (let i = 0; i < 20; i++) {
      const r = await call("POST", "/v1/apps/churn/predict", CHURN_RECORD);
      expect(r.status).toBe(200);
    }

    await waitFor("the alert", async () => (receiver.received.length > 0 ? true : undefined));
    const alert = receiver.received[0] as Received;
    expect(verifySignature(secret, alert.signature, alert.raw)).toBe(true);
    const body = JSON.parse(alert.raw) as Json;
    expect(body).toMatchObject({
      id: alert.eventId,
      app: "churn",
      version: 2,
      kind: "alert",
      severity: "critical",
      rule: "slo:latency_p95",
      details: { objective: 1, pair: "fast" },
    });
    expect(body.message).toMatch(/p95 latency objective \(1 ms\) breached/);

    // Recorded, with both deliveries.
    const recorded = await waitFor("the webhook delivery on the record", async () => {
      const events = (await call("GET", "/v1/events?app=churn")).json.events as Json[];
      const found = events.find((e) => e.id === alert.eventId);
      return found?.deliveries.length === 2 ? found : undefined;
    });
    expect(recorded.deliveries).toEqual([
      { channel: "log", ok: true },
      { channel: "webhook", ok: true },
    ]);

    const slo = (await call("GET", "/v1/apps/churn/slo")).json as Json;
    expect(slo.app).toBe("churn");
    expect(slo.slos).toHaveLength(1);
    expect(slo.slos[0]).toMatchObject({ name: "latency_p95", objective: 1, state: "breached" });
    expect(slo.slos[0].current).toBeGreaterThan(1);
    expect(slo.slos[0].burnRates.map((b: Json) => b.window)).toEqual(["1h", "5m", "6h", "30m"]);
    expect(slo.slos[0].budgetRemaining).toBeLessThan(0);
    expect(slo.firing.map((e: Json) => e.id)).toEqual([alert.eventId]);
    expect(slo.events[0].id).toBe(alert.eventId);

    // More traffic and several more passes of the evaluator: nothing new is announced.
    for (let i = 0; i < 5; i++) await call("POST", "/v1/apps/churn/predict", CHURN_RECORD);
    await sleep(INTERVAL_MS * 6);
    expect(receiver.received).toHaveLength(1);

    // A new version relaxes the objective: the same traffic now meets it.
    await saveSpec(server, {
      ...churnSpec(),
      monitoring: { slo: { latencyP95Ms: 60_000 }, alerts: { webhookUrl: receiver.url } },
    });
    await waitFor("the recovery", async () => (receiver.received.length > 1 ? true : undefined));
    const recovery = receiver.received[1] as Received;
    expect(verifySignature(secret, recovery.signature, recovery.raw)).toBe(true);
    expect(JSON.parse(recovery.raw)).toMatchObject({
      kind: "recovery",
      severity: "info",
      rule: "slo:latency_p95",
      version: 3,
    });
    await sleep(INTERVAL_MS * 4);
    expect(payloads().map((p) => p.kind)).toEqual(["alert", "recovery"]);

    const after = (await call("GET", "/v1/apps/churn/slo")).json as Json;
    expect(after.slos[0]).toMatchObject({ objective: 60_000, state: "ok" });
    expect(after.firing).toEqual([]);
    expect(after.events.map((e: Json) => e.kind)).toEqual(["recovery", "alert"]);
  });
});

describe("GET /v1/events", () => {
  it("pages newest first by event id or time, filtered by kind", async () => {
    const all = (await call("GET", "/v1/events")).json.events as Json[];
    expect(all.map((e) => e.kind)).toEqual(["recovery", "alert"]);
    const first = (await call("GET", "/v1/events?limit=1")).json.events as Json[];
    expect(first.map((e) => e.id)).toEqual([all[0].id]);
    const next = (await call("GET", `/v1/events?limit=1&before=${first[0].id}`)).json.events;
    expect(next.map((e: Json) => e.id)).toEqual([all[1].id]);
    const byTime = (await call("GET", `/v1/events?before=${encodeURIComponent(all[1].at)}`)).json;
    expect(byTime.events).toEqual([]);
    const alerts = (await call("GET", "/v1/events?kind=alert")).json.events as Json[];
    expect(alerts.map((e) => e.kind)).toEqual(["alert"]);
    expect((await call("GET", "/v1/events?app=other")).json.events).toEqual([]);
  });

  it("needs a key that may read; 404 for an app that does not exist", async () => {
    expect((await api(server, undefined)("GET", "/v1/events")).status).toBe(401);
    const invoker = await call("POST", "/v1/keys", { name: "caller", role: "invoker" });
    const asInvoker = api(server, invoker.json.secret as string);
    expect((await asInvoker("GET", "/v1/events")).status).toBe(403);
    expect((await asInvoker("GET", "/v1/apps/churn/slo")).status).toBe(403);
    expect((await call("GET", "/v1/apps/nope/slo")).status).toBe(404);
  });

  it("answers a bad query with a 400 naming the field, never a 500", async () => {
    const named = async (query: string, field: string) => {
      const r = await call("GET", `/v1/events?${query}`);
      expect(r.status, query).toBe(400);
      expect(JSON.stringify(r.json.error), query).toContain(field);
    };
    await named("kind=page", "kind");
    await named("limit=0", "limit");
    await named("limit=501", "limit");
    await named("limit=ten", "limit");
    await named("before=yesterday", "before");
    await named("before=evt_00000000000000000000", "before");
    await named("app=Not_An_App", "app");
    await named("color=red", "color");

    const value = fc.oneof(
      fc.string({ maxLength: 80 }),
      fc.constantFrom("alert", "0", "1", "500", "2024-01-01", "2024-13-45T99:99", "evt_"),
      fc.integer().map(String),
    );
    const key = fc.constantFrom("app", "kind", "limit", "before", "rule", "");
    const before = (await call("GET", "/v1/events")).json.events as Json[];
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(key, value), { maxLength: 4 }), async (pairs) => {
        const query = new URLSearchParams(pairs).toString();
        const r = await call("GET", `/v1/events?${query}`);
        expect([200, 400], `${query}: ${r.text}`).toContain(r.status);
        if (r.status === 400) expect(r.json.error.code).toBe("invalid_request");
        else expect(Array.isArray(r.json.events)).toBe(true);
      }),
      { numRuns: 150 },
    );
    // Reading changed nothing.
    expect((await call("GET", "/v1/events")).json.events).toEqual(before);
  });
});
