/**
 * What the serving benchmarks do to a freshly started Ballast: call its API with the admin key
 * the server wrote into its data dir, and upload the bundled churn data and train a model on
 * it, waiting for the job.
 */
import { readFileSync } from "node:fs";
import path from "node:path";

export interface BallastApi {
  readonly auth: { readonly authorization: string };
  post(route: string, body: unknown, raw?: boolean): Promise<Record<string, unknown>>;
  get(route: string): Promise<Record<string, unknown>>;
}

/** The API of the server at `base`, as the admin of `dataDir`; a non-2xx answer throws. */
export function ballastApi(base: string, dataDir: string): BallastApi {
  const key = readFileSync(path.join(dataDir, "admin.key"), "utf8").trim();
  const auth = { authorization: `Bearer ${key}` };
  const read = async (route: string, response: Response) => {
    const json = (await response.json()) as Record<string, unknown>;
    if (!response.ok) throw new Error(`${route}: ${JSON.stringify(json)}`);
    return json;
  };
  return {
    auth,
    post: async (route, body, raw = false) =>
      read(
        route,
        await fetch(new URL(route, base), {
          method: "POST",
          headers: raw ? auth : { ...auth, "content-type": "application/json" },
          body: raw ? (body as Buffer) : JSON.stringify(body),
        }),
      ),
    get: async (route) => read(route, await fetch(new URL(route, base), { headers: auth })),
  };
}

/** Upload examples/data/wa_churn.csv as "churn" and train the model "churn" on it. */
export async function trainChurn(api: BallastApi, timeBudgetSeconds: number): Promise<void> {
  await api.post(
    "/v1/datasets?name=churn&filename=wa_churn.csv",
    readFileSync("examples/data/wa_churn.csv"),
    true,
  );
  const { job } = (await api.post("/v1/train", {
    dataset: "churn",
    target: "churn",
    timeBudgetSeconds,
  })) as { job: { id: string } };
  for (;;) {
    const { job: now } = (await api.get(`/v1/jobs/${job.id}`)) as {
      job: { status: string; error?: unknown };
    };
    if (now.status === "succeeded") return;
    if (now.status === "failed") throw new Error(`training failed: ${JSON.stringify(now.error)}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
