/**
 * Loss functions for boosting: gradients and hessians of the loss with respect to the raw
 * scores, the constant starting score, the validation loss for early stopping, and the link
 * from raw scores to the model's outputs. Scores, gradients and hessians are class-major:
 * entry k * rowCount + r.
 *
 * Regression has four losses (`objective` parameter): squared error; absolute error (L1, whose
 * tree leaves are refreshed to the median residual, as LightGBM does); Huber with a `delta`
 * (quadratic near zero, linear beyond); and Poisson with a log link for counts, whose model
 * outputs exp(score).
 */
import { sigmoid } from "../link.ts";
import type { Labels, Task } from "../types.ts";

/** The regression losses a GBDT can train with (the `objective` parameter). */
export type RegressionObjective = "squared" | "absolute" | "huber" | "poisson";

/** Every objective, by the name the model header records. */
export type ObjectiveName =
  | "binary:logloss"
  | "multiclass:softmax"
  | "regression:squared"
  | "regression:absolute"
  | "regression:huber"
  | "regression:poisson";

/**
 * The parts of a freshly grown tree an objective may revisit: its nodes (leaf values are
 * mutable) and, per leaf, the segment of `rows` that reached it. `GrownTree` fits this shape.
 */
export interface LeafRows {
  readonly nodes: readonly { value: number }[];
  readonly leaves: readonly {
    readonly node: number;
    readonly start: number;
    readonly count: number;
  }[];
  readonly rows: Uint32Array;
}

/** One boosting objective. */
export interface Objective {
  readonly name: ObjectiveName;
  /** Trees grown per round = raw scores per row. */
  readonly outputs: number;
  /** The best constant raw score(s) before any tree. Throws on labels the loss cannot take. */
  initScores(y: Labels): Float64Array;
  /** Fill grad/hess (outputs * n) from raw scores (outputs * n). */
  gradients(y: Labels, scores: Float64Array, grad: Float64Array, hess: Float64Array): void;
  /** Mean loss of raw scores (outputs * n) against y; lower is better. */
  loss(y: Labels, scores: Float64Array): number;
  /**
   * Optional second pass over a tree just grown on this round's gradients (single-output
   * objectives): replace its Newton leaf values, given the raw scores before the tree. The
   * absolute-error objective sets each leaf to the median residual times the learning rate.
   */
  renewLeaves?(y: Labels, scores: Float64Array, tree: LeafRows, learningRate: number): void;
}

/** Objective settings from the GBDT parameters. */
export interface ObjectiveParams {
  /** Regression loss; default "squared". Classification tasks accept only "squared" (the default). */
  readonly objective?: RegressionObjective;
  /** Huber threshold in target units; default 1. */
  readonly huberDelta?: number;
}

const MIN_HESSIAN = 1e-16;
const PROB_EPS = 1e-15;
/**
 * Poisson hessians are exp(score + this): XGBoost's and LightGBM's `max_delta_step` safeguard
 * (0.7 in both), which damps the Newton step where the predicted mean is tiny.
 */
export const POISSON_MAX_DELTA_STEP = 0.7;

/** The objective a task trains with. */
export function objectiveFor(task: Task, params: ObjectiveParams = {}): Objective {
  const regression = params.objective ?? "squared";
  if (task.kind !== "regression" && regression !== "squared") {
    throw new RangeError(
      `gbdt: objective "${regression}" is for regression; ${task.kind} tasks use logloss`,
    );
  }
  switch (task.kind) {
    case "binary":
      return binaryLogloss;
    case "multiclass":
      return softmax(task.classCount);
    case "regression":
      switch (regression) {
        case "squared":
          return squaredError;
        case "absolute":
          return absoluteError();
        case "huber":
          return huber(params.huberDelta ?? 1);
        case "poisson":
          return poisson;
        default:
          throw new RangeError(`gbdt: unknown objective "${String(regression)}"`);
      }
  }
}

const binaryLogloss: Objective = {
  name: "binary:logloss",
  outputs: 1,
  initScores(y) {
    let positives = 0;
    for (let i = 0; i < y.length; i++) positives += y[i] as number;
    const p = Math.min(Math.max(positives / y.length, 1e-6), 1 - 1e-6);
    return Float64Array.of(Math.log(p / (1 - p)));
  },
  gradients(y, scores, grad, hess) {
    for (let i = 0; i < y.length; i++) {
      const p = sigmoid(scores[i] as number);
      grad[i] = p - (y[i] as number);
      hess[i] = Math.max(p * (1 - p), MIN_HESSIAN);
    }
  },
  loss(y, scores) {
    let sum = 0;
    for (let i = 0; i < y.length; i++) {
      const z = scores[i] as number;
      // log(1 + e^z) - y z, computed without overflow.
      const softplus = z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z));
      sum += softplus - (y[i] as number) * z;
    }
    return sum / y.length;
  },
};

function softmax(k: number): Objective {
  const factor = k / (k - 1);
  // Passes run class by class so every loop reads memory sequentially (scores are class-major).
  const prepare = (
    n: number,
    scores: Float64Array,
    into: Float64Array,
    max: Float64Array,
    sum: Float64Array,
  ): void => {
    max.set(scores.subarray(0, n));
    for (let c = 1; c < k; c++) {
      const base = c * n;
      for (let i = 0; i < n; i++) {
        const v = scores[base + i] as number;
        if (v > (max[i] as number)) max[i] = v;
      }
    }
    sum.fill(0);
    for (let c = 0; c < k; c++) {
      const base = c * n;
      for (let i = 0; i < n; i++) {
        const e = Math.exp((scores[base + i] as number) - (max[i] as number));
        into[base + i] = e;
        sum[i] = (sum[i] as number) + e;
      }
    }
  };
  // Per-row buffers for the training gradients, reused across rounds.
  let rowMax = new Float64Array(0);
  let rowSum = new Float64Array(0);
  return {
    name: "multiclass:softmax",
    outputs: k,
    initScores(y) {
      const counts = new Float64Array(k);
      for (let i = 0; i < y.length; i++)
        counts[y[i] as number] = (counts[y[i] as number] as number) + 1;
      const init = new Float64Array(k);
      for (let c = 0; c < k; c++)
        init[c] = Math.log(Math.max((counts[c] as number) / y.length, 1e-6));
      return init;
    },
    gradients(y, scores, grad, hess) {
      const n = y.length;
      if (rowMax.length !== n) {
        rowMax = new Float64Array(n);
        rowSum = new Float64Array(n);
      }
      prepare(n, scores, grad, rowMax, rowSum);
      for (let c = 0; c < k; c++) {
        const base = c * n;
        for (let i = 0; i < n; i++) {
          const p = (grad[base + i] as number) / (rowSum[i] as number);
          grad[base + i] = y[i] === c ? p - 1 : p;
          hess[base + i] = Math.max(factor * p * (1 - p), MIN_HESSIAN);
        }
      }
    },
    loss(y, scores) {
      const n = y.length;
      const max = new Float64Array(n);
      const sum = new Float64Array(n);
      prepare(n, scores, new Float64Array(k * n), max, sum);
      let total = 0;
      for (let i = 0; i < n; i++) {
        const label = y[i] as number;
        const logp =
          (scores[label * n + i] as number) - (max[i] as number) - Math.log(sum[i] as number);
        total -= Math.max(logp, Math.log(PROB_EPS));
      }
      return total / n;
    },
  };
}

const squaredError: Objective = {
  name: "regression:squared",
  outputs: 1,
  initScores(y) {
    let sum = 0;
    for (let i = 0; i < y.length; i++) sum += y[i] as number;
    return Float64Array.of(sum / y.length);
  },
  gradients(y, scores, grad, hess) {
    for (let i = 0; i < y.length; i++) {
      grad[i] = (scores[i] as number) - (y[i] as number);
      hess[i] = 1;
    }
  },
  loss(y, scores) {
    let sum = 0;
    for (let i = 0; i < y.length; i++) {
      const d = (scores[i] as number) - (y[i] as number);
      sum += d * d;
    }
    return sum / y.length;
  },
};

/** Median of y (the best constant under absolute error). */
function labelMedian(y: Labels): number {
  const copy = Float64Array.from(y);
  return median(copy, copy.length);
}

/**
 * Absolute error |score − y|. Its gradient is sign(score − y) and its curvature is zero, so
 * trees are grown on (sign, hessian 1) and each leaf's value is then refreshed to the median
 * residual y − score of the rows in it (times the learning rate): the exact L1 minimizer for
 * the leaf, as LightGBM's `RenewTreeOutput` does.
 */
function absoluteError(): Objective {
  let residuals = new Float64Array(0);
  return {
    name: "regression:absolute",
    outputs: 1,
    initScores(y) {
      return Float64Array.of(labelMedian(y));
    },
    gradients(y, scores, grad, hess) {
      for (let i = 0; i < y.length; i++) {
        const d = (scores[i] as number) - (y[i] as number);
        grad[i] = d > 0 ? 1 : d < 0 ? -1 : 0;
        hess[i] = 1;
      }
    },
    loss(y, scores) {
      let sum = 0;
      for (let i = 0; i < y.length; i++) sum += Math.abs((scores[i] as number) - (y[i] as number));
      return sum / y.length;
    },
    renewLeaves(y, scores, tree, learningRate) {
      const rows = tree.rows;
      for (const leaf of tree.leaves) {
        const node = tree.nodes[leaf.node];
        if (!node || leaf.count === 0) continue;
        if (residuals.length < leaf.count) residuals = new Float64Array(leaf.count);
        for (let j = 0; j < leaf.count; j++) {
          const r = rows[leaf.start + j] as number;
          residuals[j] = (y[r] as number) - (scores[r] as number);
        }
        node.value = median(residuals, leaf.count) * learningRate;
      }
    },
  };
}

/**
 * Huber loss: ½d² for |d| ≤ δ, δ(|d| − ½δ) beyond, with d = score − y. The gradient is d
 * clipped to [−δ, δ]; the hessian is 1 everywhere (the true curvature inside δ, and LightGBM's
 * surrogate outside, where the true curvature of 0 would make Newton steps unbounded). Starts
 * from the median, which outliers do not drag.
 */
function huber(delta: number): Objective {
  if (!(delta > 0 && Number.isFinite(delta)))
    throw new RangeError(`gbdt: huberDelta must be a positive number, got ${String(delta)}`);
  return {
    name: "regression:huber",
    outputs: 1,
    initScores(y) {
      return Float64Array.of(labelMedian(y));
    },
    gradients(y, scores, grad, hess) {
      for (let i = 0; i < y.length; i++) {
        const d = (scores[i] as number) - (y[i] as number);
        grad[i] = Math.min(Math.max(d, -delta), delta);
        hess[i] = 1;
      }
    },
    loss(y, scores) {
      let sum = 0;
      for (let i = 0; i < y.length; i++) {
        const a = Math.abs((scores[i] as number) - (y[i] as number));
        sum += a <= delta ? 0.5 * a * a : delta * (a - 0.5 * delta);
      }
      return sum / y.length;
    },
  };
}

function checkCounts(y: Labels, what: string): void {
  for (let i = 0; i < y.length; i++) {
    const v = y[i] as number;
    if (!(v >= 0 && v < Number.POSITIVE_INFINITY)) {
      throw new RangeError(
        `gbdt: the poisson objective needs non-negative finite ${what} (counts); row ${i} is ${v}`,
      );
    }
  }
}

/**
 * Poisson regression with a log link: score = log μ, loss μ − y·log μ (the negative
 * log-likelihood without the log y! term), gradient μ − y, hessian μ·e^0.7 (see
 * POISSON_MAX_DELTA_STEP). The model outputs μ = exp(score), always positive.
 */
const poisson: Objective = {
  name: "regression:poisson",
  outputs: 1,
  initScores(y) {
    checkCounts(y, "labels");
    let sum = 0;
    for (let i = 0; i < y.length; i++) sum += y[i] as number;
    return Float64Array.of(Math.log(Math.max(sum / y.length, 1e-6)));
  },
  gradients(y, scores, grad, hess) {
    for (let i = 0; i < y.length; i++) {
      const s = scores[i] as number;
      grad[i] = Math.exp(s) - (y[i] as number);
      hess[i] = Math.max(Math.exp(s + POISSON_MAX_DELTA_STEP), MIN_HESSIAN);
    }
  },
  loss(y, scores) {
    checkCounts(y, "validation labels");
    let sum = 0;
    for (let i = 0; i < y.length; i++) {
      const s = scores[i] as number;
      sum += Math.exp(s) - (y[i] as number) * s;
    }
    return sum / y.length;
  },
};

/**
 * Median of values[0 .. count) (the mean of the two middle values when count is even),
 * by in-place quickselect: linear time, and deterministic (median-of-three pivots).
 */
export function median(values: Float64Array, count: number): number {
  if (count <= 0) return 0;
  const mid = count >>> 1;
  const upper = select(values, 0, count - 1, mid);
  if ((count & 1) === 1) return upper;
  // After selecting `mid`, everything before it is <= it: the lower middle is their maximum.
  let lower = values[0] as number;
  for (let i = 1; i < mid; i++) if ((values[i] as number) > lower) lower = values[i] as number;
  return lower + (upper - lower) / 2;
}

/** Hoare-style quickselect: the k-th smallest of values[lo .. hi], leaving it at index k. */
function select(values: Float64Array, lo: number, hi: number, k: number): number {
  let a = lo;
  let b = hi;
  while (b > a) {
    const m = (a + b) >>> 1;
    // Median of three as pivot: order values[a], values[m], values[b].
    if ((values[m] as number) < (values[a] as number)) swap(values, m, a);
    if ((values[b] as number) < (values[a] as number)) swap(values, b, a);
    if ((values[b] as number) < (values[m] as number)) swap(values, b, m);
    const pivot = values[m] as number;
    let i = a;
    let j = b;
    while (i <= j) {
      while ((values[i] as number) < pivot) i++;
      while ((values[j] as number) > pivot) j--;
      if (i <= j) {
        swap(values, i, j);
        i++;
        j--;
      }
    }
    if (k <= j) b = j;
    else if (k >= i) a = i;
    else break;
  }
  return values[k] as number;
}

function swap(values: Float64Array, i: number, j: number): void {
  const t = values[i] as number;
  values[i] = values[j] as number;
  values[j] = t;
}

/**
 * Whether regression labels look like counts (every label a non-negative integer, some
 * positive): the case where AutoML also tries the Poisson objective.
 */
export function isCountTarget(y: Labels): boolean {
  let positive = false;
  for (let i = 0; i < y.length; i++) {
    const v = y[i] as number;
    if (!(v >= 0 && Number.isInteger(v))) return false;
    if (v > 0) positive = true;
  }
  return positive;
}
