/** The histogram GBDT learner: see CONTEXT.md in src/learn for its design. */

export type { BinnedMatrix, FeatureBinning } from "./binning.ts";
export { binMatrix, numericBounds } from "./binning.ts";
export type { Forest } from "./forest.ts";
export type { GbdtRuntime } from "./gbdt.ts";
export { fitGbdt, gbdt } from "./gbdt.ts";
export type { GbdtTrainingInfo } from "./model.ts";
export { GbdtModel } from "./model.ts";
export { GbdtWorkers } from "./parallel/gbdt-workers.ts";
export type { GbdtParams, ResolvedGbdtParams } from "./params.ts";
export { GBDT_DEFAULTS, resolveGbdtParams } from "./params.ts";
export type { SplitInfo, SplitParams } from "./split.ts";
export {
  findBestSplit,
  findCategoricalSplit,
  findNumericSplit,
  leafScore,
  leafValue,
  splitGain,
} from "./split.ts";
