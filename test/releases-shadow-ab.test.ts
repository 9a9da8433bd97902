/**
 * Shadow and A/B releases on a real server.
 *
 * - Shadow: production answers every request; each is mirrored to the candidate off the
 *   response path, and the agreement the server reports equals an offline comparison of the
 *   two models' predictions on the same inputs. Approving promotes the candidate.
 * - A/B: callers are split by their key, stickily; conversions reported as outcomes are
 *   compared per arm with a two-proportion z-test whose statistic the test recomputes
 *   independently from its own tally.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeArtifact } from "../src/models/artifact.ts";
import { Predictor } from "../src/models/predictor.ts";
import { CHURN_RECORD, publishChurn } from "./helpers/churn.ts";
import { api, type Json, startTestServer, type TestServer } from "./helpers/server.ts";
import { churnSpec } from "./helpers/specs.ts";

let server: TestServer;
let call: ReturnType<typeof api>;

beforeAll(async () => {
  server = await startTestServer({ releaseTickMs: 200 });
  call = api(server, server.adminKey);
  await publishChurn(server);
  // A second model of the same data with a shorter search: churn@2, which disagrees sometimes.
  const train = await call("POST", "/v1/train", {
    dataset: "churn",
    target: "churn",
    timeBudgetSeconds: 1,
    seed: 7,
  });
  expect(train.status, JSON.stringify(train.json)).toBe(202);
  const job = await server.ballast.training.waitFor(train.json.job.id);
  expect(job.status).toBe("succeeded");
}, 180_000);

afterAll(async () => {
  await server?.close();
});

/** Customers spread over tenure and charges, so the two models disagree on some. */
const RECORDS = Array.from({ length: 150 }, (_, i) => ({
  ...CHURN_RECORD,
  tenure: (i * 7) % 72,
  contract: ["Month-to-month", "One year", "Two year"][i % 3],
  internet_service: ["DSL", "Fiber optic", "No"][(i >> 1) % 3],
  monthly_charges: 20 + ((i * 13) % 100),
  total_charges: (20 + ((i * 13) % 100)) * ((i * 7) % 72),
}));

/**
 * The suite sends hundreds of predictions back to back, faster than the default per-key limit
 * on a quick machine; rate limits are tested elsewhere (runtime-policies.test.ts).
 */
const UNLIMITED = { rateLimit: { perKeyPerSecond: 0, perAppPerSecond: 0 } };

async function stage(spec: Record<string, unknown>): Promise<number> {
  const saved = await call("POST", "/v1/apps/churn/versions", { spec, deploy: "staging" });
  expect(saved.status, JSON.stringify(saved.json)).toBe(201);
  return saved.json.version.version as number;
}

async function predictorOf(model: string): Promise<Predictor> {
  const ctx = server.ballast.context;
  const version = await ctx.registry.models.getVersion(server.ballast.bootstrap.workspaceId, model);
  return new Predictor(decodeArtifact(await ctx.blobs.get(version.artifactSha256)));
}

describe("shadow releases", () => {
  it("compares the candidate on mirrored traffic as an offline comparison does", async () => {
    const candidate = await stage(
      churnSpec({ model: { name: "churn", version: 2 }, policies: UNLIMITED }),
    );
    const promoted = await call("POST", "/v1/apps/churn/promote", {
      to: "production",
      strategy: "shadow",
      percent: 100,
    });
    expect(promoted.status, JSON.stringify(promoted.json)).toBe(201);
    expect(promoted.json.release).toMatchObject({ strategy: "shadow", percent: 100 });
    for (const record of RECORDS) {
      const answer = await call("POST", "/v1/apps/churn/predict", record);
      expect(answer.status).toBe(200);
      // Production answers, always: the candidate's answers are never sent.
      expect(answer.json.app_version).toBe(1);
    }
    await server.ballast.context.shadow.drain();
    const live = (await call("GET", "/v1/apps/churn/releases")).json.active;
    expect(live.shadow.requests).toBe(RECORDS.length);
    expect(live.shadow.candidateErrors).toBe(0);
    expect(live.shadow.skipped).toBe(0);

    const stable = await predictorOf("churn@1");
    const other = await predictorOf("churn@2");
    let agreed = 0;
    for (const record of RECORDS) {
      if (String(stable.predict(record).prediction) === String(other.predict(record).prediction)) {
        agreed++;
      }
    }
    expect(live.shadow.labelRows).toBe(RECORDS.length);
    expect(live.shadow.agreement).toBeCloseTo(agreed / RECORDS.length, 12);
    expect(live.shadow.candidateModelMs.p95).toBeGreaterThan(0);

    // A person promotes it after looking.
    const approved = await call("POST", "/v1/apps/churn/approve");
    expect(approved.status).toBe(200);
    expect(approved.json).toMatchObject({ state: "succeeded", candidateVersion: candidate });
    const answer = await call("POST", "/v1/apps/churn/predict", CHURN_RECORD);
    expect(answer.json.app_version).toBe(candidate);
  });
});

describe("A/B releases", () => {
  it("splits callers stickily and tests the conversion difference per arm", async () => {
    const stableVersion = (await call("GET", "/v1/apps/churn/environments")).json.production
      .version as number;
    const candidate = await stage(
      churnSpec({ model: { name: "churn", version: 1 }, policies: UNLIMITED }),
    );
    const promoted = await call("POST", "/v1/apps/churn/promote", {
      to: "production",
      strategy: "ab",
      percent: 50,
      splitHeader: "x-user",
      conversionEvent: "renewed",
    });
    expect(promoted.status, JSON.stringify(promoted.json)).toBe(201);

    const users = Array.from({ length: 300 }, (_, i) => `user-${i}`);
    const arm = new Map<string, number>();
    const tally = new Map<number, { n: number; converted: number }>([
      [stableVersion, { n: 0, converted: 0 }],
      [candidate, { n: 0, converted: 0 }],
    ]);
    const outcomes: { request_id: string; event: string }[] = [];
    for (const [i, user] of users.entries()) {
      for (let visit = 0; visit < 2; visit++) {
        const answer = await call("POST", "/v1/apps/churn/predict", RECORDS[i % RECORDS.length], {
          "x-user": user,
        });
        expect(answer.status).toBe(200);
        const version = answer.json.app_version as number;
        // Sticky: a caller stays in the arm of its first visit.
        if (visit === 0) arm.set(user, version);
        else expect(version).toBe(arm.get(user));
        const t = tally.get(version) as { n: number; converted: number };
        t.n++;
        // Known numbers: the candidate's callers convert more often (every 2nd vs every 4th).
        const converts = version === candidate ? i % 2 === 0 : i % 4 === 0;
        if (converts && visit === 0) {
          t.converted++;
          outcomes.push({ request_id: answer.json.request_id, event: "renewed" });
        }
      }
    }
    // Both arms got callers, about half each.
    const inCandidate = [...arm.values()].filter((v) => v === candidate).length;
    expect(inCandidate).toBeGreaterThan(100);
    expect(inCandidate).toBeLessThan(200);
    const reported = await call("POST", "/v1/apps/churn/outcomes", { outcomes });
    expect(reported.status, JSON.stringify(reported.json)).toBe(202);

    const control = tally.get(stableVersion) as { n: number; converted: number };
    const treatment = tally.get(candidate) as { n: number; converted: number };
    let ab: Json;
    await expect
      .poll(
        async () => {
          await server.ballast.context.predictionLog.flush();
          ab = (await call("GET", "/v1/apps/churn/releases")).json.active.ab;
          return ab.conversion ? ab.conversion.control.n + ab.conversion.treatment.n : 0;
        },
        { timeout: 20_000, interval: 250 },
      )
      .toBe(control.n + treatment.n);
    const result = ab.conversion;
    expect(result.test).toBe("two-proportion-z");
    expect(result.control).toEqual({ n: control.n, value: control.converted / control.n });
    expect(result.treatment).toEqual({ n: treatment.n, value: treatment.converted / treatment.n });
    // The z statistic, recomputed here from the test's own tally (pooled standard error).
    const p1 = control.converted / control.n;
    const p2 = treatment.converted / treatment.n;
    const pooled = (control.converted + treatment.converted) / (control.n + treatment.n);
    const z = (p2 - p1) / Math.sqrt(pooled * (1 - pooled) * (1 / control.n + 1 / treatment.n));
    expect(result.statistic).toBeCloseTo(z, 9);
    expect(result.significant).toBe(result.pValue < 0.05);
    expect(result.pValue).toBeLessThan(0.05);
    expect(ab.notes).toContain("no value event is configured");

    const aborted = await call("POST", "/v1/apps/churn/abort");
    expect(aborted.json.state).toBe("aborted");
  });
});
