/**
 * Parallel training: a pool of worker threads over the fit's shared arena (gbdt-worker.ts).
 * Binary and regression fits build each large node's histogram on all threads, by feature
 * groups (ParallelHistogramBuilder); split finding and partitioning stay on the main thread.
 * Multiclass fits grow a round's trees, one per class, on all threads at once (growTrees):
 * a coarser grain that keeps every thread busy even on small data. The main thread claims
 * tasks like any worker, so a job completes even when no worker has started yet (or one failed
 * to load), and the model does not depend on which thread ran what (protocol.ts).
 */
import type { MessagePort } from "node:worker_threads";
import { MessageChannel, receiveMessageOnPort, Worker } from "node:worker_threads";
import { workerUrl } from "../../worker-url.ts";
import type { BinnedMatrix } from "../binning.ts";
import type { NodeDraft } from "../forest.ts";
import type { HistogramBuilder, HistogramLayout } from "../histogram.ts";
import { HIST_STRIDE, HistogramKernel, HistogramPool } from "../histogram.ts";
import type {
  EncodedTree,
  HistogramJob,
  TreeJobLayout,
  WorkerContext,
  WorkerData,
} from "./protocol.ts";
import {
  C,
  controlLength,
  decodeTree,
  JOB_HISTOGRAM,
  JOB_TREES,
  runHistogramTask,
} from "./protocol.ts";

/** Features per histogram task: small enough to balance the threads, large enough to be fast. */
const FEATURES_PER_TASK = 4;
/**
 * Below this many bin updates (rows x features) a node's histogram is built on the main thread
 * alone: waking the workers would cost more than it saves.
 */
const MIN_PARALLEL_UPDATES = 131_072;
/**
 * A job that makes no progress for this long means a worker died mid-task (a crash the main
 * thread cannot hear of while it waits); the fit then fails instead of hanging. Far above any
 * real task: a task is at most one tree.
 */
const STALL_MS = 600_000;

let nextContextVersion = 1;

/**
 * A pool of GBDT worker threads. Start it once (a fit does, or a caller that runs many fits in
 * a row), attach it to each fit, and close it when done: close() ends the threads, and until
 * then they are unref'd, so they never keep the process alive.
 */
export class GbdtWorkers {
  private static live = 0;
  private readonly control: Int32Array;
  private readonly workers: Worker[] = [];
  private readonly results: MessagePort[] = [];
  private readonly started: Promise<void>;
  private readonly errors: Error[] = [];
  private job = 0;
  private closed = false;

  /**
   * Start `count` worker threads (the main thread makes one more). Jobs may have up to
   * `maxTasks` tasks: histogram jobs of up to maxTasks * 4 features, tree jobs of up to
   * maxTasks classes.
   */
  constructor(
    readonly count: number,
    readonly maxTasks = 4096,
  ) {
    this.control = new Int32Array(new SharedArrayBuffer(controlLength(maxTasks) * 4));
    const url = workerUrl(import.meta.url, "./gbdt-worker");
    const ready: Promise<void>[] = [];
    for (let i = 0; i < count; i++) {
      const channel = new MessageChannel();
      const data: WorkerData = {
        control: this.control.buffer as SharedArrayBuffer,
        results: channel.port2,
      };
      const worker = new Worker(url, {
        workerData: data,
        transferList: [channel.port2],
        name: `gbdt-${i}`,
      });
      worker.unref();
      GbdtWorkers.live++;
      worker.once("exit", () => {
        GbdtWorkers.live--;
      });
      ready.push(
        new Promise<void>((resolve, reject) => {
          worker.once("message", () => resolve());
          worker.once("error", reject);
          worker.once("exit", () => reject(new Error("gbdt: worker exited")));
        }),
      );
      // A worker that fails costs parallelism only: the main thread runs every task itself.
      worker.on("error", (error: Error) => this.errors.push(error));
      this.workers.push(worker);
      this.results.push(channel.port1);
    }
    this.started = Promise.all(ready).then(() => undefined);
    // Observed through ready(); never an unhandled rejection.
    this.started.catch(() => undefined);
  }

  /** Worker threads of all pools of this thread that have not exited yet. */
  static get running(): number {
    return GbdtWorkers.live;
  }

  /** Threads that work on a job: the workers plus the main thread. */
  get threads(): number {
    return this.count + 1;
  }

  /** Resolves once every worker has loaded (rejects if one failed). Jobs never need this. */
  ready(): Promise<void> {
    return this.started;
  }

  /** Workers that have loaded. */
  get readyCount(): number {
    return Atomics.load(this.control, C.READY);
  }

  /** Tasks run by worker threads so far (tests use it to see that workers took part). */
  get workerTasks(): number {
    return Atomics.load(this.control, C.WORKER_TASKS);
  }

  /** Errors of workers that failed to start or crashed. */
  get failures(): readonly Error[] {
    return this.errors;
  }

  /**
   * Hand a fit to the workers (they pick it up before their next task): the binned matrix and
   * the main thread's partition for histogram jobs, the shared feature list `features` (an
   * Int32Array on a SharedArrayBuffer), and for multiclass fits where tree jobs find their
   * inputs.
   */
  attach(
    binned: BinnedMatrix,
    layout: HistogramLayout,
    features: Int32Array,
    trees: TreeJobLayout | null,
  ): void {
    const context: WorkerContext = {
      version: nextContextVersion++,
      arena: layout.arena.share(),
      rowCount: layout.rowCount,
      binsOffset: layout.bins.byteOffset,
      binnings: binned.features,
      offsets: layout.offsets,
      binCounts: layout.binCounts,
      totalBins: layout.totalBins,
      rowsOffset: layout.rows.byteOffset,
      ghOffset: layout.gh.byteOffset,
      features: features.buffer as SharedArrayBuffer,
      trees,
    };
    for (const worker of this.workers) worker.postMessage(context);
    Atomics.store(this.control, C.CONTEXT, context.version);
  }

  /**
   * Run a histogram job on the workers and this thread (`kernel` and `layout` are this
   * thread's); returns when every task is done. The job's arrays must be arena arrays and its
   * features the list given to attach().
   */
  histogram(kernel: HistogramKernel, job: HistogramJob): void {
    const tasks = Math.ceil(job.featureCount / job.group);
    this.run(
      JOB_HISTOGRAM,
      tasks,
      (control) => {
        control[C.HIST] = job.hist.byteOffset / 8;
        control[C.PARENT] = job.parent ? job.parent.byteOffset / 8 : -1;
        control[C.START] = job.start;
        control[C.COUNT] = job.count;
        control[C.FEATURES] = job.featureCount;
        control[C.GROUP] = job.group;
        control[C.COUNTS] = job.counts ? job.counts.byteOffset / 8 : -1;
      },
      (t) => runHistogramTask(kernel, job, t),
    );
  }

  /**
   * Grow one round's trees, one per class, on the workers and this thread: class c's inputs are
   * where attach()'s tree layout says (its features the first `featureCount` of its row of the
   * tree feature table). `growHere(c)` grows class c on this thread (and adds it to its
   * scores). Returns every class's nodes, in class order.
   */
  growTrees(
    classes: number,
    bagSize: number,
    featureCount: number,
    growHere: (cls: number) => readonly NodeDraft[],
  ): NodeDraft[][] {
    const trees: (NodeDraft[] | undefined)[] = new Array(classes);
    const job = this.run(
      JOB_TREES,
      classes,
      (control) => {
        control[C.BAG_SIZE] = bagSize;
        control[C.FEATURES] = featureCount;
      },
      (c) => {
        trees[c] = growHere(c) as NodeDraft[];
      },
    );
    for (const port of this.results) {
      for (
        let message = receiveMessageOnPort(port);
        message;
        message = receiveMessageOnPort(port)
      ) {
        const tree = message.message as EncodedTree;
        if (tree.job === job) trees[tree.cls] = decodeTree(tree);
      }
    }
    return trees.map((nodes, c) => {
      if (!nodes) throw new Error(`gbdt: the tree of class ${c} never arrived`);
      return nodes;
    });
  }

  /** Publish a job, run tasks here until none is left, and wait for the rest; returns its id. */
  private run(
    kind: number,
    tasks: number,
    set: (control: Int32Array) => void,
    runHere: (task: number) => void,
  ): number {
    if (this.closed) throw new Error("gbdt: the workers are closed");
    if (tasks > this.maxTasks) throw new RangeError("gbdt: too many tasks for the workers");
    const control = this.control;
    // Job ids stay positive (0 marks a claimed task).
    this.job = this.job >= 0x7ffffffe ? 1 : this.job + 1;
    const id = this.job;
    control[C.KIND] = kind;
    control[C.TASKS] = tasks;
    set(control);
    Atomics.store(control, C.DONE, 0);
    for (let t = 0; t < tasks; t++) Atomics.store(control, C.CLAIMS + t, id);
    Atomics.store(control, C.JOB, id);
    Atomics.notify(control, C.JOB);
    for (let t = 0; t < tasks; t++) {
      if (Atomics.compareExchange(control, C.CLAIMS + t, id, 0) !== id) continue;
      runHere(t);
      Atomics.add(control, C.DONE, 1);
    }
    let done = Atomics.load(control, C.DONE);
    let progressAt = Date.now();
    while (done < tasks) {
      if (Atomics.load(control, C.FAILED) === 1) {
        const detail = this.errors.map((e) => e.message).join("; ");
        throw new Error(`gbdt: a worker failed${detail ? `: ${detail}` : ""}`);
      }
      Atomics.wait(control, C.DONE, done, 1000);
      const now = Atomics.load(control, C.DONE);
      if (now !== done) {
        done = now;
        progressAt = Date.now();
      } else if (Date.now() - progressAt > STALL_MS) {
        throw new Error("gbdt: a worker stopped responding");
      }
    }
    return id;
  }

  /** Stop the workers. Safe to call twice; resolves when every thread has exited. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    Atomics.store(this.control, C.STOP, 1);
    Atomics.add(this.control, C.JOB, 1);
    Atomics.notify(this.control, C.JOB);
    for (const port of this.results) port.close();
    return Promise.all(this.workers.map((w) => w.terminate())).then(() => undefined);
  }
}

/**
 * The HistogramBuilder that spreads each large node's histogram over a GbdtWorkers pool by
 * feature groups. Gives the same bits as SerialHistogramBuilder.
 */
export class ParallelHistogramBuilder implements HistogramBuilder {
  readonly pool: HistogramPool;
  readonly kernel: HistogramKernel;

  /** `features` is the shared feature list given to the workers' attach(). */
  constructor(
    readonly layout: HistogramLayout,
    private readonly workers: GbdtWorkers,
    private readonly features: Int32Array,
  ) {
    this.pool = new HistogramPool(layout.arena, layout.totalBins * HIST_STRIDE);
    this.kernel = new HistogramKernel(layout);
  }

  build(
    hist: Float64Array,
    features: Int32Array,
    start: number,
    count: number,
    parent: Float64Array | null,
    counts: Float64Array | null = null,
  ): void {
    const kernel = this.kernel;
    kernel.gather(start, count);
    const m = features.length;
    if (count * m < MIN_PARALLEL_UPDATES || this.workers.readyCount === 0) {
      kernel.accumulate(hist, features, 0, m, start, count, counts);
      if (parent) kernel.subtract(parent, hist, features, 0, m);
      return;
    }
    this.features.set(features);
    this.workers.histogram(kernel, {
      hist,
      parent,
      features: this.features,
      featureCount: m,
      group: FEATURES_PER_TASK,
      start,
      count,
      counts,
    });
  }
}
