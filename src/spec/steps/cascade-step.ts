/**
 * A second opinion only where it is needed: when the model before it is not confident enough
 * (its top class probability is below `minConfidence`), a second model answers, and the
 * response says which one did. Cheap model first, expensive one for the hard cases.
 */
import { defineStepKind } from "./step-kind.ts";

export interface CascadeStepSettings {
  readonly name: string;
  readonly version: number;
  readonly minConfidence: number;
  readonly timeoutMs: number;
}

export const cascadeStep = defineStepKind({
  type: "cascade",
  title: "Cascade",
  description:
    "Asks a second model when the first one's confidence is below a threshold (classifiers); the answer says which model answered.",
  icon: "cascade",
  inputs: 1,
  outputs: 1,
  settings: {
    type: "object",
    additionalProperties: false,
    required: ["name", "version"],
    properties: {
      name: {
        title: "Second model name",
        description: "The model that answers when the first is unsure (see Models).",
        type: "string",
        minLength: 1,
      },
      version: {
        title: "Second model version",
        description: "Its version, pinned exactly.",
        type: "integer",
        minimum: 1,
      },
      minConfidence: {
        title: "Least confidence",
        description:
          "The first model's top class probability below which the second model answers (0 to 1).",
        type: "number",
        minimum: 0,
        maximum: 1,
        default: 0.8,
      },
      timeoutMs: {
        title: "Timeout (ms)",
        description: "The second model's time budget; overrunning fails the step.",
        type: "integer",
        minimum: 1,
        maximum: 600_000,
        default: 1000,
      },
    },
  },
  count: { min: 0, max: 1 },
  runsAfter: ["model"],
});
