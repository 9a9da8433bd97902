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
   * Let the Studio on this machine sign in as the local admin without pasting a key
   * (`GET /v1/session/local`); it only ever answers on a loopback server with the embedded
   * SQLite registry, to a loopback caller.
   */
  readonly autoLogin: boolean;
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
    autoLogin: overrides.autoLogin ?? flagFromEnv("BALLAST_AUTO_LOGIN", true),
  };
}
