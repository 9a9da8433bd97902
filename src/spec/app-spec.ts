/**
 * The app spec: the declarative document a person builds, versions and deploys. It names the
 * model behind a validated contract and, since the designer, the pipeline as a graph of steps
 * (`steps`). Both forms stay valid: a spec without steps runs the default pipeline built from
 * its top-level fields, a spec with only steps gets those fields from its steps, and a spec
 * with both must say the same thing in both places. `parseAppSpec` always returns both, so the
 * runtime keeps reading `model`, `contract` and `limits`. `policies` and `webhook` are not
 * steps: they stay at the top in both forms, and parsing fills every default in them.
 */
import type { JsonSchema } from "./contract.ts";
import { type AppMonitoring, fillMonitoring, monitoringJsonSchema } from "./monitoring.ts";
import { type AppPolicies, fillPolicies, policiesJsonSchema } from "./policies.ts";
import {
  type AppRelease,
  fillRelease,
  parseManualSteps,
  parseSteps,
  releaseJsonSchema,
} from "./release.ts";
import { pointerSegments, problemsFromAjv, type SpecProblem, specAjv } from "./spec-problems.ts";
import {
  type AppStep,
  boundValue,
  checkSteps,
  stepEnvelopeSchema,
  withDefaults,
} from "./step-graph.ts";
import type { CascadeStepSettings } from "./steps/cascade-step.ts";
import type { FallbackStepSettings } from "./steps/fallback-step.ts";
import type { HttpStepSettings } from "./steps/http-step.ts";
import type { ModelStepSettings } from "./steps/model-step.ts";
import { DEFAULT_PIPELINE, STEP_KINDS, stepKind } from "./steps/registry.ts";
import type { SessionStepSettings } from "./steps/session-step.ts";
import type { StepKind } from "./steps/step-kind.ts";
import {
  DEFAULT_MAX_ROWS,
  MAX_ROWS_LIMIT,
  type ValidateStepSettings,
} from "./steps/validate-step.ts";
import { type AppWebhook, fillWebhook, webhookJsonSchema } from "./webhook.ts";

export type { AppMonitoring } from "./monitoring.ts";
export type { AppPolicies } from "./policies.ts";
export type { AppRelease } from "./release.ts";
export type { SpecProblem } from "./spec-problems.ts";
export type { AppStep } from "./step-graph.ts";
export type { AppWebhook } from "./webhook.ts";
export { DEFAULT_MAX_ROWS };

export const APP_SPEC_API_VERSION = "ballast/v1";

export interface AppSpec {
  readonly apiVersion: typeof APP_SPEC_API_VERSION;
  readonly kind: "App";
  readonly name: string;
  /** The model version this app serves, pinned exactly (the model step's settings). */
  readonly model: { readonly name: string; readonly version: number };
  readonly contract: {
    /** A category never seen in training: score it in the unknown bucket, or refuse the request. */
    readonly unknownCategories: "bucket" | "reject";
  };
  readonly limits: {
    /** Most rows accepted in one `{"rows": [...]}` request. */
    readonly maxRows: number;
  };
  /** The pipeline, every step with its settings filled in (defaults included). */
  readonly steps: readonly AppStep[];
  /** Rate limits, bulkhead, deadline, cache, idempotency, workers: always complete. */
  readonly policies: AppPolicies;
  /** Webhook intake and delivery: always present, off unless the spec turns it on. */
  readonly webhook: AppWebhook;
  /** Prediction log, drift, SLOs and alerts: always complete, defaults filled in. */
  readonly monitoring: AppMonitoring;
  /** Canary steps and gates, shadow share, A/B split: the defaults of every promotion. */
  readonly release: AppRelease;
}

export const APP_NAME_PATTERN = "^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$";

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

const ofKind = (type: string) => ({
  type: "object",
  properties: { kind: { const: type } },
  required: ["kind"],
});

/** JSON Schema's `if`/`then` (the key `then` would otherwise look like a promise to lint). */
function ifThen(condition: JsonSchema, consequence: JsonSchema): JsonSchema {
  // biome-ignore lint/suspicious/noThenProperty: a JSON Schema keyword, never awaited.
  return { if: condition, then: consequence };
}

/** A kind's settings as published: a setting mirrored at the top may be given there instead. */
function publishedSettings(kind: StepKind): JsonSchema {
  const bound = new Set(kind.bindings?.map((b) => b.setting));
  const { required, ...rest } = kind.settings;
  const stillRequired = (required ?? []).filter((r) => !bound.has(r));
  return {
    ...rest,
    ...(stillRequired.length > 0 ? { required: stillRequired } : {}),
    description: `${kind.title}: ${kind.description}`,
  };
}

function stepSchema(): JsonSchema {
  return {
    ...stepEnvelopeSchema,
    properties: {
      ...stepEnvelopeSchema.properties,
      kind: { enum: STEP_KINDS.map((k) => k.type), description: "The step kind" },
    },
    allOf: STEP_KINDS.map((kind) => {
      const settings = publishedSettings(kind);
      const required = [
        ...(kind.inputs > 0 ? ["after"] : []),
        ...(Array.isArray(settings.required) ? ["with"] : []),
      ];
      return ifThen(ofKind(kind.type), {
        ...(required.length > 0 ? { required } : {}),
        properties: {
          after: kind.inputs > 0 ? { minItems: 1, maxItems: kind.inputs } : { maxItems: 0 },
          with: settings,
        },
      });
    }),
  };
}

/** Kinds' counts (`contains`) and required settings that nothing at the top provides. */
function graphConstraints(): JsonSchema[] {
  const out: JsonSchema[] = [];
  for (const kind of STEP_KINDS) {
    for (const b of kind.bindings ?? []) {
      if (!kind.settings.required?.includes(b.setting)) continue;
      const [parent, field] = b.field;
      const stepNeedsIt = ifThen(ofKind(kind.type), {
        required: ["with"],
        properties: { with: { required: [b.setting] } },
      });
      out.push(
        ifThen(
          { not: { required: [parent], properties: { [parent]: { required: [field] } } } },
          { properties: { steps: { items: stepNeedsIt } } },
        ),
      );
    }
  }
  return out;
}

const GRAPH_RULES =
  "Beyond what this schema checks, a spec is refused when two steps share an id, a step runs after a step that does not exist, steps form a cycle, a step runs after a kind the runtime does not chain it to today, no path leads from the input step to the output step, or a setting given both in a step and at the top of the spec differs.";

/** The published JSON Schema of the app spec (served at `GET /v1/spec/schema`). */
export const appSpecJsonSchema: JsonSchema = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  $id: "https://ballast.dev/schemas/app-spec.json",
  title: "Ballast app spec",
  description: `An app: the model it serves, its contract and limits, its pipeline (steps), its policies and its webhook. A spec without steps runs input → validate → model → output; a spec with steps takes model, contract and limits from them. ${GRAPH_RULES}`,
  type: "object",
  additionalProperties: false,
  required: ["apiVersion", "kind", "name"],
  anyOf: [{ required: ["model"] }, { required: ["steps"] }],
  properties: {
    apiVersion: { const: APP_SPEC_API_VERSION },
    kind: { const: "App" },
    name: {
      type: "string",
      pattern: APP_NAME_PATTERN,
      description: "Lowercase letters, digits and dashes",
    },
    model: {
      type: "object",
      additionalProperties: false,
      required: ["name", "version"],
      description: "The model version served; the model step's settings when steps are given",
      properties: {
        name: { type: "string", minLength: 1 },
        version: { type: "integer", minimum: 1 },
      },
    },
    contract: {
      type: "object",
      additionalProperties: false,
      properties: {
        unknownCategories: { enum: ["bucket", "reject"], default: "bucket" },
      },
    },
    limits: {
      type: "object",
      additionalProperties: false,
      properties: {
        maxRows: {
          type: "integer",
          minimum: 1,
          maximum: MAX_ROWS_LIMIT,
          default: DEFAULT_MAX_ROWS,
        },
      },
    },
    steps: {
      type: "array",
      description: `The pipeline as a graph: each step names the steps it runs after. Kinds today: ${STEP_KINDS.map((k) => `${k.type} (${k.description})`).join("; ")}. ${GRAPH_RULES}`,
      items: stepSchema(),
      allOf: STEP_KINDS.filter((k) => k.count.min > 0 || Number.isFinite(k.count.max)).map((k) => ({
        contains: ofKind(k.type),
        minContains: k.count.min,
        ...(Number.isFinite(k.count.max) ? { maxContains: k.count.max } : {}),
      })),
    },
    policies: policiesJsonSchema,
    webhook: webhookJsonSchema,
    monitoring: monitoringJsonSchema,
    release: releaseJsonSchema,
  },
  allOf: graphConstraints(),
};

export class AppSpecError extends Error {
  constructor(
    message: string,
    readonly details: readonly { readonly path: string; readonly message: string }[],
  ) {
    super(message);
    this.name = "AppSpecError";
  }
}

const validateSpec = specAjv.compile(appSpecJsonSchema);

/** Schema problems, with "model or steps" said once instead of as Ajv's three errors. */
function schemaProblems(): SpecProblem[] {
  const errors = validateSpec.errors ?? [];
  const eitherOr = errors.filter((e) => e.schemaPath.startsWith("#/anyOf"));
  const rest = problemsFromAjv(errors.filter((e) => !e.schemaPath.startsWith("#/anyOf")));
  return eitherOr.length > 0
    ? [{ path: "/model", message: "is required (or give the pipeline's steps)" }, ...rest]
    : rest;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Settings written both in a step and at the top of the spec must agree. */
function disagreements(document: Record<string, unknown>, steps: readonly unknown[]) {
  const problems: SpecProblem[] = [];
  for (const step of steps) {
    if (!isRecord(step) || typeof step.kind !== "string" || !isRecord(step.with)) continue;
    for (const b of stepKind(step.kind)?.bindings ?? []) {
      const inStep = step.with[b.setting];
      const atTop = boundValue(document, b.field);
      if (inStep === undefined || atTop === undefined || same(inStep, atTop)) continue;
      problems.push({
        path: `/${b.field.join("/")}`,
        message: `is ${JSON.stringify(atTop)} but the ${step.kind} step says ${b.setting}: ${JSON.stringify(inStep)}; remove one or make them agree`,
        ...(typeof step.id === "string" ? { stepId: step.id } : {}),
      });
    }
  }
  return problems;
}

/**
 * The step a problem at `path` is about: `/steps/2/...` is the third step, and a top-level
 * field a step mirrors (`/limits/maxRows`, `/model`) is that step. For a spec without steps,
 * the default pipeline's ids. Used to put the server's 400 details back on the designer's nodes.
 */
export function stepIdAt(document: unknown, path: string): string | undefined {
  const [first, second] = pointerSegments(path.replace(/^\/spec(?=\/|$)/, ""));
  const steps = isRecord(document) && Array.isArray(document.steps) ? document.steps : undefined;
  if (first === "steps" && second !== undefined && /^\d+$/.test(second)) {
    const step: unknown = steps?.[Number(second)];
    return isRecord(step) && typeof step.id === "string" ? step.id : undefined;
  }
  const kind = STEP_KINDS.find((k) =>
    k.bindings?.some(
      (b) => b.field[0] === first && (second === undefined || b.field[1] === second),
    ),
  );
  if (!kind) return undefined;
  if (!steps) return DEFAULT_PIPELINE.find(([, type]) => type === kind.type)?.[0];
  const step: unknown = steps.find((s) => isRecord(s) && s.kind === kind.type);
  return isRecord(step) && typeof step.id === "string" ? step.id : undefined;
}

export type SpecCheck =
  | { readonly ok: true; readonly spec: AppSpec }
  | { readonly ok: false; readonly problems: readonly SpecProblem[] };

/**
 * Check a spec document and normalize it, returning every problem (schema and graph) rather
 * than throwing: the designer shows them on its nodes as the person edits.
 */
export function checkAppSpec(document: unknown): SpecCheck {
  const schemaOk = validateSpec(document);
  let problems = schemaOk ? [] : schemaProblems();
  if (isRecord(document) && document.steps !== undefined) {
    const graph = [
      ...checkSteps(document.steps, document),
      ...(Array.isArray(document.steps) ? disagreements(document, document.steps) : []),
    ];
    // The graph checks say everything the schema says about steps, in the steps' terms.
    if (graph.length > 0) {
      problems = [...problems.filter((p) => !/^\/steps(\/|$)/.test(p.path)), ...graph];
    }
  }
  if (schemaOk && isRecord(document)) problems = [...problems, ...releaseProblems(document)];
  if (problems.length > 0) {
    return {
      ok: false,
      problems: problems.map((p) => {
        if (p.stepId !== undefined) return p;
        const stepId = stepIdAt(document, p.path);
        return stepId === undefined ? p : { ...p, stepId };
      }),
    };
  }
  return { ok: true, spec: normalize(document as Record<string, unknown>) };
}

/** What the schema cannot say about `release`: canary steps ascending to 100, manual steps among them. */
function releaseProblems(document: Record<string, unknown>): SpecProblem[] {
  const canary = fillRelease(document.release).canary;
  try {
    const steps = parseSteps(canary.steps);
    try {
      parseManualSteps(canary.manualSteps, steps);
    } catch (error) {
      return [{ path: "/release/canary/manualSteps", message: (error as Error).message }];
    }
  } catch (error) {
    return [{ path: "/release/canary/steps", message: (error as Error).message }];
  }
  return [];
}

/** Validate a spec document and fill in defaults. Throws AppSpecError naming each bad field. */
export function parseAppSpec(document: unknown): AppSpec {
  const checked = checkAppSpec(document);
  if (checked.ok) return checked.spec;
  const details = checked.problems.map((p) => ({ path: p.path, message: p.message }));
  const first = details[0];
  throw new AppSpecError(
    `The app spec is invalid${first ? `: ${first.path} ${first.message}` : ""}`,
    details,
  );
}

/** A valid document with both forms filled in: steps from the top, or the top from steps. */
function normalize(document: Record<string, unknown>): AppSpec {
  const given = Array.isArray(document.steps) ? (document.steps as AppStep[]) : undefined;
  const steps: AppStep[] = (
    given ??
    DEFAULT_PIPELINE.map(
      ([id, kind], i): AppStep => ({
        id,
        kind,
        ...(i > 0 ? { after: [DEFAULT_PIPELINE[i - 1]?.[0] ?? ""] } : {}),
      }),
    )
  ).map((step) => {
    const kind = stepKind(step.kind);
    const settings: Record<string, unknown> = { ...step.with };
    for (const b of kind?.bindings ?? []) {
      if (settings[b.setting] === undefined) settings[b.setting] = boundValue(document, b.field);
    }
    const filled = kind ? withDefaults(kind, settings) : settings;
    return {
      id: step.id,
      kind: step.kind,
      ...(step.after && step.after.length > 0 ? { after: [...step.after] } : {}),
      ...(Object.keys(filled).length > 0 ? { with: filled } : {}),
    };
  });
  const setting = (type: string, key: string): unknown =>
    steps.find((s) => s.kind === type)?.with?.[key];
  const unknownCategories = setting("validate", "unknownCategories");
  return {
    apiVersion: APP_SPEC_API_VERSION,
    kind: "App",
    name: String(document.name),
    model: { name: String(setting("model", "name")), version: Number(setting("model", "version")) },
    contract: { unknownCategories: unknownCategories === "reject" ? "reject" : "bucket" },
    limits: { maxRows: Number(setting("validate", "maxRows") ?? DEFAULT_MAX_ROWS) },
    steps,
    policies: fillPolicies(document.policies),
    webhook: fillWebhook(document.webhook),
    monitoring: fillMonitoring(document.monitoring),
    release: fillRelease(document.release),
  };
}

/**
 * The sections written after the steps in the designer's form (and its YAML): what the app
 * does comes first, how it is protected and fed after.
 */
export const AFTER_STEPS: readonly string[] = ["policies", "webhook", "monitoring", "release"];

/**
 * A document in the designer's form: each top-level setting a step mirrors (`model`,
 * `limits.maxRows`, ...) moved into that step when the step lacks it or says the same, and a
 * spec without steps given the default pipeline. Nothing is validated and nothing is lost: a
 * top-level value that disagrees with its step stays where it is, for the checks to point at.
 * `policies` and `webhook` are not steps: they stay at the top, written after the steps.
 */
export function liftIntoSteps(
  document: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const top: Record<string, unknown> = {};
  const after: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(document)) {
    if (key === "steps") continue;
    const copy = isRecord(value) ? { ...value } : value;
    if (AFTER_STEPS.includes(key)) after[key] = copy;
    else top[key] = copy;
  }
  let steps: unknown[];
  if (document.steps === undefined) {
    steps = DEFAULT_PIPELINE.map(([id, kind], i) => ({
      id,
      kind,
      ...(i > 0 ? { after: [DEFAULT_PIPELINE[i - 1]?.[0]] } : {}),
    }));
  } else if (Array.isArray(document.steps)) {
    steps = document.steps.map((s: unknown) =>
      isRecord(s) && isRecord(s.with) ? { ...s, with: { ...s.with } } : isRecord(s) ? { ...s } : s,
    );
  } else {
    return { ...top, steps: document.steps, ...after };
  }
  for (const kind of STEP_KINDS) {
    const step = steps.find(
      (s): s is Record<string, unknown> => isRecord(s) && s.kind === kind.type,
    );
    if (!step || (step.with !== undefined && !isRecord(step.with))) continue;
    for (const b of kind.bindings ?? []) {
      const atTop = boundValue(top, b.field);
      if (atTop === undefined) continue;
      const settings: Record<string, unknown> = isRecord(step.with) ? step.with : {};
      if (settings[b.setting] === undefined) settings[b.setting] = atTop;
      else if (!same(settings[b.setting], atTop)) continue;
      step.with = settings;
      const parent = top[b.field[0]];
      if (!isRecord(parent)) continue;
      delete parent[b.field[1]];
      if (Object.keys(parent).length === 0) delete top[b.field[0]];
    }
  }
  return { ...top, steps, ...after };
}

/**
 * A parsed spec as the designer writes it: the steps carry the settings, so the top-level
 * fields they mirror are left out. Parsing the result gives `spec` back.
 */
export function toStepsForm(spec: AppSpec): Record<string, unknown> {
  return liftIntoSteps(JSON.parse(JSON.stringify(spec)));
}

/** Each step kind's settings as a parsed spec holds them (defaults filled in). */
export interface StepSettingsByKind {
  readonly input: Readonly<Record<string, never>>;
  readonly session: SessionStepSettings;
  readonly validate: ValidateStepSettings;
  readonly model: ModelStepSettings;
  readonly cascade: CascadeStepSettings;
  readonly http: HttpStepSettings;
  readonly fallback: FallbackStepSettings;
  readonly output: Readonly<Record<string, never>>;
}

/** A step of a parsed spec, its settings typed by its kind. */
export type PipelineStep = {
  readonly [K in keyof StepSettingsByKind]: {
    readonly id: string;
    readonly kind: K;
    readonly settings: StepSettingsByKind[K];
  };
}[keyof StepSettingsByKind];

/**
 * A parsed spec's steps in the order they run, input first and output last, with settings
 * typed by kind: what a pipeline executor walks. A parsed spec's steps form one chain (the
 * graph checks say so), so this is that chain read from its `after` links.
 */
export function pipelineOf(spec: AppSpec): PipelineStep[] {
  const next = new Map<string, AppStep>();
  for (const step of spec.steps) {
    const before = step.after?.[0];
    if (before !== undefined) next.set(before, step);
  }
  const out: PipelineStep[] = [];
  for (
    let step = spec.steps.find((s) => stepKind(s.kind)?.inputs === 0);
    step !== undefined && out.length < spec.steps.length;
    step = next.get(step.id)
  ) {
    // The settings were checked against the kind's schema and filled with its defaults.
    out.push({ id: step.id, kind: step.kind, settings: step.with ?? {} } as PipelineStep);
  }
  return out;
}

/** The spec a one-click publish creates. */
export function defaultAppSpec(name: string, model: { name: string; version: number }): AppSpec {
  return parseAppSpec({ apiVersion: APP_SPEC_API_VERSION, kind: "App", name, model });
}
