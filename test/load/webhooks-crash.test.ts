/**
 * Crash: `kill -9` the server while 1,000 webhook events are in flight, restart it on the same
 * data dir (and the same Redis, for BullMQ), and check that every event the server acknowledged
 * (202) is processed exactly once by id and none is lost. Callbacks are at least once: the
 * count delivered more than once is reported (a receiver drops them by `Ballast-Event-Id`).
 * Events whose intake the crash cut off are sent again with the same Idempotency-Key, as a
 * client would retry, and must not become second events either.
 */
import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import SqliteDatabase from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { verifySignature } from "../../src/runtime/webhooks/callback.ts";
import { checkRedis, openRedis } from "../../src/store/redis.ts";
import { CHURN_RECORD } from "../helpers/churn.ts";
import { deleteRedisKeys } from "../helpers/redis.ts";
import { api, type Json } from "../helpers/server.ts";
import {
  publishChurnOver,
  type ServerProcess,
  startServerProcess,
} from "../helpers/server-process.ts";
import { saveSpec } from "../helpers/specs.ts";

const REDIS_URL = process.env.BALLAST_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const EVENTS = 1000;
const KILL_AFTER_ACKS = 500;
const SENDERS = 32;

interface Delivery {
  readonly signature: string;
  readonly raw: string;
}

async function startReceiver() {
  const deliveries = new Map<string, Delivery[]>();
  const server: Server = createServer((req, res) => {
    let raw = "";
    req.on("data", (c: Buffer) => {
      raw += c.toString();
    });
    req.on("end", () => {
      const id = String(req.headers["ballast-event-id"] ?? "");
      const list = deliveries.get(id) ?? [];
      list.push({ signature: String(req.headers["ballast-signature"] ?? ""), raw });
      deliveries.set(id, list);
      res.writeHead(204).end();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/callbacks`,
    deliveries,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

for (const backend of ["sqlite", "bullmq"] as const) {
  describe(`webhooks survive kill -9 (${backend} queue)`, () => {
    const prefix = `ballast-test:${randomUUID()}:`;
    const env: Record<string, string> = {
      BALLAST_WEBHOOK_LEASE_MS: "2000",
      BALLAST_WEBHOOK_RETRY_BASE_MS: "50",
      BALLAST_WEBHOOK_RETRY_MAX_MS: "500",
      BALLAST_WEBHOOK_POLL_MS: "200",
      ...(backend === "bullmq"
        ? { BALLAST_REDIS_URL: REDIS_URL, BALLAST_REDIS_PREFIX: prefix }
        : {}),
    };
    const processes: ServerProcess[] = [];
    let receiver: Awaited<ReturnType<typeof startReceiver>> | undefined;

    afterAll(async () => {
      for (const p of processes) await p.stop();
      await receiver?.close();
      if (backend === "bullmq") await deleteRedisKeys(prefix);
    });

    it("processes every acknowledged event exactly once after a crash, losing none", async () => {
      if (backend === "bullmq") {
        const redis = openRedis({ url: REDIS_URL });
        try {
          await checkRedis(redis, REDIS_URL);
        } finally {
          redis.disconnect();
        }
      }
      const hooks = await startReceiver();
      receiver = hooks;
      const first = await startServerProcess({ env });
      processes.push(first);
      await publishChurnOver(first, 1);
      await saveSpec(first, {
        apiVersion: "ballast/v1",
        kind: "App",
        name: "churn",
        model: { name: "churn", version: 1 },
        webhook: { enabled: true, callbackUrl: hooks.url, concurrency: 16, maxAttempts: 5 },
      });

      // 1,000 events, 32 at a time; kill -9 once half are acknowledged.
      const acked = new Set<string>();
      const cutOff = new Set<string>();
      const ids = Array.from({ length: EVENTS }, (_, i) => `crash-${i}`);
      const body = (i: number) => ({ ...CHURN_RECORD, tenure: (i % 72) + 1 });
      let next = 0;
      let killed = false;
      const send = async (base: ServerProcess, i: number): Promise<boolean> => {
        const id = ids[i] as string;
        try {
          const response = await fetch(new URL("/v1/hooks/churn", base.url), {
            method: "POST",
            headers: {
              authorization: `Bearer ${base.adminKey}`,
              "content-type": "application/json",
              "idempotency-key": id,
            },
            body: JSON.stringify(body(i)),
          });
          const answer = (await response.json()) as Json;
          if (response.status !== 202 || answer.event_id !== id || answer.status !== "queued") {
            throw new Error(`event ${id} answered ${response.status} ${JSON.stringify(answer)}`);
          }
          return true;
        } catch (error) {
          if (killed) return false;
          throw error;
        }
      };
      const started = Date.now();
      await Promise.all(
        Array.from({ length: SENDERS }, async () => {
          while (next < EVENTS && !killed) {
            const i = next++;
            if (await send(first, i)) acked.add(ids[i] as string);
            else cutOff.add(ids[i] as string);
            if (!killed && acked.size >= KILL_AFTER_ACKS) {
              killed = true;
              first.child.kill("SIGKILL");
            }
          }
        }),
      );
      const sendMs = Date.now() - started;
      await new Promise((resolve) => {
        if (first.child.exitCode !== null || first.child.signalCode !== null) resolve(undefined);
        else first.child.once("exit", resolve);
      });
      expect(first.child.signalCode).toBe("SIGKILL");
      expect(acked.size).toBeGreaterThanOrEqual(KILL_AFTER_ACKS);
      const doneAtKill = [...acked].filter((id) => hooks.deliveries.has(id)).length;

      // Restart on the same data dir: acknowledged events must all complete.
      const second = await startServerProcess({ dataDir: first.dataDir, env });
      processes.push(second);
      const restartedAt = Date.now();
      const call = api(second, second.adminKey);
      const events = async (): Promise<Json[]> =>
        (await call("GET", "/v1/apps/churn/events?limit=1000")).json.events;
      const deadline = Date.now() + 60_000;
      let stored: Json[] = [];
      for (;;) {
        stored = await events();
        const done = new Set(stored.filter((e) => e.status === "done").map((e) => e.id));
        if ([...acked].every((id) => done.has(id) && hooks.deliveries.has(id))) break;
        if (Date.now() > deadline) {
          const missing = [...acked].filter((id) => !done.has(id));
          throw new Error(
            `${missing.length} acknowledged events not done, e.g. ${missing.slice(0, 5)}`,
          );
        }
        await sleep(200);
      }
      const recoveredMs = Date.now() - restartedAt;

      // Exactly once by id: one stored event per id, each acknowledged one done with a result,
      // and every callback of an id carrying that same result.
      const storedIds = stored.map((e) => e.id as string);
      expect(new Set(storedIds).size).toBe(storedIds.length);
      const byId = new Map(stored.map((e) => [e.id as string, e]));
      const secret = (await call("GET", "/v1/apps/churn/hooks/secret")).json.secret as string;
      let reprocessed = 0;
      let duplicateCallbacks = 0;
      for (const id of acked) {
        const event = byId.get(id);
        expect(event?.status).toBe("done");
        expect(["Yes", "No"]).toContain(event?.result?.prediction);
        if ((event?.attempts ?? 0) > 1) reprocessed++;
        const deliveries = hooks.deliveries.get(id) ?? [];
        expect(deliveries.length).toBeGreaterThanOrEqual(1);
        if (deliveries.length > 1) duplicateCallbacks++;
        for (const d of deliveries) {
          expect(verifySignature(secret, d.signature, d.raw, { toleranceSeconds: 600 })).toBe(true);
          expect(JSON.parse(d.raw)).toEqual({
            event_id: id,
            app: "churn",
            status: "done",
            result: event?.result,
          });
        }
      }
      if (backend === "sqlite") {
        const db = new SqliteDatabase(path.join(second.dataDir, "runtime.db"), { readonly: true });
        try {
          const dupes = db
            .prepare(
              "SELECT id, count(*) AS n FROM webhook_events GROUP BY workspace_id, app, id HAVING n > 1",
            )
            .all();
          expect(dupes).toEqual([]);
          const results = db
            .prepare(
              "SELECT count(*) AS n FROM webhook_events WHERE status = 'done' AND result IS NOT NULL",
            )
            .get() as { n: number };
          expect(results.n).toBe(stored.filter((e) => e.status === "done").length);
        } finally {
          db.close();
        }
      }

      // A client retries what the crash cut off, with the same keys, and sends the rest: no
      // second events.
      const rest = [
        ...[...cutOff].map((id) => ids.indexOf(id)),
        ...Array.from({ length: EVENTS - next }, (_, k) => next + k),
      ];
      await Promise.all(
        Array.from({ length: SENDERS }, async () => {
          for (let i = rest.pop(); i !== undefined; i = rest.pop()) {
            expect(await send(second, i)).toBe(true);
          }
        }),
      );
      const all = await (async () => {
        for (;;) {
          const list = await events();
          if (list.length === EVENTS && list.every((e) => e.status === "done")) return list;
          if (Date.now() > deadline + 20_000) throw new Error("the resent events did not finish");
          await sleep(200);
        }
      })();
      expect(new Set(all.map((e) => e.id)).size).toBe(EVENTS);

      process.stdout.write(
        `[webhooks-crash ${backend}] ${acked.size} acknowledged before kill -9 (in ${sendMs} ms; ` +
          `${doneAtKill} already called back), ${cutOff.size} cut off; all acknowledged done ` +
          `${recoveredMs} ms after restart, ${reprocessed} re-processed after their worker died, ` +
          `${duplicateCallbacks} callbacks delivered more than once, 0 lost, 0 duplicate events\n`,
      );
    }, 150_000);
  });
}
