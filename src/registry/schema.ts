/**
 * The tables as Kysely sees them: the single source of column types for every query the
 * repositories build. Column names are snake_case as stored; repositories map rows to
 * camelCase records. JSON columns are `string` here (text in both dialects) and parsed at
 * the repository boundary; timestamps are ISO-8601 text; see codec.ts.
 *
 * Migrations deliberately do not import these types: a migration describes the schema as
 * it was when written, and these describe it as it is now.
 */
import type { ColumnType } from "kysely";

/**
 * 64-bit integers: pg returns int8 as a string, better-sqlite3 as a number. Written as
 * numbers, read through `toNumber`.
 */
export type Int64Column = ColumnType<number | string | bigint, number, number>;

export type ApiKeyRole = "admin" | "builder" | "viewer" | "invoker";
export type DeploymentEnvironment = "production" | "staging";
export type JobStatus = "queued" | "running" | "succeeded" | "failed" | "cancelled";

export interface WorkspacesTable {
  id: string;
  name: string;
  created_at: string;
}

export interface ApiKeysTable {
  id: string;
  workspace_id: string;
  name: string;
  role: ApiKeyRole;
  /** The first characters of the key, shown in lists so people can tell keys apart. */
  prefix: string;
  /** sha256 hex of the whole key; the plaintext is never stored. */
  hash: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface DatasetsTable {
  id: string;
  workspace_id: string;
  name: string;
  format: string;
  file_name: string;
  blob_sha256: string;
  size_bytes: Int64Column;
  row_count: Int64Column;
  /** JSON: Schema from src/data/frame.ts. */
  schema: string;
  /** JSON: Profile from src/data/frame.ts. */
  profile: string;
  created_at: string;
}

export interface ModelsTable {
  id: string;
  workspace_id: string;
  name: string;
  /** Counter behind version numbers: incremented under a row lock by createModelVersion. */
  latest_version: number;
  created_at: string;
}

export interface ModelVersionsTable {
  id: string;
  model_id: string;
  version: number;
  artifact_sha256: string;
  task: string;
  target: string;
  learner: string;
  /** JSON object: metric name → value. */
  metrics: string;
  dataset_id: string | null;
  created_at: string;
}

export interface AppsTable {
  id: string;
  workspace_id: string;
  name: string;
  /** Counter behind app version numbers, as in models. */
  latest_version: number;
  created_at: string;
}

export interface AppVersionsTable {
  id: string;
  app_id: string;
  version: number;
  /** JSON object: the app spec, validated by src/spec before it is stored. */
  spec: string;
  model_version_id: string | null;
  created_at: string;
}

export interface DeploymentsTable {
  id: string;
  app_id: string;
  environment: DeploymentEnvironment;
  app_version_id: string;
  created_at: string;
  /** Null for the deployment currently serving this app and environment. */
  replaced_at: string | null;
}

export interface JobsTable {
  id: string;
  workspace_id: string;
  kind: string;
  status: JobStatus;
  /** JSON object. */
  input: string;
  /** JSON object or null. */
  progress: string | null;
  /** JSON object or null. */
  result: string | null;
  /** JSON object ({ message, code?, details? }) or null. */
  error: string | null;
  created_at: string;
  updated_at: string;
}

export type MonitorEventKind = "alert" | "recovery" | "rollback" | "info";
export type MonitorEventSeverity = "info" | "warning" | "critical";

export interface MonitorEventsTable {
  id: string;
  workspace_id: string;
  app_name: string;
  app_version: number | null;
  kind: MonitorEventKind;
  severity: MonitorEventSeverity;
  /** What raised it: "slo:latency_p95", "drift:dataset", "release:rollback", ... */
  rule: string;
  message: string;
  /** JSON object. */
  details: string;
  /** JSON object { items: [{ channel, ok, ... }] }. */
  deliveries: string;
  at: string;
  /** Alerts only: null while firing. */
  resolved_at: string | null;
  /** The event id that resolved it (a recovery, or a more severe alert of the same rule). */
  resolved_by: string | null;
}

/** One replica's traffic of one app version in one minute (src/monitor/metric-rollups.ts). */
export interface MetricRollupsTable {
  workspace_id: string;
  app_name: string;
  app_version: number;
  /** Epoch minute. */
  minute: number;
  replica: string;
  requests: number;
  ok: number;
  client_error: number;
  shed: number;
  rate_limited: number;
  timeout: number;
  error: number;
  cache_hits: number;
  /** Sparse HDR histograms as text (src/monitor/latency-histogram.ts); "" when empty. */
  latency: string;
  model_latency: string;
}

export type ReleaseStrategy = "direct" | "canary" | "shadow" | "ab";
export type ReleaseState = "running" | "paused" | "succeeded" | "rolled_back" | "aborted";

/** One rollout of a candidate version to production (src/registry/release-repository.ts). */
export interface ReleasesTable {
  id: string;
  app_id: string;
  strategy: ReleaseStrategy;
  /** At most one running or paused release per app (partial unique index). */
  state: ReleaseState;
  candidate_version_id: string;
  /** What production served before; null for a first release or a deleted version. */
  stable_version_id: string | null;
  /** JSON object: the strategy's settings for this release. */
  plan: string;
  step_index: number;
  /** 0-100: the candidate's traffic share (shadow: the share mirrored to it). */
  percent: number;
  step_started_at: string;
  /** Bumped by every change; writers compare-and-set on it. */
  revision: number;
  /** JSON array of { at, type, message, percent?, details? }, oldest first. */
  events: string;
  reason: string | null;
  created_at: string;
  updated_at: string;
  /** Set when the state becomes terminal. */
  ended_at: string | null;
}

export type GoldenSource = "studio" | "live" | "api" | "cli";

/** One case of an app's regression suite. */
export interface GoldenCasesTable {
  id: string;
  app_id: string;
  /** Unique per app. */
  name: string;
  /** JSON object. */
  input: string;
  /** JSON object. */
  expected: string;
  /** JSON object: how a response is compared with `expected`. */
  match: string;
  source: GoldenSource;
  request_id: string | null;
  created_at: string;
}

/** One run of an app's golden suite against one of its versions. */
export interface GoldenRunsTable {
  id: string;
  app_id: string;
  app_version_id: string;
  passed: number;
  failed: number;
  total: number;
  /** Boolean as 0/1. */
  ok: number;
  /** JSON object. */
  results: string;
  created_at: string;
}

/** Every table, as Kysely's `DB` type parameter. */
export interface Database {
  workspaces: WorkspacesTable;
  api_keys: ApiKeysTable;
  datasets: DatasetsTable;
  models: ModelsTable;
  model_versions: ModelVersionsTable;
  apps: AppsTable;
  app_versions: AppVersionsTable;
  deployments: DeploymentsTable;
  jobs: JobsTable;
  metric_rollups: MetricRollupsTable;
  monitor_events: MonitorEventsTable;
  releases: ReleasesTable;
  golden_cases: GoldenCasesTable;
  golden_runs: GoldenRunsTable;
}
