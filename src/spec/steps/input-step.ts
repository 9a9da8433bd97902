/** Where a request enters: one JSON record or `{"rows": [...]}`, checked against the contract. */
import { defineStepKind } from "./step-kind.ts";

export const inputStep = defineStepKind({
  type: "input",
  title: "Input",
  description: "Where each request enters: one JSON record, or {rows: [...]} for a batch.",
  icon: "input",
  inputs: 0,
  outputs: 1,
  settings: { type: "object", additionalProperties: false, properties: {} },
  count: { min: 1, max: 1 },
});
