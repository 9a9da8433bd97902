/**
 * Workspaces: the tenant boundary. Every other record belongs to exactly one workspace and
 * every lookup is scoped by it, so one tenant's key can never reach another's data.
 */
import type { Kysely, Selectable } from "kysely";
import { nowIso } from "./codec.ts";
import { ConflictError, NotFoundError, translateError } from "./errors.ts";
import { newId } from "./ids.ts";
import { validateSlug } from "./names.ts";
import type { Database, WorkspacesTable } from "./schema.ts";

export interface Workspace {
  readonly id: string;
  readonly name: string;
  /** ISO-8601 UTC. */
  readonly createdAt: string;
}

/** The workspace that a fresh install, and a single-tenant deployment, works in. */
export const DEFAULT_WORKSPACE_NAME = "default";

export class WorkspaceRepository {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** Creates a workspace; the name is a DNS label. Throws ConflictError if it is taken. */
  async create(name: string): Promise<Workspace> {
    validateSlug("workspace", name);
    const row = { id: newId("ws"), name, created_at: nowIso() };
    try {
      await this.#db.insertInto("workspaces").values(row).execute();
    } catch (error) {
      throw translateError(error, { unique: () => new ConflictError("workspace", name) });
    }
    return toWorkspace(row);
  }

  /** Returns the named workspace, creating it first if needed; safe to race. */
  async ensure(name: string): Promise<Workspace> {
    validateSlug("workspace", name);
    await this.#db
      .insertInto("workspaces")
      .values({ id: newId("ws"), name, created_at: nowIso() })
      .onConflict((oc) => oc.column("name").doNothing())
      .execute();
    return this.getByName(name);
  }

  async get(id: string): Promise<Workspace> {
    const row = await this.#db
      .selectFrom("workspaces")
      .selectAll()
      .where("id", "=", id)
      .executeTakeFirst();
    if (!row) throw new NotFoundError("workspace", id);
    return toWorkspace(row);
  }

  async getByName(name: string): Promise<Workspace> {
    const row = await this.findByName(name);
    if (!row) throw new NotFoundError("workspace", name);
    return row;
  }

  async findByName(name: string): Promise<Workspace | undefined> {
    const row = await this.#db
      .selectFrom("workspaces")
      .selectAll()
      .where("name", "=", name)
      .executeTakeFirst();
    return row ? toWorkspace(row) : undefined;
  }

  /** All workspaces, by name. */
  async list(): Promise<Workspace[]> {
    const rows = await this.#db.selectFrom("workspaces").selectAll().orderBy("name").execute();
    return rows.map(toWorkspace);
  }

  /** Deletes a workspace and, by cascade, everything in it (keys, datasets, models, apps, jobs). */
  async delete(id: string): Promise<void> {
    const result = await this.#db.deleteFrom("workspaces").where("id", "=", id).executeTakeFirst();
    if (result.numDeletedRows === 0n) throw new NotFoundError("workspace", id);
  }
}

function toWorkspace(row: Selectable<WorkspacesTable>): Workspace {
  return { id: row.id, name: row.name, createdAt: row.created_at };
}
