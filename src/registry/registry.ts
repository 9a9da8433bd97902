/**
 * The control-plane database, wired in one place. `openRegistry` picks the dialect from
 * its options (a postgres:// URL selects PostgreSQL, otherwise a SQLite file), brings the
 * schema up to date and hands back one repository per aggregate. Everything else in
 * Ballast talks to these repositories, never to SQL, so both dialects behave the same.
 */
import { type Dialect, Kysely, Migrator, sql } from "kysely";
import { ApiKeyRepository } from "./api-key-repository.ts";
import { AppRepository } from "./app-repository.ts";
import { DatasetRepository } from "./dataset-repository.ts";
import { DeploymentRepository } from "./deployment-repository.ts";
import { ValidationError } from "./errors.ts";
import { GoldenRepository } from "./golden-repository.ts";
import { JobRepository } from "./job-repository.ts";
import { MetricRollupRepository } from "./metric-rollup-repository.ts";
import { migrationProvider } from "./migrations/index.ts";
import { ModelRepository } from "./model-repository.ts";
import { MonitorEventRepository } from "./monitor-event-repository.ts";
import { createPostgresDialect, isPostgresUrl } from "./postgres-dialect.ts";
import { ReleaseRepository } from "./release-repository.ts";
import type { Database } from "./schema.ts";
import { createSqliteDialect } from "./sqlite-dialect.ts";
import {
  DEFAULT_WORKSPACE_NAME,
  type Workspace,
  WorkspaceRepository,
} from "./workspace-repository.ts";

export type RegistryDialect = "sqlite" | "postgres";

export interface OpenRegistryOptions {
  /**
   * `postgres://…` or `postgresql://…` selects PostgreSQL; `sqlite:<path>` (or
   * `sqlite://<path>`) selects SQLite at that path. Takes precedence over `sqlitePath`.
   */
  readonly url?: string;
  /** The SQLite file, normally `<data dir>/registry.db`; ":memory:" for a throwaway one. */
  readonly sqlitePath?: string;
  /** PostgreSQL connections per process (default 10). */
  readonly poolSize?: number;
}

/** The repositories, one per aggregate; also what a transaction callback receives. */
export interface RegistryRepositories {
  readonly workspaces: WorkspaceRepository;
  readonly apiKeys: ApiKeyRepository;
  readonly datasets: DatasetRepository;
  readonly models: ModelRepository;
  readonly apps: AppRepository;
  readonly deployments: DeploymentRepository;
  readonly jobs: JobRepository;
  /** Per-minute traffic of every app version and replica (src/monitor/metric-rollups.ts). */
  readonly metricRollups: MetricRollupRepository;
  /** SLO breaches, recoveries, drift alerts and rollbacks (src/monitor/alerts). */
  readonly monitorEvents: MonitorEventRepository;
  /** Rollouts of candidate versions to production, shared by every replica (src/monitor). */
  readonly releases: ReleaseRepository;
  /** Each app's golden cases and the suite's runs per version, which promotion is gated on. */
  readonly golden: GoldenRepository;
  /** Returns the workspace named "default", creating it on first use. */
  ensureDefaultWorkspace(): Promise<Workspace>;
  /**
   * True while a dataset or model version still points at the blob, so a caller that
   * deleted a record knows whether the bytes can go too (blobs are shared by content).
   */
  isBlobReferenced(sha256: string): Promise<boolean>;
}

export interface Registry extends RegistryRepositories {
  readonly dialect: RegistryDialect;
  /** The underlying Kysely instance, for health checks and tests; prefer the repositories. */
  readonly db: Kysely<Database>;
  /**
   * Runs `work` in one transaction: every repository call on `tx` commits together or not
   * at all (e.g. create an app version and deploy it). On PostgreSQL a failed statement
   * aborts the transaction, so do not catch a ConflictError inside `work` and carry on.
   */
  transaction<T>(work: (tx: RegistryRepositories) => Promise<T>): Promise<T>;
  /** Closes the database (SQLite file or PostgreSQL pool). */
  close(): Promise<void>;
}

/**
 * Opens the registry and migrates it to the latest schema. Safe to call from many
 * processes at once: Kysely's migrator takes a lock, and applied migrations are skipped.
 */
export async function openRegistry(options: OpenRegistryOptions): Promise<Registry> {
  const { dialect, kind } = chooseDialect(options);
  const db = new Kysely<Database>({ dialect });
  try {
    await migrateToLatest(db);
  } catch (error) {
    await db.destroy();
    throw error;
  }
  return createRegistry(db, kind);
}

function chooseDialect(options: OpenRegistryOptions): { dialect: Dialect; kind: RegistryDialect } {
  const { url } = options;
  if (url !== undefined) {
    if (isPostgresUrl(url)) {
      return {
        dialect: createPostgresDialect({ url, poolSize: options.poolSize }),
        kind: "postgres",
      };
    }
    const sqlite = /^sqlite:(?:\/\/)?(.+)$/i.exec(url);
    if (sqlite?.[1]) {
      return { dialect: createSqliteDialect({ path: sqlite[1] }), kind: "sqlite" };
    }
    throw new ValidationError(
      "url",
      "Unsupported registry URL: use postgres://… for PostgreSQL or sqlite:<path> for SQLite",
    );
  }
  if (options.sqlitePath !== undefined && options.sqlitePath !== "") {
    return { dialect: createSqliteDialect({ path: options.sqlitePath }), kind: "sqlite" };
  }
  throw new ValidationError("url", "openRegistry needs a url or a sqlitePath");
}

/** Applies pending migrations, throwing the first failure with the migration's name. */
export async function migrateToLatest(db: Kysely<Database>): Promise<string[]> {
  const migrator = new Migrator({ db, provider: migrationProvider });
  const { error, results = [] } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results.find((r) => r.status === "Error");
    throw new Error(
      `Registry migration ${failed ? `"${failed.migrationName}" ` : ""}failed: ${
        error instanceof Error ? error.message : String(error)
      }`,
      { cause: error },
    );
  }
  return results.filter((r) => r.status === "Success").map((r) => r.migrationName);
}

function createRepositories(db: Kysely<Database>): RegistryRepositories {
  const workspaces = new WorkspaceRepository(db);
  return {
    workspaces,
    apiKeys: new ApiKeyRepository(db),
    datasets: new DatasetRepository(db),
    models: new ModelRepository(db),
    apps: new AppRepository(db),
    deployments: new DeploymentRepository(db),
    jobs: new JobRepository(db),
    metricRollups: new MetricRollupRepository(db),
    monitorEvents: new MonitorEventRepository(db),
    releases: new ReleaseRepository(db),
    golden: new GoldenRepository(db),
    ensureDefaultWorkspace: () => workspaces.ensure(DEFAULT_WORKSPACE_NAME),
    async isBlobReferenced(sha256: string): Promise<boolean> {
      const row = await db
        .selectNoFrom((eb) => [
          eb
            .or([
              eb.exists(
                eb
                  .selectFrom("datasets")
                  .select(sql.lit(1).as("one"))
                  .where("blob_sha256", "=", sha256),
              ),
              eb.exists(
                eb
                  .selectFrom("model_versions")
                  .select(sql.lit(1).as("one"))
                  .where("artifact_sha256", "=", sha256),
              ),
            ])
            .as("referenced"),
        ])
        .executeTakeFirstOrThrow();
      // SQLite answers 0/1, PostgreSQL true/false.
      return Boolean(row.referenced);
    },
  };
}

function createRegistry(db: Kysely<Database>, dialect: RegistryDialect): Registry {
  return {
    ...createRepositories(db),
    dialect,
    db,
    transaction: (work) => db.transaction().execute((trx) => work(createRepositories(trx))),
    close: () => db.destroy(),
  };
}
