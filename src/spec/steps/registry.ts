/**
 * The step kinds the runtime supports, in palette order. Adding a kind is a file beside this
 * one and a line here; the spec's JSON Schema, graph validation and the Studio's palette and
 * forms all follow from this list. The pipeline is a chain:
 * input → [session] → validate → model → [cascade] → [http]* → [fallback] → output.
 */
import { cascadeStep } from "./cascade-step.ts";
import { fallbackStep } from "./fallback-step.ts";
import { httpStep } from "./http-step.ts";
import { inputStep } from "./input-step.ts";
import { modelStep } from "./model-step.ts";
import { outputStep } from "./output-step.ts";
import { sessionStep } from "./session-step.ts";
import type { StepKind } from "./step-kind.ts";
import { validateStep } from "./validate-step.ts";

export const STEP_KINDS: readonly StepKind[] = [
  inputStep,
  sessionStep,
  validateStep,
  modelStep,
  cascadeStep,
  httpStep,
  fallbackStep,
  outputStep,
];

const byType = new Map(STEP_KINDS.map((k) => [k.type, k]));

export function stepKind(type: string): StepKind | undefined {
  return byType.get(type);
}

/**
 * The pipeline of a spec written without steps, as `[id, kind]` pairs each running after the
 * one before: what every app ran before the graph existed.
 */
export const DEFAULT_PIPELINE: readonly (readonly [string, string])[] = [
  ["input", "input"],
  ["validate", "validate"],
  ["model", "model"],
  ["output", "output"],
];
