/**
 * The alert service against a real registry (SQLite file in a temp dir), a real pino logger
 * writing into memory, and a real HTTP receiver on loopback that checks signatures as an
 * integrator would.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import pino from "pino";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { openRegistry, type Registry } from "../../registry/registry.ts";
import { appCallbackSecret, verifySignature } from "../../runtime/webhooks/callback.ts";
import { AlertService, type RaiseEvent } from "./alert-service.ts";

const SERVER_SECRET = "server-secret-for-alert-tests-0123456789";

interface Received {
  readonly eventId: string;
  readonly signature: string;
  readonly raw: string;
}

/** A receiver whose answers the test scripts: a queue of statuses, then 200. */
async function startReceiver() {
  const received: Received[] = [];
  const script: number[] = [];
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
      res.writeHead(script.shift() ?? 200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/alerts`,
    received,
    script,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

let dir: string;
let registry: Registry;
let ws: string;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
const lines: { level: number; msg: string; [key: string]: unknown }[] = [];
const logger = pino(
  { level: "info" },
  new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  }),
);

function service(overrides: Partial<ConstructorParameters<typeof AlertService>[0]> = {}) {
  return new AlertService({
    events: registry.monitorEvents,
    logger,
    serverSecret: SERVER_SECRET,
    delivery: { timeoutMs: 2000, attempts: 3, backoffMs: 10, maxBackoffMs: 40 },
    ...overrides,
  });
}

const breach = (overrides: Partial<RaiseEvent> = {}): RaiseEvent => ({
  workspaceId: ws,
  app: "churn",
  version: 3,
  kind: "alert",
  rule: "slo:error_rate",
  message: "error rate burning its budget at 20×",
  details: { burnRates: { "1h": 20, "5m": 22 } },
  webhookUrl: receiver.url,
  ...overrides,
});

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ballast-alerts-"));
  registry = await openRegistry({ sqlitePath: join(dir, "registry.db") });
  ws = (await registry.ensureDefaultWorkspace()).id;
  receiver = await startReceiver();
});

afterAll(async () => {
  await receiver?.close();
  await registry?.close();
  await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  receiver.received.length = 0;
  receiver.script.length = 0;
  lines.length = 0;
});

describe("AlertService.raise", () => {
  it("records, logs at error level and posts a signed alert that verifies", async () => {
    const alerts = service();
    const result = await alerts.raise(breach({ app: "signed" }));
    expect(result.outcome).toBe("raised");
    if (result.outcome !== "raised") return;
    const { event } = result;
    expect(event).toMatchObject({ app: "signed", severity: "critical", version: 3 });
    // Logged at once, before the webhook finishes.
    const logged = lines.find((l) => l.msg.includes("slo:error_rate"));
    expect(logged?.level).toBe(50);
    expect(logged?.msg).toBe("alert signed slo:error_rate: error rate burning its budget at 20×");
    await alerts.idle();

    expect(receiver.received).toHaveLength(1);
    const got = receiver.received[0] as Received;
    expect(got.eventId).toBe(event.id);
    const secret = appCallbackSecret(SERVER_SECRET, ws, "signed");
    expect(verifySignature(secret, got.signature, got.raw)).toBe(true);
    expect(
      verifySignature(appCallbackSecret(SERVER_SECRET, ws, "other"), got.signature, got.raw),
    ).toBe(false);
    expect(JSON.parse(got.raw)).toEqual({
      id: event.id,
      at: event.at,
      app: "signed",
      version: 3,
      kind: "alert",
      severity: "critical",
      rule: "slo:error_rate",
      message: "error rate burning its budget at 20×",
      details: { burnRates: { "1h": 20, "5m": 22 } },
    });
    const stored = await registry.monitorEvents.get(ws, event.id);
    expect(stored.deliveries).toEqual([
      { channel: "log", ok: true },
      { channel: "webhook", ok: true, attempts: 1, status: 200 },
    ]);
  });

  it("announces a firing rule once, and its recovery once, at info level", async () => {
    const alerts = service();
    expect((await alerts.raise(breach({ app: "once" }))).outcome).toBe("raised");
    expect((await alerts.raise(breach({ app: "once" }))).outcome).toBe("not_news");
    const recovery = await alerts.raise(
      breach({ app: "once", kind: "recovery", message: "error rate back within budget" }),
    );
    expect(recovery.outcome).toBe("raised");
    expect(
      (await alerts.raise(breach({ app: "once", kind: "recovery", message: "again" }))).outcome,
    ).toBe("not_news");
    await alerts.idle();
    expect(receiver.received.map((r) => JSON.parse(r.raw).kind)).toEqual(["alert", "recovery"]);
    expect(lines.filter((l) => l.msg.includes("once")).map((l) => l.level)).toEqual([50, 30]);
    expect(await alerts.firing({ workspaceId: ws, app: "once" })).toEqual([]);
  });

  it("logs warnings at warn level", async () => {
    const alerts = service();
    await alerts.raise(breach({ app: "warned", severity: "warning", webhookUrl: "" }));
    expect(lines.find((l) => l.msg.includes("warned"))?.level).toBe(40);
  });

  it("retries a failing receiver with backoff and records the attempts", async () => {
    receiver.script.push(500, 503);
    const alerts = service();
    const result = await alerts.raise(breach({ app: "flaky" }));
    await alerts.idle();
    expect(receiver.received).toHaveLength(3);
    // One event id across retries, so the receiver can drop duplicates.
    expect(new Set(receiver.received.map((r) => r.eventId)).size).toBe(1);
    const id = result.outcome === "raised" ? result.event.id : "";
    expect((await registry.monitorEvents.get(ws, id)).deliveries[1]).toEqual({
      channel: "webhook",
      ok: true,
      attempts: 3,
      status: 200,
    });
  });

  it("records a webhook that never took it, and says so in the log", async () => {
    receiver.script.push(500, 500, 500);
    const alerts = service();
    const result = await alerts.raise(breach({ app: "down" }));
    await alerts.idle();
    const id = result.outcome === "raised" ? result.event.id : "";
    expect((await registry.monitorEvents.get(ws, id)).deliveries[1]).toEqual({
      channel: "webhook",
      ok: false,
      attempts: 3,
      status: 500,
      error: "The alert webhook answered HTTP 500",
    });
    expect(lines.some((l) => l.level === 40 && l.msg === "alert webhook not delivered")).toBe(true);
  });

  it("records an unreachable receiver as a failed delivery", async () => {
    const closed = await startReceiver();
    await closed.close();
    const alerts = service({ delivery: { attempts: 2, backoffMs: 5, timeoutMs: 1000 } });
    const result = await alerts.raise(breach({ app: "unreachable", webhookUrl: closed.url }));
    await alerts.idle();
    const id = result.outcome === "raised" ? result.event.id : "";
    const webhook = (await registry.monitorEvents.get(ws, id)).deliveries[1];
    expect(webhook).toMatchObject({ channel: "webhook", ok: false, attempts: 2 });
    expect(webhook?.error).toMatch(/could not be reached/);
  });

  it("uses the app's configured webhook when the event names none, and skips a bad URL", async () => {
    const asked: string[] = [];
    const alerts = service({
      webhookUrlOf: async (_ws, app) => {
        asked.push(app);
        return app === "configured" ? receiver.url : "ftp://example.com/x";
      },
    });
    const { webhookUrl: _drop, ...noUrl } = breach({ app: "configured" });
    await alerts.raise(noUrl);
    const bad = await alerts.raise({ ...noUrl, app: "badurl" });
    await alerts.idle();
    expect(asked).toEqual(["configured", "badurl"]);
    expect(receiver.received.map((r) => JSON.parse(r.raw).app)).toEqual(["configured"]);
    const id = bad.outcome === "raised" ? bad.event.id : "";
    expect((await registry.monitorEvents.get(ws, id)).deliveries[1]).toEqual({
      channel: "webhook",
      ok: false,
      attempts: 0,
      error: "not an http(s) URL",
    });
  });

  it("stops retrying on close and records why", async () => {
    receiver.script.push(500, 500, 500);
    const alerts = service({ delivery: { attempts: 3, backoffMs: 60_000, timeoutMs: 1000 } });
    const result = await alerts.raise(breach({ app: "shutdown" }));
    // Let the first attempt fail, then close during the long backoff.
    while (receiver.received.length === 0) await new Promise((r) => setTimeout(r, 5));
    await alerts.close();
    const id = result.outcome === "raised" ? result.event.id : "";
    expect((await registry.monitorEvents.get(ws, id)).deliveries[1]).toMatchObject({
      channel: "webhook",
      ok: false,
      attempts: 1,
      error: "the server stopped before delivery",
    });
  });

  it("never throws: an event that cannot be recorded is logged in full and reported failed", async () => {
    const alerts = service();
    const result = await alerts.raise(breach({ app: "unrecorded", rule: "" }));
    expect(result.outcome).toBe("failed");
    const logged = lines.find((l) => l.msg === "monitor event NOT recorded");
    expect(logged?.level).toBe(50);
    expect(logged?.event).toMatchObject({ app: "unrecorded", kind: "alert" });
    await alerts.idle();
    expect(receiver.received).toHaveLength(0);
  });
});
