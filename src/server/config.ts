/**
 * Server configuration: embedded defaults for a laptop, overridable by environment variables
 * (for containers) or by options (for tests and the CLI).
 */
import path from "node:path";

export interface BallastConfig {
  readonly host: string;
  readonly port: number;
  /** Where the SQLite registry, artifacts and the admin key live. */
  readonly dataDir: string;
  /** A postgres:// URL moves the registry to PostgreSQL; otherwise SQLite in dataDir. */
  readonly databaseUrl?: string;
  /** Largest request body in bytes for JSON routes. */
  readonly bodyLimit: number;
  /** Largest dataset upload in bytes. */
  readonly uploadLimit: number;
  /** Default most rows per predict request (an app spec may lower or raise it). */
  readonly maxRows: number;
  /** Load the churn demo on first start. */
  readonly demo: boolean;
  /** Budget for the demo's model search. */
  readonly demoTimeBudgetMs: number;
  /** Log level for pino; "silent" in tests. */
  readonly logLevel: string;
  /**
   * Mask IP addresses in log lines too (`BALLAST_LOG_MASK_IPS`, default on; e-mails, phones,
   * cards and national ids are always masked). Addresses are personal data under the GDPR.
   */
  readonly logMaskIps: boolean;
  /** Where log lines go: a file path (appended) or a stream; unset: stdout. Tests capture logs. */
  readonly logDestination?: string | { write(line: string): void };
  /**
   * An OTLP/HTTP collector's base URL (`BALLAST_OTLP_ENDPOINT`, else the standard
   * `OTEL_EXPORTER_OTLP_ENDPOINT`): set, every request and pipeline step is a span exported
   * there; unset, no spans at all (requests still get trace ids and propagate `traceparent`).
   */
  readonly otlpEndpoint?: string;
  /**
   * Let the Studio on this machine sign in as the local admin without pasting a key
   * (`GET /v1/session/local`); it only ever answers on a loopback server with the embedded
   * SQLite registry, to a loopback caller.
   */
  readonly autoLogin: boolean;
  /**
   * A redis:// URL moves rate limits, idempotency keys, sessions and the webhook queue (BullMQ)
   * to Redis, so every replica shares them; otherwise they stay in process and in
   * `<dataDir>/runtime.db`.
   */
  readonly redisUrl?: string;
  /** Every Redis key Ballast writes starts with this (several deployments can share a server). */
  readonly redisPrefix: string;
  /** One token bucket per workspace across all its apps (requests per second, burst; 0 = off). */
  readonly workspaceRateLimit: { readonly perSecond: number; readonly burst: number };
  /**
   * How often the SLO evaluator judges every deployed app's objectives and drift and raises
   * alerts and recoveries (src/monitor/slo); tests shorten it. Default 30 s.
   */
  readonly sloIntervalMs: number;
  /**
   * How often the rollout controller judges running canaries (src/server/releases); each step
   * is judged at least this often, so a failing gate rolls back within one tick. Default 5 s.
   */
  readonly releaseTickMs: number;
  /**
   * The secret webhook callback signatures derive from (one per app, see
   * src/runtime/webhooks/callback.ts); unset: generated once into `<dataDir>/webhook.secret`.
   * Replicas that deliver callbacks for the same apps must share it.
   */
  readonly webhookSecret?: string;
  /**
   * Webhook workers' timings: the lease on a claimed event (a killed worker's event is taken
   * over after it), the retry backoff's first step and cap, and how often deployed apps are
   * checked for hooks turned on or off. Tests shorten them.
   */
  readonly webhookTimings: {
    readonly leaseMs: number;
    readonly retryBaseMs: number;
    readonly retryMaxMs: number;
    readonly pollMs: number;
  };
  /**
   * Serve `GET /metrics` for Prometheus and count every prediction for it; off: no exporter
   * on the predict path and 404 at /metrics (the benchmark's "monitoring off" row).
   */
  readonly prometheus: boolean;
  /** When set, `GET /metrics` requires `Authorization: Bearer <token>`; unset, it is open. */
  readonly metricsToken?: string;
  /** How much of the 10-second in-memory time series is kept, in minutes (default 60). */
  readonly metricsMemoryMinutes: number;
  /** How long 1-minute metric rollups stay in the registry, in days (default 30). */
  readonly metricsRollupDays: number;
}

/** Off for 0, false, no, off (any case); on otherwise, including unset. */
function flagFromEnv(name: string, fallback: boolean): boolean {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  return !["0", "false", "no", "off"].includes(raw.trim().toLowerCase());
}

function intFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0)
    throw new Error(`${name} must be a non-negative integer, got ${raw}`);
  return n;
}

export function loadConfig(overrides: Partial<BallastConfig> = {}): BallastConfig {
  const env = process.env;
  const databaseUrl = overrides.databaseUrl ?? env.BALLAST_DATABASE_URL;
  const redisUrl = overrides.redisUrl ?? env.BALLAST_REDIS_URL;
  const webhookSecret = overrides.webhookSecret ?? env.BALLAST_WEBHOOK_SECRET;
  const otlpEndpoint =
    overrides.otlpEndpoint ?? env.BALLAST_OTLP_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const metricsToken = overrides.metricsToken ?? env.BALLAST_METRICS_TOKEN;
  return {
    host: overrides.host ?? env.BALLAST_HOST ?? "127.0.0.1",
    port: overrides.port ?? intFromEnv("BALLAST_PORT", 7070),
    dataDir: path.resolve(overrides.dataDir ?? env.BALLAST_DATA_DIR ?? ".ballast"),
    ...(databaseUrl ? { databaseUrl } : {}),
    bodyLimit: overrides.bodyLimit ?? intFromEnv("BALLAST_BODY_LIMIT", 1024 * 1024),
    uploadLimit: overrides.uploadLimit ?? intFromEnv("BALLAST_UPLOAD_LIMIT", 512 * 1024 * 1024),
    maxRows: overrides.maxRows ?? intFromEnv("BALLAST_MAX_ROWS", 1000),
    demo: overrides.demo ?? env.BALLAST_DEMO !== "0",
    demoTimeBudgetMs:
      overrides.demoTimeBudgetMs ?? intFromEnv("BALLAST_DEMO_TIME_BUDGET_MS", 20_000),
    logLevel: overrides.logLevel ?? env.BALLAST_LOG_LEVEL ?? "info",
    logMaskIps: overrides.logMaskIps ?? flagFromEnv("BALLAST_LOG_MASK_IPS", true),
    ...(overrides.logDestination !== undefined ? { logDestination: overrides.logDestination } : {}),
    ...(otlpEndpoint ? { otlpEndpoint } : {}),
    autoLogin: overrides.autoLogin ?? flagFromEnv("BALLAST_AUTO_LOGIN", true),
    ...(redisUrl ? { redisUrl } : {}),
    redisPrefix: overrides.redisPrefix ?? env.BALLAST_REDIS_PREFIX ?? "ballast:",
    workspaceRateLimit: overrides.workspaceRateLimit ?? {
      perSecond: intFromEnv("BALLAST_WORKSPACE_RPS", 20000),
      burst: intFromEnv("BALLAST_WORKSPACE_BURST", 40000),
    },
    sloIntervalMs: Math.max(
      10,
      overrides.sloIntervalMs ?? intFromEnv("BALLAST_SLO_INTERVAL_MS", 30_000),
    ),
    releaseTickMs: Math.max(
      10,
      overrides.releaseTickMs ?? intFromEnv("BALLAST_RELEASE_TICK_MS", 5000),
    ),
    ...(webhookSecret ? { webhookSecret } : {}),
    webhookTimings: overrides.webhookTimings ?? {
      leaseMs: intFromEnv("BALLAST_WEBHOOK_LEASE_MS", 30_000),
      retryBaseMs: intFromEnv("BALLAST_WEBHOOK_RETRY_BASE_MS", 1000),
      retryMaxMs: intFromEnv("BALLAST_WEBHOOK_RETRY_MAX_MS", 300_000),
      pollMs: intFromEnv("BALLAST_WEBHOOK_POLL_MS", 2000),
    },
    prometheus: overrides.prometheus ?? flagFromEnv("BALLAST_PROMETHEUS", true),
    ...(metricsToken ? { metricsToken } : {}),
    metricsMemoryMinutes: Math.max(
      1,
      overrides.metricsMemoryMinutes ?? intFromEnv("BALLAST_METRICS_MEMORY_MINUTES", 60),
    ),
    metricsRollupDays: Math.max(
      1,
      overrides.metricsRollupDays ?? intFromEnv("BALLAST_METRICS_ROLLUP_DAYS", 30),
    ),
  };
}
