/**
 * The `ballast` CLI against a real server: the README's tour, and clear errors with exit 1.
 */
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliFor } from "./helpers/cli.ts";
import { CHURN_CSV, startTestServer, type TestServer } from "./helpers/server.ts";

let server: TestServer;

const ballast = cliFor(() => server);

beforeAll(async () => {
  server = await startTestServer();
}, 60_000);
afterAll(async () => server?.close());

describe("the CLI tour", () => {
  it("imports, trains, deploys and predicts", async () => {
    const imported = await ballast("data", "import", CHURN_CSV, "--name", "telco");
    expect(imported.code).toBe(0);
    expect(imported.stdout).toContain("7043 rows, 20 columns");
    expect(imported.stdout).toMatch(/churn\s+boolean/);
    expect(imported.stdout).toMatch(/total_charges\s+number\s+0\.2%/);
    expect(imported.stdout).toMatch(/contract\s+category/);

    const trained = await ballast(
      "train",
      "telco",
      "--target",
      "churn",
      "--name",
      "churn",
      "--time-budget",
      "3",
    );
    expect(trained.code, trained.stderr).toBe(0);
    expect(trained.stdout).toContain("Model churn@1 (binary, target churn)");
    expect(trained.stdout).toMatch(/auc\s+0\.\d+\s+0\.\d+/);
    expect(trained.stderr).toContain("100%");

    const deployed = await ballast("deploy", "churn@1");
    expect(deployed.code, deployed.stderr).toBe(0);
    expect(deployed.stdout).toContain("Published churn v1 serving churn@1");

    const one = await ballast(
      "predict",
      "churn",
      "--json",
      '{"female":0,"senior_citizen":0,"partner":0,"dependents":0,"tenure":2,"phone_service":1,"multiple_lines":"No","internet_service":"Fiber optic","online_security":"No","online_backup":"No","device_protection":"No","tech_support":"No","streaming_tv":"No","streaming_movies":"No","contract":"Month-to-month","paperless_billing":1,"payment_method":"Electronic check","monthly_charges":70.7,"total_charges":151.65}',
    );
    expect(one.code, one.stderr).toBe(0);
    expect(JSON.parse(one.stdout).prediction).toMatch(/^(Yes|No)$/);

    const explained = await ballast(
      "predict",
      "churn",
      "--explain",
      "--file",
      path.resolve("examples/churn-rows.ndjson"),
    );
    expect(explained.code, explained.stderr).toBe(0);
    const first = JSON.parse(explained.stdout).predictions[0];
    expect(Object.keys(first.explanation.contributions)).toContain("tenure");

    const many = await ballast(
      "predict",
      "churn",
      "--file",
      path.resolve("examples/churn-rows.ndjson"),
    );
    expect(many.code, many.stderr).toBe(0);
    expect(JSON.parse(many.stdout).predictions).toHaveLength(5);

    expect((await ballast("apps")).stdout).toMatch(/churn\s+v1\s+churn@1\s+binary/);
    expect((await ballast("models")).stdout).toMatch(/churn@1\s+binary\s+churn/);
    const key = await ballast("keys", "create", "--role", "invoker");
    expect(key.stdout).toMatch(/blst_[A-Za-z0-9_-]{20,}/);
    expect((await ballast("keys", "list")).stdout).toContain("invoker");
  }, 180_000);
});

describe("CLI errors", () => {
  it("a missing file", async () => {
    const r = await ballast("data", "import", "no-such-file.csv");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("No such file: no-such-file.csv");
  });

  it("a target that does not exist names the columns", async () => {
    await ballast("data", "import", CHURN_CSV, "--name", "errors");
    const r = await ballast("train", "errors", "--target", "nope");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("no column named nope");
    expect(r.stderr).toContain("tenure");
  });

  it("invalid input to predict names the field", async () => {
    const r = await ballast("predict", "churn", "--json", '{"tenure": "many"}');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\/tenure/);
  });

  it("an unreachable server", async () => {
    const unreachable = cliFor(() => ({ ...server, url: "http://127.0.0.1:9" }));
    const r = await unreachable("apps");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("Cannot reach Ballast");
  });
});
