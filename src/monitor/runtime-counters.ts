/**
 * What the runtime's policies did for each app, counted per process: requests refused by a
 * rate limit, shed by a bulkhead, cut by a deadline, answered by a fallback (by reason),
 * escalated by a cascade. Read with the app's other metrics; a Prometheus exporter can read
 * the same numbers. Bounded: one small map per app that has had such an event.
 */
export type RuntimeEvent =
  | "rate_limited"
  | "overloaded"
  | "deadline_exceeded"
  | "circuit_open"
  | "upstream_failed"
  | "escalated"
  | `fallback:${string}`;

export class RuntimeCounters {
  private readonly byApp = new Map<string, Map<string, number>>();

  count(workspaceId: string, app: string, event: RuntimeEvent | string, n = 1): void {
    const key = `${workspaceId}/${app}`;
    let counters = this.byApp.get(key);
    if (!counters) {
      counters = new Map();
      this.byApp.set(key, counters);
    }
    counters.set(event, (counters.get(event) ?? 0) + n);
  }

  /** Every counter of one app, e.g. `{ rate_limited: 3, "fallback:circuit_open": 2 }`. */
  of(workspaceId: string, app: string): Record<string, number> {
    return Object.fromEntries(this.byApp.get(`${workspaceId}/${app}`) ?? []);
  }
}
