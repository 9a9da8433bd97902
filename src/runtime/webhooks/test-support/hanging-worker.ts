/**
 * A worker process for the queue tests to `kill -9`: it starts workers for the test app on the
 * given backend with a processor that announces each event and never finishes it, so the
 * test can kill it mid-event and check that another worker takes the event over.
 *
 * Usage: `hanging-worker.ts sqlite <runtime.db>` or `hanging-worker.ts bullmq <redis url> <prefix>`
 */
import { openRuntimeDb } from "../../../store/runtime-db.ts";
import { BullmqEventQueue } from "../bullmq-event-queue.ts";
import type { EventQueue } from "../event-queue.ts";
import { SqliteEventQueue } from "../sqlite-event-queue.ts";

const [backend, location, prefix] = process.argv.slice(2);
if (!location || (backend !== "sqlite" && backend !== "bullmq")) {
  throw new Error("usage: hanging-worker.ts sqlite <runtime.db> | bullmq <redis url> <prefix>");
}
const timings = { leaseMs: 1000, retryBaseMs: 20, retryMaxMs: 80 };
const queue: EventQueue =
  backend === "sqlite"
    ? new SqliteEventQueue(openRuntimeDb(location), { timings, idlePollMs: 50 })
    : new BullmqEventQueue({ url: location, prefix: prefix ?? "", timings });
await queue.startWorkers(
  { workspaceId: "ws_test", app: "churn" },
  {
    concurrency: 4,
    retentionHours: 1,
    callbackSecret: "whsec_test",
    timeoutMs: 600_000,
    processor: (event) => {
      process.stdout.write(`processing ${event.eventId}\n`);
      return new Promise(() => {});
    },
  },
);
process.stdout.write("ready\n");
