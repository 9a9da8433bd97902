/**
 * `npm run bench:serve`: single-row predictions of the churn app against bare Fastify
 * handlers, in the same run, from a load generator on loopback. Each
 * server runs in its own process; rounds alternate between them and the medians are printed
 * with their ratio, because the machine is shared and noisy.
 *
 * Rows (one model, one Ballast process, four routes, two bare Fastify processes):
 * - bare Fastify (constant): the ceiling any Fastify route reaches here;
 * - bare Fastify + churn model: the peer issue 5 names, a bare Fastify handler doing the same
 *   single-row churn predictions (the same artifact and predictor, nothing else);
 * - policies off: every policy that can be off, off; prediction log and drift off;
 * - policies on: rate limits (above the load), bulkhead, deadline; cache and idempotency off;
 *   prediction log and drift off (issue 5's row);
 * - policies on + monitoring: the same with every request logged (sample rate 1) and drift
 *   sketches on (issue 6's row). Metrics (Prometheus and the time series) are on in all rows:
 *   they are not a per-app switch;
 * - policies on + canary router: "policies on" in the middle of a canary release, two
 *   versions of the same spec with the candidate at 50%, so the version router picks per
 *   request and both versions answer (issue 7's row: the router must cost no measurable
 *   throughput, so its ratio to "policies on" is printed). The step's interval is a day and
 *   its gates cannot judge, so the rollout controller leaves the release where it is.
 *
 * Besides req/s, each row shows the server process's CPU time per request (all its threads,
 * from /proc, read 1.5 s after the round, 11.5 s for the monitoring row whose prediction log
 * stores its spool up to 10 s later, so deferred work is included):
 * on a loaded 2-core machine it is steadier than req/s, and it counts work done off the
 * event loop (DuckDB's threads) that req/s only shows when the cores are saturated.
 *
 * Options (env): BENCH_SECONDS (per round, default 8), BENCH_ROUNDS (default 3),
 * BENCH_CONNECTIONS (default 32), BENCH_PEER_COMPAT=1 (the bare Fastify peers, plain JS on
 * the same build, also get Ballast's Node backport, src/server/node-compat.ts), BENCH_CPU_PROF (a folder: the Ballast process writes a V8
 * CPU profile there when it stops).
 */
import { type ChildProcess, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import autocannon from "autocannon";
import { CHURN_RECORD } from "../test/helpers/churn.ts";
import { ballastApi, trainChurn } from "./ballast-api.ts";
import { churnAppSpec, MONITORING_OFF, MONITORING_ON, POLICIES_ON } from "./churn-apps.ts";
import { cpuMicros, startBallast, startProcess } from "./processes.ts";

const require = createRequire(import.meta.url);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);

const ROW = CHURN_RECORD;

interface Round {
  rps: number;
  /** CPU time of the server process (all its threads) per request, µs; NaN if unknown. */
  cpuUs: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
}

/** How long after a round its server's CPU is read: deferred work belongs to its round. */
const SETTLE_MS = 1500;
/**
 * The monitoring row's: the prediction log stores its spool when it is 10 s old (or holds
 * 122,880 rows), so the rows of a round's last seconds are stored up to 10 s after it.
 */
const LOG_SETTLE_MS = 11_500;

async function load(
  url: string,
  headers: Record<string, string>,
  server: ChildProcess,
  settleMs = SETTLE_MS,
): Promise<Round> {
  const before = cpuMicros(server.pid);
  const result = await autocannon({
    url,
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(ROW),
    connections: CONNECTIONS,
    duration: SECONDS,
  });
  // Work a route defers (the prediction log's writes, drift sketches) belongs to its round.
  await new Promise((resolve) => setTimeout(resolve, settleMs));
  const after = cpuMicros(server.pid);
  return {
    rps: result.requests.average,
    cpuUs:
      before === undefined || after === undefined
        ? Number.NaN
        : (after - before) / Math.max(1, result.requests.total),
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors,
    non2xx: result.non2xx,
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

async function main() {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "ballast-bench-"));
  const children: ChildProcess[] = [];
  try {
    // Ballast runs as `npm start` runs it: the compiled build, without tsx (whose keepNames
    // helper would add a defineProperty to every closure created per request).
    execFileSync(
      process.execPath,
      [require.resolve("typescript/bin/tsc"), "-p", "tsconfig.build.json"],
      {
        stdio: "inherit",
      },
    );
    // BENCH_CPU_PROF=dir: the Ballast process writes a V8 CPU profile there when it stops.
    const profile = process.env.BENCH_CPU_PROF
      ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`]
      : [];
    const ballast = await startBallast(dataDir, profile);
    children.push(ballast.child);
    const base = ballast.base;
    const { auth, post, get } = ballastApi(base, dataDir);
    await trainChurn({ auth, post, get }, 20);
    // Three apps on the same model: "churn" with every policy on (rate limits checked on each
    // request but set above what the load reaches, the bulkhead, the deadline; cache and
    // idempotency off, as the issue asks) and monitoring off, "churn-watched" the same with
    // monitoring fully on, "churn-bare" with every policy that can be off, off.
    await post("/v1/apps", { model: "churn" });
    await post("/v1/apps", { model: "churn", app: "churn-watched" });
    await post("/v1/apps", { model: "churn", app: "churn-bare" });
    await post("/v1/apps", { model: "churn", app: "churn-canary" });
    await post("/v1/apps/churn/versions", churnAppSpec("churn", POLICIES_ON, MONITORING_OFF));
    await post(
      "/v1/apps/churn-watched/versions",
      churnAppSpec("churn-watched", POLICIES_ON, MONITORING_ON),
    );
    await post(
      "/v1/apps/churn-bare/versions",
      churnAppSpec(
        "churn-bare",
        {
          rateLimit: { perKeyPerSecond: 0, perAppPerSecond: 0 },
          concurrency: { maxInFlight: 100_000, maxQueue: 0 },
          timeouts: { requestMs: 600_000 },
          cache: { enabled: false },
          idempotency: { enabled: false },
        },
        MONITORING_OFF,
      ),
    );
    // "churn-canary": the "churn" spec in production and again as a candidate in staging,
    // promoted by canary at 50% (the most mixed split, so the router's draw decides every
    // request). A day-long interval and gates that can neither pass nor fail during the run
    // (more requests needed to judge than the bench sends, any error rate allowed, no latency
    // limits, no golden suite): the controller holds the step for the whole run.
    await post(
      "/v1/apps/churn-canary/versions",
      churnAppSpec("churn-canary", POLICIES_ON, MONITORING_OFF),
    );
    await post("/v1/apps/churn-canary/versions", {
      ...churnAppSpec("churn-canary", POLICIES_ON, MONITORING_OFF),
      deploy: "staging",
    });
    await post("/v1/apps/churn-canary/promote", {
      to: "production",
      strategy: "canary",
      steps: "50,100",
      intervalSeconds: 86_400,
      minRequests: 1_000_000,
      maxErrorRate: 1,
      maxP95Ms: 0,
      maxP95Ratio: 0,
      requireGolden: false,
    });
    /** The canary's live view: still at 50%, and each version's requests in the step. */
    const canaryState = async () => {
      const { active } = (await get("/v1/apps/churn-canary/releases")) as {
        active: {
          release: { state: string; percent: number };
          traffic: { role: string; version: number; requests: number }[];
        } | null;
      };
      if (active?.release.state !== "running" || active.release.percent !== 50) {
        throw new Error(
          `the canary row's release is no longer at 50%: ${JSON.stringify(active?.release ?? null)}`,
        );
      }
      return active.traffic;
    };
    await canaryState();
    const model = (await (
      await fetch(new URL("/v1/models/churn", base), { headers: auth })
    ).json()) as { model: { learner: string; artifactSha256: string } };

    const bare = await startProcess(["bench/bare-fastify.mjs"], {}, /LISTENING (\S+)/, true);
    children.push(bare.child);
    const bareUrl = `${bare.match[1]}/predict`;
    // The same model file, served by a bare Fastify handler with the same predictor.
    const sha = model.model.artifactSha256;
    const bareModel = await startProcess(
      ["bench/bare-fastify.mjs"],
      { BENCH_ARTIFACT: path.join(dataDir, "blobs", "sha256", sha.slice(0, 2), sha) },
      /LISTENING (\S+)/,
      true,
    );
    children.push(bareModel.child);
    const bareModelUrl = `${bareModel.match[1]}/predict`;
    const churnUrl = `${base}/v1/apps/churn/predict`;
    const bareRouteUrl = `${base}/v1/apps/churn-bare/predict`;
    const watchedUrl = `${base}/v1/apps/churn-watched/predict`;
    const canaryUrl = `${base}/v1/apps/churn-canary/predict`;

    // Warm both up, then alternate rounds.
    await autocannon({
      url: churnUrl,
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify(ROW),
      duration: 2,
      connections: CONNECTIONS,
    });
    for (const url of [bareUrl, bareModelUrl]) {
      await autocannon({
        url,
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(ROW),
        duration: 2,
        connections: CONNECTIONS,
      });
    }
    for (const url of [bareRouteUrl, watchedUrl, canaryUrl]) {
      await autocannon({
        url,
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify(ROW),
        duration: 2,
        connections: CONNECTIONS,
      });
    }
    const rows: Record<string, Round[]> = {
      "bare Fastify (constant)": [],
      "bare Fastify + churn model": [],
      "Ballast, policies off": [],
      "Ballast, policies on": [],
      "policies on + monitoring": [],
      "policies on + canary router": [],
    };
    for (let i = 0; i < ROUNDS; i++) {
      rows["bare Fastify (constant)"]?.push(await load(bareUrl, {}, bare.child));
      rows["bare Fastify + churn model"]?.push(await load(bareModelUrl, {}, bareModel.child));
      rows["Ballast, policies off"]?.push(await load(bareRouteUrl, auth, ballast.child));
      rows["Ballast, policies on"]?.push(await load(churnUrl, auth, ballast.child));
      rows["policies on + monitoring"]?.push(
        await load(watchedUrl, auth, ballast.child, LOG_SETTLE_MS),
      );
      rows["policies on + canary router"]?.push(await load(canaryUrl, auth, ballast.child));
    }
    // The row measured a router with two versions to pick from only if the release held still.
    const traffic = await canaryState();
    const summary = Object.entries(rows).map(([name, rounds]) => ({
      name,
      rps: median(rounds.map((r) => r.rps)),
      cpuUs: median(rounds.map((r) => r.cpuUs)),
      p50: median(rounds.map((r) => r.p50)),
      p99: median(rounds.map((r) => r.p99)),
      bad: rounds.reduce((s, r) => s + r.errors + r.non2xx, 0),
    }));
    const bareRps = summary[0]?.rps ?? 1;
    const bareModelRps = summary[1]?.rps ?? 1;
    const routeRps = summary[2]?.rps ?? 1;
    const policiesRps = summary[3]?.rps ?? 1;
    process.stdout.write(
      `\nbench:serve — ${ROUNDS} rounds x ${SECONDS}s, ${CONNECTIONS} connections, single-row churn requests (model: ${model.model.learner}), medians\n\n`,
    );
    process.stdout.write(
      `${"route".padEnd(28)}${"req/s".padStart(10)}${"CPU µs".padStart(9)}${"p50 ms".padStart(9)}${"p99 ms".padStart(9)}${"vs bare".padStart(9)}${"vs model".padStart(10)}${"vs off".padStart(9)}${"vs on".padStart(8)}${"errors".padStart(8)}\n`,
    );
    for (const s of summary) {
      process.stdout.write(
        `${s.name.padEnd(28)}${s.rps.toFixed(0).padStart(10)}${s.cpuUs.toFixed(0).padStart(9)}${s.p50.toFixed(1).padStart(9)}${s.p99.toFixed(1).padStart(9)}${(s.rps / bareRps).toFixed(2).padStart(9)}${(s.rps / bareModelRps).toFixed(2).padStart(10)}${(s.rps / routeRps).toFixed(2).padStart(9)}${(s.rps / policiesRps).toFixed(2).padStart(8)}${String(s.bad).padStart(8)}\n`,
      );
    }
    // Issue 6's row, round by round: each round runs "policies on" just before it, so the
    // ratio of the two is paired against the machine's drift from round to round.
    const onRounds = rows["Ballast, policies on"] ?? [];
    const paired = (rows["policies on + monitoring"] ?? []).map(
      (r, i) => r.rps / (onRounds[i]?.rps ?? Number.NaN),
    );
    process.stdout.write(
      `\nmonitoring vs policies on, each round against the round's own "policies on": req/s ×${paired.map((x) => x.toFixed(2)).join(", ×")} (median ×${median(paired).toFixed(3)})\n`,
    );
    // Issue 7's goal is no measurable difference: the ratio is reported, not asserted, because
    // on a shared machine the rounds' noise is larger than what a test could hold it to.
    const on = summary[3];
    const canary = summary[5];
    if (on && canary) {
      const split = traffic.map((t) => `v${t.version} (${t.role}) ${t.requests}`).join(", ");
      process.stdout.write(
        `\ncanary router vs policies on: req/s ×${(canary.rps / on.rps).toFixed(3)}, CPU µs/request ×${(canary.cpuUs / on.cpuUs).toFixed(3)}; requests per version this step: ${split}\n`,
      );
    }
  } finally {
    for (const child of children) child.kill("SIGTERM");
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
