/**
 * Every migration, in order, as code: no files are read at run time, so the registry works
 * the same from `src/` under tsx, from `dist/`, and bundled. To add one, create
 * `NNNN-what-it-does.ts` exporting `up` (and `down`) and list it here; never edit a
 * migration that has shipped.
 */
import type { Migration, MigrationProvider } from "kysely";
import * as m0001 from "./0001-initial.ts";
import * as m0002 from "./0002-metric-rollups.ts";
import * as m0003 from "./0003-monitor-events.ts";
import * as m0004 from "./0004-releases.ts";

/** Keyed by name; Kysely runs them in the names' alphabetical order and records each once. */
export const MIGRATIONS: Readonly<Record<string, Migration>> = {
  "0001-initial": m0001,
  "0002-metric-rollups": m0002,
  "0003-monitor-events": m0003,
  "0004-releases": m0004,
};

/** The in-code provider handed to Kysely's Migrator. */
export const migrationProvider: MigrationProvider = {
  async getMigrations() {
    return { ...MIGRATIONS };
  },
};
