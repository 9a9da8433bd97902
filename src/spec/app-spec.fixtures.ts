/**
 * Whole app specs for tests, valid and invalid, in every form a person or an older Ballast
 * writes them: without steps, with only steps, with both; with and without policies and a
 * webhook; the default pipeline and one with every step kind. The spec tests check each
 * against the published JSON Schema and parseAppSpec; the designer's tests round-trip them
 * through the graph and YAML.
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

/** The default steps as parsing returns them: every setting filled in. */
export const DEFAULT_STEPS_FILLED = [
  input,
  validate,
  { ...model, with: { ...model.with, timeoutMs: 2000 } },
  output,
];

/** The longest chain the runtime runs: every kind, each setting given. */
export const EVERY_KIND_STEPS = [
  input,
  { id: "session", kind: "session", after: ["input"], with: { ttlSeconds: 600, maxTurns: 20 } },
  { ...validate, after: ["session"] },
  { ...model, with: { name: "churn", version: 1, timeoutMs: 500 } },
  {
    id: "cascade",
    kind: "cascade",
    after: ["model"],
    with: { name: "churn", version: 2, minConfidence: 0.7, timeoutMs: 800 },
  },
  {
    id: "enrich",
    kind: "http",
    after: ["cascade"],
    with: {
      url: "http://127.0.0.1:8080/score",
      timeoutMs: 300,
      idempotent: true,
      maxRetries: 1,
      maxConcurrent: 8,
      breakerConsecutiveFailures: 3,
      breakerErrorRate: 0.25,
      breakerWindowSeconds: 10,
      breakerMinRequests: 5,
      breakerHalfOpenAfterSeconds: 0.5,
    },
  },
  { id: "audit", kind: "http", after: ["enrich"], with: { url: "https://audit.example.com/v1" } },
  { id: "fallback", kind: "fallback", after: ["audit"], with: { prediction: "no" } },
  { ...output, after: ["fallback"] },
];

/** Every policy given, none at its default. */
export const EVERY_POLICY = {
  rateLimit: { perKeyPerSecond: 10, perKeyBurst: 20, perAppPerSecond: 0, perAppBurst: 0 },
  concurrency: { maxInFlight: 8, maxQueue: 0, maxQueueWaitMs: 100 },
  timeouts: { requestMs: 1500 },
  cache: { enabled: true, ttlSeconds: 5, maxEntries: 100 },
  idempotency: { enabled: false, ttlSeconds: 3600 },
  workers: { threads: 0, minBatchRows: 64 },
};

/** A webhook with every field given. */
export const EVERY_WEBHOOK_FIELD = {
  enabled: true,
  callbackUrl: "https://hooks.example.com/ballast?team=ops",
  maxAttempts: 3,
  concurrency: 2,
  retentionHours: 24,
  coerceTypes: false,
  rename: { tenure_months: "tenure", "Monthly Charges": "monthly_charges" },
  defaults: { contract: "Month-to-month", senior: false, tenure: 1, note: null },
};

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
  "every step kind": { ...head, steps: EVERY_KIND_STEPS },
  "a fallback right after the model, a number for its prediction": {
    ...head,
    steps: [
      input,
      validate,
      model,
      { id: "safe", kind: "fallback", after: ["model"], with: { prediction: 0.5 } },
      { ...output, after: ["safe"] },
    ],
  },
  "three http steps, a boolean fallback": {
    ...head,
    model: { name: "churn", version: 1 },
    steps: [
      input,
      validate,
      { id: "model", kind: "model", after: ["validate"] },
      { id: "a", kind: "http", after: ["model"], with: { url: "http://localhost:1/a" } },
      { id: "b", kind: "http", after: ["a"], with: { url: "http://localhost:1/b" } },
      { id: "c", kind: "http", after: ["b"], with: { url: "https://[::1]:8443/c" } },
      { id: "f", kind: "fallback", after: ["c"], with: { prediction: false } },
      { ...output, after: ["f"] },
    ],
  },
  "no steps, some policies and a webhook": {
    ...head,
    model: { name: "churn", version: 1 },
    policies: { concurrency: { maxInFlight: 8 }, cache: { enabled: true }, timeouts: {} },
    webhook: { enabled: true, rename: { months: "tenure" } },
  },
  "every policy and webhook field": {
    ...head,
    policies: EVERY_POLICY,
    webhook: EVERY_WEBHOOK_FIELD,
    steps: DEFAULT_STEPS,
  },
  "empty policies and webhook": {
    ...head,
    model: { name: "churn", version: 1 },
    policies: {},
    webhook: {},
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
    document: withSteps([input, validate, { ...model, kind: "cache" }, output]),
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
  "a policy out of range": {
    document: { ...head, model: model.with, policies: { concurrency: { maxInFlight: 0 } } },
    path: "/policies/concurrency/maxInFlight",
    message: />= 1/,
    schemaRefuses: true,
  },
  "a policy of the wrong type": {
    document: { ...head, model: model.with, policies: { cache: { enabled: "yes" } } },
    path: "/policies/cache/enabled",
    message: /boolean/,
    schemaRefuses: true,
  },
  "a fractional policy": {
    document: { ...head, model: model.with, policies: { rateLimit: { perKeyPerSecond: 2.5 } } },
    path: "/policies/rateLimit/perKeyPerSecond",
    message: /integer/,
    schemaRefuses: true,
  },
  "a policy group the spec does not have": {
    document: { ...head, model: model.with, policies: { retries: { max: 3 } } },
    path: "/policies/retries",
    message: /is not a field here/,
    schemaRefuses: true,
  },
  "a policy field the group does not have": {
    document: { ...head, model: model.with, policies: { timeouts: { stepMs: 5 } } },
    path: "/policies/timeouts/stepMs",
    schemaRefuses: true,
  },
  "policies that are not a map": {
    document: { ...head, model: model.with, policies: [] },
    path: "/policies",
    schemaRefuses: true,
  },
  "a callback URL that is not http": {
    document: { ...head, model: model.with, webhook: { callbackUrl: "ftp://example.com/x" } },
    path: "/webhook/callbackUrl",
    message: /http:\/\/ or https:\/\//,
    schemaRefuses: true,
  },
  "a callback URL that is not a URL": {
    document: { ...head, model: model.with, webhook: { callbackUrl: "hooks.example.com" } },
    path: "/webhook/callbackUrl",
    schemaRefuses: true,
  },
  "a webhook default that is not a plain value": {
    document: { ...head, model: model.with, webhook: { defaults: { tenure: { months: 1 } } } },
    path: "/webhook/defaults/tenure",
    schemaRefuses: true,
  },
  "a webhook rename to nothing": {
    document: { ...head, model: model.with, webhook: { rename: { months: "" } } },
    path: "/webhook/rename/months",
    schemaRefuses: true,
  },
  "webhook attempts out of range": {
    document: { ...head, model: model.with, webhook: { enabled: true, maxAttempts: 0 } },
    path: "/webhook/maxAttempts",
    schemaRefuses: true,
  },
  "an http step without a url": {
    document: withSteps([
      input,
      validate,
      model,
      { id: "call", kind: "http", after: ["model"] },
      { ...output, after: ["call"] },
    ]),
    path: "/steps/3/with/url",
    stepId: "call",
    message: /is missing: set the http call step's url/,
    schemaRefuses: true,
  },
  "an http step whose url is not http": {
    document: withSteps([
      input,
      validate,
      model,
      { id: "call", kind: "http", after: ["model"], with: { url: "file:///etc/passwd" } },
      { ...output, after: ["call"] },
    ]),
    path: "/steps/3/with/url",
    stepId: "call",
    message: /must be an http:\/\/ or https:\/\/ URL/,
    schemaRefuses: true,
  },
  "four http steps": {
    document: withSteps([
      input,
      validate,
      model,
      { id: "h1", kind: "http", after: ["model"], with: { url: "http://a.test/" } },
      { id: "h2", kind: "http", after: ["h1"], with: { url: "http://a.test/" } },
      { id: "h3", kind: "http", after: ["h2"], with: { url: "http://a.test/" } },
      { id: "h4", kind: "http", after: ["h3"], with: { url: "http://a.test/" } },
      { ...output, after: ["h4"] },
    ]),
    path: "/steps/6/kind",
    stepId: "h4",
    message: /the runtime runs three http steps today/,
    schemaRefuses: true,
  },
  "a fallback without a prediction": {
    document: withSteps([
      input,
      validate,
      model,
      { id: "fallback", kind: "fallback", after: ["model"] },
      { ...output, after: ["fallback"] },
    ]),
    path: "/steps/3/with/prediction",
    stepId: "fallback",
    message: /is missing/,
    schemaRefuses: true,
  },
  "a fallback prediction that is a list": {
    document: withSteps([
      input,
      validate,
      model,
      { id: "fallback", kind: "fallback", after: ["model"], with: { prediction: ["no"] } },
      { ...output, after: ["fallback"] },
    ]),
    path: "/steps/3/with/prediction",
    stepId: "fallback",
    schemaRefuses: true,
  },
  "a cascade confidence above 1": {
    document: withSteps([
      input,
      validate,
      model,
      {
        id: "cascade",
        kind: "cascade",
        after: ["model"],
        with: { name: "big", version: 1, minConfidence: 1.5 },
      },
      { ...output, after: ["cascade"] },
    ]),
    path: "/steps/3/with/minConfidence",
    stepId: "cascade",
    message: /<= 1/,
    schemaRefuses: true,
  },
  "a second session step": {
    document: withSteps([
      input,
      { id: "s1", kind: "session", after: ["input"] },
      { id: "s2", kind: "session", after: ["s1"] },
      { ...validate, after: ["s2"] },
      model,
      output,
    ]),
    path: "/steps/2/kind",
    stepId: "s2",
    message: /the runtime runs one session step today/,
    schemaRefuses: true,
  },
  "a fallback before the model": {
    document: withSteps([
      input,
      validate,
      { id: "fallback", kind: "fallback", after: ["validate"], with: { prediction: "no" } },
      { ...model, after: ["fallback"] },
      output,
    ]),
    path: "/steps/2/after/0",
    stepId: "fallback",
    message: /only right after a model, cascade or http step today/,
    schemaRefuses: false,
  },
  "a cascade after an http step": {
    document: withSteps([
      input,
      validate,
      model,
      { id: "call", kind: "http", after: ["model"], with: { url: "http://a.test/" } },
      { id: "cascade", kind: "cascade", after: ["call"], with: { name: "big", version: 1 } },
      { ...output, after: ["cascade"] },
    ]),
    path: "/steps/4/after/0",
    stepId: "cascade",
    message: /only right after a model step/,
    schemaRefuses: false,
  },
  "a session after validation": {
    document: withSteps([
      input,
      validate,
      { id: "session", kind: "session", after: ["validate"] },
      { ...model, after: ["session"] },
      output,
    ]),
    path: "/steps/2/after/0",
    stepId: "session",
    schemaRefuses: false,
  },
  "a step after the fallback": {
    document: withSteps([
      input,
      validate,
      model,
      { id: "fallback", kind: "fallback", after: ["model"], with: { prediction: "no" } },
      { id: "call", kind: "http", after: ["fallback"], with: { url: "http://a.test/" } },
      { ...output, after: ["call"] },
    ]),
    path: "/steps/4/after/0",
    stepId: "call",
    schemaRefuses: false,
  },
};
