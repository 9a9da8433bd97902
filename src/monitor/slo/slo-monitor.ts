/**
 * SLOs and alerts wired together, so the server context constructs one object, starts it and
 * closes it: the alert service (record, log, signed webhook), the evaluator on its timer, and
 * the deployed apps' monitoring settings read from the registry. The API asks it for an app's
 * objectives now; other monitors (the release controller's rollbacks) raise their events
 * through `alerts.raise`.
 */
import type { RegistryRepositories } from "../../registry/registry.ts";
import {
  type AlertLogger,
  AlertService,
  type WebhookDeliveryOptions,
} from "../alerts/alert-service.ts";
import type { DriftSource, MetricsSource } from "../sources.ts";
import type { SloStatus, SloVerdict } from "./burn-rate.ts";
import { DeployedApps } from "./monitored-apps.ts";
import { readSloStatuses, SloEvaluator } from "./slo-evaluator.ts";

export interface SloMonitorOptions {
  readonly registry: Pick<RegistryRepositories, "apps" | "deployments" | "monitorEvents">;
  readonly metrics: MetricsSource;
  /** Absent: no drift alerts. */
  readonly drift?: DriftSource;
  /** Where every event is logged (warn for warnings, error for critical). */
  readonly logger: AlertLogger;
  /** The server secret alert webhooks are signed from (per app, as callbacks). */
  readonly serverSecret: string;
  /** Between evaluations (config `sloIntervalMs`). */
  readonly intervalMs: number;
  readonly delivery?: WebhookDeliveryOptions;
}

export class SloMonitor {
  readonly alerts: AlertService;
  readonly evaluator: SloEvaluator;
  readonly deployed: DeployedApps;
  readonly #metrics: MetricsSource;

  constructor(options: SloMonitorOptions) {
    const { logger } = options;
    this.#metrics = options.metrics;
    this.deployed = new DeployedApps(options.registry);
    this.alerts = new AlertService({
      events: options.registry.monitorEvents,
      logger,
      serverSecret: options.serverSecret,
      webhookUrlOf: async (workspaceId, app) =>
        (await this.deployed.current(workspaceId, app))?.monitoring.alerts.webhookUrl,
      ...(options.delivery ? { delivery: options.delivery } : {}),
    });
    this.evaluator = new SloEvaluator({
      metrics: options.metrics,
      ...(options.drift ? { drift: options.drift } : {}),
      alerts: this.alerts,
      apps: () => this.deployed.list(),
      intervalMs: options.intervalMs,
      onError: (error) => logger.error({ err: error }, "SLO evaluation failed"),
    });
  }

  /** Start evaluating on the timer. */
  start(): void {
    this.evaluator.start();
  }

  /**
   * The objectives of the app's production version judged now; empty when it sets none or is
   * not deployed.
   */
  async status(workspaceId: string, app: string): Promise<(SloStatus & SloVerdict)[]> {
    const current = await this.deployed.current(workspaceId, app);
    if (!current) return [];
    return readSloStatuses(this.#metrics, workspaceId, current.app, current.monitoring.slo);
  }

  /** Stop the timer, finish the pass under way, end webhook retries (recording why). */
  async close(): Promise<void> {
    await this.evaluator.stop();
    await this.alerts.close();
  }
}
