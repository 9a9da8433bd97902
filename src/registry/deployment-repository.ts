/**
 * Deployments: which app version serves each app in each environment, with full history.
 * A deploy never edits the old row beyond stamping `replaced_at`, so "what was live at
 * 14:02?" stays answerable and a rollback is a deploy of an older version.
 */
import type { Kysely } from "kysely";
import { addMilliseconds, nowIso, pageSize } from "./codec.ts";
import { NotFoundError, ValidationError } from "./errors.ts";
import { newId } from "./ids.ts";
import type { Database, DeploymentEnvironment } from "./schema.ts";
import { withTransaction } from "./transaction.ts";

export type { DeploymentEnvironment } from "./schema.ts";

export const DEPLOYMENT_ENVIRONMENTS: readonly DeploymentEnvironment[] = ["production", "staging"];

export interface Deployment {
  readonly id: string;
  readonly appId: string;
  readonly appName: string;
  readonly workspaceId: string;
  readonly environment: DeploymentEnvironment;
  readonly appVersionId: string;
  /** The app version's number, for display ("v3 since 14:02"). */
  readonly appVersion: number;
  readonly createdAt: string;
  /** When a later deploy took over; null while this one is live. */
  readonly replacedAt: string | null;
}

function validateEnvironment(environment: string): asserts environment is DeploymentEnvironment {
  if (!(DEPLOYMENT_ENVIRONMENTS as readonly string[]).includes(environment)) {
    throw new ValidationError(
      "environment",
      `Unknown environment ${JSON.stringify(environment)}: use ${DEPLOYMENT_ENVIRONMENTS.join(" or ")}`,
    );
  }
}

export class DeploymentRepository {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /**
   * Makes `appVersionId` the live version of the app in `environment`, closing the previous
   * deployment in the same transaction. The app row is locked first (a no-op UPDATE), so
   * concurrent deploys of one app take turns on PostgreSQL; a partial unique index
   * guarantees one live deployment whatever happens. Deploying the live version again is a
   * no-op that returns the current deployment.
   */
  async deploy(
    appId: string,
    environment: DeploymentEnvironment,
    appVersionId: string,
  ): Promise<Deployment> {
    validateEnvironment(environment);
    return withTransaction(this.#db, async (trx) => {
      const app = await trx
        .updateTable("apps")
        .set((eb) => ({ id: eb.ref("id") }))
        .where("id", "=", appId)
        .returning(["id", "name", "workspace_id"])
        .executeTakeFirst();
      if (!app) throw new NotFoundError("app", appId);
      const version = await trx
        .selectFrom("app_versions")
        .select(["id", "version"])
        .where("id", "=", appVersionId)
        .where("app_id", "=", appId)
        .executeTakeFirst();
      if (!version) throw new NotFoundError("app version", appVersionId);
      const current = await trx
        .selectFrom("deployments")
        .select(["id", "app_version_id", "created_at"])
        .where("app_id", "=", appId)
        .where("environment", "=", environment)
        .where("replaced_at", "is", null)
        .executeTakeFirst();
      if (current?.app_version_id === appVersionId) {
        return this.#getById(trx, current.id);
      }
      // Strictly after the previous deploy, even within one millisecond or with clock skew
      // between replicas, so history order is deploy order.
      let now = nowIso();
      if (current && now <= current.created_at) now = addMilliseconds(current.created_at, 1);
      if (current) {
        await trx
          .updateTable("deployments")
          .set({ replaced_at: now })
          .where("id", "=", current.id)
          .execute();
      }
      const id = newId("dep");
      await trx
        .insertInto("deployments")
        .values({
          id,
          app_id: appId,
          environment,
          app_version_id: appVersionId,
          created_at: now,
          replaced_at: null,
        })
        .execute();
      return {
        id,
        appId,
        appName: app.name,
        workspaceId: app.workspace_id,
        environment,
        appVersionId,
        appVersion: version.version,
        createdAt: now,
        replacedAt: null,
      };
    });
  }

  /** The live deployment, or undefined when the app was never deployed there. */
  async currentDeployment(
    appId: string,
    environment: DeploymentEnvironment,
  ): Promise<Deployment | undefined> {
    validateEnvironment(environment);
    const row = await this.#select(this.#db)
      .where("deployments.app_id", "=", appId)
      .where("deployments.environment", "=", environment)
      .where("deployments.replaced_at", "is", null)
      .executeTakeFirst();
    return row ? toDeployment(row) : undefined;
  }

  /** Deployments of an app, newest first, optionally for one environment. */
  async history(
    appId: string,
    options: { readonly environment?: DeploymentEnvironment; readonly limit?: number } = {},
  ): Promise<Deployment[]> {
    let query = this.#select(this.#db)
      .where("deployments.app_id", "=", appId)
      .orderBy("deployments.created_at", "desc")
      .orderBy("deployments.id", "desc")
      .limit(pageSize(options.limit));
    if (options.environment !== undefined) {
      validateEnvironment(options.environment);
      query = query.where("deployments.environment", "=", options.environment);
    }
    const rows = await query.execute();
    return rows.map(toDeployment);
  }

  /**
   * Every live deployment, optionally narrowed to one workspace or environment: what a
   * serving replica loads at startup.
   */
  async listCurrent(
    options: { readonly workspaceId?: string; readonly environment?: DeploymentEnvironment } = {},
  ): Promise<Deployment[]> {
    let query = this.#select(this.#db)
      .where("deployments.replaced_at", "is", null)
      .orderBy("apps.name")
      .orderBy("deployments.environment");
    if (options.workspaceId !== undefined) {
      query = query.where("apps.workspace_id", "=", options.workspaceId);
    }
    if (options.environment !== undefined) {
      validateEnvironment(options.environment);
      query = query.where("deployments.environment", "=", options.environment);
    }
    const rows = await query.execute();
    return rows.map(toDeployment);
  }

  async #getById(db: Kysely<Database>, id: string): Promise<Deployment> {
    const row = await this.#select(db).where("deployments.id", "=", id).executeTakeFirst();
    if (!row) throw new NotFoundError("deployment", id);
    return toDeployment(row);
  }

  #select(db: Kysely<Database>) {
    return db
      .selectFrom("deployments")
      .innerJoin("apps", "apps.id", "deployments.app_id")
      .innerJoin("app_versions", "app_versions.id", "deployments.app_version_id")
      .selectAll("deployments")
      .select([
        "apps.name as app_name",
        "apps.workspace_id as workspace_id",
        "app_versions.version as app_version",
      ]);
  }
}

function toDeployment(row: {
  id: string;
  app_id: string;
  app_name: string;
  workspace_id: string;
  environment: DeploymentEnvironment;
  app_version_id: string;
  app_version: number;
  created_at: string;
  replaced_at: string | null;
}): Deployment {
  return {
    id: row.id,
    appId: row.app_id,
    appName: row.app_name,
    workspaceId: row.workspace_id,
    environment: row.environment,
    appVersionId: row.app_version_id,
    appVersion: row.app_version,
    createdAt: row.created_at,
    replacedAt: row.replaced_at,
  };
}
