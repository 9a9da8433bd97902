/**
 * Golden suites and contract tests on a real server, through the API and the `ballast` CLI:
 * cases taken from production's answers and captured from a logged live prediction, a suite
 * that passes on the live version and fails on a version whose predictions moved, the failing
 * version refused promotion (by `promote` and by a direct save), JUnit XML that parses, and
 * contract tests generated from the app's OpenAPI schema that the real server must honour.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { XMLParser } from "fast-xml-parser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHURN_RECORD, publishChurn } from "./helpers/churn.ts";
import { cliFor } from "./helpers/cli.ts";
import { api, type Json, startTestServer, type TestServer } from "./helpers/server.ts";
import { churnSpec } from "./helpers/specs.ts";
import { startUpstream, type Upstream } from "./helpers/upstream.ts";

let server: TestServer;
let upstream: Upstream;
let call: ReturnType<typeof api>;
let scratch: string;
const cli = cliFor(() => server);

/** Customers unlike each other: short and long tenure, cheap and dear plans. */
const RECORDS = [1, 12, 24, 48, 70].map((tenure, i) => ({
  ...CHURN_RECORD,
  tenure,
  contract: i % 2 === 0 ? "Month-to-month" : "Two year",
  monthly_charges: 20 + i * 20,
  total_charges: (20 + i * 20) * tenure,
}));

beforeAll(async () => {
  scratch = mkdtempSync(path.join(os.tmpdir(), "ballast-golden-"));
  upstream = await startUpstream({ kind: "ok", prediction: "moved" });
  server = await startTestServer();
  call = api(server, server.adminKey);
  await publishChurn(server);
}, 120_000);

afterAll(async () => {
  await server?.close();
  await upstream?.close();
  rmSync(scratch, { recursive: true, force: true });
});

const xml = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "" });
const asArray = <T>(v: T | T[] | undefined): T[] =>
  v === undefined ? [] : Array.isArray(v) ? v : [v];

describe("golden suites", () => {
  it("takes cases from production's answers and from a logged live prediction", async () => {
    const added = await call("POST", "/v1/apps/churn/golden", {
      cases: RECORDS.map((input, i) => ({ name: `customer-${i}`, input })),
    });
    expect(added.status, JSON.stringify(added.json)).toBe(201);
    expect(added.json.cases).toHaveLength(RECORDS.length);
    // The expected answer is what production answers now.
    for (const [i, c] of (added.json.cases as Json[]).entries()) {
      const live = await call("POST", "/v1/apps/churn/predict", RECORDS[i]);
      expect(c.expected.prediction).toBe(live.json.prediction);
      expect(c.expected.probabilities).toEqual(live.json.probabilities);
      expect(c.source).toBe("api");
    }
    // Captured from live traffic: the logged request's input and answer.
    const live = await call("POST", "/v1/apps/churn/predict", { ...CHURN_RECORD, tenure: 33 });
    let captured: Json;
    await expect
      .poll(
        async () => {
          captured = await call("POST", "/v1/apps/churn/golden/capture", {
            requestId: live.json.request_id,
            name: "from-live",
          });
          return captured.status;
        },
        { timeout: 15_000, interval: 200 },
      )
      .toBe(201);
    expect(captured.json).toMatchObject({
      name: "from-live",
      source: "live",
      requestId: live.json.request_id,
      input: { ...CHURN_RECORD, tenure: 33 },
      expected: { prediction: live.json.prediction },
    });
    // A case with a bad matcher is refused, naming the field, and nothing is stored.
    const bad = await call("POST", "/v1/apps/churn/golden", {
      input: CHURN_RECORD,
      match: { mode: "tolerance", relative: -1 },
    });
    expect(bad.status).toBe(400);
    expect(bad.json.error.details[0].path).toBe("/match/relative");
    expect((await call("GET", "/v1/apps/churn/golden")).json.cases).toHaveLength(6);
  });

  it("passes on production and writes JUnit XML, with contract tests from the OpenAPI schema", async () => {
    const junit = path.join(scratch, "live.xml");
    const run = await cli("test", "churn", "--junit", junit);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/churn golden \(production\): 6\/6 passed/);
    const doc = xml.parse(readFileSync(junit, "utf8"));
    const suites = asArray(doc.testsuites.testsuite) as Json[];
    expect(suites.map((s) => s.name)).toEqual([
      "churn golden (production)",
      "churn contract (production)",
    ]);
    expect(Number(doc.testsuites.failures)).toBe(0);
    const contract = suites[1];
    const cases = asArray(contract.testcase) as Json[];
    // Valid examples answered, invalid ones refused with a 4xx: a missing field, a wrong
    // type, an unknown field among them.
    expect(cases.length).toBeGreaterThan(20);
    const names = cases.map((c) => c.name);
    expect(names).toContain("missing tenure");
    expect(names.some((n: string) => /unknown field|extra field/.test(n))).toBe(true);
    expect(cases.filter((c) => c.failure || c.error)).toEqual([]);
  });

  it("fails on a version whose predictions moved, and blocks its promotion", async () => {
    // An outside scorer that now answers every record with another label.
    const saved = await call("POST", "/v1/apps/churn/versions", {
      spec: churnSpec({ middle: [{ id: "score", kind: "http", with: { url: upstream.url } }] }),
      deploy: "staging",
    });
    expect(saved.status).toBe(201);
    const moved = saved.json.version.version as number;

    const junit = path.join(scratch, "moved.xml");
    const run = await cli("test", "churn", "--version", String(moved), "--junit", junit);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/0\/6 passed/);
    expect(run.stdout).toMatch(/prediction: expected .* got "?moved/);
    const doc = xml.parse(readFileSync(junit, "utf8"));
    expect(Number(doc.testsuites.failures)).toBe(6);

    const promoted = await call("POST", "/v1/apps/churn/promote", {
      to: "production",
      strategy: "canary",
    });
    expect(promoted.status).toBe(409);
    expect(promoted.json.error.code).toBe("golden_failed");
    expect(promoted.json.error.details).toHaveLength(6);
    expect(promoted.json.error.details[0].message).toMatch(/moved/);
    // Nothing changed: production still serves v1, no release was started.
    const envs = (await call("GET", "/v1/apps/churn/environments")).json;
    expect(envs.production.version).toBe(1);
    expect(envs.staging.version).toBe(moved);
    expect((await call("GET", "/v1/apps/churn/releases")).json.active).toBeNull();

    // A direct save to production is gated the same way; the version stays in staging.
    const direct = await call("POST", "/v1/apps/churn/versions", {
      spec: churnSpec({ middle: [{ id: "score", kind: "http", with: { url: upstream.url } }] }),
    });
    expect(direct.status).toBe(409);
    expect(direct.json.error.code).toBe("golden_failed");
    expect((await call("GET", "/v1/apps/churn/environments")).json.production.version).toBe(1);
  });

  it("promotes a version within tolerance, after its suite passes", async () => {
    const saved = await call("POST", "/v1/apps/churn/versions", {
      spec: churnSpec({ policies: { cache: { enabled: true } } }),
      deploy: "staging",
    });
    const version = saved.json.version.version as number;
    const promoted = await call("POST", "/v1/apps/churn/promote", { to: "production" });
    expect(promoted.status, JSON.stringify(promoted.json)).toBe(201);
    expect(promoted.json.golden).toMatchObject({
      version,
      passed: 6,
      failed: 0,
      total: 6,
      ok: true,
    });
    expect(promoted.json.release).toMatchObject({ strategy: "direct", state: "succeeded" });
    const answer = await call("POST", "/v1/apps/churn/predict", CHURN_RECORD);
    expect(answer.json.app_version).toBe(version);
    // The same suite, run from here against the staging route, over HTTP.
    const staging = await cli("test", "churn", "--environment", "staging");
    expect(staging.code, staging.stdout + staging.stderr).toBe(0);
  });

  it("drives releases from the CLI: promote, releases, abort, rollback", async () => {
    const staged = await cli("promote", "churn", "--to", "staging", "--version", "1");
    expect(staged.code, staged.stderr).toBe(0);
    expect(staged.stdout).toMatch(/v1 deployed to staging/);
    const canary = await cli(
      "promote",
      "churn",
      "--strategy",
      "canary",
      "--steps",
      "10,100",
      "--interval",
      "3600",
    );
    expect(canary.code, canary.stderr).toBe(0);
    expect(canary.stdout).toMatch(/Golden suite on v1: 6\/6 passed/);
    expect(canary.stdout).toMatch(/canary release of v1 .*running, 10% of traffic/);
    const shown = await cli("releases", "churn");
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/production: v\d+ since/);
    expect(shown.stdout).toMatch(/staging: +v1 since/);
    expect(shown.stdout).toMatch(/STRATEGY/);
    const aborted = await cli("abort", "churn");
    expect(aborted.stdout).toMatch(/aborted, 0% of traffic/);
    const rolled = await cli("rollback", "churn");
    expect(rolled.code, rolled.stderr).toBe(0);
    expect(rolled.stdout).toMatch(/production serves v1/);
    const none = await cli("abort", "churn");
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/No release of churn is in progress/);
  });
});
