/**
 * Live drift's share of a served request: single-row churn predictions over HTTP to two apps on
 * the same model in one Ballast process, one with monitoring off and one with drift only (no
 * prediction log). Printed per app: req/s and the server's CPU µs per request (all its threads,
 * from /proc, read 1.5 s after each round so the drift timer's flushes count), and the median of
 * the rounds' differences: what drift costs per request, all in (observe, flushes, and the
 * garbage it keeps alive until a flush).
 *
 * The server is compiled (as `npm start` runs it) into bench/.cache/drift-build, apart from the
 * shared dist/, so the bench can run while the tree is being edited. BENCH_COMPARE=<dir> also
 * starts a second server from a build made elsewhere (its dist/ and package.json, e.g. of another
 * revision), and rounds rotate over all four apps, so a before/after comparison shares the
 * machine's load as it comes and goes: on a shared machine, sequential runs differ by more
 * than the µs measured.
 *
 * BENCH_NODE_ARGS adds node flags to the servers (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof": a
 * profile, written when a server is stopped).
 *
 *   npx tsx bench/drift-serve.ts      (env: BENCH_SECONDS=4, BENCH_ROUNDS=12, BENCH_CONNECTIONS=32)
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import { CHURN_RECORD } from "../test/helpers/churn.ts";
import { ballastApi, trainChurn } from "./ballast-api.ts";

const require = createRequire(import.meta.url);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 12);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const BUILD = fileURLToPath(new URL("./.cache/drift-build/", import.meta.url));
const COMPARE = process.env.BENCH_COMPARE ? path.resolve(process.env.BENCH_COMPARE) : undefined;
const CLOCK_TICKS = Number(process.env.BENCH_CLOCK_TICKS ?? 100);

/** User + system CPU of a process, all threads, in µs (Linux /proc). */
function cpuMicros(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1_000_000) / CLOCK_TICKS;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

const APPS = {
  "monitoring off": { predictionLog: { enabled: false }, drift: { enabled: false } },
  "drift only": { predictionLog: { enabled: false }, drift: { enabled: true } },
};
type AppName = keyof typeof APPS;
const slug = (name: string) => `churn-${name.replaceAll(" ", "-")}`;

interface Server {
  readonly label: string;
  readonly child: ChildProcess;
  readonly url: string;
  readonly auth: Record<string, string>;
  readonly dataDir: string;
}

/** Start a build's server on a fresh data dir, train the churn model, publish both apps. */
async function startServer(label: string, build: string): Promise<Server> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "ballast-bench-drift-"));
  const { child, url } = await new Promise<{ child: ChildProcess; url: string }>(
    (resolve, reject) => {
      const child = spawn(
        process.execPath,
        [
          ...(process.env.BENCH_NODE_ARGS?.split(" ").filter(Boolean) ?? []),
          path.join(build, "dist/cli/main.js"),
          "serve",
          "--port",
          "0",
          "--no-demo",
        ],
        {
          env: {
            ...process.env,
            BALLAST_DATA_DIR: dataDir,
            BALLAST_LOG_LEVEL: "warn",
            BALLAST_WORKSPACE_RPS: "1000000",
            BALLAST_WORKSPACE_BURST: "1000000",
          },
          stdio: ["ignore", "pipe", "inherit"],
        },
      );
      let buffer = "";
      const timer = setTimeout(() => reject(new Error(`${label} did not start`)), 60_000);
      child.stdout?.on("data", (chunk: Buffer) => {
        buffer += chunk.toString();
        const match = /Ballast is running at (\S+)/.exec(buffer);
        if (match) {
          clearTimeout(timer);
          resolve({ child, url: match[1] as string });
        }
      });
      child.on("exit", (code) => reject(new Error(`${label} exited with ${code}`)));
    },
  );
  const api = ballastApi(url, dataDir);
  const { auth, post } = api;
  await trainChurn(api, 10);
  const steps = [
    { id: "input", kind: "input" },
    { id: "validate", kind: "validate", after: ["input"] },
    { id: "model", kind: "model", after: ["validate"], with: { name: "churn", version: 1 } },
    { id: "output", kind: "output", after: ["model"] },
  ];
  const policies = {
    rateLimit: { perKeyPerSecond: 0, perAppPerSecond: 0 },
    concurrency: { maxInFlight: 100_000, maxQueue: 0 },
    timeouts: { requestMs: 600_000 },
    cache: { enabled: false },
    idempotency: { enabled: false },
  };
  for (const [name, monitoring] of Object.entries(APPS)) {
    const app = slug(name);
    await post("/v1/apps", { model: "churn", app });
    await post(`/v1/apps/${app}/versions`, {
      spec: { apiVersion: "ballast/v1", kind: "App", name: app, steps, policies, monitoring },
    });
  }
  return { label, child, url, auth, dataDir };
}

/** One round on one app: req/s, server CPU µs per request, and the requests answered. */
async function load(server: Server, app: AppName, seconds: number) {
  const before = cpuMicros(server.child.pid);
  const result = await autocannon({
    url: `${server.url}/v1/apps/${slug(app)}/predict`,
    method: "POST",
    headers: { ...server.auth, "content-type": "application/json" },
    body: JSON.stringify(CHURN_RECORD),
    connections: CONNECTIONS,
    duration: seconds,
  });
  if (result.non2xx + result.errors > 0) throw new Error(`${app}: failed requests`);
  await new Promise((res) => setTimeout(res, 1500));
  const cpu = (cpuMicros(server.child.pid) - before) / Math.max(1, result.requests.total);
  return { rps: result.requests.average, cpu, total: result.requests.total };
}

async function main() {
  execFileSync(
    process.execPath,
    [
      require.resolve("typescript/bin/tsc"),
      "-p",
      "tsconfig.build.json",
      "--outDir",
      path.join(BUILD, "dist"),
    ],
    { stdio: "inherit" },
  );
  // The server reads its version (and the module type) from the package root beside dist/.
  copyFileSync("package.json", path.join(BUILD, "package.json"));
  const servers: Server[] = [];
  try {
    servers.push(await startServer("this tree", BUILD));
    if (COMPARE) servers.push(await startServer(path.basename(COMPARE), COMPARE));
    const names = Object.keys(APPS) as AppName[];
    const cells = servers.flatMap((server) => names.map((app) => ({ server, app })));
    for (const { server, app } of cells) await load(server, app, 2);
    const rounds = new Map<string, { rps: number; cpu: number; total: number }[]>();
    const key = (server: Server, app: string) => `${server.label}: ${app}`;
    for (let i = 0; i < ROUNDS; i++) {
      // Rotate the order, so a load that comes and goes weighs on every app alike.
      for (let j = 0; j < cells.length; j++) {
        const { server, app } = cells[(i + j) % cells.length] as (typeof cells)[number];
        const k = key(server, app);
        rounds.set(k, [...(rounds.get(k) ?? []), await load(server, app, SECONDS)]);
      }
    }
    process.stdout.write(
      `\nbench drift-serve — ${ROUNDS} rounds x ${SECONDS}s, ${CONNECTIONS} connections, medians\n`,
    );
    for (const server of servers) {
      for (const app of names) {
        const rs = rounds.get(key(server, app)) ?? [];
        const rps = median(rs.map((r) => r.rps)).toFixed(0);
        const cpu = median(rs.map((r) => r.cpu)).toFixed(1);
        const total = rs.reduce((sum, r) => sum + r.total, 0);
        process.stdout.write(
          `${key(server, app).padEnd(36)}${rps.padStart(8)} req/s${cpu.padStart(8)} µs CPU/request, ${total} requests (rounds: ${rs.map((r) => r.cpu.toFixed(1)).join(", ")})\n`,
        );
      }
      const on = rounds.get(key(server, "drift only")) ?? [];
      const off = rounds.get(key(server, "monitoring off")) ?? [];
      const pairs = on.map((r, i) => r.cpu - (off[i]?.cpu ?? Number.NaN));
      process.stdout.write(
        `${server.label}: drift's share ${median(pairs).toFixed(1)} µs CPU per request (median of the rounds' differences: ${pairs.map((d) => d.toFixed(1)).join(", ")})\n`,
      );
    }
  } finally {
    for (const server of servers) {
      server.child.kill("SIGTERM");
      rmSync(server.dataDir, { recursive: true, force: true });
    }
  }
}

await main();
