/**
 * This server process's resources over the last hour, for the Monitor page's system panel: every
 * 10 seconds (a timer, unref'd) one sample of CPU (process.cpuUsage delta, percent of one core),
 * resident and heap memory, the event loop's 99th percentile delay over the interval (its own
 * `monitorEventLoopDelay` histogram, so it does not disturb the runtime route's reads of
 * event-loop.ts) and the total GC pause in the interval (a PerformanceObserver on `gc`). The
 * samples sit in a ring of one hour; reads rebin them to at most 120 points.
 *
 * Each replica samples itself; Prometheus has the same figures per replica
 * (`collectDefaultMetrics`) for fleet views.
 */
import {
  type IntervalHistogram,
  monitorEventLoopDelay,
  PerformanceObserver,
} from "node:perf_hooks";
import { MAX_POINTS } from "./series.ts";

/** One interval as sampled. */
export interface ProcessSample {
  /** End of the interval (epoch ms). */
  readonly at: number;
  readonly cpuPercent: number;
  readonly rssMb: number;
  readonly heapUsedMb: number;
  readonly eventLoopP99Ms: number;
  readonly gcPauseMs: number;
}

export interface ProcessPoint {
  /** Start of the interval, ISO-8601. */
  readonly t: string;
  /** Mean CPU over the interval's samples. */
  readonly cpuPercent: number;
  /** Highest memory in the interval. */
  readonly rssMb: number;
  readonly heapUsedMb: number;
  /** Worst sample's p99 event-loop delay. */
  readonly eventLoopP99Ms: number;
  /** Total GC pause in the interval. */
  readonly gcPauseMs: number;
}

export const PROCESS_WINDOWS = ["5m", "15m", "1h"] as const;
export type ProcessWindow = (typeof PROCESS_WINDOWS)[number];
const PROCESS_WINDOW_SECONDS: Readonly<Record<ProcessWindow, number>> = {
  "5m": 300,
  "15m": 900,
  "1h": 3600,
};

export interface ProcessSeries {
  readonly window: ProcessWindow;
  readonly stepSeconds: number;
  /** Intervals with at least one sample, oldest first (none before the process started). */
  readonly points: readonly ProcessPoint[];
}

export interface ProcessMetricsOptions {
  /** Sampling interval (default 10 s). */
  readonly intervalMs?: number;
  /** How long samples are kept (default 1 h). */
  readonly keepMs?: number;
  /** The clock (epoch ms). */
  readonly now?: () => number;
}

const MB = 1024 * 1024;
const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

export class ProcessMetrics {
  private readonly intervalMs: number;
  private readonly ring: (ProcessSample | undefined)[];
  private next = 0;
  private readonly now: () => number;
  private readonly loop: IntervalHistogram;
  private readonly gc: PerformanceObserver;
  private gcPauseMs = 0;
  private lastCpu: NodeJS.CpuUsage;
  private lastHr: bigint;
  private timer: NodeJS.Timeout | undefined;

  constructor(options: ProcessMetricsOptions = {}) {
    this.intervalMs = options.intervalMs ?? 10_000;
    if (!Number.isInteger(this.intervalMs) || this.intervalMs < 10) {
      throw new RangeError(`intervalMs must be an integer of at least 10, not ${this.intervalMs}`);
    }
    const keepMs = options.keepMs ?? 3_600_000;
    this.ring = new Array(Math.max(1, Math.ceil(keepMs / this.intervalMs)));
    this.now = options.now ?? Date.now;
    this.loop = monitorEventLoopDelay({ resolution: 20 });
    this.gc = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) this.gcPauseMs += entry.duration;
    });
    this.lastCpu = process.cpuUsage();
    this.lastHr = process.hrtime.bigint();
  }

  /** Start sampling every interval (the timer does not keep the process alive). */
  start(): void {
    if (this.timer) return;
    this.loop.enable();
    this.gc.observe({ entryTypes: ["gc"] });
    this.lastCpu = process.cpuUsage();
    this.lastHr = process.hrtime.bigint();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  /** Take a sample of the interval since the previous one (the timer calls this). */
  sample(): ProcessSample {
    const hr = process.hrtime.bigint();
    const elapsedMicros = Number(hr - this.lastHr) / 1000;
    const cpu = process.cpuUsage(this.lastCpu);
    const memory = process.memoryUsage();
    const p99 = this.loop.count > 0 ? this.loop.percentile(99) / 1e6 : 0;
    const sample: ProcessSample = {
      at: this.now(),
      cpuPercent: elapsedMicros > 0 ? round(((cpu.user + cpu.system) / elapsedMicros) * 100) : 0,
      rssMb: round(memory.rss / MB),
      heapUsedMb: round(memory.heapUsed / MB),
      eventLoopP99Ms: round(p99, 3),
      gcPauseMs: round(this.gcPauseMs, 3),
    };
    this.loop.reset();
    this.gcPauseMs = 0;
    this.lastCpu = process.cpuUsage();
    this.lastHr = hr;
    this.ring[this.next] = sample;
    this.next = (this.next + 1) % this.ring.length;
    return sample;
  }

  /** Samples kept, oldest first. */
  samples(): ProcessSample[] {
    const out: ProcessSample[] = [];
    for (let i = 0; i < this.ring.length; i++) {
      const s = this.ring[(this.next + i) % this.ring.length];
      if (s) out.push(s);
    }
    return out;
  }

  /** The last `window`, rebinned to at most 120 points of whole sampling intervals. */
  series(window: ProcessWindow): ProcessSeries {
    const seconds = PROCESS_WINDOW_SECONDS[window];
    const intervalSeconds = this.intervalMs / 1000;
    const stepSeconds =
      intervalSeconds * Math.max(1, Math.ceil(seconds / intervalSeconds / MAX_POINTS));
    const stepMs = stepSeconds * 1000;
    const now = this.now();
    const firstStep = Math.floor(now / stepMs) - Math.ceil(seconds / stepSeconds) + 1;
    const points: ProcessPoint[] = [];
    let current:
      | {
          step: number;
          n: number;
          cpu: number;
          rss: number;
          heap: number;
          loop: number;
          gc: number;
        }
      | undefined;
    const close = () => {
      if (!current) return;
      points.push({
        t: new Date(current.step * stepMs).toISOString(),
        cpuPercent: round(current.cpu / current.n),
        rssMb: current.rss,
        heapUsedMb: current.heap,
        eventLoopP99Ms: current.loop,
        gcPauseMs: round(current.gc, 3),
      });
    };
    for (const s of this.samples()) {
      // A sample describes the interval ending at `at`: it belongs where its middle falls.
      const step = Math.floor((s.at - this.intervalMs / 2) / stepMs);
      if (step < firstStep) continue;
      if (!current || current.step !== step) {
        close();
        current = { step, n: 0, cpu: 0, rss: 0, heap: 0, loop: 0, gc: 0 };
      }
      current.n++;
      current.cpu += s.cpuPercent;
      current.rss = Math.max(current.rss, s.rssMb);
      current.heap = Math.max(current.heap, s.heapUsedMb);
      current.loop = Math.max(current.loop, s.eventLoopP99Ms);
      current.gc += s.gcPauseMs;
    }
    close();
    return { window, stepSeconds, points };
  }

  /** Stop sampling; the samples taken stay readable. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.loop.disable();
    this.gc.disconnect();
  }
}
