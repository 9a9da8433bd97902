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

/** One app's counters, as the Prometheus export lists them. */
export interface AppRuntimeCounters {
  readonly workspaceId: string;
  readonly app: string;
  readonly counters: Readonly<Record<string, number>>;
}

export class RuntimeCounters {
  private readonly byApp = new Map<
    string,
    { readonly workspaceId: string; readonly app: string; readonly counters: Map<string, number> }
  >();

  count(workspaceId: string, app: string, event: RuntimeEvent | string, n = 1): void {
    const key = `${workspaceId}/${app}`;
    let entry = this.byApp.get(key);
    if (!entry) {
      entry = { workspaceId, app, counters: new Map() };
      this.byApp.set(key, entry);
    }
    entry.counters.set(event, (entry.counters.get(event) ?? 0) + n);
  }

  /** Every counter of one app, e.g. `{ rate_limited: 3, "fallback:circuit_open": 2 }`. */
  of(workspaceId: string, app: string): Record<string, number> {
    return Object.fromEntries(this.byApp.get(`${workspaceId}/${app}`)?.counters ?? []);
  }

  /** Every app that has counted something, with its counters. */
  all(): AppRuntimeCounters[] {
    return [...this.byApp.values()].map((e) => ({
      workspaceId: e.workspaceId,
      app: e.app,
      counters: Object.fromEntries(e.counters),
    }));
  }
}
