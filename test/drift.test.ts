/**
 * Drift end to end: the churn app served over HTTP, 5,000 single-row requests drawn from its
 * training rows (nothing may be flagged), then 5,000 with monthly_charges × 1.5 (that feature and
 * only that one flagged by PSI and KS, and the dataset by the app's share rule), read back through
 * `GET /v1/apps/churn/drift`. The app's spec sets `monitoring.drift.datasetShare` to 0.05, so one
 * drifted feature of 19 (0.053) is dataset drift and none is not.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rowRecord } from "../src/data/frame.ts";
import { ingestFile } from "../src/data/index.ts";
import type { DriftReportDto, FeatureDriftDto } from "../src/server/monitor-api-types.ts";
import { DEFAULT_MONITORING } from "../src/spec/monitoring.ts";
import { publishChurn } from "./helpers/churn.ts";
import { api, CHURN_CSV, startTestServer, type TestServer } from "./helpers/server.ts";
import { churnSpec, saveSpec } from "./helpers/specs.ts";

const DRIFT = DEFAULT_MONITORING.drift;
const ROWS = 5000;
const IN_FLIGHT = 16;

/** A seeded generator (mulberry32), so every run sends the same rows. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("drift of the served churn app", () => {
  let server: TestServer;
  let records: Record<string, unknown>[];

  beforeAll(async () => {
    server = await startTestServer();
    await publishChurn(server);
    await saveSpec(server, {
      ...churnSpec({ policies: { rateLimit: { perKeyPerSecond: 0, perAppPerSecond: 0 } } }),
      monitoring: { drift: { datasetShare: 0.05 } },
    });
    const { frame } = await ingestFile(CHURN_CSV);
    records = Array.from({ length: frame.rowCount }, (_, r) => {
      const { churn: _target, ...record } = rowRecord(frame, r);
      return record;
    });
  });
  afterAll(async () => {
    await server?.close();
  });

  /** Send `n` single-row predictions drawn from the training rows, `IN_FLIGHT` at a time. */
  async function send(n: number, seed: number, change?: (r: Record<string, unknown>) => void) {
    const next = random(seed);
    const bodies = Array.from({ length: n }, () => {
      const record = {
        ...(records[Math.floor(next() * records.length)] as Record<string, unknown>),
      };
      change?.(record);
      return JSON.stringify(record);
    });
    const url = new URL("/v1/apps/churn/predict", server.url);
    const headers = {
      authorization: `Bearer ${server.adminKey}`,
      "content-type": "application/json",
    };
    let cursor = 0;
    const statuses = new Map<number, number>();
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (cursor < bodies.length) {
          const body = bodies[cursor++] as string;
          const response = await fetch(url, { method: "POST", headers, body });
          await response.arrayBuffer();
          statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        }
      }),
    );
    expect(Object.fromEntries(statuses)).toEqual({ 200: n });
  }

  /** The report once the monitor has seen `rows` rows in the window (answers are observed after sending). */
  async function report(window: "time" | "count", rows: number): Promise<DriftReportDto> {
    const call = api(server, server.adminKey);
    for (let attempt = 0; ; attempt++) {
      const response = await call("GET", `/v1/apps/churn/drift?window=${window}`);
      expect(response.status).toBe(200);
      const body = response.json as DriftReportDto;
      if (body.window.rows >= rows || attempt > 50) return body;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  const flaggedByPsiAndKs = (f: FeatureDriftDto) =>
    f.psi >= DRIFT.psiAlert && f.ks !== null && f.ks.pValue < DRIFT.pValue;

  it("5,000 requests from the training rows: nothing is flagged", async () => {
    await send(ROWS, 1);
    const body = await report("count", ROWS);
    expect(body.app).toBe("churn");
    expect(body.version).toBe(2);
    expect(body.window.kind).toBe("count");
    expect(body.window.rows).toBe(ROWS);
    expect(body.enoughData).toBe(true);
    expect(body.features).toHaveLength(19);
    expect(body.features.filter((f) => f.drifted)).toEqual([]);
    expect(body.features.filter(flaggedByPsiAndKs)).toEqual([]);
    for (const f of body.features) expect(f.psi, f.feature).toBeLessThan(DRIFT.psiWarn);
    expect(body.dataset).toEqual({
      drifted: false,
      driftedFeatures: 0,
      features: 19,
      share: 0,
      threshold: 0.05,
    });
    expect(body.prediction?.drifted).toBe(false);
    // 5,000 rows: distances decide (Evidently's rule), PSI and KS are reported beside them.
    const charges = body.features.find((f) => f.feature === "monthly_charges");
    expect(charges?.test.name).toBe("wasserstein");
    expect(charges?.ks?.method).toBe("asymptotic");
    expect(body.features.find((f) => f.feature === "contract")?.test.name).toBe("jensenshannon");
  });

  it("5,000 more with monthly_charges × 1.5: that feature, and only that one, is flagged", async () => {
    await send(ROWS, 2, (r) => {
      r.monthly_charges = Number(r.monthly_charges) * 1.5;
    });
    // The count window now holds the shifted rows only.
    const body = await report("count", ROWS);
    const last = await report("time", 2 * ROWS);
    expect(last.window.rows).toBe(2 * ROWS);
    expect(body.window.rows).toBe(ROWS);
    expect(body.features.filter(flaggedByPsiAndKs).map((f) => f.feature)).toEqual([
      "monthly_charges",
    ]);
    expect(body.features.filter((f) => f.drifted).map((f) => f.feature)).toEqual([
      "monthly_charges",
    ]);
    const charges = body.features[0];
    expect(charges?.feature).toBe("monthly_charges");
    expect(charges?.psiLevel).toBe("alert");
    expect(charges?.ks?.pValue).toBeLessThan(DRIFT.pValue);
    expect(charges?.test).toMatchObject({ name: "wasserstein", threshold: 0.1, drifted: true });
    for (const f of body.features.slice(1)) expect(f.psiLevel, f.feature).toBe("ok");
    // Bins named by the column's values: the shifted charges fill the top decile and beyond.
    expect(charges?.bins.at(-1)?.label).toMatch(/^> \d/);
    expect(charges?.bins.at(-1)?.live).toBeGreaterThan(0.3);
    expect(body.dataset).toMatchObject({ drifted: true, driftedFeatures: 1, features: 19 });
    expect(body.dataset.share).toBeCloseTo(1 / 19, 12);
    // The time window (the last hour) holds both halves: still drifted, and the alert source agrees.
    expect(last.features[0]?.feature).toBe("monthly_charges");
    expect(last.features[0]?.drifted).toBe(true);
    const dataset = server.ballast.context.drift.datasetDrift(
      server.ballast.bootstrap.workspaceId,
      "churn",
    );
    expect(dataset).toEqual({
      version: 2,
      drifted: true,
      share: 1 / 19,
      driftedFeatures: ["monthly_charges"],
      rows: 2 * ROWS,
    });
  });

  it("a version that has not served answers its baseline with empty live bins", async () => {
    const call = api(server, server.adminKey);
    const response = await call("GET", "/v1/apps/churn/drift?version=1&window=count");
    expect(response.status).toBe(200);
    const body = response.json as DriftReportDto;
    expect(body.version).toBe(1);
    expect(body.window).toEqual({ kind: "count", from: null, to: null, rows: 0 });
    expect(body.enoughData).toBe(false);
    const contract = body.features.find((f) => f.feature === "contract");
    expect(contract?.bins.map((b) => b.label).sort()).toEqual([
      "Month-to-month",
      "One year",
      "Two year",
    ]);
  });

  it("refuses bad queries with a 4xx naming the field, unknown apps and versions with 404", async () => {
    const call = api(server, server.adminKey);
    const bad = await call("GET", "/v1/apps/churn/drift?window=hourly");
    expect(bad.status).toBe(400);
    expect(bad.json.error.details[0].path).toBe("querystring/window");
    const version = await call("GET", "/v1/apps/churn/drift?version=0");
    expect(version.status).toBe(400);
    expect(version.json.error.details[0].path).toBe("querystring/version");
    expect((await call("GET", "/v1/apps/churn/drift?version=9")).status).toBe(404);
    expect((await call("GET", "/v1/apps/nope/drift")).status).toBe(404);
    expect((await api(server, undefined)("GET", "/v1/apps/churn/drift")).status).toBe(401);
  });

  it("property: any query answers 200 or a 4xx, never a 5xx", async () => {
    const call = api(server, server.adminKey);
    await fc.assert(
      fc.asyncProperty(
        fc.record(
          {
            window: fc.oneof(fc.constantFrom("time", "count"), fc.string({ maxLength: 8 })),
            version: fc.oneof(fc.integer({ min: -3, max: 4 }), fc.string({ maxLength: 6 })),
            extra: fc.string({ maxLength: 6 }),
          },
          { requiredKeys: [] },
        ),
        async (query) => {
          const params = new URLSearchParams();
          for (const [k, v] of Object.entries(query)) params.set(k, String(v));
          const response = await call("GET", `/v1/apps/churn/drift?${params}`);
          expect([200, 400, 404]).toContain(response.status);
          if (response.status === 400)
            expect(response.json.error.details[0].path).toMatch(/^querystring/);
        },
      ),
      { numRuns: 60 },
    );
  });
});
