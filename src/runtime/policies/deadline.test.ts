import { getEventListeners } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { DeadlineExceededError } from "../errors.ts";
import { deadlineSignal, withDeadline } from "./deadline.ts";

/** Pending timers of this process (what a leaked deadline would leave behind). */
const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;

/** Work that only ends when its signal aborts, with the AbortError fetch would throw. */
const hang = (signal: AbortSignal) =>
  new Promise<never>((_, reject) => {
    signal.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
  });

describe("withDeadline", () => {
  it("answers with the work's value and leaves no timer or listener behind", async () => {
    const parent = new AbortController();
    const before = timers();
    const value = await withDeadline(10_000, async () => 42, { parent: parent.signal });
    expect(value).toBe(42);
    expect(timers()).toBe(before);
    expect(getEventListeners(parent.signal, "abort")).toHaveLength(0);
  });

  it("rejects with DeadlineExceededError naming the step, and aborts the work's signal", async () => {
    let seen: AbortSignal | undefined;
    const error = await withDeadline(
      20,
      (signal) => {
        seen = signal;
        return hang(signal);
      },
      { stepId: "model" },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeadlineExceededError);
    expect(error).toMatchObject({ stepId: "model", budgetMs: 20, code: "deadline_exceeded" });
    expect(seen?.aborted).toBe(true);
    expect(seen?.reason).toBe(error);
  });

  it("does not wait for work that ignores its signal", async () => {
    let finished = false;
    const slow = sleep(300).then(() => {
      finished = true;
      return "late";
    });
    await expect(withDeadline(20, () => slow)).rejects.toBeInstanceOf(DeadlineExceededError);
    expect(finished).toBe(false);
    await slow;
  });

  it("rethrows the parent's reason when the parent aborts first", async () => {
    const parent = new AbortController();
    const reason = new DeadlineExceededError(100);
    const run = withDeadline(10_000, hang, { parent: parent.signal, stepId: "http" });
    parent.abort(reason);
    await expect(run).rejects.toBe(reason);
    expect(getEventListeners(parent.signal, "abort")).toHaveLength(0);
  });

  it("does not start work when the parent already aborted or no time is left", async () => {
    const parent = new AbortController();
    parent.abort(new Error("client went away"));
    let calls = 0;
    const work = async () => {
      calls++;
      return 1;
    };
    await expect(withDeadline(1000, work, { parent: parent.signal })).rejects.toThrow(
      "client went away",
    );
    const spent = await withDeadline(0, work, { stepId: "s" }).catch((e: unknown) => e);
    expect(spent).toBeInstanceOf(DeadlineExceededError);
    expect(spent).toMatchObject({ stepId: "s" });
    await expect(withDeadline(-5, work)).rejects.toBeInstanceOf(DeadlineExceededError);
    expect(calls).toBe(0);
  });

  it("passes the work's own error through and clears its timer", async () => {
    const before = timers();
    await expect(
      withDeadline(10_000, async () => {
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    await expect(
      withDeadline(10_000, () => {
        throw new Error("sync boom");
      }),
    ).rejects.toThrow("sync boom");
    expect(timers()).toBe(before);
  });

  it("has no time limit with Infinity, but still follows the parent", async () => {
    const parent = new AbortController();
    const before = timers();
    const run = withDeadline(Number.POSITIVE_INFINITY, hang, { parent: parent.signal });
    expect(timers()).toBe(before);
    parent.abort("stop");
    await expect(run).rejects.toBe("stop");
  });
});

describe("deadlineSignal", () => {
  it("aborts after the budget with the step's DeadlineExceededError", async () => {
    const deadline = deadlineSignal(15, undefined, "cascade");
    expect(deadline.signal.aborted).toBe(false);
    await sleep(40);
    expect(deadline.signal.aborted).toBe(true);
    expect(deadline.signal.reason).toBeInstanceOf(DeadlineExceededError);
    expect(deadline.signal.reason).toMatchObject({ stepId: "cascade", budgetMs: 15 });
  });

  it("clear() stops the timer and the parent listener; the signal then never aborts", async () => {
    const parent = new AbortController();
    const before = timers();
    const deadline = deadlineSignal(15, parent.signal);
    expect(getEventListeners(parent.signal, "abort")).toHaveLength(1);
    deadline.clear();
    deadline.clear();
    expect(timers()).toBe(before);
    expect(getEventListeners(parent.signal, "abort")).toHaveLength(0);
    parent.abort();
    await sleep(30);
    expect(deadline.signal.aborted).toBe(false);
  });

  it("follows the parent's abort, with its reason, and stops its own timer", () => {
    const parent = new AbortController();
    const before = timers();
    const deadline = deadlineSignal(10_000, parent.signal);
    parent.abort("request over");
    expect(deadline.signal.aborted).toBe(true);
    expect(deadline.signal.reason).toBe("request over");
    expect(timers()).toBe(before);
  });

  it("refuses NaN, which would otherwise fire at once", () => {
    expect(() => deadlineSignal(Number.NaN)).toThrow(RangeError);
  });
});
