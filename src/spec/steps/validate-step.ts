/**
 * Checks every record against the app's contract (types, required fields, no extra fields)
 * and applies the request limits. Its settings mirror `contract.unknownCategories` and
 * `limits.maxRows`, the fields specs had before steps existed.
 */
import { defineStepKind } from "./step-kind.ts";

export const DEFAULT_MAX_ROWS = 1000;

export interface ValidateStepSettings {
  readonly unknownCategories: "bucket" | "reject";
  readonly maxRows: number;
}
export const MAX_ROWS_LIMIT = 100000;

export const validateStep = defineStepKind({
  type: "validate",
  title: "Validate",
  description:
    "Checks each record against the input contract and refuses requests that are too large.",
  icon: "shield",
  inputs: 1,
  outputs: 1,
  settings: {
    type: "object",
    additionalProperties: false,
    properties: {
      unknownCategories: {
        title: "Unknown categories",
        description:
          "A category never seen in training: score it in an 'unknown' bucket, or refuse the request.",
        enum: ["bucket", "reject"],
        default: "bucket",
      },
      maxRows: {
        title: "Most rows per request",
        description: "The largest batch accepted in one {rows: [...]} request.",
        type: "integer",
        minimum: 1,
        maximum: MAX_ROWS_LIMIT,
        default: DEFAULT_MAX_ROWS,
      },
    },
  },
  count: { min: 1, max: 1 },
  runsAfter: ["input", "session"],
  bindings: [
    { setting: "unknownCategories", field: ["contract", "unknownCategories"] },
    { setting: "maxRows", field: ["limits", "maxRows"] },
  ],
});
