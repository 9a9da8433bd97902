/**
 * The learning stage: learners (gbdt, linear), metrics, cross-validation and the AutoML search,
 * plus the registry that turns a learner name back into a learner or a loaded model.
 */
import { fitGbdt, gbdt } from "./gbdt/gbdt.ts";
import { GbdtModel } from "./gbdt/model.ts";
import { fitLinear, LinearModel, linear } from "./linear/linear.ts";
import { LOG_TARGET, LogTargetModel } from "./log-target.ts";
import type { Learner, SerializedModel, TrainedModel } from "./types.ts";

export type { AutoMLCandidate, AutoMLOptions, AutoMLProgress, AutoMLResult } from "./automl.ts";
export { automl } from "./automl.ts";
export type {
  CrossValidateOptions,
  CrossValidationResult,
  FoldResult,
  Split,
} from "./cross-validation.ts";
export {
  crossValidate,
  fitFold,
  kFold,
  trainTestSplit,
  yieldToEventLoop,
} from "./cross-validation.ts";
export {
  checkTrainingInput,
  outputSizeOf,
  readRow,
  takeLabels,
  takeRows,
} from "./feature-matrix.ts";
export type { GbdtParams } from "./gbdt/params.ts";
export type { LinearParams } from "./linear/linear.ts";
export { isPositiveSkewed, LogTargetModel, logTarget } from "./log-target.ts";
export type { Metrics } from "./metrics.ts";
export {
  accuracy,
  auc,
  confusionMatrix,
  defaultMetric,
  evaluate,
  f1,
  isBetter,
  logloss,
  macroF1,
  mae,
  meanMetrics,
  metricDirection,
  metricsForTask,
  predictedClasses,
  r2,
  rmse,
  rocCurve,
} from "./metrics.ts";
export type * from "./types.ts";
export { fitGbdt, fitLinear, GbdtModel, gbdt, LinearModel, linear };

const LEARNERS: Readonly<Record<string, Learner<Record<string, unknown>>>> = {
  gbdt: gbdt as Learner<Record<string, unknown>>,
  linear: linear as Learner<Record<string, unknown>>,
};

/** Names of the registered learners. */
export function learnerNames(): string[] {
  return Object.keys(LEARNERS);
}

/** The learner registered under `name`; throws on an unknown name. */
export function getLearner(name: string): Learner<Record<string, unknown>> {
  const learner = LEARNERS[name];
  if (!learner) throw new Error(`unknown learner "${name}" (known: ${learnerNames().join(", ")})`);
  return learner;
}

/**
 * Restore any learner's model from its serialized form; predictions are identical to the
 * model that was serialized.
 */
export function loadModel(serialized: SerializedModel): TrainedModel {
  switch (serialized.learner) {
    case "gbdt":
      return GbdtModel.fromSerialized(serialized);
    case "linear":
      return LinearModel.fromSerialized(serialized);
    case LOG_TARGET:
      return LogTargetModel.fromSerialized(serialized, loadModel);
    default:
      throw new Error(`cannot load a model of unknown learner "${serialized.learner}"`);
  }
}
