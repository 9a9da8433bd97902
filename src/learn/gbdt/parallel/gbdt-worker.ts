/**
 * A GBDT worker thread: sleeps on the JOB control word, and when a job comes, claims and runs
 * its tasks (see protocol.ts) alongside the main thread. Fit contexts arrive on its parent
 * port and grown trees leave on its results port; both are read synchronously by the other
 * side (receiveMessageOnPort), since each thread blocks in Atomics.wait rather than in its
 * event loop.
 */
import type { MessagePort } from "node:worker_threads";
import { parentPort, receiveMessageOnPort, workerData } from "node:worker_threads";
import { SharedArena } from "../arena.ts";
import type { BinnedMatrix } from "../binning.ts";
import { addLeafValues, TreeGrower } from "../grow.ts";
import type { HistogramLayout } from "../histogram.ts";
import { HistogramKernel, histogramLayout, SerialHistogramBuilder } from "../histogram.ts";
import type { HistogramJob, TreeJobLayout, WorkerContext, WorkerData } from "./protocol.ts";
import { C, encodeTree, JOB_HISTOGRAM, JOB_TREES, runHistogramTask } from "./protocol.ts";

/** A fit context bound to this thread: views, kernels and (lazily) a tree grower. */
class Bound {
  readonly arena: SharedArena;
  readonly binned: BinnedMatrix;
  /** The main thread's partition, which histogram jobs read. */
  readonly layout: HistogramLayout;
  readonly kernel: HistogramKernel;
  private grower: TreeGrower | null = null;

  constructor(readonly context: WorkerContext) {
    const arena = new SharedArena(context.arena);
    this.arena = arena;
    const n = context.rowCount;
    const width = context.offsets.length;
    this.binned = {
      rowCount: n,
      bins: arena.u8At(context.binsOffset, n * width),
      features: context.binnings,
      offsets: context.offsets,
      binCounts: context.binCounts,
      totalBins: context.totalBins,
      arena,
    };
    this.layout = {
      memory: arena.memory,
      arena,
      bins: this.binned.bins,
      rowCount: n,
      offsets: context.offsets,
      binCounts: context.binCounts,
      totalBins: context.totalBins,
      rows: arena.u32At(context.rowsOffset, n),
      gh: arena.f64At(context.ghOffset, 2 * n),
      // The main thread gathers and partitions; histogram jobs never use these.
      grad: new Float64Array(0),
      hess: new Float64Array(0),
      scratch: new Uint32Array(0),
      direction: new Uint8Array(0),
    };
    this.kernel = new HistogramKernel(this.layout);
  }

  /** This thread's own grower for tree jobs: its rows, gradients and histograms in the arena. */
  treeGrower(trees: TreeJobLayout): TreeGrower {
    this.grower ??= new TreeGrower(
      this.binned,
      trees.params,
      new SerialHistogramBuilder(histogramLayout(this.binned)),
    );
    return this.grower;
  }

  histogramJob(control: Int32Array): HistogramJob {
    const { arena, context } = this;
    const length = context.totalBins * 3;
    const parent = control[C.PARENT] as number;
    const counts = control[C.COUNTS] as number;
    return {
      hist: arena.f64At((control[C.HIST] as number) * 8, length),
      parent: parent >= 0 ? arena.f64At(parent * 8, length) : null,
      features: new Int32Array(context.features),
      featureCount: control[C.FEATURES] as number,
      group: control[C.GROUP] as number,
      start: control[C.START] as number,
      count: control[C.COUNT] as number,
      counts: counts >= 0 ? arena.f64At(counts * 8, length) : null,
    };
  }

  /** Grow class `cls`'s tree of this round, add it to the class's scores, and post it. */
  treeTask(control: Int32Array, job: number, cls: number, results: MessagePort): void {
    const trees = this.context.trees;
    if (!trees) throw new Error("gbdt worker: tree job without a tree layout");
    const n = this.context.rowCount;
    const width = this.context.offsets.length;
    const m = control[C.FEATURES] as number;
    const grad = new Float64Array(trees.grad, cls * n * 8, n);
    const hess = new Float64Array(trees.hess, cls * n * 8, n);
    const bag = new Uint32Array(trees.bag, 0, n);
    const features = new Int32Array(trees.treeFeatures, cls * width * 4, m);
    const tree = this.treeGrower(trees).grow(
      grad,
      hess,
      bag,
      control[C.BAG_SIZE] as number,
      features,
      trees.learningRate,
    );
    addLeafValues(tree, new Float64Array(trees.scores, cls * n * 8, n));
    const encoded = encodeTree(job, cls, tree.nodes);
    const buffers = [encoded.numbers.buffer, encoded.codeEnds.buffer, encoded.codes.buffer];
    results.postMessage(encoded, buffers as ArrayBuffer[]);
  }
}

function main(): void {
  const { control: controlBuffer, results } = workerData as WorkerData;
  const control = new Int32Array(controlBuffer);
  const port = parentPort as MessagePort;
  let bound: Bound | null = null;
  Atomics.add(control, C.READY, 1);
  port.postMessage("ready");
  let seen = Atomics.load(control, C.JOB);
  for (;;) {
    Atomics.wait(control, C.JOB, seen);
    if (Atomics.load(control, C.STOP) === 1) break;
    const job = Atomics.load(control, C.JOB);
    seen = job;
    const version = Atomics.load(control, C.CONTEXT);
    while (bound === null || bound.context.version !== version) {
      const message = receiveMessageOnPort(port);
      if (!message) break;
      bound = new Bound(message.message as WorkerContext);
    }
    // No context for this job (the main thread posts it before publishing, so this cannot
    // happen): leave every task to the main thread.
    if (bound === null || bound.context.version !== version) continue;
    const tasks = control[C.TASKS] as number;
    let histogram: HistogramJob | null = null;
    for (let t = 0; t < tasks; t++) {
      if (Atomics.compareExchange(control, C.CLAIMS + t, job, 0) !== job) continue;
      try {
        // Parameters are read after a successful claim, so they are this job's.
        if (control[C.KIND] === JOB_HISTOGRAM) {
          histogram ??= bound.histogramJob(control);
          runHistogramTask(bound.kernel, histogram, t);
        } else if (control[C.KIND] === JOB_TREES) {
          bound.treeTask(control, job, t, results);
        }
      } catch (error) {
        Atomics.store(control, C.FAILED, 1);
        Atomics.notify(control, C.DONE);
        throw error;
      }
      Atomics.add(control, C.WORKER_TASKS, 1);
      if (Atomics.add(control, C.DONE, 1) + 1 === tasks) Atomics.notify(control, C.DONE);
    }
  }
  results.close();
}

main();
