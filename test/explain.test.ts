/**
 * Explanations end to end over real HTTP: `?explain=true` on the predict route for binary,
 * multiclass and regression apps (a date column's parts summed back into the column), the
 * global mean |SHAP| importance in the model's training summary, and the response contract.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRandom } from "../src/learn/random.ts";
import { CHURN_RECORD } from "./helpers/churn.ts";
import { api, CHURN_CSV, type Json, startTestServer, type TestServer } from "./helpers/server.ts";

/** A generated table with a date column, a category, a number with gaps, and two targets. */
function subscriptionsCsv(rows: number): string {
  const random = createRandom(7);
  const plans = ["basic", "plus", "pro"];
  const lines = ["signup,plan,usage,spend,tier"];
  for (let i = 0; i < rows; i++) {
    const month = 1 + random.nextInt(12);
    const day = 1 + random.nextInt(28);
    const signup = `2023-${String(month).padStart(2, "0")}-${String(day).padStart(2, "0")}`;
    const plan = random.nextInt(3);
    const usage = random.nextFloat() < 0.1 ? undefined : Math.round(random.nextFloat() * 1000) / 10;
    const spend =
      20 + 15 * plan + 0.4 * (usage ?? 30) + (month >= 7 ? 12 : 0) + 5 * random.nextFloat();
    const tier = spend < 45 ? "low" : spend < 70 ? "mid" : "high";
    lines.push(`${signup},${plans[plan]},${usage ?? ""},${spend.toFixed(2)},${tier}`);
  }
  return `${lines.join("\n")}\n`;
}

function sum(values: Record<string, number>): number {
  return Object.values(values).reduce((s, v) => s + v, 0);
}

describe("explanations", () => {
  let server: TestServer;
  let call: ReturnType<typeof api>;

  async function upload(name: string, body: string | Buffer, fileName: string) {
    const response = await fetch(
      new URL(`/v1/datasets?name=${name}&filename=${fileName}`, server.url),
      {
        method: "POST",
        headers: {
          authorization: `Bearer ${server.adminKey}`,
          "content-type": "application/octet-stream",
        },
        body,
      },
    );
    expect(response.status).toBe(201);
  }

  async function trainAndPublish(
    dataset: string,
    target: string,
    name: string,
    seconds: number,
    exclude: string[] = [],
  ) {
    const train = await call("POST", "/v1/train", {
      dataset,
      target,
      name,
      timeBudgetSeconds: seconds,
      exclude,
    });
    expect(train.status).toBe(202);
    for (let i = 0; i < 600; i++) {
      const { json } = await call("GET", `/v1/jobs/${train.json.job.id}`);
      if (json.job.status === "failed") throw new Error(JSON.stringify(json.job));
      if (json.job.status === "succeeded") break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const deploy = await call("POST", "/v1/apps", { model: name });
    expect(deploy.status).toBe(201);
  }

  beforeAll(async () => {
    server = await startTestServer();
    call = api(server, server.adminKey);
    await upload("churn", readFileSync(CHURN_CSV), "wa_churn.csv");
    await upload("subscriptions", subscriptionsCsv(800), "subscriptions.csv");
    await trainAndPublish("churn", "churn", "churn", 3);
    await trainAndPublish("subscriptions", "spend", "spend", 1, ["tier"]);
    await trainAndPublish("subscriptions", "tier", "tier", 1, ["spend"]);
  }, 180_000);

  afterAll(async () => {
    await server?.close();
  });

  it("explains a binary prediction: base + contributions = logit of the returned probability", async () => {
    const { status, json } = await call(
      "POST",
      "/v1/apps/churn/predict?explain=true",
      CHURN_RECORD,
    );
    expect(status).toBe(200);
    const { explanation } = json;
    expect(explanation.class).toBe("Yes");
    expect(explanation.scale).toBe("log-odds");
    expect(Object.keys(explanation.contributions).sort()).toEqual(Object.keys(CHURN_RECORD).sort());
    const p = json.probabilities.Yes;
    expect(explanation.base + sum(explanation.contributions)).toBeCloseTo(Math.log(p / (1 - p)), 9);
    // A one-month, month-to-month customer: the contract pushes towards churn.
    expect(explanation.contributions.contract).toBeGreaterThan(0);
  });

  it("explains every row of a batch, and a missing value too", async () => {
    const rows = [
      CHURN_RECORD,
      { ...CHURN_RECORD, tenure: 70, contract: "Two year", total_charges: null },
      { ...CHURN_RECORD, payment_method: "Carrier pigeon" },
    ];
    const { status, json } = await call("POST", "/v1/apps/churn/predict?explain=1", { rows });
    expect(status).toBe(200);
    expect(json.predictions).toHaveLength(3);
    for (const prediction of json.predictions as Json[]) {
      const p = prediction.probabilities.Yes;
      const { base, contributions } = prediction.explanation;
      expect(base + sum(contributions)).toBeCloseTo(Math.log(p / (1 - p)), 9);
    }
    // Every row is explained against the same expected value.
    expect(json.predictions[1].explanation.base).toBe(json.predictions[0].explanation.base);
    expect(json.predictions[1].explanation.contributions.contract).toBeLessThan(0);
  });

  it("adds nothing without the flag or with explain=false, and refuses other values", async () => {
    const plain = await call("POST", "/v1/apps/churn/predict", CHURN_RECORD);
    expect(plain.status).toBe(200);
    expect(plain.json.explanation).toBeUndefined();
    const off = await call("POST", "/v1/apps/churn/predict?explain=false", CHURN_RECORD);
    expect(off.json.explanation).toBeUndefined();
    expect(off.json.probabilities).toEqual(plain.json.probabilities);
    for (const value of ["maybe", "TRUE", ""]) {
      const bad = await call("POST", `/v1/apps/churn/predict?explain=${value}`, CHURN_RECORD);
      expect(bad.status).toBe(400);
      expect(JSON.stringify(bad.json.error)).toContain("explain");
    }
  });

  it("explains regression in the prediction's units, with a date's parts summed into its column", async () => {
    const record = { signup: "2023-09-14", plan: "pro", usage: 55.5 };
    const { status, json } = await call("POST", "/v1/apps/spend/predict?explain=true", record);
    expect(status, JSON.stringify(json)).toBe(200);
    const { explanation } = json;
    expect(explanation.class).toBeUndefined();
    expect(Object.keys(explanation.contributions).sort()).toEqual(["plan", "signup", "usage"]);
    const total = explanation.base + sum(explanation.contributions);
    // AutoML may choose a log-target model for this positive target: then the sum is log(y).
    expect(["raw", "log"]).toContain(explanation.scale);
    const expected = explanation.scale === "log" ? Math.log(json.prediction) : json.prediction;
    expect(total).toBeCloseTo(expected, 8);
    // September signups spend more (month >= 7), and pro is the dearest plan.
    expect(explanation.contributions.signup).toBeGreaterThan(0);
    expect(explanation.contributions.plan).toBeGreaterThan(0);
  });

  it("explains a multiclass prediction for the predicted class", async () => {
    const record = { signup: "2023-02-01", plan: "basic", usage: 1 };
    const { status, json } = await call("POST", "/v1/apps/tier/predict?explain=true", record);
    expect(status).toBe(200);
    expect(json.prediction).toBe("low");
    expect(json.explanation.class).toBe(json.prediction);
    expect(json.explanation.scale).toBe("softmax-logit");
    expect(Number.isFinite(json.explanation.base + sum(json.explanation.contributions))).toBe(true);
  });

  it("reports mean |SHAP| importance next to gain in the training summary", async () => {
    const { status, json } = await call("GET", "/v1/models/churn");
    expect(status).toBe(200);
    const { shapImportance, importance } = json.model;
    expect(importance.length).toBeGreaterThan(0);
    expect(shapImportance.rows).toBeGreaterThanOrEqual(20);
    expect(shapImportance.rows).toBeLessThanOrEqual(1000);
    const features: { feature: string; importance: number }[] = shapImportance.features;
    expect(features.map((f) => f.feature).sort()).toEqual(
      importance.map((f: { feature: string }) => f.feature).sort(),
    );
    for (let i = 1; i < features.length; i++) {
      expect(features[i]?.importance).toBeLessThanOrEqual(features[i - 1]?.importance ?? 0);
    }
    // Churn is driven by how long and on what contract a customer has been.
    const top = features.slice(0, 4).map((f) => f.feature);
    expect(top.some((f) => ["tenure", "contract", "total_charges"].includes(f))).toBe(true);
  });

  it("documents the explanation in the app's response schema", async () => {
    const { json } = await call("GET", "/openapi.json");
    const schema =
      json.paths["/v1/apps/churn/predict"].post.responses["200"].content["application/json"].schema;
    const single = schema.oneOf[0].properties.explanation;
    expect(single.properties.scale.enum).toContain("log-odds");
    expect(Object.keys(single.properties.contributions.properties)).toContain("contract");
    expect(schema.oneOf[1].properties.predictions.items.properties.explanation).toEqual(single);
  });
});
