/**
 * Overload, bounded: the churn app with an http step (an external model answering in 50 ms)
 * behind a bulkhead of 4 in flight and a short queue, so its capacity is set by its policies
 * rather than by how busy the machine running the test happens to be. We measure what it can serve, then send
 * half of that and three times that, open loop (on a fixed schedule, as real users do), from
 * this process to a server in its own process. The server must stay up, keep the p99 of what
 * it accepts within twice the p99 at normal load, shed the rest with 503 + Retry-After, never
 * answer 500, and not grow its memory. Everything targets 127.0.0.1 and stops by itself.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { CHURN_RECORD } from "../helpers/churn.ts";
import { openLoop, percentile } from "../helpers/open-loop.ts";
import {
  publishChurnOver,
  type ServerProcess,
  startServerProcess,
} from "../helpers/server-process.ts";
import { churnSpec, saveSpec } from "../helpers/specs.ts";

let server: ServerProcess;
let upstream: ChildProcess | undefined;

/** The external model, in its own process so the load generator cannot delay its answers. */
async function startUpstreamProcess(delayMs: number): Promise<string> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "test/helpers/upstream-main.ts", String(delayMs)],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  upstream = child;
  return new Promise((resolve, reject) => {
    let text = "";
    child.stdout?.on("data", (c: Buffer) => {
      text += c.toString();
      const m = /UPSTREAM (\S+)/.exec(text);
      if (m?.[1]) resolve(m[1]);
    });
    child.once("exit", (code) => reject(new Error(`the upstream exited with ${code}`)));
  });
}

beforeAll(async () => {
  server = await startServerProcess();
  await publishChurnOver(server);
  const upstreamUrl = await startUpstreamProcess(50);
  await saveSpec(
    server,
    churnSpec({
      middle: [
        {
          id: "external",
          kind: "http",
          with: { url: upstreamUrl, timeoutMs: 2000, maxConcurrent: 64 },
        },
      ],
      policies: {
        concurrency: { maxInFlight: 4, maxQueue: 2, maxQueueWaitMs: 10 },
        rateLimit: { perKeyPerSecond: 0, perAppPerSecond: 0 },
      },
    }),
  );
}, 120_000);

afterAll(async () => {
  await server?.stop();
  upstream?.kill("SIGTERM");
});

const rssMb = (pid: number) => {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
};

it("sheds three times its capacity with 503s and keeps the accepted p99 within 2x", async () => {
  const target = {
    url: new URL("/v1/apps/churn/predict", server.url).href,
    headers: { authorization: `Bearer ${server.adminKey}`, "content-type": "application/json" },
    body: JSON.stringify(CHURN_RECORD),
  };
  // Warm up, then measure capacity with a closed loop of as many callers as the bulkhead
  // runs at once, for 2 s (more would only spin on 503s).
  await openLoop({ ...target, ratePerSecond: 100, seconds: 1 });
  let served = 0;
  const until = performance.now() + 2000;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (performance.now() < until) {
        const r = await fetch(target.url, {
          method: "POST",
          headers: target.headers,
          body: target.body,
        });
        await r.arrayBuffer();
        if (r.status === 200) served++;
      }
    }),
  );
  const capacity = served / 2;
  expect(capacity).toBeGreaterThan(20);
  const pid = server.child.pid as number;
  const rssBefore = rssMb(pid);

  const runtime = async () =>
    (await (
      await fetch(new URL("/v1/apps/churn/runtime", server.url), { headers: target.headers })
    ).json()) as {
      eventLoop: { p99Ms: number; maxMs: number; utilization: number };
    };
  await runtime(); // start a fresh event-loop window
  const normal = await openLoop({
    ...target,
    ratePerSecond: Math.round(capacity * 0.5),
    seconds: 3,
  });
  const loopNormal = (await runtime()).eventLoop;
  const over = await openLoop({ ...target, ratePerSecond: Math.round(capacity * 3), seconds: 3 });
  const loopOver = (await runtime()).eventLoop;
  console.log(
    `server event loop: normal ${JSON.stringify(loopNormal)}; at 3x ${JSON.stringify(loopOver)}`,
  );
  const rssAfter = rssMb(pid);

  const ok = (samples: typeof normal.samples) =>
    samples.filter((s) => s.status === 200).map((s) => s.ms);
  const normalP99 = percentile(ok(normal.samples), 99);
  const overP99 = percentile(ok(over.samples), 99);
  const statuses = new Map<number, number>();
  for (const s of over.samples) statuses.set(s.status, (statuses.get(s.status) ?? 0) + 1);
  console.log(
    `overload: capacity ${capacity.toFixed(0)}/s; normal p99 ${normalP99.toFixed(1)} ms; at 3x: accepted ${ok(over.samples).length}, p99 ${overP99.toFixed(1)} ms, statuses ${JSON.stringify(Object.fromEntries(statuses))}; rss ${rssBefore.toFixed(0)} -> ${rssAfter.toFixed(0)} MB`,
  );

  expect(normal.transportErrors + over.transportErrors).toBe(0);
  expect(normal.samples.every((s) => s.status === 200)).toBe(true);
  // Only answers and sheds: no 500s, nothing but 200 and 503 (rate limits are off here).
  expect([...statuses.keys()].sort()).toEqual([200, 503]);
  expect(statuses.get(503)).toBeGreaterThan(over.samples.length * 0.3);
  // It kept serving about its capacity while shedding the excess.
  expect(ok(over.samples).length).toBeGreaterThan(capacity * 3 * 0.5);
  expect(overP99).toBeLessThanOrEqual(2 * normalP99);
  expect(rssAfter - rssBefore).toBeLessThan(150);
  const health = await fetch(new URL("/healthz", server.url));
  expect(health.status).toBe(200);
}, 60_000);
