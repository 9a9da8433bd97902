/**
 * The app's monitoring: what is logged of its predictions, how its inputs are compared with the
 * training data (drift), the service levels it promises (SLOs) and where breaches are sent.
 * Like `policies`, every group and field is optional in a spec and has a default, so a spec
 * written before monitoring existed is monitored with the defaults and `AppSpec.monitoring` is
 * always complete; each group is flat so the Studio generates one form per group from
 * `MONITORING_GROUPS`.
 */
import type { JsonSchema } from "./contract.ts";
import {
  filledGroup as filled,
  flagSetting,
  groupsJsonSchema,
  isRecord,
  numberSetting,
  type SettingsGroup,
  settingsGroup,
} from "./settings-groups.ts";

/** The prediction log: inputs, outputs, version, latency and request id of sampled requests. */
export interface PredictionLogSettings {
  readonly enabled: boolean;
  /** Share of requests logged, 0 to 1. Outcomes can only be joined to logged requests. */
  readonly sampleRate: number;
  /** Size cap: the oldest rows of the app are deleted beyond this many. */
  readonly maxRows: number;
  /** Rows older than this are deleted. */
  readonly retentionDays: number;
}

/** Live inputs and predictions compared with the training data's baseline sketches. */
export interface DriftSettings {
  readonly enabled: boolean;
  /** PSI at or above this is a warning. */
  readonly psiWarn: number;
  /** PSI at or above this is drift (and an alert). */
  readonly psiAlert: number;
  /** A statistical test (KS, chi-squared) with a p-value under this flags drift. */
  readonly pValue: number;
  /** The time window: the live sketches cover the last this many minutes. */
  readonly windowMinutes: number;
  /** The count window: the live sketches cover at most the last this many rows. */
  readonly windowRows: number;
  /** Fewer live rows than this: too little data, no verdict. */
  readonly minRows: number;
  /** Dataset-level drift when at least this share of the features drift. */
  readonly datasetShare: number;
}

/** Service levels; 0 turns an objective off. */
export interface SloSettings {
  /** 95th percentile of request latency, in milliseconds. */
  readonly latencyP95Ms: number;
  /** Largest share of requests answered with a server-side failure (5xx other than shedding). */
  readonly errorRate: number;
  /** Smallest share of requests answered without a server-side failure (5xx, shedding included). */
  readonly availability: number;
  /** The period the error budget is counted over. */
  readonly periodDays: number;
}

/** Where breaches, recoveries and rollbacks are sent, besides the log and the Studio. */
export interface AlertSettings {
  /** An HTTPS or loopback URL that receives HMAC-SHA256-signed JSON; "" for none. */
  readonly webhookUrl: string;
  /** Raise an alert when the dataset drifts (per the drift settings). */
  readonly onDrift: boolean;
}

export interface AppMonitoring {
  readonly predictionLog: PredictionLogSettings;
  readonly drift: DriftSettings;
  readonly slo: SloSettings;
  readonly alerts: AlertSettings;
}

export const DEFAULT_MONITORING: AppMonitoring = {
  predictionLog: { enabled: true, sampleRate: 1, maxRows: 5_000_000, retentionDays: 30 },
  drift: {
    enabled: true,
    psiWarn: 0.1,
    psiAlert: 0.25,
    pValue: 0.05,
    windowMinutes: 60,
    windowRows: 5000,
    minRows: 100,
    datasetShare: 0.5,
  },
  slo: { latencyP95Ms: 0, errorRate: 0, availability: 0, periodDays: 30 },
  alerts: { webhookUrl: "", onDrift: true },
};

export type MonitoringGroup = SettingsGroup<keyof AppMonitoring>;

const num = numberSetting;
const flag = flagSetting;
const group = settingsGroup<keyof AppMonitoring>;

const d = DEFAULT_MONITORING;

/** The monitoring groups in the order the Studio shows them. */
export const MONITORING_GROUPS: readonly MonitoringGroup[] = [
  group(
    "predictionLog",
    "Prediction log",
    "Inputs, outputs, version, latency and request id of a sample of requests, written in batches off the request path, personal data masked; outcomes are joined to it.",
    {
      enabled: flag(
        "Log predictions",
        "Keep a log of sampled predictions.",
        d.predictionLog.enabled,
      ),
      sampleRate: num(
        "Share of requests logged",
        "0 to 1. Outcomes can only be joined to requests that were logged.",
        d.predictionLog.sampleRate,
        0,
        1,
      ),
      maxRows: num(
        "Most rows kept",
        "The oldest rows are deleted beyond this many.",
        d.predictionLog.maxRows,
        1,
        1_000_000_000,
        true,
      ),
      retentionDays: num(
        "Keep rows for (days)",
        "Rows older than this are deleted.",
        d.predictionLog.retentionDays,
        1,
        3650,
        true,
      ),
    },
  ),
  group(
    "drift",
    "Drift",
    "Live inputs and predictions compared with the training data, per feature: PSI for every feature, Kolmogorov-Smirnov for numbers, chi-squared for categories.",
    {
      enabled: flag("Watch drift", "Compare live traffic with the training data.", d.drift.enabled),
      psiWarn: num(
        "PSI warning",
        "A feature whose PSI reaches this is shown as a warning.",
        d.drift.psiWarn,
        0,
        10,
      ),
      psiAlert: num(
        "PSI drift",
        "A feature whose PSI reaches this has drifted.",
        d.drift.psiAlert,
        0,
        10,
      ),
      pValue: num(
        "Test p-value",
        "A statistical test below this p-value flags drift.",
        d.drift.pValue,
        0,
        1,
      ),
      windowMinutes: num(
        "Time window (minutes)",
        "Live traffic of the last this many minutes is compared.",
        d.drift.windowMinutes,
        1,
        10_080,
        true,
      ),
      windowRows: num(
        "Count window (rows)",
        "At most the last this many rows are compared.",
        d.drift.windowRows,
        10,
        10_000_000,
        true,
      ),
      minRows: num(
        "Fewest rows for a verdict",
        "With fewer live rows there is too little data to judge.",
        d.drift.minRows,
        1,
        1_000_000,
        true,
      ),
      datasetShare: num(
        "Dataset drift share",
        "The dataset has drifted when at least this share of its features have.",
        d.drift.datasetShare,
        0,
        1,
      ),
    },
  ),
  group(
    "slo",
    "Service levels",
    "Objectives judged over rolling windows with multi-window burn rates; a breach raises an alert. 0 turns an objective off.",
    {
      latencyP95Ms: num(
        "p95 latency (ms)",
        "95% of requests should be answered within this. 0: no objective.",
        d.slo.latencyP95Ms,
        0,
        600_000,
        true,
      ),
      errorRate: num(
        "Error rate",
        "Largest share of requests failed by the server (5xx other than shedding). 0: no objective.",
        d.slo.errorRate,
        0,
        1,
      ),
      availability: num(
        "Availability",
        "Smallest share of requests answered without a server-side failure, e.g. 0.999. 0: no objective.",
        d.slo.availability,
        0,
        1,
      ),
      periodDays: num(
        "Budget period (days)",
        "The error budget is counted over this many days.",
        d.slo.periodDays,
        1,
        90,
        true,
      ),
    },
  ),
  group(
    "alerts",
    "Alerts",
    "Every breach, recovery and rollback is recorded, logged and shown in the Studio; a webhook URL also receives it, signed with HMAC-SHA256.",
    {
      webhookUrl: {
        title: "Alert webhook URL",
        description: "Receives each alert as signed JSON. Empty: no webhook.",
        type: "string",
        maxLength: 2048,
        default: d.alerts.webhookUrl,
      },
      onDrift: flag("Alert on drift", "Raise an alert when the dataset drifts.", d.alerts.onDrift),
    },
  ),
];

/** The published schema of the spec's `monitoring`: every group and field optional. */
export const monitoringJsonSchema: JsonSchema = groupsJsonSchema(
  "What is watched of the app in production",
  MONITORING_GROUPS,
  DEFAULT_MONITORING,
);

/** A spec's `monitoring` (already checked against its schema) with every default filled in. */
export function fillMonitoring(given: unknown): AppMonitoring {
  const groups = isRecord(given) ? given : {};
  return {
    predictionLog: filled(DEFAULT_MONITORING.predictionLog, groups.predictionLog),
    drift: filled(DEFAULT_MONITORING.drift, groups.drift),
    slo: filled(DEFAULT_MONITORING.slo, groups.slo),
    alerts: filled(DEFAULT_MONITORING.alerts, groups.alerts),
  };
}
