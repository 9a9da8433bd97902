/**
 * Loss functions for boosting: gradients and hessians of the loss with respect to the raw
 * scores, the constant starting score, the validation loss for early stopping, and the link
 * from raw scores to the model's outputs. Scores, gradients and hessians are class-major:
 * entry k * rowCount + r.
 */
import { sigmoid } from "../link.ts";
import type { Labels, Task } from "../types.ts";

/** One boosting objective. */
export interface Objective {
  readonly name: "binary:logloss" | "multiclass:softmax" | "regression:squared";
  /** Trees grown per round = raw scores per row. */
  readonly outputs: number;
  /** The best constant raw score(s) before any tree. */
  initScores(y: Labels): Float64Array;
  /** Fill grad/hess (outputs * n) from raw scores (outputs * n). */
  gradients(y: Labels, scores: Float64Array, grad: Float64Array, hess: Float64Array): void;
  /** Mean loss of raw scores (outputs * n) against y; lower is better. */
  loss(y: Labels, scores: Float64Array): number;
}

const MIN_HESSIAN = 1e-16;
const PROB_EPS = 1e-15;

/** The objective a task trains with. */
export function objectiveFor(task: Task): Objective {
  switch (task.kind) {
    case "binary":
      return binaryLogloss;
    case "multiclass":
      return softmax(task.classCount);
    case "regression":
      return squaredError;
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
