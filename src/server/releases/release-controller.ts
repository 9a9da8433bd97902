/**
 * The rollout controller: a timer that asks the release service to judge every running
 * canary. One pass at a time (a slow registry never stacks passes), errors logged and the
 * next pass tried, never thrown into the process. Every replica runs one; the releases'
 * compare-and-set makes sure a step moves once.
 */
import type { AlertLogger } from "../../monitor/alerts/alert-service.ts";
import type { ReleaseService } from "./release-service.ts";

export class ReleaseController {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(
    private readonly service: ReleaseService,
    private readonly intervalMs: number,
    private readonly log: AlertLogger,
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.pass(), this.intervalMs);
    this.timer.unref();
  }

  /** One pass now (tests, and the timer). */
  async pass(): Promise<void> {
    if (this.running) return;
    this.running = this.service.tick().catch((error: unknown) => {
      this.log.error({ err: error }, "rollout controller: a pass failed");
    });
    try {
      await this.running;
    } finally {
      this.running = undefined;
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
