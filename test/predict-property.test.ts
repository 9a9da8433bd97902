/**
 * Property test: whatever a caller sends to the predict route, the answer is never a 5xx.
 * Bodies are generated around the real contract (valid records with one field mutated to
 * arbitrary JSON, batches, missing and extra fields) and from arbitrary JSON and raw text.
 */
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { afterAll, beforeAll, expect, it } from "vitest";
import { oneFieldChanged } from "./helpers/arbitraries.ts";
import { api, CHURN_CSV, startTestServer, type TestServer } from "./helpers/server.ts";

let server: TestServer;
let fields: string[] = [];
let sample: Record<string, unknown> = {};

beforeAll(async () => {
  server = await startTestServer();
  const call = api(server, server.adminKey);
  const response = await fetch(
    new URL("/v1/datasets?name=churn&filename=wa_churn.csv", server.url),
    {
      method: "POST",
      headers: { authorization: `Bearer ${server.adminKey}` },
      body: readFileSync(CHURN_CSV),
    },
  );
  expect(response.status).toBe(201);
  const train = await call("POST", "/v1/train", {
    dataset: "churn",
    target: "churn",
    timeBudgetSeconds: 2,
  });
  await server.ballast.training.waitFor(train.json.job.id);
  expect((await call("POST", "/v1/apps", { model: "churn", maxRows: 20 })).status).toBe(201);
  // Rate limits off: a fast run of 1,000 requests would otherwise be mostly 429s, and the
  // property must see the route's own answers (200 and 400) in numbers.
  const { churnSpec, saveSpec } = await import("./helpers/specs.ts");
  const spec = churnSpec({ policies: { rateLimit: { perKeyPerSecond: 0, perAppPerSecond: 0 } } });
  const steps = spec.steps as { kind: string; with?: Record<string, unknown> }[];
  for (const step of steps) if (step.kind === "validate") step.with = { maxRows: 20 };
  await saveSpec(server, spec);
  const app = await call("GET", "/v1/apps/churn");
  fields = Object.keys(app.json.app.inputSchema.properties);
  sample = Object.fromEntries(
    fields.map((f) => {
      const s = app.json.app.inputSchema.properties[f];
      const type = Array.isArray(s.type) ? s.type[0] : s.type;
      return [f, type === "number" ? 1 : type === "string" ? (s.examples?.[0] ?? "x") : 1];
    }),
  );
}, 120_000);

afterAll(async () => server?.close());

it("never answers 5xx to 1,000 generated bodies", async () => {
  const json = fc.jsonValue({ maxDepth: 3 });
  const mutated = oneFieldChanged(sample, fields, json, ["extra", "rows", ""]);
  const batch = fc
    .array(fc.oneof(fc.constant(sample), json), { maxLength: 25 })
    .map((rows) => JSON.stringify({ rows }));
  const anything = json.map((v) => JSON.stringify(v));
  const text = fc.string({ maxLength: 200 });
  const body = fc.oneof(mutated, mutated, batch, anything, text);
  let statuses = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(body, async (payload) => {
      const response = await fetch(new URL("/v1/apps/churn/predict", server.url), {
        method: "POST",
        headers: { authorization: `Bearer ${server.adminKey}`, "content-type": "application/json" },
        body: payload,
      });
      await response.arrayBuffer();
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      return response.status < 500;
    }),
    { numRuns: 1000, seed: 20261122 },
  );
  // The generator must exercise both answers, or the property proves little.
  expect(statuses.get(200) ?? 0).toBeGreaterThan(50);
  expect(statuses.get(400) ?? 0).toBeGreaterThan(50);
  statuses = new Map();
}, 120_000);

it("never answers 5xx to generated session ids and idempotency keys, on predict and sessions", async () => {
  // The app now remembers sessions and takes idempotency keys; limits off so 429s hide nothing.
  const { churnSpec, saveSpec } = await import("./helpers/specs.ts");
  await saveSpec(
    server,
    churnSpec({
      session: { ttlSeconds: 60, maxTurns: 3 },
      policies: { rateLimit: { perKeyPerSecond: 0, perAppPerSecond: 0 } },
    }),
  );
  const headerText = fc.oneof(
    fc.string({ maxLength: 140 }),
    fc.stringMatching(/^[A-Za-z0-9._:-]{1,20}$/),
    fc.constant(""),
  );
  const statuses = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(
      fc.record({ session: fc.option(headerText), key: fc.option(headerText), drop: fc.boolean() }),
      async ({ session, key, drop }) => {
        const headers: Record<string, string> = {
          authorization: `Bearer ${server.adminKey}`,
          "content-type": "application/json",
        };
        // Header values fetch cannot send (control or non-ASCII characters) are the HTTP
        // layer's to refuse: send only visible ASCII and spaces.
        const safe = (v: string) => [...v].every((c) => c >= " " && c <= "~");
        if (session !== null && safe(session)) headers["x-session-id"] = session;
        if (key !== null && safe(key)) headers["idempotency-key"] = key;
        const record = { ...sample };
        if (drop) delete record[fields[0] as string];
        const predict = await fetch(new URL("/v1/apps/churn/predict", server.url), {
          method: "POST",
          headers,
          body: JSON.stringify(record),
        });
        await predict.arrayBuffer();
        statuses.set(predict.status, (statuses.get(predict.status) ?? 0) + 1);
        const id = encodeURIComponent(session ?? "x");
        const read = await fetch(new URL(`/v1/apps/churn/sessions/${id}`, server.url), {
          headers: { authorization: `Bearer ${server.adminKey}` },
        });
        await read.arrayBuffer();
        return predict.status < 500 && read.status < 500;
      },
    ),
    { numRuns: 300, seed: 20261122 },
  );
  expect(statuses.get(200) ?? 0).toBeGreaterThan(20);
  expect(statuses.get(400) ?? 0).toBeGreaterThan(20);
}, 120_000);
