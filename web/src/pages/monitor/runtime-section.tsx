/**
 * The runtime's state on this server: the bulkhead (requests in flight, queued, shed), the
 * response cache's hit rate, each outside call's circuit breaker, the worker pool and what the
 * policies counted. What an engineer looks at when an app sheds load or falls back.
 */
import type { ReactNode } from "react";
import { Badge, Card, Stat } from "../../components/ui.tsx";
import { formatInteger, formatPercent } from "../../lib/format.ts";
import { formatMs } from "./monitor-data.ts";
import { type Part, PartView } from "./parts.tsx";

/**
 * `GET /v1/apps/{app}/runtime` (src/server/routes/app-runtime-state.ts), which has no shared
 * DTO yet: only the fields this page reads, so a change there shows up here at run time as "—".
 */
export interface RuntimeStateDto {
  readonly app: string;
  readonly deployed: boolean;
  readonly version?: number;
  readonly bulkhead?: { readonly inFlight: number; readonly queued: number; readonly shed: number };
  readonly cache?: {
    readonly hits: number;
    readonly misses: number;
    readonly hitRate: number;
  } | null;
  readonly breakers?: readonly { readonly step: string; readonly state: string }[];
  readonly pool?: {
    readonly threads: number;
    readonly running: number;
    readonly queued: number;
  } | null;
  readonly counters: Readonly<Record<string, number>>;
  readonly eventLoop: {
    readonly p50Ms: number;
    readonly p99Ms: number;
    readonly utilization: number;
  };
}

const COUNTER_WORDS: Record<string, string> = {
  rate_limited: "Refused by the rate limit",
  overloaded: "Shed: the app was full",
  deadline_exceeded: "Ran out of time",
  circuit_open: "Refused by an open circuit breaker",
  upstream_failed: "An outside service failed",
  escalated: "Passed to the second model (cascade)",
};

function counterLabel(name: string): string {
  if (name.startsWith("fallback:"))
    return `Answered by the fallback (${name.slice(9).replace(/_/g, " ")})`;
  return COUNTER_WORDS[name] ?? name.replace(/_/g, " ");
}

function breakerTone(state: string): "green" | "amber" | "red" | "neutral" {
  if (state === "closed") return "green";
  if (state === "half-open") return "amber";
  if (state === "open") return "red";
  return "neutral";
}

function breakerWords(state: string): string {
  if (state === "closed") return "Closed: calls go through";
  if (state === "half-open") return "Half-open: trying again";
  if (state === "open") return "Open: calls refused";
  return state;
}

function Runtime({ rt }: { rt: RuntimeStateDto }) {
  const counters = Object.entries(rt.counters).sort((a, b) => b[1] - a[1]);
  let cacheHint: ReactNode = "no response cache in this app";
  if (rt.cache)
    cacheHint = `${formatInteger(rt.cache.hits)} hits, ${formatInteger(rt.cache.misses)} misses`;
  return (
    <>
      {!rt.deployed ? (
        <p className="muted">
          The app is not loaded on this server yet; it loads with its first request.
        </p>
      ) : null}
      <div className="stats" data-testid="runtime">
        <Stat
          label="In flight"
          value={rt.bulkhead ? formatInteger(rt.bulkhead.inFlight) : "—"}
          hint={rt.bulkhead ? `${formatInteger(rt.bulkhead.queued)} waiting` : undefined}
        />
        <Stat
          label="Shed by the bulkhead"
          value={rt.bulkhead ? formatInteger(rt.bulkhead.shed) : "—"}
          tone={rt.bulkhead && rt.bulkhead.shed > 0 ? "bad" : undefined}
          hint="turned away when full"
        />
        <Stat
          label="Cache hit rate"
          value={rt.cache ? formatPercent(rt.cache.hitRate * 100) : "—"}
          hint={cacheHint}
        />
        <Stat
          label="Worker threads"
          value={
            rt.pool ? `${formatInteger(rt.pool.running)} of ${formatInteger(rt.pool.threads)}` : "—"
          }
          hint={
            rt.pool
              ? `${formatInteger(rt.pool.queued)} queued`
              : "the model runs in the main thread"
          }
        />
        <Stat
          label="Event-loop delay"
          value={formatMs(rt.eventLoop.p99Ms)}
          hint={`p99 · busy ${formatPercent(rt.eventLoop.utilization * 100)}`}
        />
      </div>
      <div className="grid-2">
        <section className="stack" style={{ gap: 8 }}>
          <h3>Circuit breakers</h3>
          {rt.breakers && rt.breakers.length > 0 ? (
            <ul className="plain-list" aria-label="Circuit breakers">
              {rt.breakers.map((b) => (
                <li key={b.step} className="row">
                  <span className="mono">{b.step}</span>
                  <Badge tone={breakerTone(b.state)}>{breakerWords(b.state)}</Badge>
                </li>
              ))}
            </ul>
          ) : (
            <p className="muted">This app calls no outside service, so it has no breaker.</p>
          )}
        </section>
        <section className="stack" style={{ gap: 8 }}>
          <h3>What the policies did</h3>
          {counters.length > 0 ? (
            <table className="table table-compact" aria-label="Policy counters">
              <tbody>
                {counters.map(([name, n]) => (
                  <tr key={name}>
                    <th scope="row" className="row-head">
                      {counterLabel(name)}
                    </th>
                    <td className="num">{formatInteger(n)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            <p className="muted">
              Nothing yet: no request was rate limited, shed, cut short or answered by a fallback.
            </p>
          )}
        </section>
      </div>
    </>
  );
}

export function RuntimeSection({ part }: { part: Part<RuntimeStateDto> | undefined }) {
  return (
    <Card
      id="runtime"
      title="Runtime"
      description="The app's protections on this server, now (each replica has its own)."
    >
      <PartView part={part} what="the runtime state">
        {(rt) => <Runtime rt={rt} />}
      </PartView>
    </Card>
  );
}
