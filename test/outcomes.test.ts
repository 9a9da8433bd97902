/**
 * Outcomes on a real server: the churn app answers a few hundred predictions for rows of the
 * shipped wa_churn.csv, the caller reports their true labels (some before their prediction is
 * even made, some after it is logged, some in a batch, some twice) and business events, and the
 * live report must equal what this test computes offline from the answers it got (its own AUC:
 * every positive/negative pair counted, ties one half). A regression app (monthly charges from
 * the same file) checks RMSE and MAE. Bad bodies are 400s naming the field and store nothing;
 * random junk never gets a 5xx and never moves the report.
 */
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rowRecord } from "../src/data/frame.ts";
import { ingestFile } from "../src/data/ingest.ts";
import { publishChurn } from "./helpers/churn.ts";
import { api, CHURN_CSV, type Json, startTestServer, type TestServer } from "./helpers/server.ts";

let server: TestServer;
let call: ReturnType<typeof api>;
/** The file's rows as a caller sends them, with the true churn label beside each. */
let rows: { record: Record<string, unknown>; churn: string; charges: number }[];

beforeAll(async () => {
  server = await startTestServer();
  await publishChurn(server);
  call = api(server, server.adminKey);
  const { frame } = await ingestFile(CHURN_CSV);
  rows = Array.from({ length: 400 }, (_, k) => {
    // Every 17th row: spread over the file, not just its head.
    const { churn, ...record } = rowRecord(frame, (k * 17) % frame.rowCount);
    return { record, churn: String(churn), charges: Number(record.monthly_charges) };
  });
}, 180_000);

afterAll(async () => {
  await server?.close();
});

/** An independent AUC: the share of (positive, negative) pairs ranked right, ties one half. */
function pairwiseAuc(labels: readonly boolean[], scores: readonly number[]): number {
  let wins = 0;
  let pairs = 0;
  for (let i = 0; i < labels.length; i++) {
    if (!labels[i]) continue;
    for (let j = 0; j < labels.length; j++) {
      if (labels[j]) continue;
      const si = scores[i] as number;
      const sj = scores[j] as number;
      wins += si > sj ? 1 : si === sj ? 0.5 : 0;
      pairs++;
    }
  }
  return wins / pairs;
}

const report = async (app = "churn"): Promise<Json> => {
  const answer = await call("GET", `/v1/apps/${app}/outcomes?window=1h`);
  expect(answer.status).toBe(200);
  return answer.json;
};

/** Wait until the prediction log holds `n` predictions of the app (it writes about every second). */
async function loggedPredictions(n: number, app = "churn"): Promise<Json> {
  await expect
    .poll(async () => (await report(app)).versions[0]?.predictions ?? 0, { timeout: 15_000 })
    .toBe(n);
  return report(app);
}

const outcomes = (body: unknown, app = "churn") => call("POST", `/v1/apps/${app}/outcomes`, body);

/** What the test saw: per logged prediction, its true label, P(Yes) and predicted label. */
interface Seen {
  readonly id: string;
  readonly row: number;
  readonly churn: string;
  readonly pYes: number;
  readonly predicted: string;
}

describe("outcomes of the churn app", () => {
  const seen: Seen[] = [];
  let before: Json;

  it("joins true labels reported before, after and in batches to the logged predictions", async () => {
    const groupA = rows.slice(0, 100);
    const groupB = rows.slice(100, 200);
    const groupC = rows.slice(200, 300);

    // A: the labels arrive before the predictions are even made (the caller chose the ids).
    const early = await outcomes({
      outcomes: groupA.map((r, i) => ({ request_id: `a-${i}`, actual: r.churn })),
    });
    expect(early.status).toBe(202);
    expect(early.json).toEqual({ accepted: 100, joined: 0 });
    for (const [i, r] of groupA.entries()) {
      const answer = await call("POST", "/v1/apps/churn/predict", r.record, {
        "x-request-id": `a-${i}`,
      });
      expect(answer.status).toBe(200);
      expect(answer.json.request_id).toBe(`a-${i}`);
      seen.push({
        id: `a-${i}`,
        row: 0,
        churn: r.churn,
        pYes: answer.json.probabilities.Yes,
        predicted: answer.json.prediction,
      });
    }
    // B: batch predictions of 10 rows; their labels come later, per row.
    for (let k = 0; k < 10; k++) {
      const batch = groupB.slice(k * 10, k * 10 + 10);
      const answer = await call("POST", "/v1/apps/churn/predict", {
        rows: batch.map((r) => r.record),
      });
      expect(answer.status).toBe(200);
      for (const [row, p] of (answer.json.predictions as Json[]).entries()) {
        seen.push({
          id: answer.json.request_id,
          row,
          churn: batch[row]?.churn ?? "",
          pYes: p.probabilities.Yes,
          predicted: p.prediction,
        });
      }
    }
    // C: single predictions, server-chosen request ids.
    for (const r of groupC) {
      const answer = await call("POST", "/v1/apps/churn/predict", r.record);
      expect(answer.status).toBe(200);
      seen.push({
        id: answer.json.request_id,
        row: 0,
        churn: r.churn,
        pYes: answer.json.probabilities.Yes,
        predicted: answer.json.prediction,
      });
    }
    // Group A's outcomes were stored before their predictions; the report joins them now.
    const partial = await loggedPredictions(300);
    expect(partial.versions[0].metrics.labelled).toBe(100);

    const b = seen.slice(100, 200);
    const batch = await outcomes({
      outcomes: b.map((s) => ({ request_id: s.id, row: s.row, actual: s.churn })),
    });
    expect(batch.json).toEqual({ accepted: 100, joined: 100 });
    const c = seen.slice(200, 300);
    for (const [i, s] of c.entries()) {
      // The first ten are reported wrong first (as booleans: true is the yes/no model's "Yes"),
      // then corrected: the latest report wins.
      if (i < 10) {
        const wrong = await outcomes({ request_id: s.id, actual: s.churn !== "Yes" });
        expect(wrong.json).toEqual({ accepted: 1, joined: 1 });
      }
      const right = await outcomes({ request_id: s.id, actual: s.churn });
      expect(right.status).toBe(202);
      expect(right.json).toEqual({ accepted: 1, joined: 1 });
    }

    const live = await report();
    expect(live).toMatchObject({ app: "churn", task: "binary", window: "1h", stepSeconds: 60 });
    expect(live.versions).toHaveLength(1);
    const v = live.versions[0];
    expect(v.version).toBe(1);
    expect(v.predictions).toBe(300);
    const auc = pairwiseAuc(
      seen.map((s) => s.churn === "Yes"),
      seen.map((s) => s.pYes),
    );
    const accuracy = seen.filter((s) => s.predicted === s.churn).length / seen.length;
    expect(auc).toBeGreaterThan(0.6);
    expect(v.metrics.labelled).toBe(300);
    expect(Math.abs(v.metrics.auc - auc)).toBeLessThan(1e-9);
    expect(Math.abs(v.metrics.accuracy - accuracy)).toBeLessThan(1e-9);
    expect(v.metrics).toMatchObject({ rmse: null, mae: null, events: 0 });
    expect(v.points.length).toBeLessThanOrEqual(60);
    const sum = (key: string) => v.points.reduce((t: number, p: Json) => t + p[key], 0);
    expect(sum("predictions")).toBe(300);
    expect(sum("labelled")).toBe(300);
    before = live;
  });

  it("counts business events per name as conversions of logged predictions", async () => {
    const renewed = seen.slice(0, 40);
    const upgraded = seen.slice(35, 45);
    const renewals = renewed.map((s, i) => ({
      request_id: s.id,
      row: s.row,
      event: "renewed",
      value: 10 + i,
    }));
    // The first renewal is reported with a wrong value first: the later report replaces it.
    await outcomes({ ...renewals[0], value: 1000 });
    expect((await outcomes({ outcomes: renewals })).json).toEqual({ accepted: 40, joined: 40 });
    const upgrades = upgraded.map((s) => ({ request_id: s.id, row: s.row, event: "upgraded" }));
    expect((await outcomes({ outcomes: upgrades })).status).toBe(202);
    // An event for a request that was never logged is accepted and joins nothing.
    expect(
      (await outcomes({ request_id: "never-logged", event: "renewed", value: 5 })).json,
    ).toEqual({ accepted: 1, joined: 0 });
    const m = (await report()).versions[0].metrics;
    expect(m.events).toBe(45);
    expect(m.conversionRate).toEqual({ renewed: 40 / 300, upgraded: 10 / 300 });
    const values = renewals.reduce((t, r) => t + r.value, 0);
    expect(m.eventValue).toEqual({ renewed: values, upgraded: 0 });
    expect(m.auc).toBe(before.versions[0].metrics.auc);
    before = await report();
  });

  it("refuses bad bodies with a 400 naming the field, storing nothing of them", async () => {
    const s = seen[0] as Seen;
    const flipped = s.churn === "Yes" ? "No" : "Yes";
    const bad = await outcomes({
      outcomes: [
        { request_id: s.id, actual: flipped },
        { request_id: s.id, actual: "Maybe" },
        { request_id: "bad id!", event: "renewed" },
        { request_id: s.id, event: "renewed", value: 1, rows: 2 },
      ],
    });
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe("invalid_outcome");
    expect(bad.json.error.details.map((d: Json) => d.path)).toEqual([
      "/outcomes/1/actual",
      "/outcomes/2/request_id",
      "/outcomes/3/rows",
    ]);
    expect(bad.json.error.message).toContain("/outcomes/1/actual");
    const charges = await outcomes({ request_id: s.id, actual: 12.5 });
    expect(charges.status).toBe(400);
    expect(charges.json.error.details[0].path).toBe("/actual");
    expect((await outcomes("{not json")).status).toBe(400);
    const tooMany = Array.from({ length: 1001 }, () => ({ request_id: s.id, actual: flipped }));
    expect((await outcomes({ outcomes: tooMany })).json.error.details[0].path).toBe("/outcomes");
    const totals = (r: Json) => r.versions.map((v: Json) => [v.version, v.predictions, v.metrics]);
    expect(totals(await report())).toEqual(totals(before));
  });

  it("never answers a 5xx to random junk, and junk never moves the report (property)", async () => {
    const text = fc.string({ maxLength: 10 });
    const value = fc.oneof(text, fc.integer(), fc.double(), fc.boolean(), fc.constant(null));
    const item = fc.oneof(
      fc.record(
        {
          request_id: text.map((t) => `junk-${t}`),
          actual: value,
          event: value,
          value,
          row: value,
        },
        { requiredKeys: [] },
      ),
      fc.dictionary(text, value, { maxKeys: 3 }),
      value,
    );
    const body = fc.oneof(
      item,
      fc.record({ outcomes: fc.oneof(fc.array(item, { maxLength: 5 }), value) }),
      fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)),
      text.map((t) => `{${t}`),
    );
    await fc.assert(
      fc.asyncProperty(body, async (b) => {
        const answer = await outcomes(b);
        expect([202, 400]).toContain(answer.status);
        if (answer.status === 400) expect(answer.json.error.details.length).toBeGreaterThan(0);
      }),
      { numRuns: 150 },
    );
    const totals = (r: Json) => r.versions.map((v: Json) => [v.version, v.predictions, v.metrics]);
    expect(totals(await report())).toEqual(totals(before));
  });

  it("asks for a key, the invoke permission to report and read to see the report", async () => {
    const anonymous = api(server, undefined);
    expect(
      (await anonymous("POST", "/v1/apps/churn/outcomes", { request_id: "x", actual: "No" }))
        .status,
    ).toBe(401);
    const invoker = await call("POST", "/v1/keys", { role: "invoker", name: "caller" });
    const asInvoker = api(server, invoker.json.secret as string);
    const reported = await asInvoker("POST", "/v1/apps/churn/outcomes", {
      request_id: "x",
      event: "opened",
    });
    expect(reported.status).toBe(202);
    expect((await asInvoker("GET", "/v1/apps/churn/outcomes")).status).toBe(403);
    expect((await outcomes({ request_id: "x", actual: "No" }, "no-such-app")).status).toBe(404);
    expect((await call("GET", "/v1/apps/churn/outcomes?window=2h")).status).toBe(400);
    const doc = (await call("GET", "/openapi.json")).json;
    expect(Object.keys(doc.paths["/v1/apps/{app}/outcomes"])).toEqual(
      expect.arrayContaining(["get", "post"]),
    );
  });
});

describe("outcomes of a regression app", () => {
  it("reports RMSE and MAE equal to the offline ones", async () => {
    const upload = await fetch(
      new URL("/v1/datasets?name=charges&filename=wa_churn.csv", server.url),
      {
        method: "POST",
        headers: { authorization: `Bearer ${server.adminKey}` },
        body: readFileSync(CHURN_CSV),
      },
    );
    expect(upload.status).toBe(201);
    const train = await call("POST", "/v1/train", {
      dataset: "charges",
      target: "monthly_charges",
      name: "charges",
      timeBudgetSeconds: 1,
    });
    const job = await server.ballast.training.waitFor(train.json.job.id);
    expect(job.status).toBe("succeeded");
    expect((await call("POST", "/v1/apps", { model: "charges@1" })).status).toBe(201);

    // The model's inputs: the file's columns the training kept.
    const inputs = Object.keys(
      (await call("GET", "/v1/apps/charges")).json.app.inputSchema.properties,
    );
    expect(inputs).not.toContain("monthly_charges");
    const sent = rows.slice(0, 150);
    const pairs: { id: string; predicted: number; actual: number }[] = [];
    for (const r of sent) {
      const full: Record<string, unknown> = { ...r.record, churn: r.churn };
      const record = Object.fromEntries(inputs.map((k) => [k, full[k]]));
      const answer = await call("POST", "/v1/apps/charges/predict", record);
      expect(answer.status).toBe(200);
      pairs.push({
        id: answer.json.request_id,
        predicted: answer.json.prediction,
        actual: r.charges,
      });
    }
    await loggedPredictions(150, "charges");
    const posted = await outcomes(
      { outcomes: pairs.map((p) => ({ request_id: p.id, actual: p.actual })) },
      "charges",
    );
    expect(posted.json).toEqual({ accepted: 150, joined: 150 });
    expect((await outcomes({ request_id: pairs[0]?.id, actual: "Yes" }, "charges")).status).toBe(
      400,
    );

    const live = await report("charges");
    expect(live.task).toBe("regression");
    const m = live.versions[0].metrics;
    const errors = pairs.map((p) => p.predicted - p.actual);
    const rmse = Math.sqrt(errors.reduce((t, e) => t + e * e, 0) / errors.length);
    const mae = errors.reduce((t, e) => t + Math.abs(e), 0) / errors.length;
    expect(rmse).toBeGreaterThan(0);
    expect(m).toMatchObject({ labelled: 150, auc: null, accuracy: null });
    // Sums in another order differ in the last bits: relative 1e-9.
    expect(Math.abs(m.rmse - rmse)).toBeLessThan(1e-9 * rmse);
    expect(Math.abs(m.mae - mae)).toBeLessThan(1e-9 * mae);
  });
});
