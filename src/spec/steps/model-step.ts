/** Scores the validated records with one registered model version, pinned exactly. */
import { defineStepKind } from "./step-kind.ts";

export interface ModelStepSettings {
  readonly name: string;
  readonly version: number;
  readonly timeoutMs: number;
}

export const modelStep = defineStepKind({
  type: "model",
  title: "Model",
  description: "Scores each record with a trained model version.",
  icon: "model",
  inputs: 1,
  outputs: 1,
  settings: {
    type: "object",
    additionalProperties: false,
    required: ["name", "version"],
    properties: {
      name: {
        title: "Model name",
        description: "A model in this workspace (see Models).",
        type: "string",
        minLength: 1,
      },
      version: {
        title: "Model version",
        description: "The version to serve, pinned exactly.",
        type: "integer",
        minimum: 1,
      },
      timeoutMs: {
        title: "Timeout (ms)",
        description:
          "Time the model may take to score a request; overrunning fails the step (or takes the fallback).",
        type: "integer",
        minimum: 1,
        maximum: 600_000,
        default: 2000,
      },
    },
  },
  count: { min: 1, max: 1 },
  runsAfter: ["validate"],
  bindings: [
    { setting: "name", field: ["model", "name"] },
    { setting: "version", field: ["model", "version"] },
  ],
});
