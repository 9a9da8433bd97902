/**
 * The Prometheus export (`GET /metrics`): every replica's own counters, histograms and gauges,
 * for a Prometheus server to scrape and aggregate across replicas. It has its own prom-client
 * `Registry` (never the global one, so two servers in one process, as in tests, never mix).
 *
 * The per-request series (`ballast_requests_total`, `ballast_request_duration_seconds`,
 * `ballast_model_duration_seconds`) are counted by {@link observe} into plain cells, one per app
 * version, found by the version's id (a string the caller already holds): a few array increments
 * and no allocation. prom-client's labelled children would hash their label object on every call
 * (measured at 1.1-1.9 µs and several allocations per request against ~30 ns here), too much for
 * the predict route, so the cells are handed to prom-client only at scrape time: the counter
 * through its `collect()`, the two histograms written in the text format beside the registry's
 * output (prom-client has no public way to set a histogram's buckets).
 *
 * Gauges that mirror runtime state (in flight, breakers, cache, policy counters, webhook backlog)
 * are read when scraped, from one snapshot taken before the registry is collected.
 */
import {
  Counter,
  collectDefaultMetrics,
  Gauge,
  type PrometheusContentType,
  Registry,
} from "prom-client";
import type { QueueStats } from "../runtime/webhooks/event-queue.ts";
import { OUTCOMES, type PredictObservation, type PredictObserver } from "./observation.ts";
import type { AppRuntimeCounters } from "./runtime-counters.ts";
import { OUTCOME_INDEX } from "./series.ts";

/** Upper bounds of the latency histograms, in seconds: 0.5 ms to 10 s. */
export const DURATION_BUCKETS: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];
/** The same bounds in milliseconds, compared with the observations' milliseconds. */
const BOUNDS_MS = DURATION_BUCKETS.map((s) => s * 1000);

/** Breaker states as numbers: 0 closed, 1 half-open, 2 open. */
const BREAKER_VALUE = { closed: 0, "half-open": 1, open: 2 } as const;

/** What the gauges read of a loaded app version (AppRuntime's published apps fit it). */
export interface LoadedAppState {
  readonly version: number;
  readonly runtime: {
    readonly bulkhead: { readonly inFlight: number; readonly queued: number };
    readonly cache?: { readonly hits: number; readonly misses: number } | undefined;
    readonly pipeline: {
      readonly httpSteps: readonly {
        readonly stepId: string;
        readonly guard: { readonly state: keyof typeof BREAKER_VALUE };
      }[];
    };
  };
}

export interface PrometheusOptions {
  /** The deployed version of an app as loaded here (ServerContext.apps). */
  readonly apps?: {
    get(workspaceId: string, app: string): Promise<LoadedAppState | undefined>;
  };
  /** What the policies counted per app (ServerContext.counters). */
  readonly counters?: { all(): readonly AppRuntimeCounters[] };
  /** Webhook backlog per app with hooks running here (ServerContext.webhooks). */
  readonly webhooks?: {
    queueStats(): Promise<readonly ({ workspaceId: string; app: string } & QueueStats)[]>;
  };
  /** The process's CPU, memory, event loop and GC (prom-client's defaults); default on. */
  readonly processMetrics?: boolean;
  /** The clock (epoch ms), for the webhook backlog's age. */
  readonly now?: () => number;
}

/** One app version's per-request series. */
class VersionCell {
  readonly outcomes = new Float64Array(OUTCOMES.length);
  /** Per bucket (not cumulative); the last slot counts what exceeds the largest bound. */
  readonly request = new Float64Array(BOUNDS_MS.length + 1);
  requestSumSeconds = 0;
  readonly model = new Float64Array(BOUNDS_MS.length + 1);
  modelSumSeconds = 0;
  modelCount = 0;
  /** Preformatted label pairs for the text format. */
  readonly labelText: string;

  constructor(
    readonly workspaceId: string,
    readonly app: string,
    readonly version: number,
  ) {
    this.labelText = `workspace="${escapeLabel(workspaceId)}",app="${escapeLabel(app)}",version="${version}"`;
  }
}

/** A latency as recorded: a negative or NaN one (a clock step) counts as 0. */
function nonNegative(ms: number): number {
  return Number.isFinite(ms) && ms > 0 ? ms : 0;
}

function bucketOf(ms: number): number {
  let i = 0;
  while (i < BOUNDS_MS.length && ms > (BOUNDS_MS[i] as number)) i++;
  return i;
}

/** A label value in the text format: backslash, double quote and newline escaped. */
export function escapeLabel(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === "\n" ? "\\n" : `\\${c}`));
}

function formatNumber(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (n === Number.POSITIVE_INFINITY) return "+Inf";
  if (n === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(n);
}

/** What the gauges show, read once per scrape. */
interface Snapshot {
  readonly apps: readonly { workspaceId: string; app: string; state: LoadedAppState }[];
  readonly counters: readonly AppRuntimeCounters[];
  readonly webhooks: readonly ({ workspaceId: string; app: string } & QueueStats)[];
}

const EMPTY: Snapshot = { apps: [], counters: [], webhooks: [] };

/** Policy counters (runtime-counters.ts) that are not fallbacks or escalations. */
const STEP_FAILURES = ["deadline_exceeded", "circuit_open", "upstream_failed"] as const;

export class PrometheusMetrics implements PredictObserver {
  readonly registry = new Registry<PrometheusContentType>();
  private readonly cells = new Map<string, VersionCell>();
  private snapshot: Snapshot = EMPTY;
  private readonly now: () => number;

  constructor(private readonly options: PrometheusOptions = {}) {
    this.now = options.now ?? Date.now;
    const registers = [this.registry];
    const cells = () => this.cells.values();
    const snap = () => this.snapshot;
    new Counter({
      name: "ballast_requests_total",
      help: "Predict requests answered, by app version and outcome (ok, client_error, shed, rate_limited, timeout, error).",
      labelNames: ["workspace", "app", "version", "outcome"],
      registers,
      collect() {
        this.reset();
        for (const c of cells()) {
          const labels = { workspace: c.workspaceId, app: c.app, version: String(c.version) };
          OUTCOMES.forEach((outcome, i) => {
            this.inc({ ...labels, outcome }, c.outcomes[i] as number);
          });
        }
      },
    });
    gauge(
      registers,
      "ballast_requests_in_flight",
      "Predict requests inside the app's bulkhead now.",
      ["workspace", "app"],
      (set) => {
        for (const a of snap().apps)
          set({ workspace: a.workspaceId, app: a.app }, a.state.runtime.bulkhead.inFlight);
      },
    );
    gauge(
      registers,
      "ballast_requests_queued",
      "Predict requests waiting for a slot in the app's bulkhead now.",
      ["workspace", "app"],
      (set) => {
        for (const a of snap().apps)
          set({ workspace: a.workspaceId, app: a.app }, a.state.runtime.bulkhead.queued);
      },
    );
    counterFromSnapshot(
      registers,
      "ballast_cache_hits_total",
      "Response-cache hits of the deployed app version (restarts from 0 with each version).",
      ["workspace", "app", "version"],
      (inc) => {
        for (const a of snap().apps) {
          const cache = a.state.runtime.cache;
          if (cache)
            inc(
              { workspace: a.workspaceId, app: a.app, version: String(a.state.version) },
              cache.hits,
            );
        }
      },
    );
    counterFromSnapshot(
      registers,
      "ballast_cache_misses_total",
      "Response-cache misses of the deployed app version (restarts from 0 with each version).",
      ["workspace", "app", "version"],
      (inc) => {
        for (const a of snap().apps) {
          const cache = a.state.runtime.cache;
          if (cache)
            inc(
              { workspace: a.workspaceId, app: a.app, version: String(a.state.version) },
              cache.misses,
            );
        }
      },
    );
    gauge(
      registers,
      "ballast_circuit_breaker_state",
      "Circuit breaker of each http step: 0 closed, 1 half-open, 2 open.",
      ["workspace", "app", "step"],
      (set) => {
        for (const a of snap().apps) {
          for (const s of a.state.runtime.pipeline.httpSteps) {
            set(
              { workspace: a.workspaceId, app: a.app, step: s.stepId },
              BREAKER_VALUE[s.guard.state],
            );
          }
        }
      },
    );
    counterFromSnapshot(
      registers,
      "ballast_fallbacks_total",
      "Answers given by a fallback step, by the reason the real step failed.",
      ["workspace", "app", "reason"],
      (inc) => {
        for (const c of snap().counters) {
          for (const [event, n] of Object.entries(c.counters)) {
            if (event.startsWith("fallback:"))
              inc({ workspace: c.workspaceId, app: c.app, reason: event.slice(9) }, n);
          }
        }
      },
    );
    counterFromSnapshot(
      registers,
      "ballast_cascade_escalations_total",
      "Rows a cascade step sent on to its second model.",
      ["workspace", "app"],
      (inc) => {
        for (const c of snap().counters)
          inc({ workspace: c.workspaceId, app: c.app }, c.counters.escalated ?? 0);
      },
    );
    counterFromSnapshot(
      registers,
      "ballast_shed_total",
      "Requests refused because the app was at capacity (bulkhead, queue or worker pool full).",
      ["workspace", "app"],
      (inc) => {
        for (const c of snap().counters)
          inc({ workspace: c.workspaceId, app: c.app }, c.counters.overloaded ?? 0);
      },
    );
    counterFromSnapshot(
      registers,
      "ballast_rate_limited_total",
      "Requests refused by a rate limit (key, app or workspace).",
      ["workspace", "app"],
      (inc) => {
        for (const c of snap().counters)
          inc({ workspace: c.workspaceId, app: c.app }, c.counters.rate_limited ?? 0);
      },
    );
    counterFromSnapshot(
      registers,
      "ballast_step_failures_total",
      "Requests failed by a step with no fallback: deadline_exceeded, circuit_open, upstream_failed.",
      ["workspace", "app", "reason"],
      (inc) => {
        for (const c of snap().counters) {
          for (const reason of STEP_FAILURES) {
            const n = c.counters[reason];
            if (n !== undefined) inc({ workspace: c.workspaceId, app: c.app, reason }, n);
          }
        }
      },
    );
    gauge(
      registers,
      "ballast_webhook_queue_depth",
      "Webhook events not finished (queued, waiting for a retry, processing), per app with hooks running here.",
      ["workspace", "app"],
      (set) => {
        for (const w of snap().webhooks) set({ workspace: w.workspaceId, app: w.app }, w.depth);
      },
    );
    gauge(
      registers,
      "ballast_webhook_oldest_event_age_seconds",
      "Age of the oldest unfinished webhook event (0 when none waits).",
      ["workspace", "app"],
      (set) => {
        const now = this.now();
        for (const w of snap().webhooks) {
          const age =
            w.oldestCreatedAt === null ? 0 : Math.max(0, (now - w.oldestCreatedAt) / 1000);
          set({ workspace: w.workspaceId, app: w.app }, age);
        }
      },
    );
    if (options.processMetrics !== false) {
      collectDefaultMetrics({ register: this.registry, prefix: "ballast_" });
    }
  }

  /** Count one answer: constant work, no allocation once the version has been seen. */
  observe(o: PredictObservation): void {
    const served = o.served;
    let cell = this.cells.get(served.appVersionId);
    if (cell === undefined) {
      cell = new VersionCell(served.workspaceId, served.app, served.version);
      this.cells.set(served.appVersionId, cell);
    }
    const outcome = OUTCOME_INDEX[o.outcome];
    cell.outcomes[outcome] = (cell.outcomes[outcome] as number) + 1;
    const ms = nonNegative(o.latencyMs);
    const b = bucketOf(ms);
    cell.request[b] = (cell.request[b] as number) + 1;
    cell.requestSumSeconds += ms / 1000;
    if (o.modelMs !== undefined) {
      const model = nonNegative(o.modelMs);
      const m = bucketOf(model);
      cell.model[m] = (cell.model[m] as number) + 1;
      cell.modelSumSeconds += model / 1000;
      cell.modelCount++;
    }
  }

  /** The content type of {@link metrics}' text, from prom-client. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Everything, in the Prometheus text format (version 0.0.4). */
  async metrics(): Promise<string> {
    this.snapshot = await this.takeSnapshot();
    try {
      const text = await this.registry.metrics();
      return `${text}\n${this.histogramsText()}`;
    } finally {
      this.snapshot = EMPTY;
    }
  }

  private async takeSnapshot(): Promise<Snapshot> {
    const { apps, counters, webhooks } = this.options;
    const names = new Map<string, { workspaceId: string; app: string }>();
    for (const c of this.cells.values()) {
      names.set(`${c.workspaceId}/${c.app}`, { workspaceId: c.workspaceId, app: c.app });
    }
    const counted = counters?.all() ?? [];
    for (const c of counted) names.set(`${c.workspaceId}/${c.app}`, c);
    const loaded = apps
      ? await Promise.all(
          [...names.values()].map(async (n) => {
            // An app deleted or undeployed since it served simply has no gauges.
            const state = await apps.get(n.workspaceId, n.app).catch(() => undefined);
            return state ? { workspaceId: n.workspaceId, app: n.app, state } : undefined;
          }),
        )
      : [];
    return {
      apps: loaded.filter((a) => a !== undefined),
      counters: counted,
      webhooks: webhooks ? await webhooks.queueStats() : [],
    };
  }

  /** The two latency histograms in the text format, one series set per app version. */
  private histogramsText(): string {
    const lines: string[] = [];
    const histogram = (
      name: string,
      help: string,
      read: (c: VersionCell) => { counts: Float64Array; sum: number; count: number },
    ) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} histogram`);
      for (const c of this.cells.values()) {
        const { counts, sum, count } = read(c);
        let cumulative = 0;
        DURATION_BUCKETS.forEach((le, i) => {
          cumulative += counts[i] as number;
          lines.push(`${name}_bucket{${c.labelText},le="${le}"} ${cumulative}`);
        });
        lines.push(`${name}_bucket{${c.labelText},le="+Inf"} ${count}`);
        lines.push(`${name}_sum{${c.labelText}} ${formatNumber(sum)}`);
        lines.push(`${name}_count{${c.labelText}} ${count}`);
      }
    };
    histogram(
      "ballast_request_duration_seconds",
      "Predict request latency, from request received to response sent.",
      (c) => ({ counts: c.request, sum: c.requestSumSeconds, count: sumOf(c.request) }),
    );
    histogram(
      "ballast_model_duration_seconds",
      "Time in the model step(s) of a predict request (requests where a model ran).",
      (c) => ({ counts: c.model, sum: c.modelSumSeconds, count: c.modelCount }),
    );
    return `${lines.join("\n")}\n`;
  }
}

function sumOf(a: Float64Array): number {
  let s = 0;
  for (const v of a) s += v;
  return s;
}

type Labels = Record<string, string>;

/** A gauge whose values are set from the scrape's snapshot. */
function gauge(
  registers: Registry<PrometheusContentType>[],
  name: string,
  help: string,
  labelNames: string[],
  fill: (set: (labels: Labels, value: number) => void) => void,
): void {
  new Gauge({
    name,
    help,
    labelNames,
    registers,
    collect() {
      this.reset();
      fill((labels, value) => this.set(labels, value));
    },
  });
}

/** A counter whose totals are read from the scrape's snapshot (they only grow at the source). */
function counterFromSnapshot(
  registers: Registry<PrometheusContentType>[],
  name: string,
  help: string,
  labelNames: string[],
  fill: (inc: (labels: Labels, value: number) => void) => void,
): void {
  new Counter({
    name,
    help,
    labelNames,
    registers,
    collect() {
      this.reset();
      fill((labels, value) => this.inc(labels, value));
    },
  });
}
