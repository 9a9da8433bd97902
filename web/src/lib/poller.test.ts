import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Poller, type VisibilitySource } from "./poller.ts";

/** A tab whose visibility the test sets, firing `visibilitychange` as a browser does. */
class Tab extends EventTarget implements VisibilitySource {
  hidden = false;
  set(hidden: boolean): void {
    this.hidden = hidden;
    this.dispatchEvent(new Event("visibilitychange"));
  }
}

describe("Poller", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("loads at once, then once per interval", async () => {
    let runs = 0;
    const poller = new Poller(
      async () => {
        runs++;
      },
      { intervalMs: 5000, repeat: true, visibility: new Tab() },
    );
    poller.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(runs).toBe(1);
    await vi.advanceTimersByTimeAsync(4999);
    expect(runs).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(runs).toBe(2);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(runs).toBe(4);
    poller.stop();
    await vi.advanceTimersByTimeAsync(20_000);
    expect(runs).toBe(4);
  });

  it("rests while the tab is hidden and loads as soon as it is seen again", async () => {
    const tab = new Tab();
    let runs = 0;
    const poller = new Poller(
      async () => {
        runs++;
      },
      { intervalMs: 5000, repeat: true, visibility: tab },
    );
    poller.start();
    await vi.advanceTimersByTimeAsync(0);
    tab.set(true);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(runs).toBe(1);
    tab.set(false);
    await vi.advanceTimersByTimeAsync(0);
    expect(runs).toBe(2);
    await vi.advanceTimersByTimeAsync(5000);
    expect(runs).toBe(3);
    poller.stop();
  });

  it("never overlaps a slow load, and a tab hidden during a load waits for the tab", async () => {
    const tab = new Tab();
    let inFlight = 0;
    let most = 0;
    let runs = 0;
    const poller = new Poller(
      async () => {
        runs++;
        inFlight++;
        most = Math.max(most, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 8000));
        inFlight--;
      },
      { intervalMs: 1000, repeat: true, visibility: tab },
    );
    poller.start();
    await vi.advanceTimersByTimeAsync(30_000);
    expect(most).toBe(1);
    // 9 s per round: a load of 8 s, then 1 s of rest.
    expect(runs).toBe(4);
    // Hidden while the load is running, then seen again before it ends: nothing doubles up.
    tab.set(true);
    tab.set(false);
    await vi.advanceTimersByTimeAsync(20_000);
    expect(most).toBe(1);
    // Hidden during a load (the one started at 45 s): it finishes, and no other starts.
    tab.set(true);
    const before = runs;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(runs).toBe(before);
    expect(inFlight).toBe(0);
    tab.set(false);
    await vi.advanceTimersByTimeAsync(0);
    expect(runs).toBe(before + 1);
    poller.stop();
  });

  it("keeps polling after a failed load, and runs once without repeat", async () => {
    let runs = 0;
    const failing = new Poller(
      async () => {
        runs++;
        throw new Error("unreachable");
      },
      { intervalMs: 1000, repeat: true },
    );
    failing.start();
    await vi.advanceTimersByTimeAsync(2500);
    expect(runs).toBe(3);
    failing.stop();

    let once = 0;
    const single = new Poller(
      async () => {
        once++;
      },
      { intervalMs: 1000, repeat: false, visibility: new Tab() },
    );
    single.start();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(once).toBe(1);
    single.stop();
  });

  it("aborts the load in flight when stopped", async () => {
    let aborted = false;
    const poller = new Poller(
      (signal) =>
        new Promise<void>((resolve) => {
          signal.addEventListener("abort", () => {
            aborted = true;
            resolve();
          });
        }),
      { intervalMs: 1000, repeat: true },
    );
    poller.start();
    await vi.advanceTimersByTimeAsync(100);
    expect(aborted).toBe(false);
    poller.stop();
    expect(aborted).toBe(true);
    expect(poller.stopped).toBe(true);
  });
});
