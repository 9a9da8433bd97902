/**
 * The SLO evaluator: every `intervalMs`, for each deployed app with an objective or drift
 * alerts on, read the window counts, judge each objective with the multi-window burn-rate
 * pairs (burn-rate.ts) and the dataset's drift, and raise an event on every change of state:
 *
 * - ok or no data → warning/breached: an `alert` (warning/critical);
 * - warning → breached: another `alert`, critical (an escalation is news);
 * - still firing (breached → warning included): nothing, so a breach is announced once;
 * - firing → ok: a `recovery`; firing → no data: nothing (silence is not good news);
 * - a firing rule that is no longer configured (objective set to 0, app undeployed): a
 *   `recovery` saying so, so no alert stays open forever.
 *
 * Rules: `slo:latency_p95`, `slo:error_rate`, `slo:availability`, `drift:dataset`; one per
 * objective, whichever burn-rate pair decided (the event's details say which).
 *
 * Nothing survives a restart but the recorded events: on its first pass the evaluator reloads
 * the open alerts, so a breach still under way is not announced again. The registry also
 * refuses a second open alert for a rule, so evaluators on several replicas sharing
 * PostgreSQL announce it once; each replica judges the counts its `MetricsSource` gives it.
 */

import type { MonitorEvent } from "../../registry/monitor-event-repository.ts";
import type { RaiseEvent, RaiseResult } from "../alerts/alert-service.ts";
import type { DriftSource, MetricsSource, WindowCounts } from "../sources.ts";
import type { AlertSeverity, SloName, SloObjectives, SloStatus, SloVerdict } from "./burn-rate.ts";
import { BURN_WINDOWS, slisOf, sloStatus } from "./burn-rate.ts";
import type { MonitoredApp } from "./monitored-apps.ts";

/** What the evaluator needs of the alert service. */
export interface AlertRaiser {
  raise(event: RaiseEvent): Promise<RaiseResult>;
  firing(): Promise<readonly MonitorEvent[]>;
}

export interface SloEvaluatorOptions {
  readonly metrics: MetricsSource;
  /** Absent: drift alerts are not evaluated. */
  readonly drift?: DriftSource;
  readonly alerts: AlertRaiser;
  /** The apps to watch, with the monitoring settings of the version serving each. */
  readonly apps: () => Promise<readonly MonitoredApp[]>;
  /** Between passes (config `sloIntervalMs`). */
  readonly intervalMs: number;
  /** A pass that failed (it is tried again at the next interval). */
  readonly onError?: (error: unknown) => void;
}

export const DRIFT_RULE = "drift:dataset";

/** The rule of an objective's alerts. */
export function sloRule(name: SloName): string {
  return `slo:${name}`;
}

/** Each objective's status now, for the API and the evaluator, in `slisOf` order. */
export async function readSloStatuses(
  metrics: MetricsSource,
  workspaceId: string,
  app: string,
  slo: SloObjectives,
): Promise<(SloStatus & SloVerdict)[]> {
  const slis = slisOf(slo);
  if (slis.length === 0) return [];
  const options = slo.latencyP95Ms > 0 ? { slowerThanMs: slo.latencyP95Ms } : {};
  const read = (seconds: number): Promise<WindowCounts> =>
    metrics.windowCounts(workspaceId, app, seconds, options);
  const [period, ...windows] = await Promise.all([
    read(slo.periodDays * 86_400),
    ...BURN_WINDOWS.map((w) => read(w.seconds)),
  ]);
  const byLabel = new Map<string, WindowCounts>();
  BURN_WINDOWS.forEach((w, i) => {
    const counts = windows[i];
    if (counts) byLabel.set(w.label, counts);
  });
  if (!period) throw new Error("the metrics source answered no period counts");
  return slis.map((sli) => sloStatus(sli, { windows: byLabel, period }));
}

type Level = "ok" | "no_data" | AlertSeverity;

/** A rule's judgement in one pass. */
interface Judged {
  readonly rule: string;
  readonly level: Level;
  /** For an alert. */
  readonly message: string;
  readonly recoveryMessage: string;
  readonly details: Readonly<Record<string, unknown>>;
}

const RANK: Readonly<Record<AlertSeverity, number>> = { warning: 1, critical: 2 };

const TITLE: Readonly<Record<SloName, string>> = {
  latency_p95: "p95 latency",
  error_rate: "Error rate",
  availability: "Availability",
};

function percent(share: number): string {
  return `${Number((share * 100).toPrecision(6))}%`;
}

function objectiveText(status: SloStatus): string {
  if (status.name === "latency_p95") return `${status.objective} ms`;
  return percent(status.objective);
}

function judgeSlo(status: SloStatus & SloVerdict): Judged {
  const title = TITLE[status.name];
  const rate = (label: string) => status.burnRates.find((b) => b.window === label)?.rate ?? null;
  const burnRates = Object.fromEntries(status.burnRates.map((b) => [b.window, b.rate]));
  const details = {
    objective: status.objective,
    current: status.current,
    budgetRemaining: status.budgetRemaining,
    burnRates,
    ...(status.pair
      ? {
          pair: status.pair.name,
          threshold: status.pair.threshold,
          windows: [status.pair.long.label, status.pair.short.label],
        }
      : {}),
  };
  const level: Level =
    status.state === "breached"
      ? "critical"
      : status.state === "warning"
        ? "warning"
        : status.state;
  let message = "";
  if (status.pair) {
    const { long, short, threshold } = status.pair;
    const fmt = (r: number | null) => (r === null ? "?" : r.toFixed(1));
    message =
      `${title} objective (${objectiveText(status)}) ${level === "critical" ? "breached" : "at risk"}: ` +
      `the error budget burns ${fmt(rate(long.label))}× over ${long.label} and ` +
      `${fmt(rate(short.label))}× over ${short.label} (alert at ${threshold}×)`;
  }
  return {
    rule: sloRule(status.name),
    level,
    message,
    recoveryMessage: `${title} back within its objective (${objectiveText(status)})`,
    details,
  };
}

function judgeDrift(drift: DriftSource, app: MonitoredApp): Judged {
  const verdict = drift.datasetDrift(app.workspaceId, app.app);
  const level: Level = verdict === null ? "no_data" : verdict.drifted ? "warning" : "ok";
  const details = verdict
    ? {
        version: verdict.version,
        share: verdict.share,
        threshold: app.monitoring.drift.datasetShare,
        driftedFeatures: [...verdict.driftedFeatures],
        rows: verdict.rows,
      }
    : {};
  return {
    rule: DRIFT_RULE,
    level,
    message: verdict
      ? `Inputs drifted from the training data: ${verdict.driftedFeatures.length} features (${Math.round(verdict.share * 100)}%) over ${verdict.rows} rows: ${verdict.driftedFeatures.join(", ")}`
      : "",
    recoveryMessage: "Inputs back in line with the training data",
    details,
  };
}

const key = (workspaceId: string, app: string, rule: string) => `${workspaceId}\n${app}\n${rule}`;

interface Firing {
  readonly workspaceId: string;
  readonly app: string;
  readonly rule: string;
  readonly severity: AlertSeverity;
  readonly version: number | null;
}

export class SloEvaluator {
  readonly #options: SloEvaluatorOptions;
  /** Rules firing now, by (workspace, app, rule); undefined until restored from the events. */
  #firing: Map<string, Firing> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(options: SloEvaluatorOptions) {
    this.#options = options;
  }

  /** Evaluate every `intervalMs` until `stop()`; the timer does not keep the process alive. */
  start(): void {
    this.#stopped = false;
    this.#schedule();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  /** Rules firing now, as this evaluator knows them (after at least one pass). */
  firing(): readonly Firing[] {
    return [...(this.#firing?.values() ?? [])];
  }

  /** One pass over every watched app; a pass already under way is joined, not doubled. */
  evaluate(): Promise<void> {
    if (!this.#running) {
      this.#running = this.#pass().finally(() => {
        this.#running = undefined;
      });
    }
    return this.#running;
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.evaluate()
        .catch((error: unknown) => this.#options.onError?.(error))
        .finally(() => this.#schedule());
    }, this.#options.intervalMs);
    this.#timer.unref();
  }

  async #pass(): Promise<void> {
    const firing = this.#firing ?? (await this.#restore());
    this.#firing = firing;
    const apps = await this.#options.apps();
    const watched = new Set<string>();
    for (const app of apps) {
      const rules = this.#rulesOf(app);
      for (const rule of rules) watched.add(key(app.workspaceId, app.app, rule));
      if (rules.length === 0) continue;
      try {
        for (const judged of await this.#judge(app)) await this.#apply(firing, app, judged);
      } catch (error) {
        this.#options.onError?.(error);
      }
    }
    for (const [k, f] of [...firing]) {
      if (watched.has(k)) continue;
      const result = await this.#options.alerts.raise({
        workspaceId: f.workspaceId,
        app: f.app,
        version: f.version,
        kind: "recovery",
        rule: f.rule,
        message: `${f.rule} is no longer watched (objective or alert turned off, or app not deployed)`,
        details: { reason: "not_watched" },
      });
      if (result.outcome !== "failed") firing.delete(k);
    }
  }

  async #restore(): Promise<Map<string, Firing>> {
    const map = new Map<string, Firing>();
    for (const e of await this.#options.alerts.firing()) {
      if (e.severity === "info") continue;
      map.set(key(e.workspaceId, e.app, e.rule), {
        workspaceId: e.workspaceId,
        app: e.app,
        rule: e.rule,
        severity: e.severity,
        version: e.version,
      });
    }
    return map;
  }

  #rulesOf(app: MonitoredApp): string[] {
    const rules = slisOf(app.monitoring.slo).map((s) => sloRule(s.name));
    if (this.#driftWatched(app)) rules.push(DRIFT_RULE);
    return rules;
  }

  #driftWatched(app: MonitoredApp): boolean {
    const m = app.monitoring;
    return this.#options.drift !== undefined && m.drift.enabled && m.alerts.onDrift;
  }

  async #judge(app: MonitoredApp): Promise<Judged[]> {
    const statuses = await readSloStatuses(
      this.#options.metrics,
      app.workspaceId,
      app.app,
      app.monitoring.slo,
    );
    const judged = statuses.map(judgeSlo);
    const { drift } = this.#options;
    if (drift && this.#driftWatched(app)) judged.push(judgeDrift(drift, app));
    return judged;
  }

  async #apply(firing: Map<string, Firing>, app: MonitoredApp, judged: Judged): Promise<void> {
    const k = key(app.workspaceId, app.app, judged.rule);
    const current = firing.get(k);
    const base = {
      workspaceId: app.workspaceId,
      app: app.app,
      version: app.version,
      rule: judged.rule,
      webhookUrl: app.monitoring.alerts.webhookUrl,
    };
    if (judged.level === "no_data") return;
    if (judged.level === "ok") {
      if (!current) return;
      const result = await this.#options.alerts.raise({
        ...base,
        kind: "recovery",
        message: judged.recoveryMessage,
        details: judged.details,
      });
      if (result.outcome !== "failed") firing.delete(k);
      return;
    }
    const severity = judged.level;
    if (current && RANK[current.severity] >= RANK[severity]) return;
    const result = await this.#options.alerts.raise({
      ...base,
      kind: "alert",
      severity,
      message: judged.message,
      details: judged.details,
    });
    if (result.outcome === "failed") return;
    // not_news: the record already had it open (another evaluator); it is firing either way.
    firing.set(k, {
      workspaceId: app.workspaceId,
      app: app.app,
      rule: judged.rule,
      severity,
      version: app.version,
    });
  }
}
