/**
 * The evaluator over a small in-memory request log that implements `MetricsSource` (each
 * request with its time, latency and outcome; windows and p95 computed from it), a scripted
 * `DriftSource`, and the real alert service on a real SQLite registry.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openRegistry, type Registry } from "../../registry/registry.ts";
import { type AppMonitoring, DEFAULT_MONITORING } from "../../spec/monitoring.ts";
import { AlertService } from "../alerts/alert-service.ts";
import { OUTCOMES, type Outcome } from "../observation.ts";
import type { DatasetDrift, DriftSource, MetricsSource, WindowCounts } from "../sources.ts";
import type { MonitoredApp } from "./monitored-apps.ts";
import { readSloStatuses, SloEvaluator } from "./slo-evaluator.ts";

interface Logged {
  readonly app: string;
  readonly at: number;
  readonly latencyMs: number;
  readonly outcome: Outcome;
}

/** Every request kept, windows answered by filtering: slow, exact, and plainly right. */
class RequestLog implements MetricsSource {
  readonly requests: Logged[] = [];
  calls = 0;

  add(app: string, n: number, r: { latencyMs?: number; outcome?: Outcome; agoSeconds?: number }) {
    for (let i = 0; i < n; i++) {
      this.requests.push({
        app,
        at: Date.now() - (r.agoSeconds ?? 0) * 1000,
        latencyMs: r.latencyMs ?? 5,
        outcome: r.outcome ?? "ok",
      });
    }
  }

  clear(): void {
    this.requests.length = 0;
  }

  async windowCounts(
    _workspaceId: string,
    app: string,
    windowSeconds: number,
    options: { readonly slowerThanMs?: number } = {},
  ): Promise<WindowCounts> {
    this.calls++;
    const since = Date.now() - windowSeconds * 1000;
    const inWindow = this.requests.filter((r) => r.app === app && r.at >= since);
    const outcomes = Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<Outcome, number>;
    for (const r of inWindow) outcomes[r.outcome]++;
    const limit = options.slowerThanMs;
    const latencies = inWindow.map((r) => r.latencyMs).sort((a, b) => a - b);
    const p95 =
      latencies.length === 0 ? null : (latencies[Math.ceil(0.95 * latencies.length) - 1] ?? null);
    return {
      requests: inWindow.length,
      outcomes,
      slower: limit === undefined ? 0 : inWindow.filter((r) => r.latencyMs > limit).length,
      p95,
    };
  }
}

class ScriptedDrift implements DriftSource {
  readonly verdicts = new Map<string, DatasetDrift | null>();
  datasetDrift(_workspaceId: string, app: string): DatasetDrift | null {
    return this.verdicts.get(app) ?? null;
  }
}

function monitoring(
  slo: Partial<AppMonitoring["slo"]> = {},
  alerts: Partial<AppMonitoring["alerts"]> = {},
): AppMonitoring {
  return {
    ...DEFAULT_MONITORING,
    slo: { ...DEFAULT_MONITORING.slo, ...slo },
    alerts: { ...DEFAULT_MONITORING.alerts, onDrift: false, ...alerts },
  };
}

let dir: string;
let registry: Registry;
let ws: string;
let log: RequestLog;
let drift: ScriptedDrift;
let apps: MonitoredApp[];
let alerts: AlertService;
let errors: unknown[];

function evaluator(withDrift = false) {
  return new SloEvaluator({
    metrics: log,
    ...(withDrift ? { drift } : {}),
    alerts,
    apps: async () => apps,
    intervalMs: 20,
    onError: (error) => errors.push(error),
  });
}

const events = async (app = "churn") =>
  (await registry.monitorEvents.list(ws, { app })).reverse().map((e) => ({
    kind: e.kind,
    severity: e.severity,
    rule: e.rule,
  }));

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "ballast-slo-"));
  registry = await openRegistry({ sqlitePath: join(dir, "registry.db") });
  ws = (await registry.ensureDefaultWorkspace()).id;
  log = new RequestLog();
  drift = new ScriptedDrift();
  errors = [];
  alerts = new AlertService({
    events: registry.monitorEvents,
    logger: pino({ level: "silent" }),
    serverSecret: "secret-secret-secret",
  });
  apps = [{ workspaceId: ws, app: "churn", version: 1, monitoring: monitoring() }];
});

afterEach(async () => {
  await alerts.close();
  await registry.close();
  await rm(dir, { recursive: true, force: true });
  expect(errors).toEqual([]);
});

const setSlo = (slo: Partial<AppMonitoring["slo"]>, version = 1) => {
  apps = [{ workspaceId: ws, app: "churn", version, monitoring: monitoring(slo) }];
};

describe("SloEvaluator", () => {
  it("fires once on a breach, stays quiet while it lasts, and recovers once", async () => {
    setSlo({ latencyP95Ms: 100 });
    // 100 requests in the last minute, 30 of them slower than 100 ms: 30% slow against a 5%
    // budget burns 6× in every window; under 14.4 (fast) but at 6 (slow pair): breached.
    log.add("churn", 70, { latencyMs: 20 });
    log.add("churn", 30, { latencyMs: 400 });
    const e = evaluator();
    await e.evaluate();
    expect(await events()).toEqual([
      { kind: "alert", severity: "critical", rule: "slo:latency_p95" },
    ]);
    const [alert] = await registry.monitorEvents.list(ws, { app: "churn" });
    expect(alert?.details).toMatchObject({
      objective: 100,
      current: 400,
      pair: "slow",
      threshold: 6,
      windows: ["6h", "30m"],
      burnRates: { "1h": expect.closeTo(6, 9), "5m": expect.closeTo(6, 9) },
    });
    expect(alert?.message).toBe(
      "p95 latency objective (100 ms) breached: the error budget burns 6.0× over 6h and 6.0× over 30m (alert at 6×)",
    );

    // Still breached, worse even: no new event.
    log.add("churn", 50, { latencyMs: 900 });
    await e.evaluate();
    await e.evaluate();
    expect(await events()).toHaveLength(1);

    // The slow requests age out of every window: recovery, once.
    log.clear();
    log.add("churn", 200, { latencyMs: 20 });
    await e.evaluate();
    await e.evaluate();
    expect(await events()).toEqual([
      { kind: "alert", severity: "critical", rule: "slo:latency_p95" },
      { kind: "recovery", severity: "info", rule: "slo:latency_p95" },
    ]);
    expect(e.firing()).toEqual([]);
  });

  it("raises nothing without data, and keeps a firing alert open through a silence", async () => {
    setSlo({ errorRate: 0.01 });
    const e = evaluator();
    await e.evaluate();
    expect(await events()).toEqual([]);
    const [status] = await readSloStatuses(
      log,
      ws,
      "churn",
      apps[0]?.monitoring.slo ?? {
        ...DEFAULT_MONITORING.slo,
      },
    );
    expect(status?.state).toBe("no_data");

    // 20% errors: 20× the 1% budget, the fast pair pages.
    log.add("churn", 80, { outcome: "ok" });
    log.add("churn", 20, { outcome: "error" });
    await e.evaluate();
    expect(await events()).toEqual([
      { kind: "alert", severity: "critical", rule: "slo:error_rate" },
    ]);

    // Traffic stops: no data is not a recovery.
    log.clear();
    await e.evaluate();
    expect(await events()).toHaveLength(1);
    expect(e.firing().map((f) => f.rule)).toEqual(["slo:error_rate"]);
  });

  it("warns on a slow burn, escalates once when it pages, and does not de-escalate", async () => {
    setSlo({ availability: 0.99 });
    // 3% failing (shed counts for availability): 3× the 1% budget, a warning.
    log.add("churn", 97, {});
    log.add("churn", 3, { outcome: "shed" });
    const e = evaluator();
    await e.evaluate();
    expect(await events()).toEqual([
      { kind: "alert", severity: "warning", rule: "slo:availability" },
    ]);
    // 20% failing: the fast pair pages.
    log.add("churn", 25, { outcome: "timeout" });
    await e.evaluate();
    // Back to a warning: still firing, nothing new.
    log.clear();
    log.add("churn", 97, {});
    log.add("churn", 3, { outcome: "error" });
    await e.evaluate();
    expect(await events()).toEqual([
      { kind: "alert", severity: "warning", rule: "slo:availability" },
      { kind: "alert", severity: "critical", rule: "slo:availability" },
    ]);
    const firing = await registry.monitorEvents.firing({ workspaceId: ws });
    expect(firing.map((f) => f.severity)).toEqual(["critical"]);
  });

  it("does not count client errors and rate limiting against the server", async () => {
    setSlo({ errorRate: 0.01, availability: 0.999 });
    log.add("churn", 50, { outcome: "client_error" });
    log.add("churn", 50, { outcome: "rate_limited" });
    await evaluator().evaluate();
    expect(await events()).toEqual([]);
    const statuses = await readSloStatuses(log, ws, "churn", {
      ...DEFAULT_MONITORING.slo,
      errorRate: 0.01,
      availability: 0.999,
    });
    expect(statuses.map((s) => [s.name, s.state, s.current])).toEqual([
      ["error_rate", "ok", 0],
      ["availability", "ok", 1],
    ]);
  });

  it("alerts on dataset drift when asked to, and recovers when it clears", async () => {
    apps = [
      {
        workspaceId: ws,
        app: "churn",
        version: 4,
        monitoring: monitoring({}, { onDrift: true }),
      },
    ];
    const e = evaluator(true);
    await e.evaluate(); // too little data: null
    drift.verdicts.set("churn", {
      version: 4,
      drifted: true,
      share: 0.6,
      driftedFeatures: ["tenure", "monthly_charges", "contract"],
      rows: 5000,
    });
    await e.evaluate();
    await e.evaluate();
    const [alert] = await registry.monitorEvents.list(ws, { app: "churn" });
    expect(alert).toMatchObject({
      kind: "alert",
      severity: "warning",
      rule: "drift:dataset",
      version: 4,
      details: { share: 0.6, threshold: 0.5, rows: 5000 },
    });
    expect(alert?.message).toBe(
      "Inputs drifted from the training data: 3 features (60%) over 5000 rows: tenure, monthly_charges, contract",
    );
    drift.verdicts.set("churn", {
      version: 4,
      drifted: false,
      share: 0,
      driftedFeatures: [],
      rows: 5000,
    });
    await e.evaluate();
    expect(await events()).toEqual([
      { kind: "alert", severity: "warning", rule: "drift:dataset" },
      { kind: "recovery", severity: "info", rule: "drift:dataset" },
    ]);
    // The metrics were never read: this app has no objective.
    expect(log.calls).toBe(0);
  });

  it("after a restart, does not announce a breach again, and still recovers it", async () => {
    setSlo({ errorRate: 0.05 });
    log.add("churn", 50, {});
    log.add("churn", 50, { outcome: "error" });
    await evaluator().evaluate();
    expect(await events()).toHaveLength(1);

    const restarted = evaluator();
    await restarted.evaluate();
    expect(await events()).toHaveLength(1);
    expect(restarted.firing().map((f) => f.rule)).toEqual(["slo:error_rate"]);

    log.clear();
    log.add("churn", 100, {});
    await restarted.evaluate();
    expect((await events()).map((e) => e.kind)).toEqual(["alert", "recovery"]);
  });

  it("closes an alert whose objective was turned off, saying so", async () => {
    setSlo({ latencyP95Ms: 10 });
    log.add("churn", 100, { latencyMs: 50 });
    const e = evaluator();
    await e.evaluate();
    setSlo({ latencyP95Ms: 0 }, 2);
    await e.evaluate();
    const list = await registry.monitorEvents.list(ws, { app: "churn" });
    expect(list.map((x) => x.kind)).toEqual(["recovery", "alert"]);
    expect(list[0]?.details).toEqual({ reason: "not_watched" });
    expect(await registry.monitorEvents.firing()).toEqual([]);
  });

  it("recovers when a new version relaxes the objective, even with no new traffic", async () => {
    setSlo({ latencyP95Ms: 10 });
    log.add("churn", 100, { latencyMs: 50 });
    const e = evaluator();
    await e.evaluate();
    setSlo({ latencyP95Ms: 1000 }, 2);
    await e.evaluate();
    // Both passes can fall in one millisecond: an app's events are still strictly ordered.
    const list = await registry.monitorEvents.list(ws, { app: "churn" });
    expect(list.map((x) => [x.kind, x.version])).toEqual([
      ["recovery", 2],
      ["alert", 1],
    ]);
    expect(list[0]?.message).toBe("p95 latency back within its objective (1000 ms)");
  });

  it("judges each app on its own traffic", async () => {
    apps = [
      { workspaceId: ws, app: "churn", version: 1, monitoring: monitoring({ errorRate: 0.01 }) },
      { workspaceId: ws, app: "fraud", version: 1, monitoring: monitoring({ errorRate: 0.01 }) },
      { workspaceId: ws, app: "quiet", version: 1, monitoring: monitoring() },
    ];
    log.add("churn", 100, {});
    log.add("fraud", 50, { outcome: "error" });
    await evaluator().evaluate();
    expect(await events("churn")).toEqual([]);
    expect(await events("fraud")).toEqual([
      { kind: "alert", severity: "critical", rule: "slo:error_rate" },
    ]);
    // Five windows read for each app with an objective, none for the other.
    expect(log.calls).toBe(10);
  });

  it("runs on its timer until stopped", async () => {
    setSlo({ errorRate: 0.01 });
    log.add("churn", 10, { outcome: "error" });
    const e = evaluator();
    e.start();
    while ((await events()).length === 0) await new Promise((r) => setTimeout(r, 10));
    await e.stop();
    const calls = log.calls;
    await new Promise((r) => setTimeout(r, 100));
    expect(log.calls).toBe(calls);
  });

  it("reports a failing metrics source and carries on with the next app", async () => {
    apps = [
      { workspaceId: ws, app: "broken", version: 1, monitoring: monitoring({ errorRate: 0.01 }) },
      { workspaceId: ws, app: "churn", version: 1, monitoring: monitoring({ errorRate: 0.01 }) },
    ];
    log.add("churn", 10, { outcome: "error" });
    const failing: MetricsSource = {
      windowCounts: (w, app, s, o) =>
        app === "broken"
          ? Promise.reject(new Error("rollups unreachable"))
          : log.windowCounts(w, app, s, o),
    };
    const e = new SloEvaluator({
      metrics: failing,
      alerts,
      apps: async () => apps,
      intervalMs: 1000,
      onError: (error) => errors.push(error),
    });
    await e.evaluate();
    expect(await events("churn")).toHaveLength(1);
    expect(errors.map((x) => (x as Error).message)).toEqual(["rollups unreachable"]);
    errors.length = 0;
  });
});
