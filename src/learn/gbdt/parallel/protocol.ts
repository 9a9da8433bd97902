/**
 * The contract between the main thread and the GBDT workers: a small Int32Array of shared
 * control words, the per-fit context message, the tasks both sides run, and how a grown tree
 * travels back.
 *
 * Two kinds of job exist. A histogram job is one node's histogram cut into tasks of a few
 * features each (binary and regression fits). A tree job is one boosting round of a
 * multiclass fit, one task per class: growing a whole tree and adding its leaves to that
 * class's training scores. The main thread writes a job's parameters, stamps every task's
 * claim word with the new job id, then publishes the id in JOB and wakes the workers. Every
 * thread, main included, claims tasks with compareExchange(claim[t], job, 0), so each task runs
 * exactly once, and a worker that wakes late, holding an old job id, cannot claim anything of
 * a newer job. A finished task adds one to DONE; the main thread returns when DONE reaches
 * the task count.
 *
 * Determinism: a histogram task writes only its features' bins, accumulated row by row in the
 * node's order; a tree task computes what the single-threaded loop computes for that class,
 * and each score is updated by one thread. So the model has the same bits whichever thread
 * runs which task, and however many threads there are.
 */
import type { MessagePort } from "node:worker_threads";
import type { ArenaHandle } from "../arena.ts";
import type { FeatureBinning } from "../binning.ts";
import type { NodeDraft } from "../forest.ts";
import type { GrowthParams } from "../grow.ts";
import type { HistogramKernel } from "../histogram.ts";

/** Control word indexes. */
export const C = {
  /** Id of the current job (workers sleep on it). */
  JOB: 0,
  /** Tasks of the current job finished. */
  DONE: 1,
  /** 1 once the pool is closing. */
  STOP: 2,
  /** 1 when a worker hit an error (the job cannot complete correctly). */
  FAILED: 3,
  /** Workers that have loaded and are waiting for jobs. */
  READY: 4,
  /** Version of the fit context workers must have before running a task. */
  CONTEXT: 5,
  /** Tasks run by workers since the pool started (for tests and benchmarks). */
  WORKER_TASKS: 6,
  /** JOB_HISTOGRAM or JOB_TREES. */
  KIND: 7,
  /** Tasks in the job. */
  TASKS: 8,
  /** Histogram job: the histogram to fill, as a float64 index into the arena. */
  HIST: 9,
  /** Histogram job: the parent histogram to subtract from (float64 index), or -1. */
  PARENT: 10,
  /** Histogram job: the node's rows are rows[START .. START + COUNT). */
  START: 11,
  COUNT: 12,
  /** Features per tree (histogram job: the first FEATURES of the shared list). */
  FEATURES: 13,
  /** Histogram job: features per task. */
  GROUP: 14,
  /** Tree job: rows in the round's bag. */
  BAG_SIZE: 15,
  /** Histogram job: the row-count template (float64 index), or -1 (see accumulate). */
  COUNTS: 16,
  /** First claim word; claim word t is CLAIMS + t. */
  CLAIMS: 20,
} as const;

export const JOB_HISTOGRAM = 1;
export const JOB_TREES = 2;

/** Control words needed for jobs of up to `maxTasks` tasks. */
export function controlLength(maxTasks: number): number {
  return C.CLAIMS + maxTasks;
}

/**
 * Where the multiclass loop keeps what tree tasks read and write: ordinary shared buffers
 * (not the arena: the TypeScript code loops over these, see histogram.ts).
 */
export interface TreeJobLayout {
  readonly params: GrowthParams;
  readonly learningRate: number;
  readonly classes: number;
  /** grad and hess: classes x rowCount float64, class-major. */
  readonly grad: SharedArrayBuffer;
  readonly hess: SharedArrayBuffer;
  /** The training scores, same shape; a tree task adds its tree's leaves to its class. */
  readonly scores: SharedArrayBuffer;
  /** The round's bag: rowCount uint32, the first BAG_SIZE used. */
  readonly bag: SharedArrayBuffer;
  /** Each class's sampled features: classes x features-per-row int32, FEATURES used. */
  readonly treeFeatures: SharedArrayBuffer;
}

/**
 * What a worker needs to know about a fit, posted once per fit: the arena, where the binned
 * matrix and the main thread's partition are, and for multiclass fits the tree job layout.
 */
export interface WorkerContext {
  readonly version: number;
  readonly arena: ArenaHandle;
  readonly rowCount: number;
  readonly binsOffset: number;
  readonly binnings: readonly FeatureBinning[];
  readonly offsets: Int32Array;
  readonly binCounts: Int32Array;
  readonly totalBins: number;
  /** The main thread's row partition and ordered gradients (histogram jobs read them). */
  readonly rowsOffset: number;
  readonly ghOffset: number;
  /** The feature list of histogram jobs (int32, as long as there are features). */
  readonly features: SharedArrayBuffer;
  readonly trees: TreeJobLayout | null;
}

/** What a worker is started with. */
export interface WorkerData {
  readonly control: SharedArrayBuffer;
  /** Where the worker posts grown trees (the main thread reads them synchronously). */
  readonly results: MessagePort;
}

/** One histogram job: a node's rows and features, cut into groups of `group` features. */
export interface HistogramJob {
  readonly hist: Float64Array;
  readonly parent: Float64Array | null;
  readonly features: Int32Array;
  /** Features in the job: the first `featureCount` of `features`. */
  readonly featureCount: number;
  readonly group: number;
  readonly start: number;
  readonly count: number;
  /** Row counts to start from (a tree's root on all rows), or null. */
  readonly counts: Float64Array | null;
}

/**
 * Run task `task` of a histogram job: fill the histogram for its group of features and, when
 * the job has a parent, subtract it from the parent there.
 */
export function runHistogramTask(kernel: HistogramKernel, job: HistogramJob, task: number): void {
  const from = task * job.group;
  const to = Math.min(job.featureCount, from + job.group);
  kernel.accumulate(job.hist, job.features, from, to, job.start, job.count, job.counts);
  if (job.parent) kernel.subtract(job.parent, job.hist, job.features, from, to);
}

/** Fields per node in an encoded tree. */
const NODE_FIELDS = 8;

/** A grown tree as a worker posts it: typed arrays only, so the message is cheap to clone. */
export interface EncodedTree {
  readonly job: number;
  readonly cls: number;
  /** Per node: feature, threshold, left, right, value, gain, cover, defaultLeft (0/1). */
  readonly numbers: Float64Array;
  /** Per node: end of its left codes in `codes`, or -1 for a numeric node or a leaf. */
  readonly codeEnds: Int32Array;
  readonly codes: Uint32Array;
}

/** Pack a tree's nodes for posting. */
export function encodeTree(job: number, cls: number, nodes: readonly NodeDraft[]): EncodedTree {
  const numbers = new Float64Array(nodes.length * NODE_FIELDS);
  const codeEnds = new Int32Array(nodes.length);
  let total = 0;
  for (const node of nodes) total += node.leftCodes?.length ?? 0;
  const codes = new Uint32Array(total);
  let at = 0;
  nodes.forEach((node, i) => {
    const o = i * NODE_FIELDS;
    numbers[o] = node.feature;
    numbers[o + 1] = node.threshold;
    numbers[o + 2] = node.left;
    numbers[o + 3] = node.right;
    numbers[o + 4] = node.value;
    numbers[o + 5] = node.gain;
    numbers[o + 6] = node.cover;
    numbers[o + 7] = node.defaultLeft ? 1 : 0;
    if (node.leftCodes) {
      codes.set(node.leftCodes, at);
      at += node.leftCodes.length;
      codeEnds[i] = at;
    } else {
      codeEnds[i] = -1;
    }
  });
  return { job, cls, numbers, codeEnds, codes };
}

/** The nodes of an encoded tree (exactly the drafts that were encoded). */
export function decodeTree(tree: EncodedTree): NodeDraft[] {
  const nodes: NodeDraft[] = [];
  let at = 0;
  for (let i = 0; i < tree.codeEnds.length; i++) {
    const o = i * NODE_FIELDS;
    const end = tree.codeEnds[i] as number;
    let leftCodes: Uint32Array | null = null;
    if (end >= 0) {
      leftCodes = tree.codes.slice(at, end);
      at = end;
    }
    nodes.push({
      feature: tree.numbers[o] as number,
      threshold: tree.numbers[o + 1] as number,
      leftCodes,
      defaultLeft: tree.numbers[o + 7] === 1,
      left: tree.numbers[o + 2] as number,
      right: tree.numbers[o + 3] as number,
      value: tree.numbers[o + 4] as number,
      gain: tree.numbers[o + 5] as number,
      cover: tree.numbers[o + 6] as number,
    });
  }
  return nodes;
}
