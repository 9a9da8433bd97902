import { readFileSync } from "node:fs";
import { api, CHURN_CSV, type TestServer } from "./server.ts";

/**
 * One wa_churn customer as a caller of the published churn app sends it (the first row of the
 * shipped CSV, without the target). Shared by the API, explanation and serving tests and the
 * serving benchmark, so they all exercise the same record.
 */
export const CHURN_RECORD = {
  female: 1,
  senior_citizen: 0,
  partner: 1,
  dependents: 0,
  tenure: 1,
  phone_service: 0,
  multiple_lines: "No phone service",
  internet_service: "DSL",
  online_security: "No",
  online_backup: "Yes",
  device_protection: "No",
  tech_support: "No",
  streaming_tv: "No",
  streaming_movies: "No",
  contract: "Month-to-month",
  paperless_billing: 1,
  payment_method: "Electronic check",
  monthly_charges: 29.85,
  total_charges: 29.85,
} as const;

/**
 * Upload the shipped wa_churn CSV as dataset "churn", train a model "churn" on it with a short
 * search, and publish it as the app "churn": the starting point of the suites that need a
 * published app. Throws (failing the suite) if any step does not succeed.
 */
export async function publishChurn(server: TestServer, timeBudgetSeconds = 2): Promise<void> {
  const upload = await fetch(new URL("/v1/datasets?name=churn&filename=wa_churn.csv", server.url), {
    method: "POST",
    headers: { authorization: `Bearer ${server.adminKey}` },
    body: readFileSync(CHURN_CSV),
  });
  if (upload.status !== 201) throw new Error(`churn upload answered ${upload.status}`);
  const call = api(server, server.adminKey);
  const train = await call("POST", "/v1/train", {
    dataset: "churn",
    target: "churn",
    timeBudgetSeconds,
  });
  const job = await server.ballast.training.waitFor(train.json.job.id);
  if (job.status !== "succeeded") throw new Error(`churn training ended ${job.status}`);
  const publish = await call("POST", "/v1/apps", { model: "churn@1" });
  if (publish.status !== 201) throw new Error(`churn publish answered ${publish.status}`);
}
