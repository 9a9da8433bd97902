/**
 * The answer when something after validation fails (a timeout, an error, an open breaker,
 * overload inside a step): instead of a 5xx the caller gets this prediction, marked
 * `"fallback": true` with the reason, so a degraded app still answers.
 */
import { defineStepKind } from "./step-kind.ts";

export interface FallbackStepSettings {
  readonly prediction: string | number | boolean;
}

export const fallbackStep = defineStepKind({
  type: "fallback",
  title: "Fallback",
  description:
    "Answers with a fixed prediction, marked as a fallback, when a step after validation fails.",
  icon: "fallback",
  inputs: 1,
  outputs: 1,
  settings: {
    type: "object",
    additionalProperties: false,
    required: ["prediction"],
    properties: {
      prediction: {
        title: "Fallback prediction",
        description:
          "The answer given instead of an error: a class, a number, or true/false (typed as it reads).",
        type: ["string", "number", "boolean"],
        minLength: 1,
      },
    },
  },
  count: { min: 0, max: 1 },
  runsAfter: ["model", "cascade", "http"],
});
