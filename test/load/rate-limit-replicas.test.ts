/**
 * Two replicas, one Redis: the app's rate limit is one bucket however many server processes
 * serve it. Both processes share the data dir (one registry) and a Redis key prefix unique to
 * this run; calls alternate between them, and the combined number admitted stays within the
 * burst plus the rate over the elapsed time. Fails, not skips, without Redis on 127.0.0.1.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { checkRedis, openRedis } from "../../src/store/redis.ts";
import { CHURN_RECORD } from "../helpers/churn.ts";
import { deleteRedisKeys, TEST_REDIS_URL } from "../helpers/redis.ts";
import {
  publishChurnOver,
  type ServerProcess,
  startServerProcess,
} from "../helpers/server-process.ts";
import { churnSpec, saveSpec } from "../helpers/specs.ts";

const prefix = `ballast-test-${randomUUID()}:`;
let a: ServerProcess;
let b: ServerProcess;

beforeAll(async () => {
  // Without Redis each replica would limit on its own: fail here, never pass by accident.
  const redis = openRedis({ url: TEST_REDIS_URL });
  try {
    await checkRedis(redis, TEST_REDIS_URL);
  } finally {
    redis.disconnect();
  }
  const env = { BALLAST_REDIS_URL: TEST_REDIS_URL, BALLAST_REDIS_PREFIX: prefix };
  a = await startServerProcess({ env });
  await publishChurnOver(a);
  await saveSpec(
    a,
    churnSpec({
      policies: {
        rateLimit: { perKeyPerSecond: 0, perAppPerSecond: 5, perAppBurst: 10 },
      },
    }),
  );
  b = await startServerProcess({ dataDir: a.dataDir, env });
}, 120_000);

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await deleteRedisKeys(prefix);
});

it("keeps the combined rate of two replicas within one limit", async () => {
  const headers = { authorization: `Bearer ${a.adminKey}`, "content-type": "application/json" };
  const body = JSON.stringify(CHURN_RECORD);
  // Both replicas load the app (without spending tokens) before the measured window starts.
  for (const s of [a, b]) {
    const r = await fetch(new URL("/v1/apps/churn", s.url), { headers });
    expect(r.status).toBe(200);
  }
  const started = performance.now();
  const admitted = { a: 0, b: 0 };
  let limited = 0;
  for (let round = 0; round < 20; round++) {
    const answers = await Promise.all(
      [a, b].flatMap((s, si) =>
        Array.from({ length: 3 }, async () => {
          const r = await fetch(new URL("/v1/apps/churn/predict", s.url), {
            method: "POST",
            headers,
            body,
          });
          await r.arrayBuffer();
          return { replica: si === 0 ? ("a" as const) : ("b" as const), status: r.status };
        }),
      ),
    );
    for (const x of answers) {
      if (x.status === 200) admitted[x.replica]++;
      else if (x.status === 429) limited++;
      else throw new Error(`unexpected status ${x.status}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const elapsed = (performance.now() - started) / 1000;
  const total = admitted.a + admitted.b;
  console.log(
    `two replicas: admitted ${total} (a ${admitted.a}, b ${admitted.b}), limited ${limited} in ${elapsed.toFixed(2)} s; allowed at most ${(10 + 5 * elapsed).toFixed(1)}`,
  );
  expect(total).toBeLessThanOrEqual(Math.floor(10 + 5 * elapsed) + 1);
  expect(admitted.a).toBeGreaterThan(0);
  expect(admitted.b).toBeGreaterThan(0);
  expect(limited).toBeGreaterThan(0);
}, 60_000);
