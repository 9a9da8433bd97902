import { randomUUID } from "node:crypto";
import { createServer, type Server, type Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import fc from "fast-check";
import type { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { checkRedis, openRedis } from "../../store/redis.ts";
import { RateLimitedError } from "../errors.ts";
import {
  createRateLimiter,
  type RateLimitBucket,
  type RateLimiter,
  type RateLimitVerdict,
} from "./rate-limit.ts";

const REDIS_URL = process.env.BALLAST_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
/** Every key this file writes starts with this; removed in afterAll. */
const RUN_PREFIX = `ballast-test:rate-limit:${randomUUID()}:`;
let prefixes = 0;
const freshPrefix = () => `${RUN_PREFIX}${prefixes++}:`;

const bucket = (
  scope: RateLimitBucket["scope"],
  id: string,
  perSecond: number,
  burst: number,
): RateLimitBucket => ({ scope, id, perSecond, burst });

/** The verdict, or the RateLimitedError it was refused with. */
const attempt = (limiter: RateLimiter, buckets: readonly RateLimitBucket[]) =>
  limiter.consume(buckets).then(
    (verdict): RateLimitVerdict | RateLimitedError => verdict,
    (error: unknown) => {
      if (error instanceof RateLimitedError) return error;
      throw error;
    },
  );

async function deleteKeys(redis: Redis, prefix: string) {
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== "0");
}

let redis: Redis | undefined;
const connected = () => {
  if (!redis) throw new Error("Redis was not opened");
  return redis;
};

/** Fallbacks to in-process buckets during the Redis suite: it must run on Redis, so none. */
const fellBack: Error[] = [];

const BACKENDS: { name: string; create: () => RateLimiter }[] = [
  { name: "memory", create: () => createRateLimiter({ prefix: freshPrefix() }) },
  {
    name: "redis",
    create: () =>
      createRateLimiter({
        redis: connected(),
        prefix: freshPrefix(),
        onBackendError: (error) => fellBack.push(error),
      }),
  },
];

for (const backend of BACKENDS) {
  describe(`rate limits (${backend.name})`, () => {
    if (backend.name === "redis") {
      beforeAll(async () => {
        redis = openRedis({ url: REDIS_URL });
        // Fails (does not skip) the suite when Redis is unreachable.
        await checkRedis(redis, REDIS_URL);
      });
      afterEach(() => {
        expect(fellBack).toEqual([]);
      });
      afterAll(async () => {
        if (!redis) return;
        await deleteKeys(redis, RUN_PREFIX);
        redis.disconnect();
      });
    }

    it("admits a burst, counts it down in the verdict, then refuses with the 429 numbers", async () => {
      const limiter = backend.create();
      const key = [bucket("key", "ws:app:k1", 2, 3)];
      const verdicts = [];
      for (let i = 0; i < 3; i++) verdicts.push(await limiter.consume(key));
      expect(verdicts.map((v) => v.remaining)).toEqual([2, 1, 0]);
      for (const v of verdicts) {
        expect(v.limit).toBe(3);
        expect(v.scope).toBe("key");
        expect(v.policy).toBe('2;w=1;burst=3;comment="key"');
      }
      // Each token takes 500 ms to come back: the bucket is full again 1.5 s after three.
      expect(verdicts.map((v) => v.resetSeconds)).toEqual([1, 1, 2]);

      const refused = await attempt(limiter, key);
      expect(refused).toBeInstanceOf(RateLimitedError);
      expect(refused).toMatchObject({
        code: "rate_limited",
        scope: "key",
        limit: 3,
        remaining: 0,
        retryAfterSeconds: 1,
        resetSeconds: 2,
      });
    });

    it("refills one token every 1/rate seconds after the burst", async () => {
      const limiter = backend.create();
      const perSecond = 20;
      const burst = 5;
      const key = [bucket("key", "steady", perSecond, burst)];
      const started = performance.now();
      const opening = await Promise.all(Array.from({ length: 10 }, () => attempt(limiter, key)));
      expect(opening.filter((r) => !(r instanceof RateLimitedError))).toHaveLength(burst);
      const steadyFrom = performance.now();
      let admitted = 0;
      while (performance.now() - steadyFrom < 1000) {
        if (!((await attempt(limiter, key)) instanceof RateLimitedError)) admitted++;
        await sleep(5);
      }
      const now = performance.now();
      const steadySeconds = (now - steadyFrom) / 1000;
      // Never more than the burst plus the rate over the whole run...
      expect(burst + admitted).toBeLessThanOrEqual(burst + perSecond * ((now - started) / 1000));
      // ...and the rate is really given back (a token may be in flight at either end).
      expect(admitted).toBeGreaterThanOrEqual(Math.floor(perSecond * steadySeconds) - 2);
    });

    it("spends nothing from the other buckets when one refuses", async () => {
      const limiter = backend.create();
      const key = bucket("key", "ws:app:k2", 1, 3);
      const app = bucket("app", "ws:app", 1, 1);
      const first = await limiter.consume([key, app]);
      expect(first).toMatchObject({ scope: "app", remaining: 0, limit: 1 });
      const refused = await attempt(limiter, [key, app]);
      expect(refused).toMatchObject({ scope: "app", limit: 1, remaining: 0 });
      // Three tokens, one spent by the admitted request, none by the refused one.
      const keyOnly = await limiter.consume([key]);
      expect(keyOnly).toMatchObject({ scope: "key", remaining: 1 });
    });

    it("reports the tightest bucket, and the refusal that must wait longest", async () => {
      const limiter = backend.create();
      const key = bucket("key", "ws2:app:k", 10, 100);
      const workspace = bucket("workspace", "ws2", 1, 2);
      const verdict = await limiter.consume([key, workspace]);
      expect(verdict).toMatchObject({
        scope: "workspace",
        limit: 2,
        remaining: 1,
        policy: '1;w=1;burst=2;comment="workspace"',
      });
      // Both buckets empty: the workspace's (1 token/s) must wait longer than the app's (4/s).
      const app = bucket("app", "ws2:app", 4, 1);
      await limiter.consume([app]);
      await limiter.consume([workspace]);
      const refused = await attempt(limiter, [key, app, workspace]);
      expect(refused).toMatchObject({ scope: "workspace", retryAfterSeconds: 1, resetSeconds: 2 });
    });

    it("skips buckets with rate 0, and answers limit 0 when none is left", async () => {
      const limiter = backend.create();
      const none = await limiter.consume([bucket("key", "k", 0, 10), bucket("app", "a", 0, 0)]);
      expect(none).toMatchObject({ limit: 0, remaining: 0, resetSeconds: 0, policy: "" });
      expect(await limiter.consume([])).toMatchObject({ limit: 0 });
      const one = await limiter.consume([bucket("key", "k", 0, 10), bucket("app", "a", 5, 2)]);
      expect(one).toMatchObject({ scope: "app", limit: 2, remaining: 1 });
    });

    it("refuses nonsensical bucket settings instead of admitting everything", async () => {
      const limiter = backend.create();
      await expect(limiter.consume([bucket("key", "k", -1, 10)])).rejects.toThrow(/perSecond/);
      await expect(limiter.consume([bucket("key", "k", 10, 0)])).rejects.toThrow(/burst/);
    });
  });
}

describe("rate limits (memory, simulated time)", () => {
  it("admits exactly what an ideal token bucket admits, on random arrivals", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(1, 2, 5, 10, 20, 50, 100, 1000),
        fc.integer({ min: 1, max: 10 }),
        fc.array(fc.integer({ min: 0, max: 300 }), { minLength: 1, maxLength: 120 }),
        async (perSecond, burst, gaps) => {
          let now = 0;
          const limiter = createRateLimiter({ prefix: "", clock: () => now });
          const buckets = [bucket("key", "k", perSecond, burst)];
          // The reference: `burst` tokens, refilled continuously at `perSecond`.
          let tokens = burst;
          let last = 0;
          const admittedAt: number[] = [];
          for (const gap of gaps) {
            now += gap;
            tokens = Math.min(burst, tokens + ((now - last) * perSecond) / 1000);
            last = now;
            const expected = tokens >= 1 - 1e-9;
            if (expected) tokens -= 1;
            const outcome = await attempt(limiter, buckets);
            expect(!(outcome instanceof RateLimitedError)).toBe(expected);
            if (outcome instanceof RateLimitedError) {
              expect(outcome.retryAfterSeconds).toBeGreaterThanOrEqual(1);
              expect(Number.isInteger(outcome.retryAfterSeconds)).toBe(true);
            } else {
              expect(outcome.remaining).toBe(Math.floor(tokens + 1e-9));
              admittedAt.push(now);
            }
          }
          // The defining bound: in any interval, at most burst + rate * its length.
          for (let i = 0; i < admittedAt.length; i++) {
            for (let j = i; j < admittedAt.length; j++) {
              const span = ((admittedAt[j] as number) - (admittedAt[i] as number)) / 1000;
              expect(j - i + 1).toBeLessThanOrEqual(burst + perSecond * span + 1e-9);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("forgets full buckets, so memory follows the active callers", async () => {
    let now = 0;
    const limiter = createRateLimiter({ prefix: "", clock: () => now });
    for (let i = 0; i < 20_000; i++) {
      now += 1;
      await limiter.consume([bucket("key", `caller-${i}`, 1000, 1)]);
    }
    // Each bucket is full again 1 ms after its only request: a late caller starts full.
    const verdict = await limiter.consume([bucket("key", "caller-0", 1000, 1)]);
    expect(verdict.remaining).toBe(0);
    expect(verdict.limit).toBe(1);
  });
});

describe("rate limits shared through Redis", () => {
  const clients: Redis[] = [];
  const open = async () => {
    const client = openRedis({ url: REDIS_URL });
    clients.push(client);
    await checkRedis(client, REDIS_URL);
    return client;
  };
  afterAll(async () => {
    const first = clients[0];
    if (first) await deleteKeys(first, RUN_PREFIX);
    for (const client of clients) client.disconnect();
  });

  it("two replicas on two connections share one bucket: within burst + rate * elapsed", async () => {
    const prefix = freshPrefix();
    const errors: Error[] = [];
    const replicas = [await open(), await open()].map((client) =>
      createRateLimiter({ redis: client, prefix, onBackendError: (e) => errors.push(e) }),
    );
    const perSecond = 20;
    const burst = 10;
    const key = [bucket("app", "shared", perSecond, burst)];
    let admitted = 0;
    let refused = 0;
    const started = performance.now();
    const until = started + 1200;
    // Four callers per replica, each sending as fast as its answers come back.
    await Promise.all(
      replicas.flatMap((replica) =>
        Array.from({ length: 4 }, async () => {
          while (performance.now() < until) {
            const outcome = await attempt(replica, key);
            if (outcome instanceof RateLimitedError) refused++;
            else admitted++;
          }
        }),
      ),
    );
    const elapsed = (performance.now() - started) / 1000;
    expect(errors).toEqual([]);
    expect(refused).toBeGreaterThan(admitted);
    expect(admitted).toBeLessThanOrEqual(burst + perSecond * elapsed);
    // One bucket, not one each: two separate buckets would admit about twice this.
    expect(admitted).toBeGreaterThanOrEqual(burst + Math.floor(perSecond * 1.2) - 2);
    const keys = await (clients[0] as Redis).keys(`${prefix}*`);
    expect(keys).toEqual([`${prefix}rl:app:shared`]);
  });

  it("fails open to this replica's buckets when Redis is unreachable, and says so", async () => {
    // Nothing listens on port 1.
    const client = openRedis({ url: "redis://127.0.0.1:1" });
    client.on("error", () => {}); // connection refused, again and again: expected here
    clients.push(client);
    const errors: Error[] = [];
    const limiter = createRateLimiter({
      redis: client,
      prefix: freshPrefix(),
      backendTimeoutMs: 200,
      onBackendError: (e) => errors.push(e),
    });
    const key = [bucket("key", "offline", 1, 2)];
    const outcomes = [];
    for (let i = 0; i < 3; i++) outcomes.push(await attempt(limiter, key));
    // Still limited (by the in-process insurance), not failed and not unlimited.
    expect(outcomes.slice(0, 2).map((o) => (o as RateLimitVerdict).remaining)).toEqual([1, 0]);
    expect(outcomes[2]).toBeInstanceOf(RateLimitedError);
    expect(errors).toHaveLength(3);
    expect(errors[0]?.message).toMatch(/fell back to this replica's own buckets/);
  });

  it("fails open when Redis accepts the connection but never answers", async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((socket) => {
      sockets.push(socket);
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const address = silent.address();
    const port = typeof address === "object" && address ? address.port : 0;
    const { Redis: RedisClient } = await import("ioredis");
    // No handshake to answer (no HELLO, no CLIENT SETINFO, no ready check): "ready" on connect.
    const client = new RedisClient({
      port,
      host: "127.0.0.1",
      protocol: 2,
      disableClientInfo: true,
      enableReadyCheck: false,
    });
    clients.push(client);
    try {
      await new Promise((resolve) => client.once("ready", resolve));
      const errors: Error[] = [];
      const limiter = createRateLimiter({
        redis: client,
        prefix: freshPrefix(),
        backendTimeoutMs: 50,
        onBackendError: (e) => errors.push(e),
      });
      const verdict = await limiter.consume([bucket("key", "hung", 1, 5)]);
      expect(verdict).toMatchObject({ limit: 5, remaining: 4 });
      expect(errors.map((e) => e.message)).toEqual([
        "Rate limits fell back to this replica's own buckets: Redis did not answer within 50 ms",
      ]);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});
