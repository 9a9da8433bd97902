/**
 * The event queue's promises, run against both backends (SQLite file in a temp dir, real Redis
 * with a unique prefix): intake idempotency, workers with a concurrency cap, retries then the
 * dead-letter list, replay, signed callbacks with retries, stop without losing work, retention.
 * A Redis suite fails, not skips, when Redis is unreachable.
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import type { Redis } from "ioredis";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { checkRedis, openRedis } from "../../store/redis.ts";
import { openRuntimeDb, type RuntimeDatabase } from "../../store/runtime-db.ts";
import { BullmqEventQueue } from "./bullmq-event-queue.ts";
import { verifySignature } from "./callback.ts";
import type {
  AppWorkerOptions,
  EventProcessor,
  EventQueue,
  EventScope,
  EventStatus,
  QueueTimings,
} from "./event-queue.ts";
import { SqliteEventQueue } from "./sqlite-event-queue.ts";

const REDIS_URL = process.env.BALLAST_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const TIMINGS: Partial<QueueTimings> = {
  leaseMs: 1000,
  retryBaseMs: 20,
  retryMaxMs: 80,
  callbackMaxAttempts: 4,
};
const SCOPE: EventScope = { workspaceId: "ws_test", app: "churn" };
const SECRET = "whsec_test";

interface Harness {
  open(): EventQueue;
  /** Arguments for test-support/hanging-worker.ts to work on the same queue. */
  readonly workerArgs: readonly string[];
  cleanup(): Promise<void>;
}

const BACKENDS: readonly { name: string; setup(): Promise<Harness> }[] = [
  {
    name: "sqlite",
    async setup() {
      const dir = await mkdtemp(join(tmpdir(), "ballast-events-"));
      const dbs: RuntimeDatabase[] = [];
      const queues: EventQueue[] = [];
      return {
        open() {
          const db = openRuntimeDb(join(dir, "runtime.db"));
          dbs.push(db);
          const queue = new SqliteEventQueue(db, { timings: TIMINGS, idlePollMs: 100 });
          queues.push(queue);
          return queue;
        },
        workerArgs: ["sqlite", join(dir, "runtime.db")],
        async cleanup() {
          for (const q of queues) await q.close();
          for (const db of dbs) db.close();
          await rm(dir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: "bullmq",
    async setup() {
      const prefix = `ballast-test:${randomUUID()}:`;
      const admin: Redis = openRedis({ url: REDIS_URL });
      await checkRedis(admin, REDIS_URL).catch((error: unknown) => {
        admin.disconnect();
        throw error;
      });
      const queues: EventQueue[] = [];
      return {
        open() {
          const queue = new BullmqEventQueue({ url: REDIS_URL, prefix, timings: TIMINGS });
          queues.push(queue);
          return queue;
        },
        workerArgs: ["bullmq", REDIS_URL, prefix],
        async cleanup() {
          for (const q of queues) await q.close();
          const keys = await admin.keys(`${prefix}*`);
          if (keys.length > 0) await admin.del(...keys);
          admin.disconnect();
        },
      };
    },
  },
];

async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const record = (n: number) => ({ n });
const newEvent = (id: string, n = 1, maxAttempts = 3) => ({
  id,
  fingerprint: `fp-${id}-${n}`,
  received: { value: n },
  maxAttempts,
  record: record(n),
});

function options(
  processor: EventProcessor,
  extra: Partial<AppWorkerOptions> = {},
): AppWorkerOptions {
  return {
    concurrency: 4,
    retentionHours: 1,
    callbackSecret: SECRET,
    timeoutMs: 5000,
    processor,
    ...extra,
  };
}

const statusOf = async (queue: EventQueue, id: string, status: EventStatus) => {
  const event = await queue.get(SCOPE, id);
  return event?.status === status ? event : undefined;
};

/** A loopback callback receiver that fails the first `failFirst` deliveries of each event. */
async function receiver(failFirst = 0) {
  const bodies: { raw: string; signature: string | undefined; eventId: string | undefined }[] = [];
  const tries = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    let raw = "";
    req.on("data", (c: Buffer) => {
      raw += c.toString();
    });
    req.on("end", () => {
      const eventId = req.headers["ballast-event-id"] as string | undefined;
      const n = (tries.get(eventId ?? "") ?? 0) + 1;
      tries.set(eventId ?? "", n);
      if (n <= failFirst) {
        res.writeHead(500).end("not now");
        return;
      }
      bodies.push({
        raw,
        signature: req.headers["ballast-signature"] as string | undefined,
        eventId,
      });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    bodies,
    tries,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

for (const backend of BACKENDS) {
  describe(`event queue: ${backend.name}`, () => {
    let harness: Harness;
    let queue: EventQueue;

    beforeEach(async () => {
      harness = await backend.setup();
      queue = harness.open();
    });
    afterEach(async () => harness.cleanup());

    it("stores an event once per id: same body replays, another body is a mismatch", async () => {
      const first = await queue.enqueue(SCOPE, newEvent("order-1"));
      expect(first.state).toBe("created");
      expect(first.event.ack).toEqual({ event_id: "order-1", status: "queued" });
      const again = await queue.enqueue(SCOPE, newEvent("order-1"));
      expect(again.state).toBe("replay");
      expect(again.event.ack).toEqual(first.event.ack);
      const other = await queue.enqueue(SCOPE, newEvent("order-1", 2));
      expect(other.state).toBe("mismatch");
      // An id taken by a valid event is also a mismatch for a quarantined body, and vice versa.
      const bad = await queue.quarantine(SCOPE, {
        ...newEvent("order-1", 3),
        problems: [{ path: "/n", message: "must be number" }],
      });
      expect(bad.state).toBe("mismatch");
      // Ids are per app.
      const elsewhere = await queue.enqueue({ ...SCOPE, app: "other" }, newEvent("order-1"));
      expect(elsewhere.state).toBe("created");
      expect(await queue.list(SCOPE, { limit: 10 })).toHaveLength(1);
      const stored = await queue.get(SCOPE, "order-1");
      expect(stored).toMatchObject({
        status: "queued",
        received: { value: 1 },
        record: { n: 1 },
        attempts: 0,
        maxAttempts: 3,
        problems: [],
      });
    });

    it("processes queued events with at most `concurrency` at once, never quarantined ones", async () => {
      let inFlight = 0;
      let most = 0;
      const seen: string[] = [];
      const processor: EventProcessor = async (event) => {
        inFlight++;
        most = Math.max(most, inFlight);
        seen.push(event.eventId);
        await sleep(15);
        inFlight--;
        return { doubled: (event.record.n as number) * 2 };
      };
      for (let i = 0; i < 12; i++) await queue.enqueue(SCOPE, newEvent(`e${i}`, i));
      await queue.quarantine(SCOPE, {
        ...newEvent("bad", 0),
        problems: [{ path: "/n", message: "is required" }],
      });
      await queue.startWorkers(SCOPE, options(processor, { concurrency: 3 }));
      await waitFor("all done", async () => {
        const done = await queue.list(SCOPE, { status: "done", limit: 100 });
        return done.length === 12 ? done : undefined;
      });
      expect(most).toBeLessThanOrEqual(3);
      expect(most).toBeGreaterThan(1);
      expect([...seen].sort()).toEqual(Array.from({ length: 12 }, (_, i) => `e${i}`).sort());
      const e5 = await queue.get(SCOPE, "e5");
      expect(e5).toMatchObject({ status: "done", attempts: 1, result: { doubled: 10 } });
      expect(e5?.completedAt).toBeDefined();
      const bad = await queue.get(SCOPE, "bad");
      expect(bad).toMatchObject({
        status: "quarantined",
        problems: [{ path: "/n", message: "is required" }],
      });
      expect(seen).not.toContain("bad");
      // Events enqueued while workers run are picked up too.
      await queue.enqueue(SCOPE, newEvent("late", 21));
      await waitFor("late done", () => statusOf(queue, "late", "done"));
    });

    it("reports the backlog: unfinished events and the oldest one's age", async () => {
      expect(await queue.stats(SCOPE)).toEqual({ depth: 0, oldestCreatedAt: null });
      const before = Date.now();
      await queue.enqueue(SCOPE, newEvent("s1", 1));
      await sleep(5);
      for (let i = 2; i <= 4; i++) await queue.enqueue(SCOPE, newEvent(`s${i}`, i));
      await queue.quarantine(SCOPE, {
        ...newEvent("s-bad", 0),
        problems: [{ path: "/n", message: "is required" }],
      });
      await queue.enqueue({ ...SCOPE, app: "other" }, newEvent("s9", 9));
      const waiting = await queue.stats(SCOPE);
      expect(waiting.depth).toBe(4);
      const first = Date.parse((await queue.get(SCOPE, "s1"))?.createdAt ?? "");
      expect(waiting.oldestCreatedAt).toBe(first);
      expect(first).toBeGreaterThanOrEqual(before);
      // Processing (and retrying) events are still backlog; done ones are not.
      let release: () => void = () => {};
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      await queue.startWorkers(
        SCOPE,
        options(async () => gate.then(() => ({ ok: true })), { concurrency: 2 }),
      );
      await waitFor("two processing", async () => {
        const busy = await queue.list(SCOPE, { status: "processing", limit: 10 });
        return busy.length === 2 ? busy : undefined;
      });
      expect((await queue.stats(SCOPE)).depth).toBe(4);
      release();
      await waitFor("drained", async () => {
        const stats = await queue.stats(SCOPE);
        return stats.depth === 0 ? stats : undefined;
      });
      expect(await queue.stats(SCOPE)).toEqual({ depth: 0, oldestCreatedAt: null });
      expect((await queue.stats({ ...SCOPE, app: "other" })).depth).toBe(1);
    });

    it("retries a failing event with backoff, then records one result", async () => {
      const calls: number[] = [];
      const processor: EventProcessor = async () => {
        calls.push(Date.now());
        if (calls.length < 3) throw new Error(`flaky ${calls.length}`);
        return { ok: true };
      };
      await queue.enqueue(SCOPE, newEvent("flaky", 1, 5));
      await queue.startWorkers(SCOPE, options(processor));
      const done = await waitFor("flaky done", () => statusOf(queue, "flaky", "done"));
      expect(calls).toHaveLength(3);
      expect(done).toMatchObject({ attempts: 3, result: { ok: true } });
      expect(done.error).toBeUndefined();
      // Each retry waited at least half its backoff step (20 ms, then 40 ms).
      expect((calls[1] ?? 0) - (calls[0] ?? 0)).toBeGreaterThanOrEqual(10);
      expect((calls[2] ?? 0) - (calls[1] ?? 0)).toBeGreaterThanOrEqual(20);
    });

    it("moves an event that always fails to dead after maxAttempts; replay queues it again", async () => {
      let calls = 0;
      let healthy = false;
      const processor: EventProcessor = async () => {
        calls++;
        if (!healthy) throw new Error("the model is unavailable");
        return { ok: "after replay" };
      };
      await queue.enqueue(SCOPE, newEvent("doomed", 1, 3));
      await queue.startWorkers(SCOPE, options(processor));
      const dead = await waitFor("dead", () => statusOf(queue, "doomed", "dead"));
      expect(dead).toMatchObject({ attempts: 3, error: "the model is unavailable" });
      await sleep(150);
      expect(calls).toBe(3);
      expect((await queue.list(SCOPE, { status: "dead", limit: 10 })).map((e) => e.id)).toEqual([
        "doomed",
      ]);

      healthy = true;
      const replayed = await queue.replay(SCOPE, "doomed", {
        received: { value: 1 },
        record: { n: 1 },
      });
      expect(replayed.state).toBe("queued");
      const done = await waitFor("replayed done", () => statusOf(queue, "doomed", "done"));
      expect(done).toMatchObject({ attempts: 1, result: { ok: "after replay" } });
      expect(calls).toBe(4);
      expect((await queue.replay(SCOPE, "doomed", { received: {}, record: {} })).state).toBe(
        "conflict",
      );
      expect((await queue.replay(SCOPE, "nope", { received: {}, record: {} })).state).toBe(
        "not_found",
      );
    });

    it("keeps a quarantined event until a valid replay, which is then processed", async () => {
      const processed: unknown[] = [];
      await queue.startWorkers(
        SCOPE,
        options(async (event) => {
          processed.push(event.record);
          return { seen: event.record };
        }),
      );
      await queue.quarantine(SCOPE, {
        ...newEvent("q1", 1),
        problems: [{ path: "/n", message: "must be number" }],
      });
      const still = await queue.replay(SCOPE, "q1", {
        received: { value: "x" },
        problems: [{ path: "/n", message: "must be a number, still" }],
      });
      expect(still.state).toBe("quarantined");
      if (still.state !== "quarantined") return;
      expect(still.event.problems).toEqual([{ path: "/n", message: "must be a number, still" }]);
      expect(still.event.received).toEqual({ value: "x" });
      await sleep(100);
      expect(processed).toEqual([]);
      const fixed = await queue.replay(SCOPE, "q1", { received: { value: 7 }, record: { n: 7 } });
      expect(fixed.state).toBe("queued");
      const done = await waitFor("fixed done", () => statusOf(queue, "q1", "done"));
      expect(done).toMatchObject({
        result: { seen: { n: 7 } },
        received: { value: 7 },
        problems: [],
      });
      // The intake's first answer stays what it was.
      expect(done.ack.status).toBe("quarantined");
      expect(processed).toEqual([{ n: 7 }]);
    });

    it("delivers signed callbacks for done and dead events, retrying a failing receiver", async () => {
      const hook = await receiver(2);
      try {
        await queue.enqueue(SCOPE, newEvent("ok", 2));
        await queue.enqueue(SCOPE, newEvent("ko", 3, 1));
        await queue.startWorkers(
          SCOPE,
          options(
            async (event) => {
              if (event.eventId === "ko") throw new Error("cannot");
              return { doubled: 4 };
            },
            { callbackUrl: hook.url },
          ),
        );
        const delivered = await waitFor("callbacks delivered", async () => {
          const ok = await queue.get(SCOPE, "ok");
          const ko = await queue.get(SCOPE, "ko");
          return ok?.callback?.status === "delivered" && ko?.callback?.status === "delivered"
            ? { ok, ko }
            : undefined;
        });
        expect(delivered.ok.callback).toMatchObject({
          url: hook.url,
          attempts: 3,
          lastStatus: 204,
        });
        expect(delivered.ok.callback?.deliveredAt).toBeDefined();
        expect(hook.tries.get("ok")).toBe(3);
        const bodies = new Map(hook.bodies.map((b) => [b.eventId, b]));
        const ok = bodies.get("ok");
        const ko = bodies.get("ko");
        expect(ok && verifySignature(SECRET, ok.signature, ok.raw)).toBe(true);
        expect(ok && verifySignature("whsec_other", ok.signature, ok.raw)).toBe(false);
        expect(JSON.parse(ok?.raw ?? "{}")).toEqual({
          event_id: "ok",
          app: "churn",
          status: "done",
          result: { doubled: 4 },
        });
        expect(JSON.parse(ko?.raw ?? "{}")).toEqual({
          event_id: "ko",
          app: "churn",
          status: "dead",
          result: null,
          error: "cannot",
        });
      } finally {
        await hook.close();
      }
    });

    it("marks a callback failed after its attempts; the event stays done", async () => {
      const hook = await receiver(100);
      try {
        await queue.enqueue(SCOPE, newEvent("unheard", 1));
        await queue.startWorkers(
          SCOPE,
          options(async () => ({ ok: 1 }), { callbackUrl: hook.url }),
        );
        const event = await waitFor("callback failed", async () => {
          const e = await queue.get(SCOPE, "unheard");
          return e?.callback?.status === "failed" ? e : undefined;
        });
        expect(event).toMatchObject({ status: "done", result: { ok: 1 } });
        expect(event.callback).toMatchObject({ attempts: 4, lastStatus: 500 });
        expect(hook.tries.get("unheard")).toBe(4);
      } finally {
        await hook.close();
      }
    });

    it("stopping the workers gives an event in flight back, unharmed, to the next worker", async () => {
      let started = 0;
      await queue.enqueue(SCOPE, newEvent("slow", 1, 1));
      await queue.startWorkers(
        SCOPE,
        options(
          (_event, signal) =>
            new Promise((_resolve, reject) => {
              started++;
              signal.addEventListener("abort", () => reject(new Error("aborted")));
            }),
        ),
      );
      await waitFor("processing", () => statusOf(queue, "slow", "processing"));
      await queue.stopWorkers(SCOPE);
      expect(queue.runningWorkers()).toEqual([]);
      const back = await queue.get(SCOPE, "slow");
      expect(back).toMatchObject({ status: "queued", attempts: 0 });
      await queue.startWorkers(
        SCOPE,
        options(async () => ({ finally: true })),
      );
      const done = await waitFor("done after restart", () => statusOf(queue, "slow", "done"));
      // maxAttempts is 1: the interrupted attempt did not count.
      expect(done).toMatchObject({ attempts: 1, result: { finally: true } });
      expect(started).toBe(1);
    });

    it("cancels an attempt that overruns its time budget and counts it as failed", async () => {
      await queue.enqueue(SCOPE, newEvent("hang", 1, 2));
      await queue.startWorkers(
        SCOPE,
        options(() => new Promise(() => {}), { timeoutMs: 50 }),
      );
      const dead = await waitFor("dead", () => statusOf(queue, "hang", "dead"));
      expect(dead.attempts).toBe(2);
      expect(dead.error).toMatch(/time budget/);
    });

    it("takes over the event of a worker process killed mid-event, and records one result", async () => {
      await queue.enqueue(SCOPE, newEvent("orphan", 1));
      const child = spawn(
        process.execPath,
        [
          "--import",
          "tsx",
          fileURLToPath(new URL("./test-support/hanging-worker.ts", import.meta.url)),
          ...harness.workerArgs,
        ],
        { stdio: ["ignore", "pipe", "inherit"] },
      );
      try {
        await new Promise<void>((resolve, reject) => {
          let out = "";
          child.stdout?.on("data", (c: Buffer) => {
            out += c.toString();
            if (out.includes("processing orphan")) resolve();
          });
          child.once("exit", (code) =>
            reject(new Error(`the worker exited (${code}) before taking the event`)),
          );
        });
        expect(await queue.get(SCOPE, "orphan")).toMatchObject({
          status: "processing",
          attempts: 1,
        });
      } finally {
        child.kill("SIGKILL");
      }
      await new Promise((resolve) =>
        child.exitCode !== null || child.signalCode !== null
          ? resolve(null)
          : child.once("exit", resolve),
      );
      const seen: string[] = [];
      await queue.startWorkers(
        SCOPE,
        options(async (event) => {
          seen.push(event.eventId);
          return { by: "survivor" };
        }),
      );
      const done = await waitFor("taken over", () => statusOf(queue, "orphan", "done"), 15_000);
      expect(done).toMatchObject({ attempts: 2, result: { by: "survivor" } });
      expect(seen).toEqual(["orphan"]);
    });

    it("purges finished and quarantined events past their retention, keeps the rest", async () => {
      await queue.enqueue(SCOPE, newEvent("old-done", 1));
      await queue.quarantine(SCOPE, {
        ...newEvent("old-bad", 1),
        problems: [{ path: "/", message: "x" }],
      });
      await queue.startWorkers(
        SCOPE,
        options(async () => ({ ok: 1 })),
      );
      await waitFor("done", () => statusOf(queue, "old-done", "done"));
      await queue.stopWorkers(SCOPE);
      await queue.enqueue(SCOPE, newEvent("waiting", 1));
      await sleep(5);
      await queue.startWorkers(
        SCOPE,
        options(() => new Promise(() => {}), { retentionHours: 0 }),
      );
      await waitFor("purged", async () => (await queue.get(SCOPE, "old-done")) === undefined);
      expect(await queue.get(SCOPE, "old-bad")).toBeUndefined();
      expect(await queue.get(SCOPE, "waiting")).toBeDefined();
    });
  });
}

describe("event queue: sqlite leases", () => {
  it("re-claims an event whose worker died, and the dead worker's late result is refused", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ballast-events-"));
    const dbA = openRuntimeDb(join(dir, "runtime.db"));
    const dbB = openRuntimeDb(join(dir, "runtime.db"));
    const a = new SqliteEventQueue(dbA, { timings: { ...TIMINGS, leaseMs: 300 }, idlePollMs: 50 });
    const b = new SqliteEventQueue(dbB, { timings: { ...TIMINGS, leaseMs: 300 }, idlePollMs: 50 });
    try {
      await a.enqueue(SCOPE, newEvent("orphan", 1));
      // Process A claims the event and then "dies": no heartbeat, no result.
      const claimed = a.claim(SCOPE, 10, undefined);
      expect(claimed.map((r) => r.id)).toEqual(["orphan"]);
      const results: string[] = [];
      let finish: () => void = () => {};
      const finishing = new Promise<void>((resolve) => {
        finish = resolve;
      });
      await b.startWorkers(
        SCOPE,
        options(async () => {
          results.push("b");
          await finishing;
          return { by: "b" };
        }),
      );
      await sleep(150);
      expect(results).toEqual([]);
      // After A's lease expires, B takes the event over...
      await waitFor("re-claimed by b", async () => (results.length === 1 ? true : undefined));
      expect(await b.get(SCOPE, "orphan")).toMatchObject({ status: "processing", attempts: 2 });
      // ...and A, back from the dead with a result, is refused while B holds it...
      expect(a.complete(SCOPE, "orphan", { by: "a" })).toBe(false);
      expect((await a.get(SCOPE, "orphan"))?.status).toBe("processing");
      finish();
      const done = await waitFor("done by b", async () => {
        const e = await b.get(SCOPE, "orphan");
        return e?.status === "done" ? e : undefined;
      });
      expect(done).toMatchObject({ attempts: 2, result: { by: "b" } });
      // ...and after B finished too.
      expect(a.complete(SCOPE, "orphan", { by: "a" })).toBe(false);
      expect((await a.get(SCOPE, "orphan"))?.result).toEqual({ by: "b" });
      expect(results).toEqual(["b"]);
    } finally {
      await a.close();
      await b.close();
      dbA.close();
      dbB.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
