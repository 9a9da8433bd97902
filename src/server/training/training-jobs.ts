/**
 * Runs training jobs: one worker thread per job (a bounded number at once, the rest queued),
 * progress persisted to the registry and streamed to subscribers (SSE), and on success the
 * artifact stored by content hash and registered as a new model version. A failed job
 * registers nothing.
 */
import { EventEmitter } from "node:events";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import type { JobDto, TrainProgressDto, TrainRequest } from "../api-types.ts";
import type { TrainingWorkerInput, TrainingWorkerMessage } from "./training-worker.ts";

/** What the runner needs from the rest of the server, wired in createBallast. */
export interface TrainingPorts {
  updateJob(
    id: string,
    patch: {
      status?: JobDto["status"];
      progress?: TrainProgressDto;
      result?: JobDto["result"];
      error?: JobDto["error"];
    },
  ): Promise<JobDto>;
  /** Store the artifact and register the model version; returns its identity. */
  registerModel(
    job: { id: string; workspaceId: string; request: TrainRequest; datasetId: string },
    bytes: Uint8Array,
  ): Promise<NonNullable<JobDto["result"]>>;
}

export interface StartTraining {
  readonly jobId: string;
  readonly workspaceId: string;
  readonly request: TrainRequest;
  readonly datasetId: string;
  readonly worker: TrainingWorkerInput;
}

/**
 * The worker's module: the compiled .js when built; under tsx/vitest the .ts source, loaded
 * through a tiny ESM bootstrap that registers tsx inside the worker first (Node 20 does not
 * pass `--import` hooks on to workers).
 */
function workerUrl(): URL {
  const self = import.meta.url;
  if (!self.endsWith(".ts")) return new URL("./training-worker.js", self);
  const source = new URL("./training-worker.ts", self).href;
  // The ESM entry of tsx's API, found next to the CommonJS one that require.resolve gives.
  const tsx = pathToFileURL(
    createRequire(self)
      .resolve("tsx/esm/api")
      .replace(/\.cjs$/, ".mjs"),
  ).href;
  const bootstrap = `import { register } from ${JSON.stringify(tsx)}; register(); await import(${JSON.stringify(source)});`;
  return new URL(`data:text/javascript,${encodeURIComponent(bootstrap)}`);
}

export class TrainingJobs {
  private readonly events = new EventEmitter();
  private readonly running = new Map<string, Worker>();
  private readonly queue: StartTraining[] = [];
  private closed = false;

  constructor(
    private readonly ports: TrainingPorts,
    /** Jobs training at once; more wait their turn (training uses every core it gets). */
    private readonly concurrency = 1,
  ) {
    this.events.setMaxListeners(1000);
  }

  /** Queue a job; resolves immediately. */
  start(job: StartTraining): void {
    this.queue.push(job);
    this.pump();
  }

  /** Listen to one job's events until it ends; returns an unsubscribe function. */
  subscribe(
    jobId: string,
    listener: (event: "progress" | "done", job: JobDto) => void,
  ): () => void {
    const handler = (event: "progress" | "done", job: JobDto) => listener(event, job);
    this.events.on(jobId, handler);
    return () => this.events.off(jobId, handler);
  }

  /** Resolves when the job finishes (for the demo loader and tests). */
  waitFor(jobId: string): Promise<JobDto> {
    return new Promise((resolve) => {
      const off = this.subscribe(jobId, (event, job) => {
        if (event === "done") {
          off();
          resolve(job);
        }
      });
    });
  }

  isActive(jobId: string): boolean {
    return this.running.has(jobId) || this.queue.some((j) => j.jobId === jobId);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.queue.length = 0;
    await Promise.all([...this.running.values()].map((w) => w.terminate()));
    this.running.clear();
  }

  private pump(): void {
    while (!this.closed && this.running.size < this.concurrency && this.queue.length > 0) {
      const job = this.queue.shift() as StartTraining;
      void this.run(job);
    }
  }

  private async run(job: StartTraining): Promise<void> {
    const worker = new Worker(workerUrl(), { workerData: job.worker });
    this.running.set(job.jobId, worker);
    const emit = (event: "progress" | "done", dto: JobDto) =>
      this.events.emit(job.jobId, event, dto);
    let settled = false;
    let registering = false;
    const finish = async (patch: Parameters<TrainingPorts["updateJob"]>[1]) => {
      if (settled) return;
      settled = true;
      this.running.delete(job.jobId);
      void worker.terminate();
      try {
        emit("done", await this.ports.updateJob(job.jobId, patch));
      } finally {
        this.pump();
      }
    };
    try {
      emit("progress", await this.ports.updateJob(job.jobId, { status: "running" }));
    } catch {
      // The job row is gone (e.g. the server is closing); nothing to report to.
    }
    // Persist progress at most every 500 ms; stream every event.
    let lastSaved = 0;
    let lastProgress: TrainProgressDto | undefined;
    worker.on("message", (message: TrainingWorkerMessage) => {
      if (message.type === "progress") {
        const p = message.progress;
        const fraction = Math.min(
          0.99,
          Math.max(
            p.elapsedMs / p.timeBudgetMs,
            p.candidatesTried / Math.max(1, p.candidatesPlanned),
          ),
        );
        const progress: TrainProgressDto = { ...p, fraction };
        lastProgress = progress;
        const now = Date.now();
        if (now - lastSaved > 500) {
          lastSaved = now;
          void this.ports.updateJob(job.jobId, { progress }).then(
            (dto) => emit("progress", dto),
            () => {},
          );
        } else {
          emit("progress", { ...pseudoJob(job), progress });
        }
      } else if (message.type === "done") {
        registering = true;
        this.ports
          .registerModel(
            {
              id: job.jobId,
              workspaceId: job.workspaceId,
              request: job.request,
              datasetId: job.datasetId,
            },
            message.bytes,
          )
          .then(
            (result) =>
              finish({
                status: "succeeded",
                result,
                ...(lastProgress ? { progress: { ...lastProgress, fraction: 1 } } : {}),
              }),
            (error: unknown) =>
              finish({
                status: "failed",
                error: { code: "register_failed", message: (error as Error).message },
              }),
          );
      } else {
        void finish({ status: "failed", error: { code: message.code, message: message.message } });
      }
    });
    worker.on("error", (error) => {
      void finish({ status: "failed", error: { code: "worker_crashed", message: error.message } });
    });
    worker.on("exit", (code) => {
      // A worker that ends without a result (out of memory, killed) fails its job.
      if (!settled && !registering && !this.closed) {
        void finish({
          status: "failed",
          error: { code: "worker_exited", message: `Training stopped unexpectedly (exit ${code})` },
        });
      }
    });
  }
}

/** A progress event between persisted updates carries only what changed. */
function pseudoJob(job: StartTraining): JobDto {
  const now = new Date().toISOString();
  return {
    id: job.jobId,
    kind: "train",
    status: "running",
    input: job.request,
    createdAt: now,
    updatedAt: now,
  };
}
