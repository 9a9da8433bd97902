import { mkdtempSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseTraceparent } from "../../monitor/trace-context.ts";
import {
  appCallbackSecret,
  callbackTraceId,
  deliverCallback,
  loadServerSecret,
  signPayload,
  verifySignature,
} from "./callback.ts";

const SECRET = "whsec_0123456789abcdef";
const BODY = '{"event_id":"e1","app":"churn","status":"done","result":{"prediction":"No"}}';
const NOW = Date.UTC(2025, 0, 1, 12, 0, 0);
const T = NOW / 1000;

describe("signatures", () => {
  it("verifies its own signature and names the timestamp it signed at", () => {
    const header = signPayload(SECRET, BODY, T);
    expect(header).toMatch(/^t=1735732800,v1=[0-9a-f]{64}$/);
    expect(verifySignature(SECRET, header, BODY, { now: NOW })).toBe(true);
  });

  it("refuses a tampered body, another secret, a malformed header", () => {
    const header = signPayload(SECRET, BODY, T);
    expect(verifySignature(SECRET, header, BODY.replace("No", "Yes"), { now: NOW })).toBe(false);
    expect(verifySignature(`${SECRET}x`, header, BODY, { now: NOW })).toBe(false);
    expect(verifySignature(SECRET, undefined, BODY, { now: NOW })).toBe(false);
    expect(verifySignature(SECRET, "", BODY, { now: NOW })).toBe(false);
    expect(verifySignature(SECRET, header.replace(/^t=\d+/, "t=abc"), BODY, { now: NOW })).toBe(
      false,
    );
    expect(verifySignature(SECRET, header.replace(/,v1=.*/, ""), BODY, { now: NOW })).toBe(false);
    // The timestamp is inside the MAC: moving it breaks the signature.
    const moved = header.replace(`t=${T}`, `t=${T + 1}`);
    expect(verifySignature(SECRET, moved, BODY, { now: NOW })).toBe(false);
  });

  it("refuses an old (or future) timestamp beyond the tolerance, accepts within it", () => {
    const old = signPayload(SECRET, BODY, T - 301);
    expect(verifySignature(SECRET, old, BODY, { now: NOW })).toBe(false);
    expect(verifySignature(SECRET, old, BODY, { now: NOW, toleranceSeconds: 600 })).toBe(true);
    const recent = signPayload(SECRET, BODY, T - 299);
    expect(verifySignature(SECRET, recent, BODY, { now: NOW })).toBe(true);
    const future = signPayload(SECRET, BODY, T + 301);
    expect(verifySignature(SECRET, future, BODY, { now: NOW })).toBe(false);
  });

  it("accepts a header with several v1 signatures when one matches (secret rotation)", () => {
    const good = signPayload(SECRET, BODY, T);
    const other = signPayload("whsec_old", BODY, T).replace(`t=${T},`, "");
    expect(verifySignature(SECRET, `${good},${other}`, BODY, { now: NOW })).toBe(true);
    expect(verifySignature("whsec_old", `${good},${other}`, BODY, { now: NOW })).toBe(true);
  });

  it("property: any body verifies as signed; any change to it does not", () => {
    fc.assert(
      fc.property(fc.string(), fc.string({ minLength: 1 }), fc.string(), (body, secret, extra) => {
        const header = signPayload(secret, body, T);
        expect(verifySignature(secret, header, body, { now: NOW })).toBe(true);
        if (extra !== "") {
          expect(verifySignature(secret, header, body + extra, { now: NOW })).toBe(false);
        }
      }),
    );
  });

  it("property: verifySignature never throws on arbitrary headers", () => {
    fc.assert(
      fc.property(fc.string(), (header) => {
        expect(typeof verifySignature(SECRET, header, BODY, { now: NOW })).toBe("boolean");
      }),
    );
  });
});

describe("secrets", () => {
  const dir = mkdtempSync(join(tmpdir(), "ballast-secret-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("generates the server secret once, 0600, and reads it back; the configured one wins", () => {
    const first = loadServerSecret(dir);
    expect(first).toMatch(/^[0-9a-f]{64}$/);
    expect(statSync(join(dir, "webhook.secret")).mode & 0o777).toBe(0o600);
    expect(loadServerSecret(dir)).toBe(first);
    expect(loadServerSecret(dir, "from-the-environment")).toBe("from-the-environment");
  });

  it("derives one secret per app and workspace", () => {
    const a = appCallbackSecret("server", "ws_1", "churn");
    expect(a).toMatch(/^whsec_[0-9a-f]{64}$/);
    expect(appCallbackSecret("server", "ws_1", "churn")).toBe(a);
    expect(appCallbackSecret("server", "ws_1", "other")).not.toBe(a);
    expect(appCallbackSecret("server", "ws_2", "churn")).not.toBe(a);
    expect(appCallbackSecret("another", "ws_1", "churn")).not.toBe(a);
  });
});

describe("deliverCallback", () => {
  const received: { headers: Record<string, unknown>; body: string }[] = [];
  let base = "";
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => {
      body += c.toString();
    });
    req.on("end", () => {
      received.push({ headers: req.headers, body });
      if (req.url === "/ok") res.writeHead(200).end("thanks");
      else if (req.url === "/redirect") res.writeHead(302, { location: "/ok" }).end();
      else if (req.url === "/slow") setTimeout(() => res.writeHead(200).end(), 2000);
      else res.writeHead(503).end("busy");
    });
  });
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const send = (path: string, timeoutMs?: number) =>
    deliverCallback({
      url: `${base}${path}`,
      secret: SECRET,
      eventId: "e1",
      body: { event_id: "e1", status: "done", result: { prediction: "No" } },
      signal: new AbortController().signal,
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    });

  it("POSTs the signed JSON body with the event id; a 2xx is delivered", async () => {
    expect(await send("/ok")).toEqual({ ok: true, status: 200 });
    const last = received.at(-1);
    expect(last?.headers["content-type"]).toBe("application/json");
    expect(last?.headers["ballast-event-id"]).toBe("e1");
    const signature = last?.headers["ballast-signature"];
    expect(
      verifySignature(SECRET, typeof signature === "string" ? signature : "", last?.body ?? ""),
    ).toBe(true);
    expect(JSON.parse(last?.body ?? "")).toEqual({
      event_id: "e1",
      status: "done",
      result: { prediction: "No" },
    });
  });

  it("sends a traceparent: the given trace id, else one per event, a new span id per try", async () => {
    await send("/ok");
    await send("/ok");
    const [a, b] = received.slice(-2).map((r) => parseTraceparent(r.headers.traceparent));
    expect(a?.traceId).toBe(callbackTraceId(`${base}/ok`, "e1"));
    expect(b?.traceId).toBe(a?.traceId);
    expect(b?.parentId).not.toBe(a?.parentId);
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    await deliverCallback({
      url: `${base}/ok`,
      secret: SECRET,
      eventId: "e2",
      body: {},
      signal: new AbortController().signal,
      traceId,
    });
    expect(parseTraceparent(received.at(-1)?.headers.traceparent)?.traceId).toBe(traceId);
    expect(callbackTraceId(`${base}/ok`, "e2")).not.toBe(a?.traceId);
  });

  it("reports a non-2xx, a redirect, a timeout and a refused connection as failures", async () => {
    expect(await send("/busy")).toEqual({
      ok: false,
      status: 503,
      error: "The callback URL answered HTTP 503",
    });
    expect(await send("/redirect")).toMatchObject({ ok: false, status: 302 });
    expect(await send("/slow", 100)).toEqual({
      ok: false,
      error: "The callback URL did not answer in time",
    });
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const refused = await deliverCallback({
      url: `http://127.0.0.1:${port}/`,
      secret: SECRET,
      eventId: "e1",
      body: {},
      signal: new AbortController().signal,
    });
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.error).toMatch(/could not be reached/);
  });
});
