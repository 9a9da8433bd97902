/**
 * Webhooks end to end against a real server, once per queue backend (the SQLite queue in
 * runtime.db, BullMQ on a real Redis with a unique prefix): intake with the app's mapping,
 * processing and results by id, signed callbacks to a loopback receiver (retried when it
 * fails), malformed bodies, quarantine and replay, idempotency keys, the dead-letter list, and
 * who may do what. The Redis run fails, not skips, when Redis is unreachable.
 */
import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifySignature } from "../src/runtime/webhooks/callback.ts";
import type { EventProcessor } from "../src/runtime/webhooks/event-queue.ts";
import type { BallastConfig } from "../src/server/config.ts";
import { checkRedis, openRedis } from "../src/store/redis.ts";
import { CHURN_RECORD, publishChurn } from "./helpers/churn.ts";
import { deleteRedisKeys } from "./helpers/redis.ts";
import { api, type Json, startTestServer, type TestServer } from "./helpers/server.ts";

const REDIS_URL = process.env.BALLAST_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const TIMINGS: BallastConfig["webhookTimings"] = {
  leaseMs: 2000,
  retryBaseMs: 30,
  retryMaxMs: 200,
  pollMs: 200,
};

/** A customer as an outside CRM posts it: other field names, numbers as text, a field left out. */
const CRM_EVENT = {
  ...CHURN_RECORD,
  tenure: undefined,
  months: "1",
  monthly_charges: "29.85",
  senior_citizen: "0",
  phone_service: undefined,
};

interface Delivery {
  readonly eventId: string;
  readonly signature: string;
  readonly raw: string;
}

/** The app's callback URL: records deliveries; events whose id starts "flaky-" fail twice first. */
async function startReceiver() {
  const deliveries: Delivery[] = [];
  const tries = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    let raw = "";
    req.on("data", (c: Buffer) => {
      raw += c.toString();
    });
    req.on("end", () => {
      const eventId = String(req.headers["ballast-event-id"] ?? "");
      const n = (tries.get(eventId) ?? 0) + 1;
      tries.set(eventId, n);
      if (eventId.startsWith("flaky-") && n <= 2) {
        res.writeHead(503).end();
        return;
      }
      deliveries.push({ eventId, signature: String(req.headers["ballast-signature"] ?? ""), raw });
      res.writeHead(200).end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/callbacks`,
    deliveries,
    tries,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  ms = 15_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

for (const backend of ["sqlite", "bullmq"] as const) {
  describe(`webhooks (${backend} queue)`, () => {
    let server: TestServer;
    let receiver: Awaited<ReturnType<typeof startReceiver>>;
    let call: ReturnType<typeof api>;
    const prefix = `ballast-test:${randomUUID()}:`;

    const hook = (body: unknown, headers: Record<string, string> = {}) =>
      call("POST", "/v1/hooks/churn", body, headers);
    const event = async (id: string): Promise<Json> =>
      (await call("GET", `/v1/apps/churn/events/${encodeURIComponent(id)}`)).json?.event;
    const settled = (id: string, status: string) =>
      waitFor(`${id} ${status}`, async () => {
        const e = await event(id);
        return e?.status === status ? e : undefined;
      });
    const delivered = (id: string) =>
      waitFor(`callback of ${id}`, async () => {
        const e = await event(id);
        return e?.callback?.status === "delivered" ? e : undefined;
      });

    beforeAll(async () => {
      if (backend === "bullmq") {
        const redis = openRedis({ url: REDIS_URL });
        try {
          await checkRedis(redis, REDIS_URL);
        } finally {
          redis.disconnect();
        }
      }
      receiver = await startReceiver();
      server = await startTestServer({
        webhookTimings: TIMINGS,
        ...(backend === "bullmq" ? { redisUrl: REDIS_URL, redisPrefix: prefix } : {}),
      });
      call = api(server, server.adminKey);
      await publishChurn(server);
    }, 120_000);

    afterAll(async () => {
      await server?.close();
      await receiver?.close();
      if (backend === "bullmq") await deleteRedisKeys(prefix);
    });

    it("refuses events while the app's hooks are off, and for apps that do not exist", async () => {
      const off = await hook(CHURN_RECORD);
      expect(off.status).toBe(404);
      expect(off.json.error.code).toBe("hooks_disabled");
      expect((await call("POST", "/v1/hooks/nope", CHURN_RECORD)).status).toBe(404);
      expect((await api(server, undefined)("POST", "/v1/hooks/churn", CHURN_RECORD)).status).toBe(
        401,
      );
    });

    it("turns hooks on with a mapping through the app spec", async () => {
      const saved = await call("POST", "/v1/apps/churn/versions", {
        spec: {
          apiVersion: "ballast/v1",
          kind: "App",
          name: "churn",
          model: { name: "churn", version: 1 },
          webhook: {
            enabled: true,
            rename: { months: "tenure" },
            defaults: { phone_service: 0 },
            coerceTypes: true,
            callbackUrl: receiver.url,
            maxAttempts: 3,
            concurrency: 4,
          },
        },
      });
      expect(saved.status, saved.text).toBe(201);
    });

    it("maps, queues and processes a valid event; its result is read by id and called back, signed", async () => {
      const sent = await hook(CRM_EVENT);
      expect(sent.status, sent.text).toBe(202);
      expect(sent.json).toEqual({ event_id: expect.stringMatching(/^evt_/), status: "queued" });
      const id: string = sent.json.event_id;
      expect(sent.headers.get("location")).toBe(`/v1/apps/churn/events/${id}`);

      const done = await settled(id, "done");
      expect(done.record).toMatchObject({ tenure: 1, monthly_charges: 29.85, phone_service: 0 });
      expect(done.record.senior_citizen).toBe(0);
      expect(done.record).not.toHaveProperty("months");
      expect(done.payload).toMatchObject({ months: "1" });
      expect(done.attempts).toBe(1);
      expect(done.result).toMatchObject({ app: "churn", app_version: 2 });
      expect(["Yes", "No"]).toContain(done.result.prediction);
      // The same answer as the predict route gives for the same customer.
      const direct = await call("POST", "/v1/apps/churn/predict", CHURN_RECORD);
      expect(done.result.prediction).toBe(direct.json.prediction);

      await delivered(id);
      const secret = await call("GET", "/v1/apps/churn/hooks/secret");
      expect(secret.status).toBe(200);
      expect(secret.json.secret).toMatch(/^whsec_[0-9a-f]{64}$/);
      const delivery = receiver.deliveries.find((d) => d.eventId === id);
      expect(delivery).toBeDefined();
      if (!delivery) return;
      expect(verifySignature(secret.json.secret, delivery.signature, delivery.raw)).toBe(true);
      expect(verifySignature(secret.json.secret, delivery.signature, `${delivery.raw} `)).toBe(
        false,
      );
      expect(JSON.parse(delivery.raw)).toEqual({
        event_id: id,
        app: "churn",
        status: "done",
        result: done.result,
      });
    });

    it("answers 400 to a body that is not JSON, or not one JSON object", async () => {
      const broken = await hook("{not json", { "content-type": "application/json" });
      expect(broken.status).toBe(400);
      expect(broken.json.error.code).toBe("invalid_json");
      const text = await hook("hello", { "content-type": "text/plain" });
      expect(text.status).toBe(400);
      expect(text.json.error.code).toBe("invalid_json");
      const array = await hook([CHURN_RECORD]);
      expect(array.status).toBe(400);
      expect(array.json.error.code).toBe("invalid_body");
      // A JSON body sent as text/plain is still read as JSON.
      const plain = await hook(JSON.stringify(CHURN_RECORD), { "content-type": "text/plain" });
      expect(plain.status).toBe(202);
    });

    it("quarantines an invalid event with its problems, never processes it; fixed and replayed it is", async () => {
      const bad = { ...CHURN_RECORD, tenure: "a year", contract: undefined, colour: "red" };
      const sent = await hook(bad);
      expect(sent.status).toBe(202);
      expect(sent.json.status).toBe("quarantined");
      const paths = (sent.json.problems as { path: string }[]).map((p) => p.path).sort();
      expect(paths).toEqual(["/colour", "/contract", "/tenure"]);
      const id: string = sent.json.event_id;
      await sleep(300);
      const kept = await event(id);
      expect(kept).toMatchObject({ status: "quarantined", attempts: 0 });
      expect(kept.result).toBeUndefined();
      const listed = await call("GET", "/v1/apps/churn/events?status=quarantined&limit=10");
      expect(listed.json.events.map((e: Json) => e.id)).toContain(id);

      const still = await call("POST", `/v1/apps/churn/events/${id}/replay`, {
        payload: { ...bad, tenure: 12 },
      });
      expect(still.status).toBe(422);
      expect(still.json.error.code).toBe("invalid_event");
      expect(still.json.error.details.map((d: Json) => d.path).sort()).toEqual([
        "/colour",
        "/contract",
      ]);
      expect((await event(id)).status).toBe("quarantined");

      const fixed = { ...CHURN_RECORD, tenure: 12 };
      const replayed = await call("POST", `/v1/apps/churn/events/${id}/replay`, { payload: fixed });
      expect(replayed.status, replayed.text).toBe(202);
      expect(replayed.json.event.status).toBe("queued");
      const done = await settled(id, "done");
      expect(done.payload).toEqual(fixed);
      expect(done.problems).toEqual([]);

      const again = await call("POST", `/v1/apps/churn/events/${id}/replay`);
      expect(again.status).toBe(409);
      expect((await call("POST", "/v1/apps/churn/events/nope/replay")).status).toBe(404);
      expect((await call("GET", "/v1/apps/churn/events/nope")).status).toBe(404);
    });

    it("takes an Idempotency-Key as the event id: the same body replays, another is refused", async () => {
      const key = `order-${randomUUID()}`;
      const first = await hook(CHURN_RECORD, { "idempotency-key": key });
      expect(first.status).toBe(202);
      expect(first.json).toEqual({ event_id: key, status: "queued" });
      const again = await hook({ ...CHURN_RECORD }, { "idempotency-key": key });
      expect(again.status).toBe(202);
      expect(again.json).toEqual(first.json);
      expect(again.headers.get("idempotent-replayed")).toBe("true");
      const other = await hook({ ...CHURN_RECORD, tenure: 40 }, { "idempotency-key": key });
      expect(other.status).toBe(422);
      expect(other.json.error.code).toBe("idempotency_key_reused");
      const malformed = await hook(CHURN_RECORD, { "idempotency-key": "has spaces in it" });
      expect(malformed.status).toBe(400);
      expect(malformed.json.error.code).toBe("invalid_idempotency_key");
      await settled(key, "done");
      const all = await call("GET", "/v1/apps/churn/events?limit=1000");
      expect(all.json.events.filter((e: Json) => e.id === key)).toHaveLength(1);
      // After it is done, a retry still answers the first 202 (and nothing runs again).
      const late = await hook(CHURN_RECORD, { "idempotency-key": key });
      expect(late.json).toEqual({ event_id: key, status: "queued" });
      expect((await event(key)).attempts).toBe(1);
    });

    it("retries the callback when the receiver fails, until it takes it", async () => {
      const id = `flaky-${randomUUID()}`;
      expect((await hook(CHURN_RECORD, { "idempotency-key": id })).status).toBe(202);
      const done = await delivered(id);
      expect(done.callback).toMatchObject({ url: receiver.url, status: "delivered", attempts: 3 });
      expect(receiver.tries.get(id)).toBe(3);
      expect(receiver.deliveries.filter((d) => d.eventId === id)).toHaveLength(1);
    });

    it("moves an event whose processing always fails to dead after maxAttempts; replayed later it is done", async () => {
      const webhooks = server.ballast.context.webhooks;
      const real = webhooks.replaceProcessor(async () => undefined);
      const failing: EventProcessor = async (e, signal) => {
        if (e.record.tenure === 999) throw new Error("the scoring service is down");
        return real(e, signal);
      };
      webhooks.replaceProcessor(failing);
      try {
        const sent = await hook({ ...CHURN_RECORD, tenure: 999 });
        const id: string = sent.json.event_id;
        const dead = await settled(id, "dead");
        expect(dead).toMatchObject({
          attempts: 3,
          maxAttempts: 3,
          error: "the scoring service is down",
        });
        expect(dead.result).toBeUndefined();
        const deadList = await call("GET", "/v1/apps/churn/events?status=dead");
        expect(deadList.json.events.map((e: Json) => e.id)).toEqual([id]);
        await delivered(id);
        const notice = receiver.deliveries.find((d) => d.eventId === id);
        expect(JSON.parse(notice?.raw ?? "{}")).toMatchObject({ status: "dead", result: null });

        webhooks.replaceProcessor(real);
        const replayed = await call("POST", `/v1/apps/churn/events/${id}/replay`);
        expect(replayed.status).toBe(202);
        const done = await settled(id, "done");
        expect(done.attempts).toBe(1);
        expect(["Yes", "No"]).toContain(done.result.prediction);
      } finally {
        webhooks.replaceProcessor(real);
      }
    });

    it("lists events newest first, filters by status, bounds the limit", async () => {
      const listed = await call("GET", "/v1/apps/churn/events?limit=2");
      expect(listed.status).toBe(200);
      expect(listed.json.events).toHaveLength(2);
      const [a, b] = listed.json.events;
      expect(a.createdAt >= b.createdAt).toBe(true);
      const done = await call("GET", "/v1/apps/churn/events?status=done&limit=1000");
      expect(done.json.events.length).toBeGreaterThanOrEqual(4);
      expect(done.json.events.every((e: Json) => e.status === "done")).toBe(true);
      const bad = await call("GET", "/v1/apps/churn/events?status=finished");
      expect(bad.status).toBe(400);
      expect((await call("GET", "/v1/apps/churn/events?limit=0")).status).toBe(400);
      expect((await call("GET", "/v1/apps/nope/events")).status).toBe(404);
    });

    it("lets an invoker send events but only readers read them, builders replay, admins see the secret", async () => {
      const keyFor = async (role: string) =>
        (await call("POST", "/v1/keys", { role, name: `${role} ${backend}` })).json
          .secret as string;
      const invoker = api(server, await keyFor("invoker"));
      const viewer = api(server, await keyFor("viewer"));
      const builder = api(server, await keyFor("builder"));
      const sent = await invoker("POST", "/v1/hooks/churn", { ...CHURN_RECORD, tenure: "x" });
      expect(sent.status).toBe(202);
      const id = sent.json.event_id;
      expect((await invoker("GET", `/v1/apps/churn/events/${id}`)).status).toBe(403);
      expect((await viewer("GET", `/v1/apps/churn/events/${id}`)).status).toBe(200);
      expect((await viewer("POST", "/v1/hooks/churn", CHURN_RECORD)).status).toBe(403);
      expect((await viewer("POST", `/v1/apps/churn/events/${id}/replay`)).status).toBe(403);
      const fixed = await builder("POST", `/v1/apps/churn/events/${id}/replay`, {
        payload: CHURN_RECORD,
      });
      expect(fixed.status).toBe(202);
      expect((await builder("GET", "/v1/apps/churn/hooks/secret")).status).toBe(403);
    });
  });
}
