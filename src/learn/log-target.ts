/**
 * Fit on log(y), predict exp(score): for strictly positive, right-skewed targets (prices,
 * incomes, durations) errors are closer to multiplicative, and a model of log(y) is usually
 * better in the original scale too. The wrapper is a learner and a model like any other, so
 * cross-validation scores it on the original scale and it serializes and loads like the rest.
 */
import type {
  FeatureMatrix,
  FitOptions,
  Labels,
  Learner,
  SerializedModel,
  Task,
  TrainedModel,
} from "./types.ts";

const FORMAT_VERSION = 1;

/** Name under which log-target models serialize. */
export const LOG_TARGET = "log-target";

/** A regression learner that fits `inner` on log(y). Labels must be > 0. */
export function logTarget<P>(inner: Learner<P>): Learner<P> {
  return {
    name: inner.name,
    fit(
      X: FeatureMatrix,
      y: Labels,
      task: Task,
      params: P,
      options: FitOptions = {},
    ): TrainedModel {
      if (task.kind !== "regression") throw new RangeError("log-target needs a regression task");
      const logY = logOf(y, "target");
      const validation = options.validation
        ? { X: options.validation.X, y: logOf(options.validation.y, "validation target") }
        : undefined;
      const model = inner.fit(X, logY, task, params, {
        ...options,
        ...(validation ? { validation } : {}),
      });
      return new LogTargetModel(model);
    },
  };
}

function logOf(y: Labels, what: string): Labels {
  const out = new Float64Array(y.length);
  for (let i = 0; i < y.length; i++) {
    const v = y[i] as number;
    if (!(v > 0 && Number.isFinite(v)))
      throw new RangeError(`log-target: ${what} at row ${i} is ${v}, must be > 0`);
    out[i] = Math.log(v);
  }
  return out;
}

/** True when every value is > 0 and the distribution is clearly right-skewed (skewness > 0.75). */
export function isPositiveSkewed(y: Labels): boolean {
  const n = y.length;
  if (n < 3) return false;
  let mean = 0;
  for (let i = 0; i < n; i++) {
    const v = y[i] as number;
    if (!(v > 0 && Number.isFinite(v))) return false;
    mean += v;
  }
  mean /= n;
  let m2 = 0;
  let m3 = 0;
  for (let i = 0; i < n; i++) {
    const d = (y[i] as number) - mean;
    m2 += d * d;
    m3 += d * d * d;
  }
  m2 /= n;
  m3 /= n;
  return m2 > 0 && m3 / m2 ** 1.5 > 0.75;
}

/** A model of log(y) presented in the original scale. */
export class LogTargetModel implements TrainedModel {
  readonly learner = LOG_TARGET;
  readonly task: Task;
  readonly outputSize = 1;
  /**
   * The inner model's explanation, when it has one: contributions in log space, summing to
   * log(prediction).
   */
  readonly explainRow?: (row: Float64Array, out: Float64Array) => void;

  constructor(readonly inner: TrainedModel) {
    this.task = inner.task;
    if (inner.explainRow) this.explainRow = inner.explainRow.bind(inner);
  }

  predictRow(row: Float64Array, out: Float64Array): void {
    this.inner.predictRow(row, out);
    out[0] = Math.exp(out[0] as number);
  }

  predictBatch(X: FeatureMatrix): Float64Array {
    const raw = this.inner.predictBatch(X);
    for (let i = 0; i < raw.length; i++) raw[i] = Math.exp(raw[i] as number);
    return raw;
  }

  featureImportance(): Float64Array {
    return this.inner.featureImportance();
  }

  serialize(): SerializedModel {
    const inner = this.inner.serialize();
    return {
      learner: LOG_TARGET,
      meta: { version: FORMAT_VERSION, inner: { learner: inner.learner, meta: inner.meta } },
      arrays: inner.arrays,
    };
  }

  /** Restore; `load` restores the inner model (the registry's loadModel). */
  static fromSerialized(
    serialized: SerializedModel,
    load: (s: SerializedModel) => TrainedModel,
  ): LogTargetModel {
    const meta = serialized.meta;
    if (meta.version !== FORMAT_VERSION)
      throw new Error(`unsupported log-target model version ${String(meta.version)}`);
    const inner = meta.inner as { learner?: unknown; meta?: unknown } | undefined;
    if (
      !inner ||
      typeof inner.learner !== "string" ||
      typeof inner.meta !== "object" ||
      inner.meta === null
    ) {
      throw new Error("log-target model header is incomplete");
    }
    return new LogTargetModel(
      load({
        learner: inner.learner,
        meta: inner.meta as Record<string, unknown>,
        arrays: serialized.arrays,
      }),
    );
  }
}
