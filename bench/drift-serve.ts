/**
 * Live drift's share of a served request: single-row churn predictions over HTTP to two apps on
 * the same model in one Ballast process, one with monitoring off and one with drift only (no
 * prediction log), rounds alternating. Printed per app: req/s and the server's CPU µs per request
 * (all its threads, from /proc, read 1.5 s after each round so the drift timer's flushes count),
 * and the difference of the medians: what drift costs per request, all in (observe, flushes, and
 * the garbage it keeps alive until a flush).
 *
 * The server is compiled (as `npm start` runs it) into bench/.cache/drift-build, apart from the
 * shared dist/, so the bench can run while the tree is being edited.
 *
 *   npx tsx bench/drift-serve.ts      (env: BENCH_SECONDS=8, BENCH_ROUNDS=4, BENCH_CONNECTIONS=32)
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import { CHURN_RECORD } from "../test/helpers/churn.ts";

const require = createRequire(import.meta.url);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const BUILD = fileURLToPath(new URL("./.cache/drift-build/", import.meta.url));
const CLOCK_TICKS = Number(process.env.BENCH_CLOCK_TICKS ?? 100);

/** User + system CPU of a process, all threads, in µs (Linux /proc). */
function cpuMicros(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1_000_000) / CLOCK_TICKS;
}

function start(dataDir: string): Promise<{ child: ChildProcess; url: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [path.join(BUILD, "dist/cli/main.js"), "serve", "--port", "0", "--no-demo"],
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
    const timer = setTimeout(() => reject(new Error("Ballast did not start")), 60_000);
    child.stdout?.on("data", (chunk: Buffer) => {
      buffer += chunk.toString();
      const match = /Ballast is running at (\S+)/.exec(buffer);
      if (match) {
        clearTimeout(timer);
        resolve({ child, url: match[1] as string });
      }
    });
    child.on("exit", (code) => reject(new Error(`Ballast exited with ${code}`)));
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

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
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "ballast-bench-drift-"));
  let child: ChildProcess | undefined;
  try {
    const server = await start(dataDir);
    child = server.child;
    const base = server.url;
    const auth = {
      authorization: `Bearer ${readFileSync(path.join(dataDir, "admin.key"), "utf8").trim()}`,
    };
    const post = async (route: string, body: unknown, raw = false) => {
      const r = await fetch(new URL(route, base), {
        method: "POST",
        headers: raw ? auth : { ...auth, "content-type": "application/json" },
        body: raw ? (body as Buffer) : JSON.stringify(body),
      });
      const json = (await r.json()) as Record<string, unknown>;
      if (!r.ok) throw new Error(`${route}: ${JSON.stringify(json)}`);
      return json;
    };
    await post(
      "/v1/datasets?name=churn&filename=wa_churn.csv",
      readFileSync("examples/data/wa_churn.csv"),
      true,
    );
    const { job } = (await post("/v1/train", {
      dataset: "churn",
      target: "churn",
      timeBudgetSeconds: 10,
    })) as { job: { id: string } };
    for (;;) {
      const r = (await (
        await fetch(new URL(`/v1/jobs/${job.id}`, base), { headers: auth })
      ).json()) as { job: { status: string; error?: unknown } };
      if (r.job.status === "succeeded") break;
      if (r.job.status === "failed")
        throw new Error(`training failed: ${JSON.stringify(r.job.error)}`);
      await new Promise((res) => setTimeout(res, 500));
    }
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
    const apps = {
      "monitoring off": { predictionLog: { enabled: false }, drift: { enabled: false } },
      "drift only": { predictionLog: { enabled: false }, drift: { enabled: true } },
    };
    const names = Object.keys(apps) as (keyof typeof apps)[];
    const slug = (name: string) => `churn-${name.replaceAll(" ", "-")}`;
    for (const name of names) {
      const app = slug(name);
      await post("/v1/apps", { model: "churn", app });
      await post(`/v1/apps/${app}/versions`, {
        spec: {
          apiVersion: "ballast/v1",
          kind: "App",
          name: app,
          steps,
          policies,
          monitoring: apps[name],
        },
      });
    }
    const load = async (app: string, seconds: number) => {
      const before = cpuMicros(child?.pid);
      const result = await autocannon({
        url: `${base}/v1/apps/${app}/predict`,
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify(CHURN_RECORD),
        connections: CONNECTIONS,
        duration: seconds,
      });
      if (result.non2xx + result.errors > 0) throw new Error(`${app}: failed requests`);
      await new Promise((res) => setTimeout(res, 1500));
      const cpu = (cpuMicros(child?.pid) - before) / Math.max(1, result.requests.total);
      return { rps: result.requests.average, cpu };
    };
    for (const name of names) await load(slug(name), 3);
    const rounds = new Map<string, { rps: number; cpu: number }[]>();
    for (let i = 0; i < ROUNDS; i++) {
      for (const name of names)
        rounds.set(name, [...(rounds.get(name) ?? []), await load(slug(name), SECONDS)]);
    }
    process.stdout.write(
      `\nbench drift-serve — ${ROUNDS} rounds x ${SECONDS}s, ${CONNECTIONS} connections, medians\n`,
    );
    const cpuOf = (name: string) => median((rounds.get(name) ?? []).map((r) => r.cpu));
    for (const name of names) {
      const rs = rounds.get(name) ?? [];
      process.stdout.write(
        `${name.padEnd(16)}${median(rs.map((r) => r.rps))
          .toFixed(0)
          .padStart(
            8,
          )} req/s${cpuOf(name).toFixed(1).padStart(8)} µs CPU/request  (rounds: ${rs.map((r) => r.cpu.toFixed(1)).join(", ")})\n`,
      );
    }
    process.stdout.write(
      `drift's share: ${(cpuOf("drift only") - cpuOf("monitoring off")).toFixed(1)} µs CPU per request\n`,
    );
  } finally {
    child?.kill("SIGTERM");
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
