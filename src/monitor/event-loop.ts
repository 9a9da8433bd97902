/**
 * How responsive this thread's event loop is. A blocked loop delays every request of the
 * replica at once (a CPU-heavy prediction run in-thread, a sync call, a GC storm), and shows
 * neither in one route's latency nor in CPU figures; the loop's own delay and utilization do.
 * Each read covers the window since the previous one, so a periodic reader (metrics export,
 * load shedding, a test) sees what happened lately rather than a lifetime average.
 *
 * The delay is sampled by a timer of our own (unref'd, one wake-up per `resolutionMs`) into a
 * histogram, not by `monitorEventLoopDelay`: that histogram's reset() forgets the interval in
 * progress, so a stall that starts right after a read (a blocking request in the same turn of
 * the loop as the metrics request) would never be counted. Here the pending delay is carried
 * across reads, and a stall still in progress at a read is counted in the window it ends.
 */
import type { EventLoopUtilization, RecordableHistogram } from "node:perf_hooks";
import { createHistogram, performance } from "node:perf_hooks";

/** The event loop over one read window. */
export interface EventLoopStats {
  /** Median delay of the loop's timer beyond when it was due, in ms. */
  readonly p50Ms: number;
  /** 99th percentile of that delay, in ms. */
  readonly p99Ms: number;
  /** Longest delay, in ms: about the longest single block of the loop. */
  readonly maxMs: number;
  /** Share of the window the loop was busy (0..1), rather than waiting for I/O or timers. */
  readonly utilization: number;
}

export interface EventLoopMonitor {
  /** The window since the previous read (or since the start), then a new window begins. */
  stats(): EventLoopStats;
  /** Stop sampling (the timer ends); later reads see no delay. */
  stop(): void;
}

export interface EventLoopMonitorOptions {
  /**
   * How often the loop's delay is sampled, in ms (default 10). Smaller sees shorter stalls
   * and costs a timer wake-up per sample.
   */
  readonly resolutionMs?: number;
}

const NS_PER_MS = 1e6;

function delaysOf(histogram: RecordableHistogram): Omit<EventLoopStats, "utilization"> {
  // An empty histogram reports max 0 and a huge min; a window without samples saw no delay.
  if (histogram.count === 0) return { p50Ms: 0, p99Ms: 0, maxMs: 0 };
  return {
    p50Ms: histogram.percentile(50) / NS_PER_MS,
    p99Ms: histogram.percentile(99) / NS_PER_MS,
    maxMs: histogram.max / NS_PER_MS,
  };
}

/** Start measuring the event loop of this thread (each worker thread has its own loop). */
export function startEventLoopMonitor(options: EventLoopMonitorOptions = {}): EventLoopMonitor {
  const resolution = options.resolutionMs ?? 10;
  if (!Number.isInteger(resolution) || resolution < 1) {
    throw new RangeError(`resolutionMs must be an integer of at least 1, not ${resolution}`);
  }
  const histogram = createHistogram();
  /** When the next sample is due; a sample records how late it came. */
  let due = performance.now() + resolution;
  let timer: NodeJS.Timeout | undefined;
  const record = (now: number) => {
    // The histogram holds integers ≥ 1: delays in ns, an on-time sample as 1 ns.
    histogram.record(Math.max(1, Math.round((now - due) * NS_PER_MS)));
  };
  const tick = () => {
    const now = performance.now();
    record(now);
    due = now + resolution;
    timer = setTimeout(tick, resolution);
    timer.unref();
  };
  timer = setTimeout(tick, resolution);
  timer.unref();
  let since: EventLoopUtilization = performance.eventLoopUtilization();

  return {
    stats() {
      const now = performance.now();
      // A stall still in progress (the loop has been busy since the sample fell due, e.g. this
      // read comes at the end of a long synchronous task): count it now, and let the next
      // sample measure from here, so it is neither lost nor counted twice.
      if (timer !== undefined && now > due) {
        record(now);
        due = now;
      }
      const elu = performance.eventLoopUtilization();
      const window = performance.eventLoopUtilization(elu, since);
      since = elu;
      const delays = delaysOf(histogram);
      histogram.reset();
      // A window too short to measure (two reads in one tick) counts as idle.
      const utilization = Number.isFinite(window.utilization) ? window.utilization : 0;
      return { ...delays, utilization };
    },
    stop() {
      clearTimeout(timer);
      timer = undefined;
      histogram.reset();
    },
  };
}
