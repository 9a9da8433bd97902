import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import fc from "fast-check";
import type { Redis } from "ioredis";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { checkRedis, openRedis } from "../redis.ts";
import { MemorySessionStore } from "./memory-session-store.ts";
import { RedisSessionStore } from "./redis-session-store.ts";
import {
  isSessionId,
  rememberTurn,
  type SessionState,
  type SessionStore,
} from "./session-store.ts";

const REDIS_URL = process.env.BALLAST_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

interface Harness {
  /**
   * A store on the same backing state: for Redis a new instance on its own connection (another
   * replica); in memory the one store (a process has one).
   */
  open(): SessionStore;
  cleanup(): Promise<void>;
}

interface Backend {
  readonly name: string;
  setup(): Promise<Harness>;
}

const BACKENDS: readonly Backend[] = [
  {
    name: "memory",
    async setup() {
      const store = new MemorySessionStore();
      return {
        open: () => store,
        cleanup: () => store.close(),
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
        open: () => new RedisSessionStore(connect(), { prefix }),
        async cleanup() {
          const [admin] = clients;
          if (admin !== undefined) {
            const keys = await admin.keys(`${prefix}*`);
            if (keys.length > 0) await admin.del(...keys);
          }
          await Promise.all(clients.map((c) => c.quit()));
        },
      };
    },
  },
];

const TTL = 60;
const remember =
  (fields: Record<string, unknown>) =>
  (previous: SessionState | undefined): SessionState =>
    rememberTurn(previous, fields);

for (const backend of BACKENDS) {
  describe(`SessionStore on ${backend.name}`, () => {
    let harness: Harness;
    let store: SessionStore;

    beforeEach(async () => {
      harness = await backend.setup();
      store = harness.open();
    });

    afterEach(async () => {
      await harness.cleanup();
    });

    it("creates a session on the first update and remembers fields turn after turn", async () => {
      expect(await store.get("ws/bot", "s1")).toBeUndefined();
      const first = await store.update("ws/bot", "s1", remember({ name: "Ada", plan: "pro" }), TTL);
      expect(first.turns).toBe(1);
      expect(first.fields).toEqual({ name: "Ada", plan: "pro" });
      expect(first.startedAt).toBe(first.updatedAt);
      const second = await store.update("ws/bot", "s1", remember({ plan: "team", n: 2 }), TTL);
      expect(second).toEqual({
        fields: { name: "Ada", plan: "team", n: 2 },
        turns: 2,
        startedAt: first.startedAt,
        updatedAt: second.updatedAt,
      });
      expect(await harness.open().get("ws/bot", "s1")).toEqual(second);
    });

    it("isolates sessions by scope and by id", async () => {
      await store.update("ws-1/app-a", "same-id", remember({ who: "a" }), TTL);
      await store.update("ws-1/app-b", "same-id", remember({ who: "b" }), TTL);
      await store.update("ws-2/app-a", "same-id", remember({ who: "other workspace" }), TTL);
      await store.update("ws-1/app-a", "other-id", remember({ who: "other id" }), TTL);
      expect((await store.get("ws-1/app-a", "same-id"))?.fields).toEqual({ who: "a" });
      expect((await store.get("ws-1/app-b", "same-id"))?.fields).toEqual({ who: "b" });
      expect((await store.get("ws-2/app-a", "same-id"))?.fields).toEqual({
        who: "other workspace",
      });
      expect((await store.get("ws-1/app-a", "other-id"))?.fields).toEqual({ who: "other id" });
      expect(await store.get("ws-1/app-c", "same-id")).toBeUndefined();
      // Separators in a scope cannot reach another (scope, id) pair.
      await store.update("a:b", "c", remember({ who: "a:b/c" }), TTL);
      expect(await store.get("a", "b:c")).toBeUndefined();
    });

    it("end() clears the session; the next turn starts a new one", async () => {
      await store.update("ws/bot", "s2", remember({ secret: "x" }), TTL);
      await store.update("ws/bot", "s2", remember({ more: 1 }), TTL);
      expect(await store.end("ws/bot", "s2")).toBe(true);
      expect(await store.get("ws/bot", "s2")).toBeUndefined();
      expect(await harness.open().get("ws/bot", "s2")).toBeUndefined();
      expect(await store.end("ws/bot", "s2")).toBe(false);
      const fresh = await store.update("ws/bot", "s2", remember({ hello: true }), TTL);
      expect(fresh.turns).toBe(1);
      expect(fresh.fields).toEqual({ hello: true });
    });

    it("expires a session ttlSeconds after its last turn; a turn refreshes the TTL", async () => {
      await store.update("ws/bot", "short", remember({ a: 1 }), 0.6);
      await store.update("ws/bot", "kept", remember({ a: 1 }), 0.6);
      await sleep(350);
      await store.update("ws/bot", "kept", remember({ b: 2 }), 0.6); // refreshed
      await sleep(350);
      expect(await store.get("ws/bot", "short")).toBeUndefined();
      expect(await store.end("ws/bot", "short")).toBe(false);
      expect((await store.get("ws/bot", "kept"))?.turns).toBe(2);
      await sleep(350);
      expect(await store.get("ws/bot", "kept")).toBeUndefined();
    });

    it("stores a copy: mutating what went in or came out changes nothing", async () => {
      const fields: Record<string, unknown> = { list: [1, 2] };
      const state = await store.update("ws/bot", "copy", remember(fields), TTL);
      (fields.list as number[]).push(3);
      (state.fields.list as number[]).push(4);
      expect((await store.get("ws/bot", "copy"))?.fields).toEqual({ list: [1, 2] });
    });

    it("200 concurrent interleaved sessions x 5 turns: each sees only its own state", async () => {
      const replicas = [store, harness.open()];
      const ids = Array.from({ length: 200 }, (_, i) => `user-${i}`);
      await Promise.all(
        ids.map(async (id, i) => {
          for (let turn = 0; turn < 5; turn++) {
            // Each turn may land on another replica; yields interleave the sessions.
            const replica = replicas[(i + turn) % replicas.length] ?? store;
            const state = await replica.update(
              "ws/bot",
              id,
              remember({ owner: id, [`turn${turn}`]: `${id}/${turn}` }),
              TTL,
            );
            expect(state.turns).toBe(turn + 1);
            expect(state.fields.owner).toBe(id);
            if (turn % 2 === 0) await sleep(Math.random() * 3);
          }
        }),
      );
      for (const id of ids) {
        const state = await store.get("ws/bot", id);
        expect(state?.turns).toBe(5);
        expect(state?.fields).toEqual({
          owner: id,
          turn0: `${id}/0`,
          turn1: `${id}/1`,
          turn2: `${id}/2`,
          turn3: `${id}/3`,
          turn4: `${id}/4`,
        });
      }
      // An ended session has none, the others keep theirs.
      await store.end("ws/bot", "user-7");
      expect(await store.get("ws/bot", "user-7")).toBeUndefined();
      expect((await store.get("ws/bot", "user-8"))?.turns).toBe(5);
    });

    it("concurrent updates of one session from two replicas lose no turn", async () => {
      const replicas = [store, harness.open()];
      await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          (replicas[i % 2] ?? store).update("ws/bot", "busy", remember({ [`f${i}`]: i }), TTL),
        ),
      );
      const state = await store.get("ws/bot", "busy");
      expect(state?.turns).toBe(40);
      expect(Object.keys(state?.fields ?? {}).sort()).toEqual(
        Array.from({ length: 40 }, (_, i) => `f${i}`).sort(),
      );
    });

    it("writes nothing when the update function throws", async () => {
      await store.update("ws/bot", "s3", remember({ a: 1 }), TTL);
      await expect(
        store.update(
          "ws/bot",
          "s3",
          () => {
            throw new Error("boom");
          },
          TTL,
        ),
      ).rejects.toThrow("boom");
      expect((await store.get("ws/bot", "s3"))?.turns).toBe(1);
      // A queue of updates on one session survives a failed one.
      expect((await store.update("ws/bot", "s3", remember({ b: 2 }), TTL)).turns).toBe(2);
    });

    it("refuses bad ids, bad TTLs, non-states, and use after close", async () => {
      await expect(store.get("ws/bot", "")).rejects.toThrow(/x-session-id/);
      await expect(store.get("ws/bot", "has space")).rejects.toThrow(/x-session-id/);
      await expect(store.get("ws/bot", "x".repeat(129))).rejects.toThrow(/x-session-id/);
      await expect(store.get("", "s")).rejects.toThrow(/scope/);
      await expect(store.update("ws/bot", "s", remember({}), 0)).rejects.toThrow(/ttlSeconds/);
      await expect(
        // What an untyped caller could return: JSON without fields or timestamps.
        store.update("ws/bot", "s", () => JSON.parse('{"turns":1}') as SessionState, TTL),
      ).rejects.toThrow(/SessionState/);
      expect(await store.get("ws/bot", "s")).toBeUndefined();
      await store.close();
      await expect(store.get("ws/bot", "s")).rejects.toThrow(/closed/);
    });
  });
}

describe("MemorySessionStore", () => {
  it("holds at most maxSessions, evicting the least recently used", async () => {
    const store = new MemorySessionStore({ maxSessions: 3 });
    for (const id of ["a", "b", "c"]) await store.update("ws/bot", id, remember({ id }), TTL);
    await store.get("ws/bot", "a"); // a is now the most recently used
    await store.update("ws/bot", "d", remember({ id: "d" }), TTL); // evicts b
    expect(store.size).toBe(3);
    expect(await store.get("ws/bot", "b")).toBeUndefined();
    expect((await store.get("ws/bot", "a"))?.fields).toEqual({ id: "a" });
    for (let i = 0; i < 500; i++) await store.update("ws/bot", `x${i}`, remember({}), TTL);
    expect(store.size).toBe(3);
  });

  it("expires by its clock", async () => {
    let now = 1_000; // lru-cache treats a start time of 0 as "no TTL"; performance.now() is never 0
    const store = new MemorySessionStore({ clock: { now: () => now } });
    await store.update("ws/bot", "s", remember({ a: 1 }), 10);
    now += 9_999;
    expect(await store.get("ws/bot", "s")).toBeDefined();
    now += 2;
    expect(await store.get("ws/bot", "s")).toBeUndefined();
  });

  it("refuses a non-positive bound", () => {
    expect(() => new MemorySessionStore({ maxSessions: 0 })).toThrow(/maxSessions/);
  });
});

describe("session ids", () => {
  it("accepts exactly 1-128 characters of A-Za-z0-9._:- (property)", () => {
    const allowed = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-";
    fc.assert(
      fc.property(fc.string({ minLength: 0, maxLength: 140 }), (value) => {
        const expected =
          value.length >= 1 && value.length <= 128 && [...value].every((c) => allowed.includes(c));
        expect(isSessionId(value)).toBe(expected);
      }),
    );
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom(...allowed), minLength: 1, maxLength: 128 }),
        (value) => {
          expect(isSessionId(value)).toBe(true);
        },
      ),
    );
  });
});
