import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import type { Redis } from "ioredis";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { checkRedis, openRedis, RedisScript } from "../redis.ts";
import { openRuntimeDb, type RuntimeDatabase } from "../runtime-db.ts";
import {
  beginOrWait,
  type IdempotencyStore,
  requestFingerprint,
  type StoredResponse,
} from "./idempotency-store.ts";
import { RedisIdempotencyStore } from "./redis-idempotency-store.ts";
import { SqliteIdempotencyStore } from "./sqlite-idempotency-store.ts";

const REDIS_URL = process.env.BALLAST_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

/** One backing store (a file, a Redis prefix) and as many store instances on it as a test needs. */
interface Harness {
  /** A new store instance with its own connection to the same backing store (another "replica"). */
  open(options?: { leaseMs?: number }): IdempotencyStore;
  cleanup(): Promise<void>;
}

interface Backend {
  readonly name: string;
  setup(): Promise<Harness>;
}

const BACKENDS: readonly Backend[] = [
  {
    name: "sqlite",
    async setup() {
      const dir = await mkdtemp(join(tmpdir(), "ballast-idem-"));
      const dbs: RuntimeDatabase[] = [];
      return {
        open(options) {
          const db = openRuntimeDb(join(dir, "runtime.db"));
          dbs.push(db);
          return new SqliteIdempotencyStore(db, options);
        },
        async cleanup() {
          for (const db of dbs) db.close();
          await rm(dir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: "redis",
    async setup() {
      const prefix = `ballast-test:${randomUUID()}:`;
      const clients: Redis[] = [];
      const connect = () => {
        const client = openRedis({ url: REDIS_URL });
        clients.push(client);
        return client;
      };
      // Fails (does not skip) the suite when Redis is unreachable.
      const first = connect();
      await checkRedis(first, REDIS_URL).catch((error: unknown) => {
        first.disconnect();
        throw error;
      });
      return {
        open(options) {
          return new RedisIdempotencyStore(connect(), { prefix, ...options });
        },
        async cleanup() {
          const [admin] = clients;
          if (admin !== undefined) {
            const keys = await admin.keys(`${prefix}*`);
            if (keys.length > 0) await admin.del(...keys);
            expect(await admin.keys(`${prefix}*`)).toEqual([]);
          }
          await Promise.all(clients.map((c) => c.quit()));
        },
      };
    },
  },
];

const SCOPE = "ws-1/churn";
const TTL = 60;
const response = (body: string): StoredResponse => ({
  status: 200,
  headers: { "content-type": "application/json", "x-ballast-version": "3" },
  body,
});

const fpA = requestFingerprint("POST", "/v1/apps/churn/predict", { tenure: 1, plan: "pro" });
const fpB = requestFingerprint("POST", "/v1/apps/churn/predict", { tenure: 2, plan: "pro" });

for (const backend of BACKENDS) {
  describe(`IdempotencyStore on ${backend.name}`, () => {
    let harness: Harness;
    let store: IdempotencyStore;

    beforeEach(async () => {
      harness = await backend.setup();
      store = harness.open();
    });

    afterEach(async () => {
      await harness.cleanup();
    });

    it("replays the stored response for the same key and body", async () => {
      expect(await store.begin(SCOPE, "k1", fpA, TTL)).toEqual({ state: "started" });
      const answer = { ...response('{"prediction":"yes"}'), status: 201 };
      await store.complete(SCOPE, "k1", fpA, answer, TTL);
      expect(await store.begin(SCOPE, "k1", fpA, TTL)).toEqual({
        state: "replay",
        response: answer,
      });
      // Also from another replica.
      expect(await harness.open().begin(SCOPE, "k1", fpA, TTL)).toEqual({
        state: "replay",
        response: answer,
      });
    });

    it("replays an empty body and odd header names as stored", async () => {
      await store.begin(SCOPE, "k-empty", fpA, TTL);
      // fromEntries: an object literal's "__proto__" would set the prototype, not a header.
      const headers = Object.fromEntries([
        ["__proto__", "x"],
        ["retry-after", "1"],
      ]);
      await store.complete(SCOPE, "k-empty", fpA, { status: 204, headers, body: "" }, TTL);
      const again = await store.begin(SCOPE, "k-empty", fpA, TTL);
      expect(again.state).toBe("replay");
      if (again.state !== "replay") return;
      expect(again.response.body).toBe("");
      expect(again.response.status).toBe(204);
      expect(Object.entries(again.response.headers)).toEqual(Object.entries(headers));
    });

    it("answers mismatch for the same key with another body, finished or running", async () => {
      await store.begin(SCOPE, "k2", fpA, TTL);
      expect(await store.begin(SCOPE, "k2", fpB, TTL)).toEqual({ state: "mismatch" });
      await store.complete(SCOPE, "k2", fpA, response("a"), TTL);
      expect(await store.begin(SCOPE, "k2", fpB, TTL)).toEqual({ state: "mismatch" });
      // A mismatching complete does not overwrite the stored answer.
      await store.complete(SCOPE, "k2", fpB, response("b"), TTL);
      expect(await store.begin(SCOPE, "k2", fpA, TTL)).toEqual({
        state: "replay",
        response: response("a"),
      });
    });

    it("answers in_progress while the first request runs", async () => {
      expect((await store.begin(SCOPE, "k3", fpA, TTL)).state).toBe("started");
      expect((await store.begin(SCOPE, "k3", fpA, TTL)).state).toBe("in_progress");
      expect((await harness.open().begin(SCOPE, "k3", fpA, TTL)).state).toBe("in_progress");
    });

    it("keeps scopes and keys apart", async () => {
      expect((await store.begin("ws-1/a", "k", fpA, TTL)).state).toBe("started");
      expect((await store.begin("ws-1/b", "k", fpA, TTL)).state).toBe("started");
      expect((await store.begin("ws-2/a", "k", fpA, TTL)).state).toBe("started");
      expect((await store.begin("ws-1/a", "k2", fpA, TTL)).state).toBe("started");
      // A scope containing the separator cannot spell another (scope, key) pair.
      expect((await store.begin("ws:1", "k", fpA, TTL)).state).toBe("started");
      expect((await store.begin("ws", "1:k", fpA, TTL)).state).toBe("started");
    });

    it("50 concurrent begins on one key: exactly one starts", async () => {
      const results = await Promise.all(
        Array.from({ length: 50 }, () => store.begin(SCOPE, "hot", fpA, TTL)),
      );
      expect(results.filter((r) => r.state === "started")).toHaveLength(1);
      expect(results.filter((r) => r.state === "in_progress")).toHaveLength(49);
    });

    it("50 concurrent begins from two store instances: exactly one starts", async () => {
      const other = harness.open();
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          (i % 2 === 0 ? store : other).begin(SCOPE, "hot2", fpA, TTL),
        ),
      );
      expect(results.filter((r) => r.state === "started")).toHaveLength(1);
    });

    it("release lets a retry run again; only the owner's unfinished claim is released", async () => {
      await store.begin(SCOPE, "k4", fpA, TTL);
      await store.release(SCOPE, "k4", fpB); // not its claim: nothing happens
      expect((await store.begin(SCOPE, "k4", fpA, TTL)).state).toBe("in_progress");
      await store.release(SCOPE, "k4", fpA);
      expect((await store.begin(SCOPE, "k4", fpA, TTL)).state).toBe("started");
      await store.complete(SCOPE, "k4", fpA, response("done"), TTL);
      await store.release(SCOPE, "k4", fpA); // a finished answer is kept
      expect((await store.begin(SCOPE, "k4", fpA, TTL)).state).toBe("replay");
    });

    it("keeps the first answer when completed twice", async () => {
      await store.begin(SCOPE, "k5", fpA, TTL);
      await store.complete(SCOPE, "k5", fpA, response("first"), TTL);
      await store.complete(SCOPE, "k5", fpA, response("second"), TTL);
      expect(await store.begin(SCOPE, "k5", fpA, TTL)).toEqual({
        state: "replay",
        response: response("first"),
      });
    });

    it("forgets an answer after its TTL", async () => {
      await store.begin(SCOPE, "k6", fpA, TTL);
      await store.complete(SCOPE, "k6", fpA, response("old"), 0.5);
      expect((await store.begin(SCOPE, "k6", fpB, TTL)).state).toBe("mismatch");
      await sleep(650);
      // Expired: the key is free again, for any body.
      expect((await store.begin(SCOPE, "k6", fpB, TTL)).state).toBe("started");
    });

    it("lets a new request take over a claim whose lease expired (crashed owner)", async () => {
      const crashed = harness.open({ leaseMs: 500 });
      expect((await crashed.begin(SCOPE, "k7", fpA, TTL)).state).toBe("started");
      expect((await store.begin(SCOPE, "k7", fpA, TTL)).state).toBe("in_progress");
      await sleep(650);
      const survivor = harness.open({ leaseMs: 500 });
      expect((await survivor.begin(SCOPE, "k7", fpB, TTL)).state).toBe("started");
      await survivor.complete(SCOPE, "k7", fpB, response("survivor"), TTL);
      // The old owner waking up late cannot overwrite the new owner's answer.
      await crashed.complete(SCOPE, "k7", fpA, response("zombie"), TTL);
      expect(await store.begin(SCOPE, "k7", fpB, TTL)).toEqual({
        state: "replay",
        response: response("survivor"),
      });
    });

    it("beginOrWait returns the first request's answer once it completes", async () => {
      await store.begin(SCOPE, "w1", fpA, TTL);
      const waiting = beginOrWait(harness.open(), SCOPE, "w1", fpA, TTL, 5_000);
      await sleep(60);
      await store.complete(SCOPE, "w1", fpA, response("late"), TTL);
      expect(await waiting).toEqual({ state: "replay", response: response("late") });
    });

    it("beginOrWait takes over when the first request releases", async () => {
      await store.begin(SCOPE, "w2", fpA, TTL);
      const waiting = beginOrWait(store, SCOPE, "w2", fpA, TTL, 5_000);
      await sleep(60);
      await store.release(SCOPE, "w2", fpA);
      expect(await waiting).toEqual({ state: "started" });
    });

    it("beginOrWait gives up with in_progress after waitMs, and stops on abort", async () => {
      await store.begin(SCOPE, "w3", fpA, TTL);
      expect(await beginOrWait(store, SCOPE, "w3", fpA, TTL, 80)).toEqual({ state: "in_progress" });
      const controller = new AbortController();
      const waiting = beginOrWait(store, SCOPE, "w3", fpA, TTL, 5_000, controller.signal);
      const reason = new Error("client went away");
      setTimeout(() => controller.abort(reason), 30);
      await expect(waiting).rejects.toBe(reason);
      // Mismatch and replay return at once.
      expect(await beginOrWait(store, SCOPE, "w3", fpB, TTL, 5_000)).toEqual({ state: "mismatch" });
    });

    it("refuses empty keys, bad TTLs and bad statuses, and use after close", async () => {
      await expect(store.begin(SCOPE, "", fpA, TTL)).rejects.toThrow(/key must not be empty/);
      await expect(store.begin("", "k", fpA, TTL)).rejects.toThrow(/scope/);
      await expect(store.begin(SCOPE, "k", fpA, 0)).rejects.toThrow(/ttlSeconds/);
      await expect(store.begin(SCOPE, "k", fpA, Number.NaN)).rejects.toThrow(/ttlSeconds/);
      await expect(
        store.complete(SCOPE, "k", fpA, { status: 42, headers: {}, body: "" }, TTL),
      ).rejects.toThrow(/status/);
      await store.close();
      await expect(store.begin(SCOPE, "k", fpA, TTL)).rejects.toThrow(/closed/);
    });
  });
}

describe("SqliteIdempotencyStore", () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "ballast-idem-"));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("purges expired rows, in bounded batches, on begin", async () => {
    const db = openRuntimeDb(join(dir, "runtime.db"));
    let now = 1_000_000;
    const store = new SqliteIdempotencyStore(db, {
      now: () => now,
      purgeIntervalMs: 1_000,
      purgeBatchSize: 5,
    });
    const count = () =>
      (db.prepare("SELECT count(*) AS n FROM idempotency_keys").get() as { n: number }).n;
    for (let i = 0; i < 12; i++) {
      await store.begin(SCOPE, `old-${i}`, fpA, 10);
      if (i % 2 === 0) await store.complete(SCOPE, `old-${i}`, fpA, response("x"), 10);
    }
    await store.begin(SCOPE, "fresh", fpA, 3_600);
    await store.complete(SCOPE, "fresh", fpA, response("x"), 3_600);
    expect(count()).toBe(13);
    now += 61_000; // every old row (answer TTL 10 s, lease 10 s) has expired, "fresh" has not
    await store.begin(SCOPE, "trigger-1", fpA, TTL);
    expect(count()).toBe(13 - 5 + 1);
    await store.begin(SCOPE, "trigger-2", fpA, TTL); // a full batch: the next begin continues
    expect(count()).toBe(13 - 10 + 2);
    await store.begin(SCOPE, "trigger-3", fpA, TTL); // 2 left: not a full batch, so the period starts
    expect(count()).toBe(4);
    now += 61_000; // the triggers' claims (lease 60 s) have expired too; "fresh" (1 h) has not
    await store.begin(SCOPE, "trigger-4", fpA, TTL);
    expect(count()).toBe(2);
    expect((await store.begin(SCOPE, "fresh", fpA, TTL)).state).toBe("replay");
    expect(store.purgeExpired()).toBe(0);
    db.close();
  });

  it("is atomic across processes: one start per key among four processes", async () => {
    const file = join(dir, "runtime.db");
    openRuntimeDb(file).close();
    const here = fileURLToPath(new URL(".", import.meta.url));
    const script = `
      import { openRuntimeDb } from ${JSON.stringify(join(here, "../runtime-db.ts"))};
      import { SqliteIdempotencyStore } from ${JSON.stringify(join(here, "sqlite-idempotency-store.ts"))};
      const store = new SqliteIdempotencyStore(openRuntimeDb(process.argv[1]));
      process.stdout.write("ready\\n");
      process.stdin.once("data", async () => {
        const started = [];
        for (let round = 0; round < 10; round++) {
          const results = await Promise.all(
            Array.from({ length: 20 }, (_, k) => store.begin("ws/app", "key-" + k, "fp", 60)),
          );
          results.forEach((r, k) => { if (r.state === "started") started.push(k); });
        }
        process.stdout.write(JSON.stringify(started) + "\\n");
        process.exit(0);
      });
    `;
    const children = Array.from({ length: 4 }, () =>
      spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script, file], {
        stdio: ["pipe", "pipe", "inherit"],
      }),
    );
    const outputs = children.map((child) => {
      let text = "";
      child.stdout.setEncoding("utf8");
      child.stdout.on("data", (chunk: string) => {
        text += chunk;
      });
      const ready = new Promise<void>((resolve, reject) => {
        child.stdout.on("data", () => {
          if (text.includes("ready\n")) resolve();
        });
        child.once("exit", (code) => reject(new Error(`child exited early with ${code}`)));
      });
      const done = new Promise<number[]>((resolve, reject) => {
        child.once("exit", (code) => {
          if (code !== 0) return reject(new Error(`child exited with ${code}`));
          const line = text.split("\n")[1] ?? "";
          resolve(JSON.parse(line) as number[]);
        });
      });
      return { ready, done };
    });
    await Promise.all(outputs.map((o) => o.ready));
    for (const child of children) child.stdin.write("go\n");
    const started = (await Promise.all(outputs.map((o) => o.done))).flat();
    // Each of the 20 keys was claimed exactly once across 4 processes × 10 rounds.
    expect(started.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, k) => k));
  }, 30_000);
});

describe("requestFingerprint", () => {
  it("ignores key order and tells method, path and body apart (property)", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 1 })), (body) => {
        const reversed = Object.fromEntries(Object.entries(body).reverse());
        const fp = requestFingerprint("POST", "/v1/apps/a/predict", body);
        expect(requestFingerprint("post", "/v1/apps/a/predict", reversed)).toBe(fp);
        expect(fp).toMatch(/^[0-9a-f]{64}$/);
        expect(requestFingerprint("PUT", "/v1/apps/a/predict", body)).not.toBe(fp);
        expect(requestFingerprint("POST", "/v1/apps/b/predict", body)).not.toBe(fp);
        if (!("\u0000extra" in body)) {
          const extended = { ...body, "\u0000extra": 1 };
          expect(requestFingerprint("POST", "/v1/apps/a/predict", extended)).not.toBe(fp);
        }
      }),
      { numRuns: 200 },
    );
    expect(requestFingerprint("POST", "/p", undefined)).toBe(
      requestFingerprint("POST", "/p", null),
    );
    expect(requestFingerprint("POST", "/p", { a: 1 })).not.toBe(
      requestFingerprint("POST", "/p", { a: "1" }),
    );
  });
});

describe("RedisScript", () => {
  it("loads a script the server does not know (NOSCRIPT), then runs it by sha", async () => {
    const client = openRedis({ url: REDIS_URL });
    try {
      await checkRedis(client, REDIS_URL);
      // A comment unique to this run: the server has never seen this script.
      const script = new RedisScript(`-- ${randomUUID()}\nreturn {KEYS[1], ARGV[1]}`);
      expect(await client.script("EXISTS", script.sha1)).toEqual([0]);
      expect(await script.run(client, ["k"], ["a"])).toEqual(["k", "a"]);
      expect(await client.script("EXISTS", script.sha1)).toEqual([1]);
      expect(await script.run(client, ["k2"], [7])).toEqual(["k2", "7"]);
      await expect(
        new RedisScript("return redis.call('NOPE')").run(client, [], []),
      ).rejects.toThrow(/NOPE|Unknown/i);
    } finally {
      await client.quit();
    }
  });
});
