import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClientError } from "./client.ts";
import {
  type DrillContext,
  type DrillReport,
  type DrillSample,
  formatDrillReport,
  judgeDrill,
  parseDurationSeconds,
  parseRate,
  runDrill,
} from "./drill.ts";

const ok = (ms: number): DrillSample => ({ status: 200, ms, fallback: false, retryAfter: false });
const fell = (ms: number): DrillSample => ({ status: 200, ms, fallback: true, retryAfter: false });
const err = (status: number, code?: string, retryAfter = false, ms = 10): DrillSample => ({
  status,
  ms,
  ...(code !== undefined ? { code } : {}),
  fallback: false,
  retryAfter,
});

const CONTEXT: DrillContext = {
  fault: "error",
  rate: 0.5,
  target: "model",
  requestDeadlineMs: 1000,
  hasFallback: false,
  breakers: [],
  injected: { slow: 0, error: 10, hang: 0 },
};

const checkOf = (report: DrillReport, name: string) => report.checks.find((c) => c.name === name);

describe("judgeDrill", () => {
  it("computes nearest-rank percentiles, the max and the status counts", () => {
    // 1..100 ms: p50 is the 50th value, p99 the 99th.
    const samples = Array.from({ length: 100 }, (_, i) => ok(100 - i));
    samples.push(err(502, "upstream_failed", false, 0.5));
    const report = judgeDrill(samples, CONTEXT);
    expect(report.requests).toBe(101);
    // With 0.5 ms added: 101 values, rank ceil(50.5) = 51 → 50 ms; ceil(99.99) = 100 → 99 ms.
    expect(report.p50Ms).toBe(50);
    expect(report.p99Ms).toBe(99);
    expect(report.maxMs).toBe(100);
    expect(report.statuses).toEqual({ "200": 100, "502": 1 });
    expect(report.injected).toEqual({ slow: 0, error: 10, hang: 0 });
  });

  it("a healthy drill with coded 5xx and no fallback holds; n/a checks do not count", () => {
    const samples = [ok(20), ok(30), err(502, "injected_fault"), err(504, "deadline_exceeded")];
    const report = judgeDrill(samples, CONTEXT);
    expect(report.checks.map((c) => [c.name, c.held])).toEqual([
      ["deadline", true],
      ["no_500", true],
      ["fallback", null],
      ["breaker", null],
      ["shedding", null],
    ]);
    expect(report.held).toBe(true);
  });

  it("deadline: holds up to the deadline + 250 ms, fails one ms beyond", () => {
    const at = (ms: number) => judgeDrill([ok(10), ok(ms)], CONTEXT);
    expect(checkOf(at(1250), "deadline")?.held).toBe(true);
    const over = at(1251);
    expect(checkOf(over, "deadline")?.held).toBe(false);
    expect(checkOf(over, "deadline")?.detail).toContain("1 request(s)");
    expect(over.held).toBe(false);
  });

  it("no_500: a 500, an uncoded 5xx, an odd 5xx or no answer at all fail it", () => {
    for (const bad of [
      err(500, "internal"),
      err(502),
      err(501, "not_implemented"),
      err(0, "network_error"),
    ]) {
      const report = judgeDrill([ok(10), bad], CONTEXT);
      expect(checkOf(report, "no_500")?.held, JSON.stringify(bad)).toBe(false);
      expect(report.held).toBe(false);
    }
    // 4xx are the caller's business, not the app's failure.
    expect(checkOf(judgeDrill([err(429, "rate_limited", true)], CONTEXT), "no_500")?.held).toBe(
      true,
    );
  });

  it("fallback: with a fallback step, any 5xx but the bulkhead's own shedding fails it", () => {
    const withFallback = { ...CONTEXT, hasFallback: true };
    const good = judgeDrill([ok(5), fell(6), fell(7), err(503, "overloaded", true)], withFallback);
    expect(checkOf(good, "fallback")).toMatchObject({ held: true });
    expect(checkOf(good, "fallback")?.detail).toContain("2 answer(s) by the fallback");
    for (const leaked of [
      err(504, "deadline_exceeded"),
      err(502, "injected_fault"),
      err(503, "circuit_open", true),
    ]) {
      const report = judgeDrill([fell(5), leaked], withFallback);
      expect(checkOf(report, "fallback")?.held, JSON.stringify(leaked)).toBe(false);
    }
    const deadline = judgeDrill([err(504, "deadline_exceeded")], withFallback);
    expect(checkOf(deadline, "fallback")?.detail).toContain("timeout");
  });

  it("breaker: applies to error/hang faults on http steps at rate >= 0.5 only", () => {
    const http = {
      ...CONTEXT,
      target: "http" as const,
      breakers: [
        { step: "enrich", state: "closed", opened: false },
        { step: "rules", state: "closed", opened: false },
      ],
    };
    expect(checkOf(judgeDrill([ok(1)], http), "breaker")?.held).toBe(false);
    const opened = {
      ...http,
      breakers: [
        { step: "enrich", state: "half-open", opened: true },
        { step: "rules", state: "closed", opened: false },
      ],
    };
    expect(checkOf(judgeDrill([ok(1)], opened), "breaker")?.held).toBe(true);
    // Open now, even without the flag, counts.
    const openNow = { ...http, breakers: [{ step: "enrich", state: "open" }] };
    expect(checkOf(judgeDrill([ok(1)], openNow), "breaker")?.held).toBe(true);
    expect(checkOf(judgeDrill([ok(1)], { ...http, fault: "hang" }), "breaker")?.held).toBe(false);
    for (const notApplicable of [
      { ...http, fault: "slow" as const },
      { ...http, target: "model" as const },
      { ...http, rate: 0.49 },
      { ...http, breakers: [] },
    ]) {
      const report = judgeDrill([ok(1)], notApplicable);
      expect(checkOf(report, "breaker")?.held, JSON.stringify(notApplicable)).toBeNull();
      expect(report.held).toBe(true);
    }
  });

  it("shedding: every 503 must carry Retry-After; n/a without 503", () => {
    expect(checkOf(judgeDrill([ok(1)], CONTEXT), "shedding")?.held).toBeNull();
    const good = judgeDrill(
      [err(503, "overloaded", true), err(503, "circuit_open", true)],
      CONTEXT,
    );
    expect(checkOf(good, "shedding")?.held).toBe(true);
    const bad = judgeDrill([err(503, "overloaded", true), err(503, "overloaded", false)], CONTEXT);
    expect(checkOf(bad, "shedding")).toMatchObject({
      held: false,
      detail: "1 of 2 503(s) came without Retry-After",
    });
    expect(bad.held).toBe(false);
  });

  it("no request sent never holds", () => {
    const report = judgeDrill([], CONTEXT);
    expect(report.requests).toBe(0);
    expect(report.held).toBe(false);
    expect(report.p50Ms).toBe(0);
    expect(report.maxMs).toBe(0);
  });

  it("notes a drill that injected nothing, unknown counts, and skipped requests", () => {
    const none = judgeDrill([ok(1)], {
      ...CONTEXT,
      target: "http",
      injected: { slow: 0, error: 0, hang: 0 },
    });
    expect(none.notes.join(" ")).toContain("no http step");
    expect(judgeDrill([ok(1)], { ...CONTEXT, injected: null }).notes.join(" ")).toContain(
      "unknown",
    );
    const skipped = judgeDrill([ok(1)], { ...CONTEXT, skipped: 7 });
    expect(skipped.skipped).toBe(7);
    expect(skipped.notes.join(" ")).toContain("7 request(s) were not sent");
  });
});

describe("formatDrillReport", () => {
  it("shows the figures, one row per check and the verdict", () => {
    const report = judgeDrill(
      [ok(12), ok(14), err(500, "internal"), err(503, "overloaded", false)],
      { ...CONTEXT, fault: "hang", rate: 0.25 },
    );
    const text = formatDrillReport(report);
    expect(text).toContain("hang at 25% on model");
    expect(text).toContain("500 ×1");
    expect(text).toContain("503 ×1");
    expect(text).toMatch(/^deadline\s+yes\s/m);
    expect(text).toMatch(/^no_500\s+NO\s/m);
    expect(text).toMatch(/^fallback\s+n\/a\s/m);
    expect(text).toMatch(/^shedding\s+NO\s/m);
    expect(text.trimEnd().split("\n").at(-1)).toBe("NOT HELD: no_500, shedding.");
    const held = formatDrillReport(judgeDrill([ok(3)], CONTEXT));
    expect(held.trimEnd().split("\n").at(-1)).toBe("HELD: every applicable check passed.");
  });
});

describe("parseDurationSeconds and parseRate", () => {
  it("reads seconds with or without a unit", () => {
    expect(parseDurationSeconds("90")).toBe(90);
    expect(parseDurationSeconds("90s")).toBe(90);
    expect(parseDurationSeconds("5m")).toBe(300);
    expect(parseDurationSeconds("1h")).toBe(3600);
    expect(parseDurationSeconds("1.5m")).toBe(90);
    for (const bad of ["", "m", "-5", "5d", "five"]) {
      expect(parseDurationSeconds(bad)).toBeNaN();
    }
  });

  it("reads a share or a percentage", () => {
    expect(parseRate("0.2")).toBe(0.2);
    expect(parseRate("20%")).toBeCloseTo(0.2, 12);
    expect(parseRate("1")).toBe(1);
    expect(parseRate("abc")).toBeNaN();
    expect(parseRate("-0.1")).toBeNaN();
  });
});

/** A stand-in Ballast on 127.0.0.1 answering the drill's four routes. */
describe("runDrill against a server on 127.0.0.1", () => {
  let server: Server;
  let baseUrl: string;
  const log: { method: string; url: string; auth?: string; body?: unknown }[] = [];
  let predictions = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  let runtimeStatus = 200;

  const readBody = (req: IncomingMessage) =>
    new Promise<string>((resolve) => {
      let text = "";
      req.on("data", (chunk: Buffer) => {
        text += chunk.toString();
      });
      req.on("end", () => resolve(text));
    });

  beforeAll(async () => {
    server = createServer((req, res) => {
      void (async () => {
        const text = await readBody(req);
        const body = text ? (JSON.parse(text) as unknown) : undefined;
        const url = req.url ?? "";
        if (!url.endsWith("/predict")) {
          log.push({
            method: req.method ?? "",
            url,
            ...(req.headers.authorization ? { auth: req.headers.authorization } : {}),
            ...(body !== undefined ? { body } : {}),
          });
        }
        const send = (status: number, value: unknown, headers: Record<string, string> = {}) => {
          res.writeHead(status, { "content-type": "application/json", ...headers });
          res.end(JSON.stringify(value));
        };
        if (url.endsWith("/predict")) {
          const n = predictions++;
          inFlight++;
          maxInFlight = Math.max(maxInFlight, inFlight);
          await new Promise((resolve) => setTimeout(resolve, 5));
          inFlight--;
          // Every 4th answer: the fallback; every 10th: shed with Retry-After; one bare 500.
          if (n === 3) return send(500, { error: { code: "internal", message: "bug" } });
          if (n % 10 === 9) {
            return send(
              503,
              { error: { code: "overloaded", message: "full" } },
              { "retry-after": "1" },
            );
          }
          if (n % 4 === 0) return send(200, { prediction: "no", fallback: { reason: "x" } });
          return send(200, { prediction: "yes" });
        }
        if (url.endsWith("/runtime")) {
          return send(runtimeStatus, {
            requestDeadlineMs: 5000,
            hasFallback: true,
            breakers: [{ step: "enrich", state: "open", opened: 2 }],
            faults: { injected: { slow: 0, error: 7, hang: 0 } },
          });
        }
        if (url.endsWith("/faults")) return send(200, { ok: true });
        return send(404, { error: { code: "not_found", message: "no" } });
      })();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it("arms the fault, sends rps × duration requests on schedule, reads the runtime, disarms", async () => {
    log.length = 0;
    predictions = 0;
    const started = performance.now();
    const report = await runDrill({
      baseUrl,
      apiKey: "k_secret",
      app: "churn",
      fault: "error",
      rate: 0.5,
      durationSeconds: 1,
      rps: 40,
      target: "http",
      input: { x: 1 },
    });
    const elapsed = performance.now() - started;
    // 40 requests spread over one second: the last leaves at 975 ms.
    expect(elapsed).toBeGreaterThanOrEqual(950);
    expect(predictions).toBe(40);
    expect(report.requests).toBe(40);
    expect(report.skipped).toBe(0);
    expect(log).toEqual([
      {
        method: "PUT",
        url: "/v1/apps/churn/staging/faults",
        auth: "Bearer k_secret",
        body: { fault: "error", rate: 0.5, durationSeconds: 1, target: "http" },
      },
      { method: "GET", url: "/v1/apps/churn/staging/runtime", auth: "Bearer k_secret" },
      { method: "DELETE", url: "/v1/apps/churn/staging/faults", auth: "Bearer k_secret" },
    ]);
    // Answers 0..39: #3 is a 500; 9, 19, 29, 39 shed; fallback on multiples of 4 except none shed.
    expect(report.statuses).toEqual({ "200": 35, "500": 1, "503": 4 });
    expect(report.injected).toEqual({ slow: 0, error: 7, hang: 0 });
    const held = Object.fromEntries(report.checks.map((c) => [c.name, c.held]));
    expect(held).toEqual({
      deadline: true,
      no_500: false,
      // The bare 500 is a failure the fallback did not answer; the 503s were shed at the door.
      fallback: false,
      breaker: true,
      shedding: true,
    });
    expect(checkOf(report, "fallback")?.detail).toContain("10 answer(s) by the fallback");
    expect(report.held).toBe(false);
  });

  it("disarms even when reading the runtime fails, and reports the server's error", async () => {
    log.length = 0;
    runtimeStatus = 403;
    try {
      const error = await runDrill({
        baseUrl,
        app: "churn",
        fault: "hang",
        rate: 1,
        durationSeconds: 1,
        rps: 5,
        input: { x: 1 },
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ClientError);
      expect((error as ClientError).status).toBe(403);
      expect(log.map((l) => l.method)).toEqual(["PUT", "GET", "DELETE"]);
    } finally {
      runtimeStatus = 200;
    }
  });
});

describe("runDrill's bounds", () => {
  /** A fetch whose predictions never answer until the client gives up. */
  function hangingServer() {
    const calls: string[] = [];
    const fetchImpl: typeof fetch = (input, init) => {
      const url = String(input);
      calls.push(`${init?.method ?? "GET"} ${new URL(url).pathname}`);
      if (url.endsWith("/predict")) {
        return new Promise<Response>((_, reject) => {
          init?.signal?.addEventListener("abort", () => reject(init.signal?.reason), {
            once: true,
          });
        });
      }
      const body = url.endsWith("/runtime")
        ? {
            requestDeadlineMs: 100,
            hasFallback: false,
            breakers: [],
            faults: null,
          }
        : {};
      return Promise.resolve(new Response(JSON.stringify(body), { status: 200 }));
    };
    return { fetchImpl, calls };
  }

  it("keeps at most `concurrency` in flight, skipping the rest; hung requests fail the deadline", async () => {
    const { fetchImpl, calls } = hangingServer();
    const report = await runDrill(
      {
        baseUrl: "http://127.0.0.1:1",
        app: "a",
        fault: "hang",
        rate: 1,
        durationSeconds: 1,
        rps: 20,
        concurrency: 3,
        clientTimeoutMs: 2000,
        input: {},
      },
      fetchImpl,
    );
    expect(calls.filter((c) => c.endsWith("/predict")).length).toBe(3);
    expect(report.requests).toBe(3);
    expect(report.skipped).toBe(17);
    expect(report.statuses).toEqual({ "0": 3 });
    expect(checkOf(report, "deadline")?.held).toBe(false);
    expect(checkOf(report, "no_500")?.detail).toContain("client_timeout");
    expect(report.injected).toBeNull();
    expect(calls.at(-1)).toBe("DELETE /v1/apps/a/staging/faults");
  });

  it("refuses options out of range before calling the server", async () => {
    const { fetchImpl, calls } = hangingServer();
    const base = {
      baseUrl: "http://127.0.0.1:1",
      app: "a",
      fault: "error" as const,
      rate: 0.5,
      durationSeconds: 5,
      rps: 20,
      input: {},
    };
    for (const bad of [
      { rate: 1.5 },
      { rps: 501 },
      { rps: 0.5 },
      { durationSeconds: 0 },
      { durationSeconds: 3601 },
      { concurrency: 0 },
      { delayMs: -1 },
    ]) {
      await expect(runDrill({ ...base, ...bad }, fetchImpl), JSON.stringify(bad)).rejects.toThrow(
        RangeError,
      );
    }
    expect(calls).toEqual([]);
  });
});
