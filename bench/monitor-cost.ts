/**
 * `npm run bench:monitor`: what monitoring costs the event loop of a server answering single-row
 * churn predictions, measured so that the machine's speed cancels out.
 *
 * `bench:serve` compares req/s, which on a shared 2-core VM moves by 20-30% within minutes, so
 * its monitoring ratio (issue 6's goal: at least 0.95 of the same route without monitoring)
 * moved from 0.77 to 1.04 between runs of the same build. Here one Ballast process serves two
 * routes that differ only in monitoring ("churn", off; "churn-watched", every request logged
 * and drift on, as in bench:serve), in alternating rounds, under V8's CPU profiler. Each
 * profile sample of the event loop is charged to the round it fell in (its load and the
 * settling after it) and to what it was doing, found from its stack:
 * - prediction log: `src/monitor/prediction-log/` (encoding batches, the spool), DuckDB's
 *   binding, Node's promise-based file calls (only the log writes files while serving), and
 *   piscina and Node's message ports (only the log's line thread takes tasks while serving: the
 *   churn model runs on the event loop), so the replies its thread sends are counted too;
 * - drift: `src/monitor/drift/`;
 * - garbage collector: V8's own samples (what monitoring adds is the difference of the routes);
 * - serving: everything else (parsing, policies, the model, the answer, metrics).
 * Divided by each route's requests, those are µs of event loop per request. A slower moment
 * slows every part of a round alike, so the share each part takes is steady where req/s is
 * not. The estimate printed is one minus the share of the monitored route's own event loop
 * that monitoring took (its log and drift, and the collector's time beyond the route without
 * monitoring): the throughput ratio when the event loop is what limits the route (it is here:
 * the Ballast main thread is saturated while the load generator uses about half a core), from
 * samples of the same rounds, so it does not depend on how fast the machine ran in the other
 * route's rounds (except the collector's baseline). It leaves out what other threads (DuckDB
 * storing the spool) take from the second core: the CPU of all the server's threads per
 * request is printed beside it. Under the profiler both routes run slower than in bench:serve.
 *
 * Options (env): BENCH_SECONDS (per round, default 8), BENCH_ROUNDS (per route, default 4),
 * BENCH_CONNECTIONS (default 32), BENCH_DETAIL (a number: also print that many functions that
 * took the most of the monitored route's prediction log and drift, by self time).
 */
import { type ChildProcess, execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import autocannon from "autocannon";
import { CHURN_RECORD } from "../test/helpers/churn.ts";
import { ballastApi, trainChurn } from "./ballast-api.ts";
import { churnAppSpec, MONITORING_OFF, MONITORING_ON, POLICIES_ON } from "./churn-apps.ts";
import { cpuMicros, startBallast } from "./processes.ts";

const require = createRequire(import.meta.url);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const DETAIL = Number(process.env.BENCH_DETAIL ?? 0);
/**
 * After each round, before the next: the log spools within 1 s and stores its spool within
 * 10 s. The same for both routes, so the profiler's own CPU while idle weighs on both alike.
 */
const SETTLE_MS = 11_500;

type Route = "off" | "watched";
const PARTS = ["serving", "prediction log", "drift", "garbage collector"] as const;
type Part = (typeof PARTS)[number];

interface Round {
  readonly route: Route;
  /** The round's span on the monotonic clock V8's profiler uses, µs: its load and settling. */
  readonly from: number;
  readonly to: number;
  readonly requests: number;
  readonly rps: number;
  /** All threads of the server, µs per request. */
  readonly cpuUs: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string };
  readonly children?: readonly number[];
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** What a sample's stack was doing, from the innermost frame out; undefined for idle. */
function partOf(stack: readonly ProfileNode["callFrame"][]): Part | undefined {
  const leaf = stack[0]?.functionName;
  if (leaf === "(idle)") return undefined;
  if (leaf === "(garbage collector)") return "garbage collector";
  for (const frame of stack) {
    const url = frame.url;
    if (url.includes("/monitor/drift/")) return "drift";
    if (
      url.includes("/monitor/prediction-log/") ||
      url.includes("@duckdb") ||
      url === "node:internal/fs/promises" ||
      url.includes("/piscina/") ||
      url === "node:internal/per_context/messageport" ||
      url.startsWith("node:internal/worker")
    ) {
      return "prediction log";
    }
  }
  return "serving";
}

/** µs of event loop per part, summed over each route's rounds. */
function chargeSamples(profile: Profile, rounds: readonly Round[]) {
  const parent = new Map<number, number>();
  const byId = new Map<number, ProfileNode>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const partCache = new Map<number, Part | undefined>();
  const part = (id: number) => {
    if (partCache.has(id)) return partCache.get(id);
    const stack: ProfileNode["callFrame"][] = [];
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const node = byId.get(at);
      if (node) stack.push(node.callFrame);
    }
    const found = partOf(stack);
    partCache.set(id, found);
    return found;
  };
  const spent = {
    off: Object.fromEntries(PARTS.map((p) => [p, 0])) as Record<Part, number>,
    watched: Object.fromEntries(PARTS.map((p) => [p, 0])) as Record<Part, number>,
  };
  /** The monitored route's prediction log and drift, by the function a sample was in. */
  const bySelf = new Map<string, number>();
  let time = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0;
    time += delta;
    const round = rounds.find((r) => r.from <= time && time < r.to);
    if (!round) continue;
    const id = profile.samples[i] as number;
    const p = part(id);
    if (p !== undefined) spent[round.route][p] += delta;
    if (round.route === "watched" && (p === "prediction log" || p === "drift")) {
      const frame = byId.get(id)?.callFrame;
      const where = frame
        ? `${frame.functionName || "(anonymous)"} ${frame.url.replace(/^.*\/(src|node_modules)\//, "")}`
        : "?";
      const name = `${p}: ${where}`;
      bySelf.set(name, (bySelf.get(name) ?? 0) + delta);
    }
  }
  return { spent, bySelf };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

const nowMicros = () => Number(process.hrtime.bigint() / 1000n);

async function main() {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "ballast-bench-"));
  const profileDir = mkdtempSync(path.join(os.tmpdir(), "ballast-bench-profile-"));
  let child: ChildProcess | undefined;
  try {
    execFileSync(
      process.execPath,
      [require.resolve("typescript/bin/tsc"), "-p", "tsconfig.build.json"],
      { stdio: "inherit" },
    );
    const ballast = await startBallast(dataDir, [
      "--cpu-prof",
      `--cpu-prof-dir=${profileDir}`,
      "--cpu-prof-interval",
      "250",
    ]);
    child = ballast.child;
    const base = ballast.base;
    const api = ballastApi(base, dataDir);
    await trainChurn(api, 20);
    await api.post("/v1/apps", { model: "churn" });
    await api.post("/v1/apps", { model: "churn", app: "churn-watched" });
    await api.post("/v1/apps/churn/versions", churnAppSpec("churn", POLICIES_ON, MONITORING_OFF));
    await api.post(
      "/v1/apps/churn-watched/versions",
      churnAppSpec("churn-watched", POLICIES_ON, MONITORING_ON),
    );
    const urls: Record<Route, string> = {
      off: `${base}/v1/apps/churn/predict`,
      watched: `${base}/v1/apps/churn-watched/predict`,
    };
    const load = (route: Route, duration: number) =>
      autocannon({
        url: urls[route],
        method: "POST",
        headers: { ...api.auth, "content-type": "application/json" },
        body: JSON.stringify(CHURN_RECORD),
        connections: CONNECTIONS,
        duration,
      });
    for (const route of ["off", "watched"] as const) await load(route, 2);
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));

    const rounds: Round[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const order: Route[] = i % 2 === 0 ? ["off", "watched"] : ["watched", "off"];
      for (const route of order) {
        const from = nowMicros();
        const cpuBefore = cpuMicros(child.pid);
        const result = await load(route, SECONDS);
        await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
        const cpuAfter = cpuMicros(child.pid);
        const requests = result.requests.total;
        if (result.errors + result.non2xx > 0) {
          throw new Error(`${route}: ${result.errors} errors and ${result.non2xx} non-2xx answers`);
        }
        rounds.push({
          route,
          from,
          to: nowMicros(),
          requests,
          rps: result.requests.average,
          cpuUs:
            cpuBefore === undefined || cpuAfter === undefined
              ? Number.NaN
              : (cpuAfter - cpuBefore) / Math.max(1, requests),
        });
      }
    }

    // The main thread's profile is written when the process exits (thread id 0 in its name).
    const exited = new Promise((resolve) => child?.once("exit", resolve));
    child.kill("SIGTERM");
    await exited;
    child = undefined;
    const file = readdirSync(profileDir).find((name) => /^CPU\.\d+\.\d+\.\d+\.0\./.test(name));
    if (!file) throw new Error(`no main-thread CPU profile in ${profileDir}`);
    const profile = JSON.parse(readFileSync(path.join(profileDir, file), "utf8")) as Profile;
    const { spent, bySelf } = chargeSamples(profile, rounds);

    const requests = (route: Route) =>
      rounds.filter((r) => r.route === route).reduce((sum, r) => sum + r.requests, 0);
    const perRequest = (route: Route, part: Part) => spent[route][part] / requests(route);
    const busy = (route: Route) => PARTS.reduce((sum, p) => sum + perRequest(route, p), 0);
    const paired = rounds
      .filter((r) => r.route === "watched")
      .map((w) => {
        const i = rounds.indexOf(w);
        const partner = rounds[i % 2 === 0 ? i + 1 : i - 1] as Round;
        return w.rps / partner.rps;
      });

    process.stdout.write(
      `\nbench:monitor — ${ROUNDS} rounds x ${SECONDS}s per route, ${CONNECTIONS} connections, single-row churn requests, under V8's CPU profiler\n\n`,
    );
    process.stdout.write(
      `${"route".padEnd(24)}${"req/s".padStart(8)}${"CPU µs".padStart(8)}${"loop µs".padStart(9)}${PARTS.map((p) => p.padStart(19)).join("")}\n`,
    );
    for (const route of ["off", "watched"] as const) {
      const own = rounds.filter((r) => r.route === route);
      process.stdout.write(
        `${(route === "off" ? "policies on" : "policies on + monitoring").padEnd(24)}${median(
          own.map((r) => r.rps),
        )
          .toFixed(0)
          .padStart(8)}${median(own.map((r) => r.cpuUs))
          .toFixed(0)
          .padStart(
            8,
          )}${busy(route).toFixed(1).padStart(9)}${PARTS.map((p) => perRequest(route, p).toFixed(2).padStart(19)).join("")}\n`,
      );
    }
    const added = {
      log: perRequest("watched", "prediction log") - perRequest("off", "prediction log"),
      drift: perRequest("watched", "drift") - perRequest("off", "drift"),
      gc: perRequest("watched", "garbage collector") - perRequest("off", "garbage collector"),
    };
    const total = added.log + added.drift + Math.max(0, added.gc);
    const watchedLoop = busy("watched");
    process.stdout.write(
      `\nmonitoring adds to the event loop, µs a request: prediction log ${added.log.toFixed(2)}, drift ${added.drift.toFixed(2)}, garbage collector ${added.gc.toFixed(2)}; in all ${total.toFixed(2)} of ${watchedLoop.toFixed(1)} (${((100 * total) / watchedLoop).toFixed(1)}%)\n`,
    );
    process.stdout.write(
      `throughput ratio if the event loop limits the route: ×${(1 - total / watchedLoop).toFixed(3)} (other threads are in "CPU µs", all threads of the server, the profiler's own included)\n`,
    );
    process.stdout.write(
      `req/s, monitoring vs off, each round against its partner: ×${paired.map((x) => x.toFixed(2)).join(", ×")} (median ×${median(paired).toFixed(3)}; noisy, see above)\n`,
    );
    if (DETAIL > 0) {
      process.stdout.write("\nmonitored route, µs a request by function (self time):\n");
      const top = [...bySelf].sort((a, b) => b[1] - a[1]).slice(0, DETAIL);
      for (const [name, us] of top) {
        process.stdout.write(`${(us / requests("watched")).toFixed(3).padStart(8)}  ${name}\n`);
      }
    }
  } finally {
    child?.kill("SIGTERM");
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(profileDir, { recursive: true, force: true });
  }
}

await main();
