/**
 * Jobs: long-running work (training, imports) tracked in the registry so that any replica,
 * the CLI and the Studio see the same state, and a restart does not lose what was queued.
 * Status moves one way: queued → running → succeeded | failed | cancelled (running may go
 * back to queued for a retry); finished jobs never change again, which also tells a worker
 * whose job was cancelled to stop (its next update fails with ConflictError).
 */
import type { Kysely, Selectable } from "kysely";
import {
  decodeJsonObject,
  encodeJsonObject,
  type JsonObject,
  type JsonObjectInput,
  type JsonValue,
  nowIso,
  pageOffset,
  pageSize,
} from "./codec.ts";
import { ConflictError, NotFoundError, translateError, ValidationError } from "./errors.ts";
import { newId } from "./ids.ts";
import { validateLabel } from "./names.ts";
import type { Database, JobStatus, JobsTable } from "./schema.ts";

export type { JobStatus } from "./schema.ts";

export const JOB_STATUSES: readonly JobStatus[] = [
  "queued",
  "running",
  "succeeded",
  "failed",
  "cancelled",
];

/** The statuses a job can move to from each status (staying put allows progress updates). */
const TRANSITIONS: Readonly<Record<JobStatus, readonly JobStatus[]>> = {
  queued: ["queued", "running", "failed", "cancelled"],
  running: ["running", "queued", "succeeded", "failed", "cancelled"],
  succeeded: [],
  failed: [],
  cancelled: [],
};

/** True once a job has finished, one way or another. */
export function isTerminalJobStatus(status: JobStatus): boolean {
  return TRANSITIONS[status].length === 0;
}

/** Why a job failed, in a form the Studio can show and a client can branch on. */
export interface JobError {
  readonly message: string;
  readonly code?: string;
  readonly details?: JsonValue;
}

export interface Job {
  readonly id: string;
  readonly workspaceId: string;
  /** What the job does, e.g. "train"; workers claim the kinds they handle. */
  readonly kind: string;
  readonly status: JobStatus;
  readonly input: JsonObject;
  /** The latest progress report, e.g. `{ fraction: 0.4, message: "fold 2 of 5" }`. */
  readonly progress: JsonObject | null;
  /** Set on success, e.g. `{ modelVersionId: "mv_…" }`. */
  readonly result: JsonObject | null;
  readonly error: JobError | null;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface NewJob {
  readonly kind: string;
  readonly input: JsonObjectInput;
}

/** Fields to change; absent fields stay as they are, null clears. */
export interface JobUpdate {
  readonly status?: JobStatus;
  readonly progress?: JsonObjectInput | null;
  readonly result?: JsonObjectInput | null;
  readonly error?: JobError | null;
}

export interface JobListOptions {
  readonly status?: JobStatus;
  readonly kind?: string;
  readonly limit?: number;
  readonly offset?: number;
}

/** How often an update retries when another writer changed the job's status meanwhile. */
const MAX_UPDATE_ATTEMPTS = 5;

export class JobRepository {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** Queues a job. */
  async create(workspaceId: string, job: NewJob): Promise<Job> {
    validateLabel("kind", job.kind);
    const now = nowIso();
    const row: Selectable<JobsTable> = {
      id: newId("job"),
      workspace_id: workspaceId,
      kind: job.kind,
      status: "queued",
      input: encodeJsonObject(job.input, "input"),
      progress: null,
      result: null,
      error: null,
      created_at: now,
      updated_at: now,
    };
    try {
      await this.#db.insertInto("jobs").values(row).execute();
    } catch (error) {
      throw translateError(error, {
        "foreign-key": () => new NotFoundError("workspace", workspaceId),
      });
    }
    return toJob(row);
  }

  async get(workspaceId: string, jobId: string): Promise<Job> {
    const row = await this.#db
      .selectFrom("jobs")
      .selectAll()
      .where("workspace_id", "=", workspaceId)
      .where("id", "=", jobId)
      .executeTakeFirst();
    if (!row) throw new NotFoundError("job", jobId);
    return toJob(row);
  }

  /** Jobs of a workspace, newest first. */
  async list(workspaceId: string, options: JobListOptions = {}): Promise<Job[]> {
    let query = this.#db
      .selectFrom("jobs")
      .selectAll()
      .where("workspace_id", "=", workspaceId)
      .orderBy("created_at", "desc")
      .orderBy("id", "desc")
      .limit(pageSize(options.limit))
      .offset(pageOffset(options.offset));
    if (options.status !== undefined) query = query.where("status", "=", options.status);
    if (options.kind !== undefined) query = query.where("kind", "=", options.kind);
    const rows = await query.execute();
    return rows.map(toJob);
  }

  /**
   * Changes a job. A status change must follow the lifecycle (see TRANSITIONS) and a
   * finished job cannot change at all: both raise ConflictError. The write is guarded by
   * the status it was checked against, so a racing cancel and completion cannot both win.
   * Called by workers, which know the job id but not necessarily its workspace.
   */
  async update(jobId: string, patch: JobUpdate): Promise<Job> {
    if (patch.status !== undefined && !JOB_STATUSES.includes(patch.status)) {
      throw new ValidationError("status", `Unknown job status ${JSON.stringify(patch.status)}`);
    }
    const encoded = {
      ...(patch.progress !== undefined && {
        progress: patch.progress === null ? null : encodeJsonObject(patch.progress, "progress"),
      }),
      ...(patch.result !== undefined && {
        result: patch.result === null ? null : encodeJsonObject(patch.result, "result"),
      }),
      ...(patch.error !== undefined && {
        error: patch.error === null ? null : encodeJobError(patch.error),
      }),
    };
    for (let attempt = 0; attempt < MAX_UPDATE_ATTEMPTS; attempt++) {
      const current = await this.#db
        .selectFrom("jobs")
        .selectAll()
        .where("id", "=", jobId)
        .executeTakeFirst();
      if (!current) throw new NotFoundError("job", jobId);
      const status = patch.status ?? current.status;
      if (!TRANSITIONS[current.status].includes(status)) {
        throw new ConflictError(
          "job",
          jobId,
          isTerminalJobStatus(current.status)
            ? `Job ${jobId} has already ${current.status === "cancelled" ? "been cancelled" : current.status}`
            : `Job ${jobId} cannot go from ${current.status} to ${status}`,
        );
      }
      const changes = { ...encoded, status, updated_at: nowIso() };
      const result = await this.#db
        .updateTable("jobs")
        .set(changes)
        .where("id", "=", jobId)
        .where("status", "=", current.status)
        .executeTakeFirst();
      if (result.numUpdatedRows > 0n) return toJob({ ...current, ...changes });
    }
    throw new ConflictError("job", jobId, `Job ${jobId} is being changed concurrently`);
  }

  /** Cancels a queued or running job; ConflictError once it has finished. */
  async cancel(workspaceId: string, jobId: string): Promise<Job> {
    await this.get(workspaceId, jobId); // scope the id to the workspace first
    return this.update(jobId, { status: "cancelled" });
  }

  /**
   * Moves the oldest queued job (of the given kinds, if any) to running and returns it, or
   * undefined when none is waiting. Each candidate is claimed by a status-guarded UPDATE, so
   * two workers never both claim one job, on either dialect.
   */
  async claimNext(options: { readonly kinds?: readonly string[] } = {}): Promise<Job | undefined> {
    const kinds = options.kinds;
    if (kinds !== undefined && kinds.length === 0) return undefined;
    for (;;) {
      let candidates = this.#db
        .selectFrom("jobs")
        .select("id")
        .where("status", "=", "queued")
        .orderBy("created_at")
        .orderBy("id")
        .limit(5);
      if (kinds !== undefined) candidates = candidates.where("kind", "in", kinds);
      const ids = await candidates.execute();
      if (ids.length === 0) return undefined;
      for (const { id } of ids) {
        const row = await this.#db
          .updateTable("jobs")
          .set({ status: "running", updated_at: nowIso() })
          .where("id", "=", id)
          .where("status", "=", "queued")
          .returningAll()
          .executeTakeFirst();
        if (row) return toJob(row);
      }
      // Every candidate was taken by another worker meanwhile: look again.
    }
  }
}

function encodeJobError(error: JobError): string {
  if (typeof error.message !== "string") {
    throw new ValidationError("error", "error.message must be a string");
  }
  return encodeJsonObject(error, "error");
}

function decodeJobError(text: string): JobError {
  const value = decodeJsonObject(text, "jobs.error");
  const { message, code, details } = value;
  if (typeof message !== "string" || (code !== undefined && typeof code !== "string")) {
    throw new Error("Registry column jobs.error holds JSON without a string message");
  }
  return {
    message,
    ...(code !== undefined && { code }),
    ...(details !== undefined && { details }),
  };
}

function toJob(row: Selectable<JobsTable>): Job {
  return {
    id: row.id,
    workspaceId: row.workspace_id,
    kind: row.kind,
    status: row.status,
    input: decodeJsonObject(row.input, "jobs.input"),
    progress: row.progress === null ? null : decodeJsonObject(row.progress, "jobs.progress"),
    result: row.result === null ? null : decodeJsonObject(row.result, "jobs.result"),
    error: row.error === null ? null : decodeJobError(row.error),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
