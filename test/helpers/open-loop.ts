/**
 * An open-loop load generator: requests are sent on a fixed schedule whatever the answers'
 * latency (a closed loop would slow down with the server and hide its queueing), for a
 * bounded time against a loopback URL only. Each answer is kept as (status, latency).
 */
import { Agent, request } from "node:http";

export interface Sample {
  readonly status: number;
  readonly ms: number;
}

export interface LoadResult {
  readonly samples: readonly Sample[];
  /** Requests that failed without an HTTP answer (connection errors). */
  readonly transportErrors: number;
  readonly seconds: number;
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

export async function openLoop(options: {
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly ratePerSecond: number;
  readonly seconds: number;
  /** Most connections the generator opens (it never queues requests on its side beyond these). */
  readonly connections?: number;
}): Promise<LoadResult> {
  const target = new URL(options.url);
  if (target.hostname !== "127.0.0.1" && target.hostname !== "localhost") {
    throw new Error("load is only ever sent to this machine");
  }
  const agent = new Agent({ keepAlive: true, maxSockets: options.connections ?? 256 });
  const samples: Sample[] = [];
  let transportErrors = 0;
  const total = Math.round(options.ratePerSecond * options.seconds);
  const tickMs = 5;
  const perTick = options.ratePerSecond * (tickMs / 1000);
  const pending: Promise<void>[] = [];
  const started = performance.now();
  let sent = 0;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - started) / tickMs) * perTick));
      while (sent < due) {
        sent++;
        const t0 = performance.now();
        pending.push(
          new Promise<void>((done) => {
            const req = request(
              target,
              {
                method: "POST",
                agent,
                headers: { ...options.headers, "content-length": Buffer.byteLength(options.body) },
              },
              (res) => {
                res.resume();
                res.on("end", () => {
                  samples.push({ status: res.statusCode ?? 0, ms: performance.now() - t0 });
                  done();
                });
              },
            );
            req.on("error", () => {
              transportErrors++;
              done();
            });
            req.end(options.body);
          }),
        );
      }
      if (sent >= total) {
        clearInterval(timer);
        resolve();
      }
    }, tickMs);
  });
  await Promise.all(pending);
  agent.destroy();
  return { samples, transportErrors, seconds: (performance.now() - started) / 1000 };
}
