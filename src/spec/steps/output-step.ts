/** The answer: the prediction, with probabilities for classifiers. */
import { defineStepKind } from "./step-kind.ts";

export const outputStep = defineStepKind({
  type: "output",
  title: "Output",
  description: "Answers the caller with the prediction (and probabilities for classifiers).",
  icon: "output",
  inputs: 1,
  outputs: 0,
  settings: { type: "object", additionalProperties: false, properties: {} },
  count: { min: 1, max: 1 },
  runsAfter: ["model", "cascade", "http", "fallback"],
});
