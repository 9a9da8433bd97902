/**
 * Property tests for the release routes that take user input: whatever is sent to `promote`,
 * `golden` and `staging/faults`, the answer is a 2xx or a 4xx naming what is wrong, never a
 * 5xx; and a refused request changes nothing (no release, no case, no fault armed).
 */
import fc from "fast-check";
import { afterAll, beforeAll, expect, it } from "vitest";
import { CHURN_RECORD, publishChurn } from "./helpers/churn.ts";
import { api, type Json, startTestServer, type TestServer } from "./helpers/server.ts";

let server: TestServer;
let call: ReturnType<typeof api>;

beforeAll(async () => {
  server = await startTestServer({ releaseTickMs: 3_600_000 });
  call = api(server, server.adminKey);
  await publishChurn(server);
}, 120_000);

afterAll(async () => server?.close());

const anything = fc.jsonValue({ maxDepth: 2 });
const field = <T>(arb: fc.Arbitrary<T>) => fc.option(fc.oneof(arb, anything), { nil: undefined });

async function state() {
  const [releases, golden, staging] = await Promise.all([
    call("GET", "/v1/apps/churn/releases"),
    call("GET", "/v1/apps/churn/golden"),
    call("GET", "/v1/apps/churn/staging/runtime"),
  ]);
  return JSON.stringify([
    releases.json.releases.map((r: Json) => [r.id, r.state]),
    golden.json.cases.map((c: Json) => c.id),
    staging.json.faults?.armed,
  ]);
}

it("refuses bad promote bodies with a 4xx and changes nothing", async () => {
  const body = fc.record(
    {
      to: field(fc.constantFrom("production", "staging", "prod")),
      version: field(fc.integer({ min: -2, max: 5 })),
      strategy: field(fc.constantFrom("direct", "canary", "shadow", "ab", "blue-green")),
      steps: field(fc.constantFrom("5,25,50,100", "50,25,100", "5,50", "", "x")),
      intervalSeconds: field(fc.integer({ min: -5, max: 100_000 })),
      percent: field(fc.double({ min: -10, max: 200, noNaN: true })),
      manualSteps: field(fc.constantFrom("", "25", "5", "abc")),
      splitHeader: field(fc.constantFrom("x-user", "X User", "")),
    },
    { requiredKeys: [] },
  );
  await fc.assert(
    fc.asyncProperty(fc.oneof(body, anything), async (b) => {
      const before = await state();
      const answer = await call("POST", "/v1/apps/churn/promote", b);
      expect(answer.status, JSON.stringify([b, answer.json])).toBeLessThan(500);
      if (answer.status >= 400) {
        expect(answer.json.error.code).toEqual(expect.any(String));
        expect(await state()).toBe(before);
      } else {
        // Accepted: undo it so the next body starts from the same place.
        const active = (await call("GET", "/v1/apps/churn/releases")).json.active;
        if (active) await call("POST", "/v1/apps/churn/abort");
      }
    }),
    { numRuns: 60 },
  );
}, 120_000);

it("refuses bad golden cases and fault settings with a 4xx naming the field, storing nothing", async () => {
  const staged = await call("POST", "/v1/apps/churn/promote", { to: "staging", version: 1 });
  expect(staged.status).toBe(201);
  const golden = fc.record(
    {
      name: field(fc.string({ maxLength: 120 })),
      input: field(fc.constant(CHURN_RECORD)),
      expected: field(fc.constant({ prediction: "No" })),
      match: field(
        fc.record(
          {
            mode: field(fc.constantFrom("exact", "tolerance", "schema", "fuzzy")),
            relative: field(fc.double({ min: -1, max: 2, noNaN: true })),
            probability: field(fc.double({ min: -1, max: 2, noNaN: true })),
            schema: field(fc.constant({ type: "object" })),
          },
          { requiredKeys: [] },
        ),
      ),
    },
    { requiredKeys: [] },
  );
  const fault = fc.record(
    {
      fault: field(fc.constantFrom("slow", "error", "hang", "explode")),
      rate: field(fc.double({ min: -1, max: 2, noNaN: true })),
      durationSeconds: field(fc.integer({ min: -1, max: 5000 })),
      delayMs: field(fc.integer({ min: -1, max: 1_000_000 })),
      target: field(fc.constantFrom("model", "http", "db")),
    },
    { requiredKeys: [] },
  );
  await fc.assert(
    fc.asyncProperty(fc.oneof(golden, anything), fault, async (g, f) => {
      const before = await state();
      const added = await call("POST", "/v1/apps/churn/golden", g);
      expect(added.status, JSON.stringify([g, added.json])).toBeLessThan(500);
      if (added.status >= 400) {
        expect(added.json.error.code).toEqual(expect.any(String));
        expect(await state()).toBe(before);
      } else {
        for (const c of added.json.cases) await call("DELETE", `/v1/apps/churn/golden/${c.id}`);
      }
      const armed = await call("PUT", "/v1/apps/churn/staging/faults", f);
      expect(armed.status, JSON.stringify([f, armed.json])).toBeLessThan(500);
      if (armed.status >= 400) {
        const { code, details } = armed.json.error;
        // A body the JSON parser refuses (a "__proto__" key) has no field to name.
        if (code !== "invalid_json") expect(details.length).toBeGreaterThan(0);
        for (const d of details) expect(d.path).toMatch(/^\//);
        expect((await call("GET", "/v1/apps/churn/staging/runtime")).json.faults.armed).toBe(false);
      } else {
        await call("DELETE", "/v1/apps/churn/staging/faults");
      }
    }),
    { numRuns: 60 },
  );
  // Production never had a fault: its answers are the model's.
  const answer = await call("POST", "/v1/apps/churn/predict", CHURN_RECORD);
  expect(answer.status).toBe(200);
}, 120_000);
