/**
 * Whole app specs for tests, valid and invalid, in every form a person or an older Ballast
 * writes them: without steps, with only steps, with both. The spec tests check each against
 * the published JSON Schema and parseAppSpec; the designer's tests round-trip them through the
 * graph and YAML.
 */
const head = { apiVersion: "ballast/v1", kind: "App", name: "churn" } as const;

const input = { id: "input", kind: "input" };
const validate = {
  id: "validate",
  kind: "validate",
  after: ["input"],
  with: { unknownCategories: "bucket", maxRows: 1000 },
};
const model = {
  id: "model",
  kind: "model",
  after: ["validate"],
  with: { name: "churn", version: 1 },
};
const output = { id: "output", kind: "output", after: ["model"] };

/** The steps a spec without steps runs, written out. */
export const DEFAULT_STEPS = [input, validate, model, output];

export const VALID_SPECS: Readonly<Record<string, Record<string, unknown>>> = {
  "no steps, defaults": { ...head, model: { name: "churn", version: 1 } },
  "no steps, every field": {
    ...head,
    model: { name: "churn", version: 3 },
    contract: { unknownCategories: "reject" },
    limits: { maxRows: 50 },
  },
  "only steps": { ...head, steps: DEFAULT_STEPS },
  "only steps, own ids, any order, defaults left out": {
    ...head,
    steps: [
      { id: "answer", kind: "output", after: ["score"] },
      { id: "score", kind: "model", after: ["check"], with: { name: "churn", version: 2 } },
      { id: "request", kind: "input" },
      { id: "check", kind: "validate", after: ["request"] },
    ],
  },
  "both, agreeing": {
    ...head,
    model: { name: "churn", version: 1 },
    contract: { unknownCategories: "bucket" },
    limits: { maxRows: 1000 },
    steps: DEFAULT_STEPS,
  },
  "both, each setting in one place": {
    ...head,
    model: { name: "churn", version: 1 },
    limits: { maxRows: 20 },
    steps: [
      input,
      { id: "validate", kind: "validate", after: ["input"], with: { unknownCategories: "reject" } },
      { id: "model", kind: "model", after: ["validate"] },
      output,
    ],
  },
};

export interface InvalidSpec {
  readonly document: Record<string, unknown>;
  /** A path the problems must include, and the step it must be keyed to. */
  readonly path: string;
  readonly stepId?: string;
  readonly message?: RegExp;
  /**
   * The published JSON Schema refuses it too. False for graph rules JSON Schema cannot say
   * (unique ids, references, cycles, which kind follows which, agreement with the top).
   */
  readonly schemaRefuses: boolean;
}

function without<T extends Record<string, unknown>>(step: T, key: keyof T): Partial<T> {
  const { [key]: _dropped, ...rest } = step;
  return rest as Partial<T>;
}

const withSteps = (steps: unknown[], extra: Record<string, unknown> = {}) => ({
  ...head,
  ...extra,
  steps,
});

export const INVALID_SPECS: Readonly<Record<string, InvalidSpec>> = {
  "neither model nor steps": { document: { ...head }, path: "/model", schemaRefuses: true },
  "no steps at all": {
    document: withSteps([]),
    path: "/steps",
    message: /needs an input step/,
    schemaRefuses: true,
  },
  "steps not a list": {
    document: { ...head, steps: { input: {} } },
    path: "/steps",
    schemaRefuses: true,
  },
  "a step that is not an object": {
    document: withSteps([input, "validate", model, output]),
    path: "/steps/1",
    schemaRefuses: true,
  },
  "unknown kind": {
    document: withSteps([input, validate, { ...model, kind: "cascade" }, output]),
    path: "/steps/2/kind",
    stepId: "model",
    message: /not a step kind/,
    schemaRefuses: true,
  },
  "bad id": {
    document: withSteps([{ ...input, id: "1st" }, validate, model, output]),
    path: "/steps/0/id",
    stepId: "1st",
    schemaRefuses: true,
  },
  "missing settings": {
    document: withSteps([input, validate, without(model, "with"), output]),
    path: "/steps/2/with/name",
    stepId: "model",
    message: /is missing/,
    schemaRefuses: true,
  },
  "a setting out of range": {
    document: withSteps([input, { ...validate, with: { maxRows: 0 } }, model, output]),
    path: "/steps/1/with/maxRows",
    stepId: "validate",
    message: />= 1/,
    schemaRefuses: true,
  },
  "a setting not in the enum": {
    document: withSteps([
      input,
      { ...validate, with: { unknownCategories: "drop" } },
      model,
      output,
    ]),
    path: "/steps/1/with/unknownCategories",
    stepId: "validate",
    message: /"bucket", "reject"/,
    schemaRefuses: true,
  },
  "a setting the kind does not have": {
    document: withSteps([input, { ...validate, with: { rows: 5 } }, model, output]),
    path: "/steps/1/with/rows",
    stepId: "validate",
    schemaRefuses: true,
  },
  "a second model step": {
    document: withSteps([
      input,
      validate,
      model,
      { id: "model2", kind: "model", after: ["validate"], with: { name: "churn", version: 1 } },
      output,
    ]),
    path: "/steps/3/kind",
    stepId: "model2",
    message: /the runtime runs one model step today/,
    schemaRefuses: true,
  },
  "an unconnected input": {
    document: withSteps([input, validate, without(model, "after"), output]),
    path: "/steps/2/after",
    stepId: "model",
    message: /not connected/,
    schemaRefuses: true,
  },
  "an input step that runs after something": {
    document: withSteps([{ ...input, after: ["output"] }, validate, model, output]),
    path: "/steps/0/after",
    stepId: "input",
    schemaRefuses: true,
  },
  "two inputs into one step": {
    document: withSteps([input, validate, model, { ...output, after: ["model", "validate"] }]),
    path: "/steps/3/after",
    stepId: "output",
    message: /takes one/,
    schemaRefuses: true,
  },
  "a duplicate id": {
    document: withSteps([input, validate, { ...model, id: "validate" }, output]),
    path: "/steps/2/id",
    stepId: "validate",
    schemaRefuses: false,
  },
  "after names a missing step": {
    document: withSteps([input, validate, { ...model, after: ["ghost"] }, output]),
    path: "/steps/2/after/0",
    stepId: "model",
    message: /"ghost", which is not a step/,
    schemaRefuses: false,
  },
  "a cycle": {
    document: withSteps([
      input,
      { ...validate, after: ["model"] },
      { ...model, after: ["validate"] },
      { ...output, after: ["model"] },
    ]),
    path: "/steps/1/after",
    stepId: "validate",
    message: /cycle: "validate" → "model" → "validate"/,
    schemaRefuses: false,
  },
  "steps in an order the runtime does not run": {
    document: withSteps([
      input,
      { ...model, after: ["input"] },
      { ...validate, after: ["model"] },
      { ...output, after: ["validate"] },
    ]),
    path: "/steps/1/after/0",
    stepId: "model",
    message: /only right after a validate step/,
    schemaRefuses: false,
  },
  "no path from input to output": {
    document: withSteps([input, validate, { ...model, after: ["missing"] }, output]),
    path: "/steps/3/after",
    stepId: "output",
    message: /no path leads here from the input step/,
    schemaRefuses: false,
  },
  "top-level field disagrees with a step": {
    document: withSteps(DEFAULT_STEPS, { limits: { maxRows: 5 } }),
    path: "/limits/maxRows",
    stepId: "validate",
    message: /is 5 but the validate step says maxRows: 1000/,
    schemaRefuses: false,
  },
  "top-level model disagrees with the model step": {
    document: withSteps(DEFAULT_STEPS, { model: { name: "churn", version: 2 } }),
    path: "/model/version",
    stepId: "model",
    schemaRefuses: false,
  },
};
