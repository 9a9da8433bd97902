/**
 * Link functions from raw model scores to outputs, shared by every learner so that all of
 * them turn scores into probabilities the same, numerically safe way.
 */
import type { Task } from "./types.ts";

/** Logistic function without overflow for large |z|. */
export function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

/** In-place softmax of out[0 .. k), shifted by the maximum so exp never overflows. */
export function softmaxInPlace(out: Float64Array, k: number): void {
  let max = Number.NEGATIVE_INFINITY;
  for (let c = 0; c < k; c++) if ((out[c] as number) > max) max = out[c] as number;
  let sum = 0;
  for (let c = 0; c < k; c++) {
    const e = Math.exp((out[c] as number) - max);
    out[c] = e;
    sum += e;
  }
  for (let c = 0; c < k; c++) out[c] = (out[c] as number) / sum;
}

/** Turn raw scores in out[0 .. outputSize) into the model's outputs, in place. */
export function linkInPlace(task: Task, out: Float64Array): void {
  if (task.kind === "binary") out[0] = sigmoid(out[0] as number);
  else if (task.kind === "multiclass") softmaxInPlace(out, task.classCount);
}
