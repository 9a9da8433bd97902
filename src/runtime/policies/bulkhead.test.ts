import { setImmediate as flush, setTimeout as sleep } from "node:timers/promises";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { OverloadedError } from "../errors.ts";
import { Bulkhead } from "./bulkhead.ts";

/** A task the test finishes by hand, recording that it started. */
interface Task {
  readonly id: number;
  started: boolean;
  finished: boolean;
  finish(ok: boolean): void;
}

function controlled(
  bulkhead: Bulkhead,
  id: number,
  log: number[],
  running: { now: number; max: number },
  signal?: AbortSignal,
) {
  const task: Task = { id, started: false, finished: false, finish: () => {} };
  const result = bulkhead.run(
    () =>
      new Promise<number>((resolve, reject) => {
        task.started = true;
        log.push(id);
        running.now++;
        running.max = Math.max(running.max, running.now);
        task.finish = (ok) => {
          if (task.finished) return;
          task.finished = true;
          running.now--;
          if (ok) resolve(id);
          else reject(new Error(`task ${id} failed`));
        };
      }),
    signal,
  );
  return { task, result };
}

const overloaded = (reason: string) =>
  expect.objectContaining({ code: "overloaded", reason }) as unknown;

describe("Bulkhead", () => {
  it("runs up to maxInFlight at once, queues the next FIFO, sheds beyond the queue", async () => {
    const bulkhead = new Bulkhead({ maxInFlight: 2, maxQueue: 2, maxQueueWaitMs: 10_000 });
    const log: number[] = [];
    const running = { now: 0, max: 0 };
    const calls = [1, 2, 3, 4, 5].map((id) => controlled(bulkhead, id, log, running));
    expect(bulkhead.inFlight).toBe(2);
    expect(bulkhead.queued).toBe(2);
    const shed = await calls[4]?.result.catch((e: unknown) => e);
    expect(shed).toBeInstanceOf(OverloadedError);
    expect(shed).toEqual(overloaded("queue_full"));
    expect((shed as OverloadedError).retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(Number.isInteger((shed as OverloadedError).retryAfterSeconds)).toBe(true);
    expect(bulkhead.shed).toBe(1);
    expect(log).toEqual([1, 2]);

    calls[1]?.task.finish(true);
    await flush();
    expect(log).toEqual([1, 2, 3]);
    // A newcomer arriving while 4 waits must queue behind it, not take the next free slot.
    const late = controlled(bulkhead, 6, log, running);
    const failed = calls[0]?.result.catch((e: unknown) => e);
    calls[0]?.task.finish(false);
    await flush();
    expect(log).toEqual([1, 2, 3, 4]);
    expect(await failed).toEqual(new Error("task 1 failed"));
    await expect(calls[1]?.result).resolves.toBe(2);
    for (const c of [calls[2], calls[3]]) c?.task.finish(true);
    await flush();
    expect(log).toEqual([1, 2, 3, 4, 6]);
    late.task.finish(true);
    await expect(late.result).resolves.toBe(6);
    expect(running.max).toBe(2);
    expect(bulkhead.inFlight).toBe(0);
    expect(bulkhead.queued).toBe(0);
  });

  it("sheds a waiter with queue_timeout after maxQueueWaitMs; a freed slot is then reused", async () => {
    const bulkhead = new Bulkhead({ maxInFlight: 1, maxQueue: 4, maxQueueWaitMs: 30 });
    const log: number[] = [];
    const running = { now: 0, max: 0 };
    const first = controlled(bulkhead, 1, log, running);
    const waiting = [2, 3].map((id) => controlled(bulkhead, id, log, running));
    for (const w of waiting) {
      const error = await w.result.catch((e: unknown) => e);
      expect(error).toEqual(overloaded("queue_timeout"));
    }
    expect(bulkhead.queued).toBe(0);
    expect(bulkhead.shed).toBe(2);
    first.task.finish(true);
    await first.result;
    const next = controlled(bulkhead, 4, log, running);
    expect(next.task.started).toBe(true);
    next.task.finish(true);
    await expect(next.result).resolves.toBe(4);
    expect(log).toEqual([1, 4]);
  });

  it("removes a waiter whose signal aborts, with the signal's reason", async () => {
    const bulkhead = new Bulkhead({ maxInFlight: 1, maxQueue: 1, maxQueueWaitMs: 10_000 });
    const log: number[] = [];
    const running = { now: 0, max: 0 };
    const first = controlled(bulkhead, 1, log, running);
    const controller = new AbortController();
    const waiter = controlled(bulkhead, 2, log, running, controller.signal);
    expect(bulkhead.queued).toBe(1);
    controller.abort(new Error("client left"));
    await expect(waiter.result).rejects.toThrow("client left");
    expect(bulkhead.queued).toBe(0);
    // Its queue slot is free again, and it never runs.
    const third = controlled(bulkhead, 3, log, running);
    expect(bulkhead.queued).toBe(1);
    first.task.finish(true);
    await flush();
    third.task.finish(true);
    await third.result;
    expect(log).toEqual([1, 3]);
    expect(bulkhead.shed).toBe(0);
  });

  it("refuses an already aborted signal without running, and releases a slot when fn throws", async () => {
    const bulkhead = new Bulkhead({ maxInFlight: 1, maxQueue: 0, maxQueueWaitMs: 0 });
    const controller = new AbortController();
    controller.abort("gone");
    let ran = false;
    await expect(
      bulkhead.run(async () => {
        ran = true;
      }, controller.signal),
    ).rejects.toBe("gone");
    expect(ran).toBe(false);
    await expect(
      bulkhead.run(() => {
        throw new Error("sync");
      }),
    ).rejects.toThrow("sync");
    expect(bulkhead.inFlight).toBe(0);
    await expect(bulkhead.run(async () => "ok")).resolves.toBe("ok");
  });

  it("with maxQueue 0 sheds at once when full", async () => {
    const bulkhead = new Bulkhead({ maxInFlight: 1, maxQueue: 0, maxQueueWaitMs: 250 });
    const hold = bulkhead.run(() => sleep(20));
    await expect(bulkhead.run(async () => 1)).rejects.toEqual(overloaded("queue_full"));
    await hold;
  });

  it("rejects nonsensical settings, naming them", () => {
    expect(() => new Bulkhead({ maxInFlight: 0, maxQueue: 1, maxQueueWaitMs: 1 })).toThrow(
      /maxInFlight/,
    );
    expect(() => new Bulkhead({ maxInFlight: 1, maxQueue: -1, maxQueueWaitMs: 1 })).toThrow(
      /maxQueue/,
    );
    expect(
      () => new Bulkhead({ maxInFlight: 1, maxQueue: 1, maxQueueWaitMs: Number.POSITIVE_INFINITY }),
    ).toThrow(/maxQueueWaitMs/);
  });

  it("holds its bounds on random schedules, runs FIFO, and settles every call", async () => {
    type Op =
      | { kind: "submit"; abortable: boolean }
      | { kind: "finish"; index: number; ok: boolean }
      | { kind: "abort"; index: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant("submit" as const), abortable: fc.boolean() }),
      fc.record({ kind: fc.constant("finish" as const), index: fc.nat(), ok: fc.boolean() }),
      fc.record({ kind: fc.constant("abort" as const), index: fc.nat() }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 4 }),
        fc.array(op, { maxLength: 60 }),
        async (maxInFlight, maxQueue, ops) => {
          const bulkhead = new Bulkhead({ maxInFlight, maxQueue, maxQueueWaitMs: 60_000 });
          const log: number[] = [];
          const running = { now: 0, max: 0 };
          const calls: { task: Task; result: Promise<unknown>; controller?: AbortController }[] =
            [];
          const settled = new Set<number>();
          const check = () => {
            expect(bulkhead.inFlight).toBeLessThanOrEqual(maxInFlight);
            expect(bulkhead.queued).toBeLessThanOrEqual(maxQueue);
            expect(bulkhead.inFlight).toBe(running.now);
          };
          for (const o of ops) {
            if (o.kind === "submit") {
              const id = calls.length;
              const controller = o.abortable ? new AbortController() : undefined;
              const call = controlled(bulkhead, id, log, running, controller?.signal);
              const entry = { ...call, ...(controller ? { controller } : {}) };
              calls.push(entry);
              const settle = () => settled.add(id);
              void call.result.then(settle, settle);
            } else if (o.kind === "finish") {
              const live = calls.filter((c) => c.task.started && !c.task.finished);
              live[o.index % Math.max(1, live.length)]?.task.finish(o.ok);
            } else {
              const waiting = calls.filter(
                (c) => c.controller && !c.task.started && !settled.has(c.task.id),
              );
              waiting[o.index % Math.max(1, waiting.length)]?.controller?.abort("aborted");
            }
            await flush();
            check();
          }
          // Drain: finish whatever runs until nothing is left.
          for (let guard = 0; guard < 200 && settled.size < calls.length; guard++) {
            for (const c of calls) if (c.task.started) c.task.finish(true);
            await flush();
            check();
          }
          expect(settled.size).toBe(calls.length);
          expect(running.max).toBeLessThanOrEqual(maxInFlight);
          // FIFO: calls started in the order they were submitted.
          expect(log).toEqual([...log].sort((a, b) => a - b));
          expect(bulkhead.inFlight).toBe(0);
          expect(bulkhead.queued).toBe(0);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("Bulkhead.refuseIfFull", () => {
  it("refuses only when every slot and queue place is taken, and counts it as shed", async () => {
    const bulkhead = new Bulkhead({ maxInFlight: 1, maxQueue: 1, maxQueueWaitMs: 1000 });
    expect(() => bulkhead.refuseIfFull()).not.toThrow();
    let release: () => void = () => {};
    const running = bulkhead.run(() => new Promise<void>((r) => (release = r)));
    expect(() => bulkhead.refuseIfFull()).not.toThrow(); // a queue place is still free
    const waiting = bulkhead.run(async () => {});
    expect(() => bulkhead.refuseIfFull()).toThrow(OverloadedError);
    expect(bulkhead.shed).toBe(1);
    release();
    await Promise.all([running, waiting]);
    expect(() => bulkhead.refuseIfFull()).not.toThrow();
  });
});
