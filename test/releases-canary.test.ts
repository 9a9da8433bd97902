/**
 * Canary releases end to end on a real server: the candidate takes a share of live traffic,
 * the rollout controller judges each step on the candidate's own metrics, and
 *
 * - a candidate whose model (an http step to an outside scorer) fails 20% of requests is
 *   rolled back within one analysis interval;
 * - one whose p95 is more than ten times the stable version's is rolled back;
 * - a healthy one reaches 100% by itself and becomes production;
 *
 * each with the expected alerts (monitor events) and release history.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHURN_RECORD, publishChurn } from "./helpers/churn.ts";
import { api, type Json, startTestServer, type TestServer } from "./helpers/server.ts";
import { churnSpec } from "./helpers/specs.ts";
import { startUpstream, type Upstream } from "./helpers/upstream.ts";

let server: TestServer;
let upstream: Upstream;
let call: ReturnType<typeof api>;

/** The interval each canary step is held: long enough to gather data, short for a test. */
const INTERVAL_SECONDS = 3;

beforeAll(async () => {
  upstream = await startUpstream({ kind: "ok" });
  server = await startTestServer({ releaseTickMs: 100 });
  call = api(server, server.adminKey);
  await publishChurn(server);
}, 120_000);

afterAll(async () => {
  await server?.close();
  await upstream?.close();
});

/** Save a spec as the next version, deployed to staging only; returns its number. */
async function stage(spec: Record<string, unknown>): Promise<number> {
  const saved = await call("POST", "/v1/apps/churn/versions", { spec, deploy: "staging" });
  expect(saved.status, JSON.stringify(saved.json)).toBe(201);
  return saved.json.version.version as number;
}

const httpStep = (settings: Record<string, unknown> = {}) => ({
  id: "score",
  kind: "http",
  with: {
    url: upstream.url,
    timeoutMs: 2000,
    maxRetries: 0,
    breakerConsecutiveFailures: 1000,
    breakerErrorRate: 0,
    ...settings,
  },
});

/**
 * Sends production traffic until the active release ends (or the time runs out), sequentially
 * and steadily, and returns the release as it ended.
 */
async function driveUntilEnded(timeoutMs: number): Promise<{ release: Json; sent: number }> {
  const deadline = Date.now() + timeoutMs;
  let sent = 0;
  while (Date.now() < deadline) {
    // At most 100 requests a second: the key's default limit is 200/s, and back-to-back
    // predictions outrun it on a fast machine, which would make the answers 429s.
    const paced = sleep(200);
    for (let i = 0; i < 20; i++) {
      await call("POST", "/v1/apps/churn/predict", CHURN_RECORD);
      sent++;
    }
    await paced;
    const { json } = await call("GET", "/v1/apps/churn/releases");
    if (!json.active) return { release: json.releases[0], sent };
  }
  throw new Error("the release did not end in time");
}

async function events(rule: string): Promise<Json[]> {
  const { json } = await call("GET", "/v1/events?app=churn&limit=100");
  return (json.events as Json[]).filter((e) => e.rule === rule);
}

/** Warm the stable version so the relative latency gate has a baseline. */
async function warmStable(n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const answer = await call("POST", "/v1/apps/churn/predict", CHURN_RECORD);
    expect(answer.status).toBe(200);
  }
}

describe("canary releases", () => {
  it("rolls back a candidate that fails 20% of requests within one analysis interval", async () => {
    await warmStable(200);
    upstream.mode = { kind: "flaky", every: 5 };
    const candidate = await stage(churnSpec({ middle: [httpStep()] }));
    const promoted = await call("POST", "/v1/apps/churn/promote", {
      to: "production",
      strategy: "canary",
      steps: "50,100",
      intervalSeconds: INTERVAL_SECONDS,
      minRequests: 20,
      maxP95Ratio: 0,
    });
    expect(promoted.status, JSON.stringify(promoted.json)).toBe(201);
    expect(promoted.json.release).toMatchObject({
      strategy: "canary",
      state: "running",
      percent: 50,
      candidateVersion: candidate,
    });
    const started = Date.parse(promoted.json.release.createdAt);
    const { release } = await driveUntilEnded(30_000);
    expect(release.state).toBe("rolled_back");
    expect(release.reason).toMatch(/error rate/);
    const rolledBackAt = Date.parse(release.endedAt);
    expect(rolledBackAt - started).toBeLessThan(INTERVAL_SECONDS * 1000);
    expect(release.events.map((e: Json) => e.type)).toEqual(["started", "rolled_back"]);
    // All traffic is back on the stable version, and production never changed.
    const after = await call("POST", "/v1/apps/churn/predict", CHURN_RECORD);
    expect(after.json.app_version).toBe(release.stableVersion);
    const envs = await call("GET", "/v1/apps/churn/environments");
    expect(envs.json.production.version).toBe(release.stableVersion);
    // An alert was raised for the rollback.
    const rollbacks = await events("release:rollback");
    expect(rollbacks).toHaveLength(1);
    expect(rollbacks[0]).toMatchObject({
      kind: "rollback",
      severity: "critical",
      version: candidate,
    });
  });

  it("rolls back a candidate whose p95 is ten times the stable version's", async () => {
    await warmStable(100);
    upstream.mode = { kind: "slow", delayMs: 40 };
    const candidate = await stage(churnSpec({ middle: [httpStep()] }));
    const promoted = await call("POST", "/v1/apps/churn/promote", {
      to: "production",
      strategy: "canary",
      steps: "50,100",
      intervalSeconds: INTERVAL_SECONDS,
      minRequests: 20,
      maxP95Ratio: 3,
    });
    expect(promoted.status, JSON.stringify(promoted.json)).toBe(201);
    const { release } = await driveUntilEnded(30_000);
    expect(release.state).toBe("rolled_back");
    expect(release.candidateVersion).toBe(candidate);
    const failure = release.events.at(-1);
    expect(failure.type).toBe("rolled_back");
    expect(release.reason).toMatch(/× stable/);
    const gates = failure.details.gates as Json[];
    const ratio = gates.find((g) => g.gate === "p95_ratio");
    expect(ratio.status).toBe("fail");
    expect(ratio.value).toBeGreaterThan(10);
    expect(Date.parse(release.endedAt) - Date.parse(release.createdAt)).toBeLessThan(
      INTERVAL_SECONDS * 1000,
    );
    expect(await events("release:rollback")).toHaveLength(2);
  });

  it("takes a healthy candidate through every step to production by itself", async () => {
    upstream.mode = { kind: "ok" };
    // A new version with other policies and the same model: as fast and as right as stable.
    const candidate = await stage(churnSpec({ policies: { cache: { enabled: false } } }));
    const promoted = await call("POST", "/v1/apps/churn/promote", {
      to: "production",
      strategy: "canary",
      steps: "25,50,100",
      intervalSeconds: 2,
      minRequests: 10,
    });
    expect(promoted.status, JSON.stringify(promoted.json)).toBe(201);
    const { release } = await driveUntilEnded(60_000);
    expect(release.state, JSON.stringify(release.events)).toBe("succeeded");
    expect(release.events.map((e: Json) => [e.type, e.percent])).toEqual([
      ["started", 25],
      ["step", 50],
      ["step", 100],
      ["promoted", 100],
    ]);
    const envs = await call("GET", "/v1/apps/churn/environments");
    expect(envs.json.production.version).toBe(candidate);
    const answer = await call("POST", "/v1/apps/churn/predict", CHURN_RECORD);
    expect(answer.json.app_version).toBe(candidate);
    expect(await events("release:promoted")).toHaveLength(1);
    // No new rollback alert.
    expect(await events("release:rollback")).toHaveLength(2);
    // The history lists all three releases and the first direct one, newest first.
    const history = await call("GET", "/v1/apps/churn/releases");
    expect(history.json.releases.map((r: Json) => r.state)).toEqual([
      "succeeded",
      "rolled_back",
      "rolled_back",
      "succeeded",
    ]);
  });

  it("holds a manual step for a person's approval, and aborts cleanly", async () => {
    const candidate = await stage(churnSpec({ policies: { cache: { enabled: true } } }));
    const promoted = await call("POST", "/v1/apps/churn/promote", {
      to: "production",
      strategy: "canary",
      steps: "50,100",
      // 4 s so a loaded CI machine still sends the 5 requests the step needs.
      intervalSeconds: 4,
      minRequests: 5,
      manualSteps: "50",
    });
    expect(promoted.status, JSON.stringify(promoted.json)).toBe(201);
    // A second promotion while one runs is refused.
    const second = await call("POST", "/v1/apps/churn/promote", { to: "production", version: 1 });
    expect(second.status).toBe(409);
    expect(second.json.error.code).toBe("release_in_progress");
    await expect
      .poll(
        async () => {
          await warmStable(20);
          const { json } = await call("GET", "/v1/apps/churn/releases");
          return json.active?.release.state ?? json.releases[0].reason;
        },
        { timeout: 20_000, interval: 100 },
      )
      .toBe("paused");
    const live = (await call("GET", "/v1/apps/churn/releases")).json.active;
    expect(live.gates.find((g: Json) => g.gate === "manual").status).toBe("waiting");
    const aborted = await call("POST", "/v1/apps/churn/abort");
    expect(aborted.status).toBe(200);
    expect(aborted.json).toMatchObject({
      state: "aborted",
      percent: 0,
      candidateVersion: candidate,
    });
    const after = await call("POST", "/v1/apps/churn/predict", CHURN_RECORD);
    expect(after.json.app_version).not.toBe(candidate);
    const again = await call("POST", "/v1/apps/churn/abort");
    expect(again.status).toBe(409);
  });

  it("rolls production back to the version it served before", async () => {
    const before = (await call("GET", "/v1/apps/churn/environments")).json.history.filter(
      (d: Json) => d.environment === "production",
    );
    const rolled = await call("POST", "/v1/apps/churn/rollback");
    expect(rolled.status).toBe(200);
    expect(rolled.json.release).toBeNull();
    expect(rolled.json.deployment.version).toBe(before[1].version);
    const answer = await call("POST", "/v1/apps/churn/predict", CHURN_RECORD);
    expect(answer.json.app_version).toBe(before[1].version);
  });
});
