/**
 * A registry for repository suites that run on every dialect: SQLite in a file in a temp dir,
 * and the real PostgreSQL server in a fresh database (unreachable PostgreSQL fails the suite,
 * see registry-postgres-setup.ts).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openRegistry, type Registry } from "../../src/registry/registry.ts";
import { createTestPostgresDatabase } from "../registry-postgres-setup.ts";

export const DIALECTS = ["sqlite", "postgres"] as const;
export type Dialect = (typeof DIALECTS)[number];

/** An empty registry on `dialect`, and how to remove its file or database afterwards. */
export async function openTestRegistry(
  dialect: Dialect,
  prefix: string,
): Promise<{ registry: Registry; cleanup: () => Promise<void> }> {
  if (dialect === "sqlite") {
    const dir = await mkdtemp(join(tmpdir(), `${prefix}-`));
    const registry = await openRegistry({ sqlitePath: join(dir, "registry.db") });
    return { registry, cleanup: () => rm(dir, { recursive: true, force: true }) };
  }
  const database = await createTestPostgresDatabase();
  const registry = await openRegistry({ url: database.url });
  return { registry, cleanup: () => database.drop() };
}
