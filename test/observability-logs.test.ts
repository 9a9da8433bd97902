/**
 * Log lines of a real server at debug level, written to a file: personal data a caller plants
 * in inputs, field names, URLs, headers and webhook events never reaches the file, the masks
 * do, and every line of a request carries its request id and trace id. Also: every answer, on
 * any route and for any error, carries `X-Request-Id`.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHURN_RECORD, publishChurn } from "./helpers/churn.ts";
import { api, startTestServer, type TestServer } from "./helpers/server.ts";
import { churnSpec, saveSpec } from "./helpers/specs.ts";

const EMAIL = "jane.doe@example.com";
const PHONE = "+44 20 7946 0958";
const US_PHONE = "(555) 867-5309";
const CARD = "4111 1111 1111 1111";
const CARD_DASHED = "5500-0000-0000-0004";
const SSN = "078-05-1120";
const NINO = "AB123456C";
const IBAN = "GB82WEST12345698765432";
const IPV4 = "203.0.113.77";
const IPV6 = "2001:db8::8a2e:370:7334";
const PLANTED = [EMAIL, PHONE, US_PHONE, CARD, CARD_DASHED, SSN, NINO, IBAN, IPV4, IPV6];
/** The forms a value takes in a URL or a JSON string, which must not leak either. */
const LEAK_FORMS = PLANTED.flatMap((v) => [
  v,
  encodeURIComponent(v),
  v.replace(/ /g, "%20"),
  v.replace(/[ -]/g, ""),
]);

let server: TestServer;
let logDir: string;
let logFile: string;
const requestIds: string[] = [];
const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const TRACEPARENT = `00-${TRACE_ID}-00f067aa0ba902b7-01`;
let tracedRequestId = "";

interface LogLine {
  readonly level: number;
  readonly msg?: string;
  readonly reqId?: string;
  readonly traceId?: string;
  readonly [key: string]: unknown;
}

function readLog(): { text: string; lines: LogLine[] } {
  const text = readFileSync(logFile, "utf8");
  const lines = text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as LogLine);
  return { text, lines };
}

/** fetch that remembers the request id every answer carries. */
async function send(route: string, init: RequestInit = {}): Promise<Response> {
  const response = await fetch(new URL(route, server.url), init);
  await response.arrayBuffer();
  const id = response.headers.get("x-request-id");
  expect(id, `${init.method ?? "GET"} ${route} has no x-request-id`).toBeTruthy();
  if (id) requestIds.push(id);
  return response;
}

const authorized = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method: "POST",
  headers: {
    authorization: `Bearer ${server.adminKey}`,
    "content-type": "application/json",
    ...headers,
  },
  body: typeof body === "string" ? body : JSON.stringify(body),
});

beforeAll(async () => {
  logDir = mkdtempSync(path.join(os.tmpdir(), "ballast-logs-"));
  logFile = path.join(logDir, "server.log");
  server = await startTestServer({ logLevel: "debug", logDestination: logFile, logMaskIps: true });
  await publishChurn(server);
  const spec = churnSpec();
  await saveSpec(server, { ...spec, webhook: { enabled: true } });
}, 120_000);

afterAll(async () => {
  await server?.close();
  if (logDir) rmSync(logDir, { recursive: true, force: true });
});

describe("X-Request-Id", () => {
  it("is on every answer: success, 4xx, 404, bad JSON, too large, bad URL, no key", async () => {
    const call = api(server, server.adminKey);
    const answers = [
      await call("GET", "/healthz"),
      await call("POST", "/v1/apps/churn/predict", CHURN_RECORD),
      await call("POST", "/v1/apps/churn/predict", { ...CHURN_RECORD, tenure: "x" }),
      await call("GET", "/v1/no/such/route"),
      await call("POST", "/v1/apps/churn/predict", "{not json", {
        "content-type": "application/json",
      }),
      await call("POST", "/v1/apps/churn/predict", "x".repeat(1024 * 1024 + 10), {
        "content-type": "application/json",
      }),
      await call("GET", "/v1/apps/%E0%A4%A/metrics"),
      await api(server, undefined)("POST", "/v1/apps/churn/predict", CHURN_RECORD),
    ];
    expect(answers.map((a) => a.status)).toEqual([200, 200, 400, 404, 400, 413, 400, 401]);
    const ids = answers.map((a) => a.headers.get("x-request-id"));
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9._:-]{1,128}$/);
    expect(new Set(ids).size).toBe(ids.length);
    const chosen = await call("GET", "/healthz", undefined, { "x-request-id": "my-id.42" });
    expect(chosen.headers.get("x-request-id")).toBe("my-id.42");
  });
});

describe("log lines", () => {
  it("hold none of the personal data callers plant, and do hold the masks and ids", async () => {
    const predict = "/v1/apps/churn/predict";
    // A known field with a wrong type, unknown fields (one named by an address), huge strings.
    await send(predict, authorized({ ...CHURN_RECORD, tenure: EMAIL }));
    await send(predict, authorized({ ...CHURN_RECORD, [EMAIL]: PHONE, note: CARD, iban: IBAN }));
    const huge = `${"x".repeat(20_000)} ${SSN} ${CARD_DASHED} ${NINO} `.repeat(10);
    await send(predict, authorized({ ...CHURN_RECORD, comment: huge }));
    await send(predict, authorized({ rows: [{ ...CHURN_RECORD, phone: US_PHONE }] }));
    // Bad JSON: the parser's message quotes the body.
    await send(predict, authorized(`{"tenure": ${EMAIL} ${CARD}}`));
    // In the URL: the query (logged with the request) and a path that matches no route.
    await send(`${predict}?explain=${encodeURIComponent(PHONE)}`, authorized(CHURN_RECORD));
    await send(`${predict}?explain=${EMAIL}&c=${CARD_DASHED}`, authorized(CHURN_RECORD));
    await send(`/v1/lookup/${SSN}/${NINO}/${encodeURIComponent(US_PHONE)}`);
    await send(`/v1/lookup?ip=${IPV4}&ip6=${IPV6}&iban=${IBAN}&card=${CARD.replace(/ /g, "")}`);
    // Headers: forwarded addresses, a session id and a request id that are personal data.
    await send(
      predict,
      authorized(CHURN_RECORD, {
        "x-forwarded-for": `${IPV4}, ${IPV6}`,
        "x-real-ip": IPV4,
        "x-session-id": SSN,
        "user-agent": `curl (${EMAIL})`,
      }),
    );
    const idResponse = await fetch(new URL("/healthz", server.url), {
      headers: { "x-request-id": SSN },
    });
    expect(idResponse.headers.get("x-request-id")).toBe(SSN);
    // A webhook event quarantined because it is invalid.
    const hooked = await send(
      "/v1/hooks/churn",
      authorized({ tenure: "many", email: EMAIL, phone: PHONE, card: CARD, ssn: SSN, ip: IPV4 }),
    );
    expect(hooked.status).toBe(202);
    // A caller's trace.
    const traced = await send(predict, authorized(CHURN_RECORD, { traceparent: TRACEPARENT }));
    tracedRequestId = traced.headers.get("x-request-id") ?? "";

    const { text, lines } = readLog();
    for (const form of LEAK_FORMS) expect(text, `the log holds ${form}`).not.toContain(form);
    // Not vacuous: the masks are there, where the planted values would have been.
    for (const token of ["[email]", "[phone]", "[card]", "[national_id]", "[ip]"]) {
      expect(text, `no ${token} in the log`).toContain(token);
    }
    const refused = lines.filter((l) => l.msg === "request refused");
    expect(refused.length).toBeGreaterThanOrEqual(5);
    expect(JSON.stringify(refused)).toContain('"path":"/[email]"');
    const seen = new Set(lines.map((l) => l.reqId));
    for (const id of requestIds) expect(seen, `no line of request ${id}`).toContain(id);
    // The request id the caller chose was personal data: it is masked in the log.
    expect(lines.some((l) => l.reqId === "[national_id]")).toBe(true);
  });

  it("tag every line of a request with its reqId and traceId; a caller's trace is kept", () => {
    const { lines } = readLog();
    const ofRequests = lines.filter((l) => l.reqId !== undefined);
    expect(ofRequests.length).toBeGreaterThan(requestIds.length * 2);
    for (const line of ofRequests) expect(line.traceId).toMatch(/^[0-9a-f]{32}$/);
    const byRequest = new Map<string, Set<string>>();
    for (const line of ofRequests) {
      const ids = byRequest.get(line.reqId as string) ?? new Set<string>();
      ids.add(line.traceId as string);
      byRequest.set(line.reqId as string, ids);
    }
    // One trace per request, and different requests in different traces.
    for (const [reqId, traces] of byRequest) expect(traces.size, reqId).toBe(1);
    const traced = lines.filter((l) => l.reqId === tracedRequestId);
    expect(traced.map((l) => l.msg)).toEqual(
      expect.arrayContaining(["incoming request", "request completed"]),
    );
    for (const line of traced) expect(line.traceId).toBe(TRACE_ID);
    const others = [...byRequest.entries()].filter(([id]) => id !== tracedRequestId);
    expect(new Set(others.map(([, t]) => [...t][0])).size).toBe(others.length);
  });
});
