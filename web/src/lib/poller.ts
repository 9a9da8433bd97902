/**
 * Runs a load now and again every few seconds, one at a time, and rests while the tab is
 * hidden: a monitor page left open in a background tab would otherwise keep asking the server
 * for charts nobody sees. Framework-free so its timing is tested without a browser; the React
 * side is `usePolling` (use-polling.ts).
 */

/** What tells the poller whether anyone is looking: `document` in the browser. */
export interface VisibilitySource {
  readonly hidden: boolean;
  addEventListener(type: "visibilitychange", listener: () => void): void;
  removeEventListener(type: "visibilitychange", listener: () => void): void;
}

export interface PollerOptions {
  readonly intervalMs: number;
  /** False: run once and stop (the person turned live updates off). */
  readonly repeat: boolean;
  readonly visibility?: VisibilitySource;
}

export class Poller {
  private readonly controller = new AbortController();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running = false;
  /** A load was due while the tab was hidden: run it as soon as the tab is seen again. */
  private due = false;
  private readonly onVisibility = () => {
    if (this.options.visibility?.hidden) {
      this.clearTimer();
      this.due = true;
    } else if (this.due && !this.running && this.timer === undefined) {
      void this.tick();
    }
  };

  constructor(
    private readonly run: (signal: AbortSignal) => Promise<void>,
    private readonly options: PollerOptions,
  ) {}

  /** Load now (even in a hidden tab: the page needs its first data), then keep polling. */
  start(): void {
    if (this.options.repeat) {
      this.options.visibility?.addEventListener("visibilitychange", this.onVisibility);
    }
    void this.tick();
  }

  /** Stop for good: cancel the load in flight and any timer. */
  stop(): void {
    this.controller.abort();
    this.clearTimer();
    this.options.visibility?.removeEventListener("visibilitychange", this.onVisibility);
  }

  get stopped(): boolean {
    return this.controller.signal.aborted;
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async tick(): Promise<void> {
    this.timer = undefined;
    this.due = false;
    this.running = true;
    try {
      await this.run(this.controller.signal);
    } catch {
      // `run` reports its own failures; a rejection must not stop the polling.
    }
    this.running = false;
    if (this.stopped || !this.options.repeat) return;
    if (this.options.visibility?.hidden) {
      this.due = true;
      return;
    }
    this.timer = setTimeout(() => void this.tick(), this.options.intervalMs);
  }
}
