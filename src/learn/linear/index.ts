/** The regularized linear learner (logistic, softmax, elastic-net regression). */
export type { LinearEncoding } from "./encoding.ts";
export { fitEncoding } from "./encoding.ts";
export type { LinearParams, LinearTrainingInfo } from "./linear.ts";
export { fitLinear, LinearModel, linear } from "./linear.ts";
export type { MinimizeOptions, MinimizeResult } from "./optimizer.ts";
export { minimize } from "./optimizer.ts";
