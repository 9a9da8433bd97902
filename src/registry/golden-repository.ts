/**
 * Golden suites: an app's regression cases (an input, the output it must produce, and how
 * closely) and the record of each suite run against an app version. Promotion to production is
 * gated on the candidate's latest run, so runs are kept per version rather than overwritten,
 * and cases are captured from the Studio, live traffic, the API or the CLI with a name that
 * JUnit reports and `ballast test` output can show.
 *
 * Case names are free text so a captured case can say what it covers ("refund over 500 €"):
 * 1-100 characters, no control characters, no spaces at either end, unique per app. Unnamed
 * cases get `case-<n>`, numbered after the cases the app already has.
 */
import type { Kysely, Selectable } from "kysely";
import {
  addMilliseconds,
  decodeJsonObject,
  encodeJsonObject,
  type JsonObject,
  type JsonObjectInput,
  nowIso,
} from "./codec.ts";
import { ConflictError, NotFoundError, translateError, ValidationError } from "./errors.ts";
import { newId } from "./ids.ts";
import type { Database, GoldenCasesTable, GoldenRunsTable, GoldenSource } from "./schema.ts";
import { withTransaction } from "./transaction.ts";

export type { GoldenSource } from "./schema.ts";

export const GOLDEN_SOURCES: readonly GoldenSource[] = ["studio", "live", "api", "cli"];

export interface GoldenCase {
  readonly id: string;
  readonly appId: string;
  readonly name: string;
  /** The request body sent to the app. */
  readonly input: JsonObject;
  /** The response fields it must produce. */
  readonly expected: JsonObject;
  /** How each field is compared: exactly, within a tolerance, or by schema (src/monitor). */
  readonly match: JsonObject;
  /** Where it was captured. */
  readonly source: GoldenSource;
  /** The live request it was captured from, when it was. */
  readonly requestId: string | null;
  readonly createdAt: string;
}

export interface NewGoldenCase {
  /** Default `case-<n>`. */
  readonly name?: string;
  readonly input: JsonObjectInput;
  readonly expected: JsonObjectInput;
  readonly match: JsonObjectInput;
  readonly source: GoldenSource;
  readonly requestId?: string | null;
}

export interface GoldenRun {
  readonly id: string;
  readonly appId: string;
  readonly appVersionId: string;
  readonly appVersion: number;
  readonly passed: number;
  readonly failed: number;
  readonly total: number;
  /** Every case passed and there was at least one: an empty suite proves nothing. */
  readonly ok: boolean;
  /** Per-case outcomes as the suite runner reports them. */
  readonly results: JsonObject;
  readonly createdAt: string;
}

export interface NewGoldenRun {
  readonly appId: string;
  readonly appVersionId: string;
  readonly passed: number;
  readonly failed: number;
  /** Must equal passed + failed: a case that could not run counts as failed. */
  readonly total: number;
  readonly results: JsonObjectInput;
}

const MAX_NAME = 100;
const MAX_REQUEST_ID = 200;
const DEFAULT_NAME = /^case-([1-9][0-9]{0,8})$/;
/** Rows per INSERT, well under SQLite's bound-parameter limit. */
const INSERT_CHUNK = 200;

export class GoldenRepository {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /**
   * Adds cases to the app's suite, all or none, in one transaction. Every case is checked
   * before anything is written: a bad or repeated name is a ValidationError naming
   * `cases/<i>/name` (likewise `cases/<i>/input`, `…/source`, ...); a name the app already
   * uses is a ConflictError. The app row is locked first, so concurrent additions take turns
   * and default names never collide. Cases are stamped 1 ms apart, so the suite lists in the
   * order the cases were given.
   */
  async addCases(appId: string, cases: readonly NewGoldenCase[]): Promise<GoldenCase[]> {
    const checked = cases.map((c, i) => checkCase(c, `cases/${i}`));
    const given = new Map<string, number>();
    checked.forEach((c, i) => {
      if (c.name === undefined) return;
      const first = given.get(c.name);
      if (first !== undefined) {
        throw new ValidationError(
          `cases/${i}/name`,
          `Golden case name ${JSON.stringify(c.name)} is also given to cases/${first}`,
        );
      }
      given.set(c.name, i);
    });
    try {
      return await withTransaction(this.#db, async (trx) => {
        const app = await trx
          .updateTable("apps")
          .set((eb) => ({ id: eb.ref("id") }))
          .where("id", "=", appId)
          .returning(["name"])
          .executeTakeFirst();
        if (!app) throw new NotFoundError("app", appId);
        const existing = await trx
          .selectFrom("golden_cases")
          .select(["name", "created_at"])
          .where("app_id", "=", appId)
          .execute();
        const taken = new Set(existing.map((e) => e.name));
        for (const name of given.keys()) {
          if (taken.has(name)) {
            throw new ConflictError(
              "golden case",
              name,
              `App ${JSON.stringify(app.name)} already has a golden case named ${JSON.stringify(name)}`,
            );
          }
        }
        for (const name of given.keys()) taken.add(name);
        let counter = existing.length;
        for (const e of existing) {
          const n = DEFAULT_NAME.exec(e.name)?.[1];
          if (n !== undefined) counter = Math.max(counter, Number(n));
        }
        let latest: string | undefined;
        for (const e of existing)
          if (latest === undefined || e.created_at > latest) latest = e.created_at;
        const now = nowIso();
        const start = latest !== undefined && now <= latest ? addMilliseconds(latest, 1) : now;
        const rows: Selectable<GoldenCasesTable>[] = checked.map((c, i) => {
          let name = c.name;
          while (name === undefined || (c.name === undefined && taken.has(name))) {
            counter += 1;
            name = `case-${counter}`;
          }
          taken.add(name);
          return {
            id: newId("gc"),
            app_id: appId,
            name,
            input: c.input,
            expected: c.expected,
            match: c.match,
            source: c.source,
            request_id: c.requestId,
            created_at: addMilliseconds(start, i),
          };
        });
        for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
          await trx
            .insertInto("golden_cases")
            .values(rows.slice(i, i + INSERT_CHUNK))
            .execute();
        }
        return rows.map(toCase);
      });
    } catch (error) {
      throw translateError(error, {
        unique: () =>
          new ConflictError("golden case", appId, "A golden case name is already taken"),
      });
    }
  }

  /** The app's suite in the order the cases were added. */
  async listCases(appId: string): Promise<GoldenCase[]> {
    const rows = await this.#db
      .selectFrom("golden_cases")
      .selectAll()
      .where("app_id", "=", appId)
      .orderBy("created_at")
      .orderBy("id")
      .execute();
    return rows.map(toCase);
  }

  /** Removes one case, scoped by app so an id from another app does not resolve. */
  async deleteCase(appId: string, id: string): Promise<GoldenCase> {
    const row = await this.#db
      .deleteFrom("golden_cases")
      .where("app_id", "=", appId)
      .where("id", "=", id)
      .returningAll()
      .executeTakeFirst();
    if (!row) throw new NotFoundError("golden case", id);
    return toCase(row);
  }

  /**
   * Records one suite run against an app version (which must be the app's). Runs of one
   * version are stamped strictly in order, so `latestRun` is never a tie.
   */
  async recordRun(input: NewGoldenRun): Promise<GoldenRun> {
    for (const field of ["passed", "failed", "total"] as const) {
      const value = input[field];
      if (!Number.isInteger(value) || value < 0) {
        throw new ValidationError(field, `${field} must be a non-negative integer`);
      }
    }
    if (input.passed + input.failed !== input.total) {
      throw new ValidationError("total", "total must equal passed + failed");
    }
    const results = encodeJsonObject(input.results, "results");
    return withTransaction(this.#db, async (trx) => {
      const version = await trx
        .selectFrom("app_versions")
        .select("version")
        .where("id", "=", input.appVersionId)
        .where("app_id", "=", input.appId)
        .executeTakeFirst();
      if (!version) throw new NotFoundError("app version", input.appVersionId);
      const latest = await trx
        .selectFrom("golden_runs")
        .select("created_at")
        .where("app_version_id", "=", input.appVersionId)
        .orderBy("created_at", "desc")
        .limit(1)
        .executeTakeFirst();
      let now = nowIso();
      if (latest && now <= latest.created_at) now = addMilliseconds(latest.created_at, 1);
      const row: Selectable<GoldenRunsTable> = {
        id: newId("gr"),
        app_id: input.appId,
        app_version_id: input.appVersionId,
        passed: input.passed,
        failed: input.failed,
        total: input.total,
        ok: input.failed === 0 && input.total > 0 ? 1 : 0,
        results,
        created_at: now,
      };
      await trx.insertInto("golden_runs").values(row).execute();
      return toRun({ ...row, app_version: version.version });
    });
  }

  /** The newest run of the suite against this version, or undefined if it never ran. */
  async latestRun(appId: string, appVersionId: string): Promise<GoldenRun | undefined> {
    const row = await this.#db
      .selectFrom("golden_runs")
      .innerJoin("app_versions", "app_versions.id", "golden_runs.app_version_id")
      .selectAll("golden_runs")
      .select("app_versions.version as app_version")
      .where("golden_runs.app_id", "=", appId)
      .where("golden_runs.app_version_id", "=", appVersionId)
      .orderBy("golden_runs.created_at", "desc")
      .orderBy("golden_runs.id", "desc")
      .limit(1)
      .executeTakeFirst();
    return row ? toRun(row) : undefined;
  }
}

interface CheckedCase {
  readonly name: string | undefined;
  readonly input: string;
  readonly expected: string;
  readonly match: string;
  readonly source: GoldenSource;
  readonly requestId: string | null;
}

function checkCase(c: NewGoldenCase, path: string): CheckedCase {
  if (c.name !== undefined) validateCaseName(c.name, `${path}/name`);
  if (!(GOLDEN_SOURCES as readonly string[]).includes(c.source)) {
    throw new ValidationError(
      `${path}/source`,
      `Unknown golden case source ${JSON.stringify(c.source)}: use ${GOLDEN_SOURCES.join(", ")}`,
    );
  }
  const requestId = c.requestId ?? null;
  if (requestId !== null && (requestId.length === 0 || requestId.length > MAX_REQUEST_ID)) {
    throw new ValidationError(
      `${path}/requestId`,
      `requestId must be 1 to ${MAX_REQUEST_ID} characters`,
    );
  }
  return {
    name: c.name,
    input: encodeJsonObject(c.input, `${path}/input`),
    expected: encodeJsonObject(c.expected, `${path}/expected`),
    match: encodeJsonObject(c.match, `${path}/match`),
    source: c.source,
    requestId,
  };
}

function validateCaseName(name: string, field: string): void {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  const control = /[\u0000-\u001f\u007f]/;
  if (
    typeof name !== "string" ||
    name.length < 1 ||
    name.length > MAX_NAME ||
    name.trim() !== name ||
    control.test(name)
  ) {
    throw new ValidationError(
      field,
      `Invalid golden case name ${JSON.stringify(name)}: use 1-${MAX_NAME} characters without control characters or surrounding spaces`,
    );
  }
}

function toCase(row: Selectable<GoldenCasesTable>): GoldenCase {
  return {
    id: row.id,
    appId: row.app_id,
    name: row.name,
    input: decodeJsonObject(row.input, "golden_cases.input"),
    expected: decodeJsonObject(row.expected, "golden_cases.expected"),
    match: decodeJsonObject(row.match, "golden_cases.match"),
    source: row.source,
    requestId: row.request_id,
    createdAt: row.created_at,
  };
}

function toRun(row: Selectable<GoldenRunsTable> & { app_version: number }): GoldenRun {
  return {
    id: row.id,
    appId: row.app_id,
    appVersionId: row.app_version_id,
    appVersion: row.app_version,
    passed: row.passed,
    failed: row.failed,
    total: row.total,
    ok: Number(row.ok) === 1,
    results: decodeJsonObject(row.results, "golden_runs.results"),
    createdAt: row.created_at,
  };
}
