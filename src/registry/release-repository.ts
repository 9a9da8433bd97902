/**
 * Releases: one rollout of a candidate app version to production by a strategy (direct,
 * canary, shadow, A/B). The rollout controller moves a release from step to step and every
 * replica's router reads its traffic share, so the state is a registry row that all replicas
 * share, never memory of one process.
 *
 * Replicas change a release by compare-and-set on `revision`: `advance` applies a patch only
 * if nobody moved the release since the caller read it, so two controllers judging the same
 * step cannot both promote (or one promote while the other rolls back). A partial unique index
 * allows one active (running or paused) release per app. The release's history is an ordered
 * list of events on the row, stamped here with strictly increasing times.
 */
import type { Kysely, Selectable } from "kysely";
import {
  addMilliseconds,
  decodeJsonObject,
  encodeJsonObject,
  type JsonObject,
  type JsonObjectInput,
  nowIso,
  pageSize,
} from "./codec.ts";
import { ConflictError, NotFoundError, translateError, ValidationError } from "./errors.ts";
import { newId } from "./ids.ts";
import type { Database, ReleaseState, ReleaseStrategy, ReleasesTable } from "./schema.ts";
import { withTransaction } from "./transaction.ts";

export type { ReleaseState, ReleaseStrategy } from "./schema.ts";

export const RELEASE_STRATEGIES: readonly ReleaseStrategy[] = ["direct", "canary", "shadow", "ab"];
export const RELEASE_STATES: readonly ReleaseState[] = [
  "running",
  "paused",
  "succeeded",
  "rolled_back",
  "aborted",
];
/** The states that hold an app's one active release; the others are final. */
export const ACTIVE_RELEASE_STATES: readonly ReleaseState[] = ["running", "paused"];

/** True once a release has ended (succeeded, rolled back or aborted): it never changes again. */
export function isTerminalReleaseState(state: ReleaseState): boolean {
  return !ACTIVE_RELEASE_STATES.includes(state);
}

/** One entry of a release's history, as the Studio and `ballast releases` show it. */
export interface ReleaseEvent {
  /** ISO time stamped by the repository; strictly increasing within one release. */
  readonly at: string;
  /**
   * A machine code the UI can branch on: "started", "step", "gate_passed", "gate_failed",
   * "paused", "approved", "promoted", "rolled_back", "aborted", ... (1-64 of `a-z 0-9 _ . : -`,
   * starting with a letter).
   */
  readonly type: string;
  readonly message: string;
  /** The candidate's traffic share after the event, when it changed or matters. */
  readonly percent?: number;
  readonly details?: JsonObject;
}

export interface Release {
  readonly id: string;
  readonly appId: string;
  readonly appName: string;
  readonly workspaceId: string;
  readonly strategy: ReleaseStrategy;
  readonly state: ReleaseState;
  readonly candidateVersionId: string;
  /** The candidate's version number, for display ("v4 at 25%"). */
  readonly candidateVersion: number;
  /** What production served when the release started; null for a first release. */
  readonly stableVersionId: string | null;
  readonly stableVersion: number | null;
  /** The strategy's settings for this release (steps, gates, split), owned by src/monitor. */
  readonly plan: JsonObject;
  readonly stepIndex: number;
  /** 0-100: the candidate's share of production traffic (shadow: the share mirrored to it). */
  readonly percent: number;
  /** When the current step began: its analysis interval counts from here. */
  readonly stepStartedAt: string;
  /** Bumped by every change: pass it back to `advance`. */
  readonly revision: number;
  readonly events: readonly ReleaseEvent[];
  /** Why it was paused, rolled back or aborted. */
  readonly reason: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** When it reached a terminal state; null while active. */
  readonly endedAt: string | null;
}

export interface NewRelease {
  readonly appId: string;
  readonly strategy: ReleaseStrategy;
  readonly candidateVersionId: string;
  readonly stableVersionId: string | null;
  readonly plan: JsonObjectInput;
  readonly percent: number;
  /**
   * Default "running". A terminal state records a release that is over as it starts (a
   * direct promotion kept in the history): it gets `endedAt` and never blocks another.
   */
  readonly state?: ReleaseState;
  /** The first event, normally "started". */
  readonly event: Omit<ReleaseEvent, "at">;
}

/** What `advance` changes; absent fields stay as they are. */
export interface ReleasePatch {
  readonly state?: ReleaseState;
  readonly stepIndex?: number;
  readonly percent?: number;
  /** True: a new step begins now (`stepStartedAt` = the event's time). */
  readonly stepStarted?: boolean;
  /** null clears it. */
  readonly reason?: string | null;
  /** Appended to the history. */
  readonly event: Omit<ReleaseEvent, "at">;
}

const EVENT_TYPE = /^[a-z][a-z0-9_.:-]{0,63}$/;
const MAX_MESSAGE = 4000;

type ReleaseRow = Selectable<ReleasesTable> & {
  app_name: string;
  workspace_id: string;
  candidate_version: number;
  stable_version: number | null;
};

export class ReleaseRepository {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /**
   * Starts a release of `candidateVersionId`. The app row is locked first (a no-op UPDATE), so
   * concurrent starts of one app take turns on PostgreSQL; the partial unique index settles
   * any race that remains. Throws ConflictError when the app already has an active release,
   * NotFoundError when the app is missing or a version is not one of the app's.
   */
  async start(input: NewRelease): Promise<Release> {
    validateStrategy(input.strategy);
    const state = input.state ?? "running";
    validateState(state);
    validatePercent(input.percent, "percent");
    const plan = encodeJsonObject(input.plan, "plan");
    const event = toEventBody(input.event, "event");
    if (input.stableVersionId === input.candidateVersionId) {
      throw new ValidationError(
        "candidateVersionId",
        "The candidate version is already the stable version",
      );
    }
    let appName = input.appId;
    try {
      return await withTransaction(this.#db, async (trx) => {
        const app = await trx
          .updateTable("apps")
          .set((eb) => ({ id: eb.ref("id") }))
          .where("id", "=", input.appId)
          .returning(["id", "name"])
          .executeTakeFirst();
        if (!app) throw new NotFoundError("app", input.appId);
        appName = app.name;
        await requireVersion(trx, input.appId, input.candidateVersionId);
        if (input.stableVersionId !== null) {
          await requireVersion(trx, input.appId, input.stableVersionId);
        }
        if (!isTerminalReleaseState(state)) {
          const active = await trx
            .selectFrom("releases")
            .select("id")
            .where("app_id", "=", input.appId)
            .where("state", "in", ACTIVE_RELEASE_STATES)
            .executeTakeFirst();
          if (active) throw activeConflict(app.name, active.id);
        }
        // Strictly after the app's previous release, so history order is start order.
        const latest = await trx
          .selectFrom("releases")
          .select("created_at")
          .where("app_id", "=", input.appId)
          .orderBy("created_at", "desc")
          .limit(1)
          .executeTakeFirst();
        const now = after(latest?.created_at);
        const id = newId("rel");
        await trx
          .insertInto("releases")
          .values({
            id,
            app_id: input.appId,
            strategy: input.strategy,
            state,
            candidate_version_id: input.candidateVersionId,
            stable_version_id: input.stableVersionId,
            plan,
            step_index: 0,
            percent: input.percent,
            step_started_at: now,
            revision: 1,
            events: JSON.stringify([{ at: now, ...event }]),
            reason: null,
            created_at: now,
            updated_at: now,
            ended_at: isTerminalReleaseState(state) ? now : null,
          })
          .execute();
        return this.#getById(trx, id);
      });
    } catch (error) {
      // A concurrent start won the race past the check above.
      throw translateError(error, { unique: () => activeConflict(appName) });
    }
  }

  async get(id: string): Promise<Release> {
    return this.#getById(this.#db, id);
  }

  /** The app's running or paused release, if any. */
  async active(appId: string): Promise<Release | undefined> {
    const row = await this.#select(this.#db)
      .where("releases.app_id", "=", appId)
      .where("releases.state", "in", ACTIVE_RELEASE_STATES)
      .executeTakeFirst();
    return row ? toRelease(row) : undefined;
  }

  /** The app's releases, newest first. */
  async list(appId: string, options: { readonly limit?: number } = {}): Promise<Release[]> {
    const rows = await this.#select(this.#db)
      .where("releases.app_id", "=", appId)
      .orderBy("releases.created_at", "desc")
      .orderBy("releases.id", "desc")
      .limit(pageSize(options.limit))
      .execute();
    return rows.map(toRelease);
  }

  /**
   * Every running or paused release, oldest first, optionally of one workspace: what the
   * rollout controller drives and what each replica's router splits traffic by.
   */
  async listActive(options: { readonly workspaceId?: string } = {}): Promise<Release[]> {
    let query = this.#select(this.#db)
      .where("releases.state", "in", ACTIVE_RELEASE_STATES)
      .orderBy("releases.created_at")
      .orderBy("releases.id");
    if (options.workspaceId !== undefined) {
      query = query.where("apps.workspace_id", "=", options.workspaceId);
    }
    return (await query.execute()).map(toRelease);
  }

  /**
   * Compare-and-set: applies the patch only if the release is still at `revision`, and
   * returns it updated (revision + 1), or undefined when another replica moved it first (the
   * caller re-reads and judges again). The event is appended with a time strictly after the
   * previous one, which also becomes `updatedAt` (and `endedAt` when the new state is
   * terminal). A release that has ended refuses every patch (ValidationError "state").
   */
  async advance(id: string, revision: number, patch: ReleasePatch): Promise<Release | undefined> {
    if (!Number.isInteger(revision)) {
      throw new ValidationError("revision", "revision must be an integer");
    }
    if (patch.state !== undefined) validateState(patch.state);
    const stepIndex = patch.stepIndex;
    if (stepIndex !== undefined && (!Number.isInteger(stepIndex) || stepIndex < 0)) {
      throw new ValidationError("stepIndex", "stepIndex must be a non-negative integer");
    }
    if (patch.percent !== undefined) validatePercent(patch.percent, "percent");
    const event = toEventBody(patch.event, "event");
    return withTransaction(this.#db, async (trx) => {
      const row = await trx
        .selectFrom("releases")
        .select(["state", "revision", "events", "updated_at"])
        .where("id", "=", id)
        .executeTakeFirst();
      if (!row) throw new NotFoundError("release", id);
      if (row.revision !== revision) return undefined;
      if (isTerminalReleaseState(row.state)) {
        throw new ValidationError(
          "state",
          `Release ${id} has ended (${row.state}) and cannot change`,
        );
      }
      const events = decodeEvents(row.events);
      const last = events[events.length - 1]?.at;
      const now = after(last !== undefined && last > row.updated_at ? last : row.updated_at);
      const state = patch.state ?? row.state;
      const result = await trx
        .updateTable("releases")
        .set({
          state,
          ...(stepIndex !== undefined && { step_index: stepIndex }),
          ...(patch.percent !== undefined && { percent: patch.percent }),
          ...(patch.stepStarted === true && { step_started_at: now }),
          ...(patch.reason !== undefined && { reason: clip(patch.reason) }),
          revision: revision + 1,
          events: JSON.stringify([...events, { at: now, ...event }]),
          updated_at: now,
          ...(isTerminalReleaseState(state) && { ended_at: now }),
        })
        .where("id", "=", id)
        // The compare-and-set itself: a writer that committed since our read wins.
        .where("revision", "=", revision)
        .executeTakeFirst();
      if (result.numUpdatedRows === 0n) return undefined;
      return this.#getById(trx, id);
    });
  }

  async #getById(db: Kysely<Database>, id: string): Promise<Release> {
    const row = await this.#select(db).where("releases.id", "=", id).executeTakeFirst();
    if (!row) throw new NotFoundError("release", id);
    return toRelease(row);
  }

  #select(db: Kysely<Database>) {
    return db
      .selectFrom("releases")
      .innerJoin("apps", "apps.id", "releases.app_id")
      .innerJoin("app_versions as candidate", "candidate.id", "releases.candidate_version_id")
      .leftJoin("app_versions as stable", "stable.id", "releases.stable_version_id")
      .selectAll("releases")
      .select([
        "apps.name as app_name",
        "apps.workspace_id as workspace_id",
        "candidate.version as candidate_version",
        "stable.version as stable_version",
      ]);
  }
}

/** The ISO time now, or 1 ms after `previous` when the clock has not moved past it. */
function after(previous: string | undefined): string {
  const now = nowIso();
  return previous !== undefined && now <= previous ? addMilliseconds(previous, 1) : now;
}

async function requireVersion(trx: Kysely<Database>, appId: string, versionId: string) {
  const version = await trx
    .selectFrom("app_versions")
    .select("id")
    .where("id", "=", versionId)
    .where("app_id", "=", appId)
    .executeTakeFirst();
  if (!version) throw new NotFoundError("app version", versionId);
}

function activeConflict(appName: string, releaseId?: string): ConflictError {
  return new ConflictError(
    "release",
    appName,
    `App ${JSON.stringify(appName)} already has an active release${releaseId ? ` ${releaseId}` : ""}: finish, roll back or abort it first`,
  );
}

function validateStrategy(strategy: string): asserts strategy is ReleaseStrategy {
  if (!(RELEASE_STRATEGIES as readonly string[]).includes(strategy)) {
    throw new ValidationError(
      "strategy",
      `Unknown release strategy ${JSON.stringify(strategy)}: use ${RELEASE_STRATEGIES.join(", ")}`,
    );
  }
}

function validateState(state: string): asserts state is ReleaseState {
  if (!(RELEASE_STATES as readonly string[]).includes(state)) {
    throw new ValidationError(
      "state",
      `Unknown release state ${JSON.stringify(state)}: use ${RELEASE_STATES.join(", ")}`,
    );
  }
}

function validatePercent(percent: number, field: string): void {
  if (!Number.isFinite(percent) || percent < 0 || percent > 100) {
    throw new ValidationError(field, `${field} must be a number from 0 to 100`);
  }
}

function clip(text: string | null): string | null {
  return text === null ? null : text.slice(0, MAX_MESSAGE);
}

/** Checks an event and returns it as stored (details normalized through JSON), minus `at`. */
function toEventBody(event: Omit<ReleaseEvent, "at">, field: string): Omit<ReleaseEvent, "at"> {
  if (typeof event.type !== "string" || !EVENT_TYPE.test(event.type)) {
    throw new ValidationError(
      `${field}.type`,
      `Invalid release event type ${JSON.stringify(event.type)}: use 1-64 lowercase letters, digits, "_", ".", ":" or "-", starting with a letter`,
    );
  }
  if (typeof event.message !== "string") {
    throw new ValidationError(`${field}.message`, "An event needs a message");
  }
  if (event.percent !== undefined) validatePercent(event.percent, `${field}.percent`);
  const details =
    event.details === undefined
      ? undefined
      : (JSON.parse(encodeJsonObject(event.details, `${field}.details`)) as JsonObject);
  return {
    type: event.type,
    message: event.message.slice(0, MAX_MESSAGE),
    ...(event.percent !== undefined && { percent: event.percent }),
    ...(details !== undefined && { details }),
  };
}

/** Parses the events column, keeping the well-formed entries. */
function decodeEvents(text: string): ReleaseEvent[] {
  let items: unknown;
  try {
    items = JSON.parse(text);
  } catch (error) {
    throw new Error("Registry column releases.events holds malformed JSON", { cause: error });
  }
  if (!Array.isArray(items)) {
    throw new Error("Registry column releases.events holds JSON that is not an array");
  }
  const out: ReleaseEvent[] = [];
  for (const item of items as readonly unknown[]) {
    if (typeof item !== "object" || item === null) continue;
    const e = item as Record<string, unknown>;
    if (typeof e.at !== "string" || typeof e.type !== "string" || typeof e.message !== "string") {
      continue;
    }
    const details = e.details;
    out.push({
      at: e.at,
      type: e.type,
      message: e.message,
      ...(typeof e.percent === "number" && { percent: e.percent }),
      ...(typeof details === "object" &&
        details !== null &&
        !Array.isArray(details) && { details: details as JsonObject }),
    });
  }
  return out;
}

function toRelease(row: ReleaseRow): Release {
  return {
    id: row.id,
    appId: row.app_id,
    appName: row.app_name,
    workspaceId: row.workspace_id,
    strategy: row.strategy,
    state: row.state,
    candidateVersionId: row.candidate_version_id,
    candidateVersion: row.candidate_version,
    stableVersionId: row.stable_version_id,
    stableVersion: row.stable_version,
    plan: decodeJsonObject(row.plan, "releases.plan"),
    stepIndex: row.step_index,
    percent: Number(row.percent),
    stepStartedAt: row.step_started_at,
    revision: row.revision,
    events: decodeEvents(row.events),
    reason: row.reason,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    endedAt: row.ended_at,
  };
}
