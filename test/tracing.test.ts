/**
 * OpenTelemetry spans from a real server to a real OTLP/HTTP receiver on loopback (a node:http
 * server decoding the exporter's JSON): a predict with a caller's `traceparent` is a SERVER
 * span in the caller's trace with the caller's span as parent, each pipeline step a child span,
 * and the http step's upstream receives a `traceparent` in the same trace, under the step span.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseTraceparent } from "../src/monitor/trace-context.ts";
import { CHURN_RECORD, publishChurn } from "./helpers/churn.ts";
import { api, startTestServer, type TestServer } from "./helpers/server.ts";
import { churnSpec, saveSpec } from "./helpers/specs.ts";
import { startUpstream, type Upstream } from "./helpers/upstream.ts";

/** An OTLP/JSON attribute value. */
interface AnyValue {
  readonly stringValue?: string;
  readonly intValue?: number | string;
  readonly boolValue?: boolean;
  readonly doubleValue?: number;
}
interface OtlpSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly name: string;
  readonly kind: number;
  readonly attributes: readonly { readonly key: string; readonly value: AnyValue }[];
  readonly status?: { readonly code?: number; readonly message?: string };
  readonly events?: readonly {
    readonly name: string;
    readonly attributes: readonly { key: string; value: AnyValue }[];
  }[];
}
interface ExportRequest {
  readonly resourceSpans: readonly {
    readonly resource: { readonly attributes: readonly { key: string; value: AnyValue }[] };
    readonly scopeSpans: readonly { readonly spans: readonly OtlpSpan[] }[];
  }[];
}

/** OTLP's span kinds (the API's plus one). */
const SERVER = 2;
const INTERNAL = 1;
/** OTLP status codes. */
const STATUS_ERROR = 2;

const TRACE_ID = "0af7651916cd43dd8448eb211c80319c";
const CALLER_SPAN = "b7ad6b7169203331";

let receiver: Server;
let receiverUrl: string;
const exports: ExportRequest[] = [];
const contentTypes: string[] = [];
let server: TestServer;
let upstream: Upstream;
let call: ReturnType<typeof api>;

function attr(span: OtlpSpan, key: string): string | number | boolean | undefined {
  const v = span.attributes.find((a) => a.key === key)?.value;
  if (!v) return undefined;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  return v.boolValue ?? v.doubleValue;
}

/** Every span received so far, after the server's processor has exported what it holds. */
async function spans(): Promise<OtlpSpan[]> {
  await server.ballast.tracing?.flush();
  return exports.flatMap((e) =>
    e.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans)),
  );
}

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      contentTypes.push(String(req.headers["content-type"]));
      if (req.method === "POST" && req.url === "/v1/traces") {
        exports.push(JSON.parse(Buffer.concat(chunks).toString("utf8")) as ExportRequest);
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  upstream = await startUpstream({ kind: "ok", prediction: "from-upstream" });
  server = await startTestServer({ otlpEndpoint: receiverUrl });
  call = api(server, server.adminKey);
  await publishChurn(server);
  await saveSpec(
    server,
    churnSpec({
      middle: [{ id: "enrich", kind: "http", with: { url: upstream.url, timeoutMs: 2000 } }],
    }),
  );
}, 120_000);

afterAll(async () => {
  await server?.close();
  await upstream?.close();
  receiver?.closeAllConnections();
  await new Promise<void>((resolve) => receiver?.close(() => resolve()) ?? resolve());
});

describe("tracing to an OTLP collector", () => {
  it("exports a server span in the caller's trace, step spans under it, and propagates to the upstream", async () => {
    upstream.reset();
    const r = await call("POST", "/v1/apps/churn/predict", CHURN_RECORD, {
      traceparent: `00-${TRACE_ID}-${CALLER_SPAN}-01`,
    });
    expect(r.status, r.text).toBe(200);
    expect(r.json.prediction).toBe("from-upstream");
    const all = await spans();
    expect(contentTypes).toContain("application/json");
    const inTrace = all.filter((s) => s.traceId === TRACE_ID);
    const serverSpan = inTrace.find((s) => s.kind === SERVER);
    expect(serverSpan).toBeDefined();
    if (!serverSpan) return;
    expect(serverSpan.parentSpanId).toBe(CALLER_SPAN);
    expect(serverSpan.name).toBe("POST /v1/apps/:app/predict");
    expect(attr(serverSpan, "http.request.method")).toBe("POST");
    expect(attr(serverSpan, "http.route")).toBe("/v1/apps/:app/predict");
    expect(attr(serverSpan, "http.response.status_code")).toBe(200);
    expect(attr(serverSpan, "ballast.outcome")).toBe("ok");
    expect(attr(serverSpan, "ballast.app")).toBe("churn");
    expect(attr(serverSpan, "ballast.app.version")).toBe(r.json.app_version);
    expect(attr(serverSpan, "ballast.workspace")).toBe(server.ballast.bootstrap.workspaceId);
    expect(serverSpan.status?.code ?? 0).not.toBe(STATUS_ERROR);

    const steps = inTrace.filter((s) => s.parentSpanId === serverSpan.spanId);
    expect(steps.every((s) => s.kind === INTERNAL)).toBe(true);
    expect(steps.map((s) => [attr(s, "ballast.step.kind"), attr(s, "ballast.step.id")])).toEqual(
      expect.arrayContaining([
        ["validate", "validate"],
        ["model", "model"],
        ["http", "enrich"],
      ]),
    );
    expect(steps).toHaveLength(3);
    const httpSpan = steps.find((s) => attr(s, "ballast.step.kind") === "http");
    // The upstream was called in the same trace, with the http step's span as its parent.
    expect(upstream.headers).toHaveLength(1);
    const sent = parseTraceparent(upstream.headers[0]?.traceparent);
    expect(sent).toEqual({ traceId: TRACE_ID, parentId: httpSpan?.spanId, sampled: true });
    // The resource names the service.
    const resource = exports[0]?.resourceSpans[0]?.resource.attributes ?? [];
    expect(resource.find((a) => a.key === "service.name")?.value.stringValue).toBe("ballast");
  });

  it("starts a trace of its own without (or with an invalid) traceparent", async () => {
    const invalid = `00-${TRACE_ID.toUpperCase()}-${CALLER_SPAN}-01`;
    const cases: Record<string, string>[] = [{}, { traceparent: invalid }];
    for (const headers of cases) {
      upstream.reset();
      const before = (await spans()).length;
      const r = await call("POST", "/v1/apps/churn/predict", CHURN_RECORD, headers);
      expect(r.status).toBe(200);
      const fresh = (await spans()).slice(before);
      const serverSpan = fresh.find((s) => s.kind === SERVER);
      expect(serverSpan?.parentSpanId ?? "").toBe("");
      expect(serverSpan?.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(serverSpan?.traceId).not.toBe(TRACE_ID);
      const sent = parseTraceparent(upstream.headers[0]?.traceparent);
      expect(sent?.traceId).toBe(serverSpan?.traceId);
    }
  });

  it("records a failing step and a 5xx answer as errors; a caller's 4xx is not one", async () => {
    upstream.mode = { kind: "error", status: 500 };
    const failed = await call("POST", "/v1/apps/churn/predict", CHURN_RECORD, {
      traceparent: `00-${"1".repeat(32)}-${CALLER_SPAN}-01`,
    });
    upstream.mode = { kind: "ok", prediction: "from-upstream" };
    expect(failed.status).toBe(502);
    const refused = await call(
      "POST",
      "/v1/apps/churn/predict",
      { ...CHURN_RECORD, tenure: "x" },
      {
        traceparent: `00-${"2".repeat(32)}-${CALLER_SPAN}-01`,
      },
    );
    expect(refused.status).toBe(400);
    const all = await spans();

    const failedTrace = all.filter((s) => s.traceId === "1".repeat(32));
    const failedServer = failedTrace.find((s) => s.kind === SERVER);
    expect(attr(failedServer as OtlpSpan, "http.response.status_code")).toBe(502);
    expect(attr(failedServer as OtlpSpan, "ballast.outcome")).toBe("error");
    expect(failedServer?.status?.code).toBe(STATUS_ERROR);
    const httpSpan = failedTrace.find((s) => attr(s, "ballast.step.kind") === "http");
    expect(httpSpan?.status?.code).toBe(STATUS_ERROR);
    expect(httpSpan?.events?.some((e) => e.name === "exception")).toBe(true);
    expect(attr(httpSpan as OtlpSpan, "error.type")).toBe("upstream_failed");

    const refusedTrace = all.filter((s) => s.traceId === "2".repeat(32));
    const refusedServer = refusedTrace.find((s) => s.kind === SERVER);
    expect(attr(refusedServer as OtlpSpan, "http.response.status_code")).toBe(400);
    expect(attr(refusedServer as OtlpSpan, "ballast.outcome")).toBe("client_error");
    expect(refusedServer?.status?.code ?? 0).not.toBe(STATUS_ERROR);
    const validate = refusedTrace.find((s) => attr(s, "ballast.step.kind") === "validate");
    expect(validate?.status?.code).toBe(STATUS_ERROR);
    expect(refusedTrace.some((s) => attr(s, "ballast.step.kind") === "model")).toBe(false);
  });

  it("traces every route, 404s and refused keys included", async () => {
    // POST: with a built Studio, GET falls through to its catch-all route.
    const notFound = await call(
      "POST",
      "/v1/no/such/route",
      {},
      {
        traceparent: `00-${"3".repeat(32)}-${CALLER_SPAN}-01`,
      },
    );
    const noKey = await api(server, undefined)("GET", "/v1/apps", undefined, {
      traceparent: `00-${"4".repeat(32)}-${CALLER_SPAN}-01`,
    });
    expect([notFound.status, noKey.status]).toEqual([404, 401]);
    const all = await spans();
    const a = all.find((s) => s.traceId === "3".repeat(32) && s.kind === SERVER);
    const b = all.find((s) => s.traceId === "4".repeat(32) && s.kind === SERVER);
    expect(a?.name).toBe("POST");
    expect(attr(a as OtlpSpan, "http.response.status_code")).toBe(404);
    expect(b?.name).toBe("GET /v1/apps");
    expect(attr(b as OtlpSpan, "http.response.status_code")).toBe(401);
    expect(b?.parentSpanId).toBe(CALLER_SPAN);
  });
});
