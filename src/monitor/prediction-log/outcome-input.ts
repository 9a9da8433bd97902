/**
 * The body of `POST /v1/apps/{app}/outcomes`, checked in full before anything is stored: one
 * outcome or `{ "outcomes": [...] }` (1-1000), each either the true value of a prediction
 * (`actual`) or a business event that followed it (`event`, optional `value`). Every problem is
 * reported with the JSON Pointer of its field (`/outcomes/3/actual`), so a caller fixes a batch
 * in one go; a body with any problem stores nothing.
 *
 * The schemas here are also the route's OpenAPI body, so the document and the checks agree.
 */
import { Ajv, type ErrorObject } from "ajv";
import type { JsonSchema } from "../../spec/contract.ts";

/** Request ids as the server generates or accepts them in `X-Request-Id`. */
export const REQUEST_ID_PATTERN = "^[A-Za-z0-9._:-]{1,128}$";
export const EVENT_NAME_PATTERN = "^[a-z0-9_.-]{1,64}$";
export const MAX_OUTCOMES = 1000;
/** Largest `row` accepted: a batch row index, far beyond any app's rows per request. */
export const MAX_OUTCOME_ROW = 1_000_000;

/** What an `actual` is checked against: the deployed model's task and class labels. */
export type OutcomeTarget =
  | { readonly task: "binary" | "multiclass"; readonly classes: readonly string[] }
  | { readonly task: "regression" };

/** One checked outcome, as it is stored (one row of the `outcomes` table). */
export interface ParsedOutcome {
  readonly requestId: string;
  readonly row: number;
  readonly kind: "actual" | "event";
  /** The event's name; "" for an actual. */
  readonly event: string;
  /** Classification: the class label the `actual` names. */
  readonly actualLabel: string | null;
  /** Regression: the true value. */
  readonly actualValue: number | null;
  /** The event's value (revenue, quantity, ...), when given. */
  readonly value: number | null;
}

export interface OutcomeProblem {
  readonly path: string;
  readonly message: string;
}

export type OutcomeParse =
  | { readonly ok: true; readonly outcomes: readonly ParsedOutcome[] }
  | { readonly ok: false; readonly problems: readonly OutcomeProblem[] };

const ITEM_PROPERTIES: Record<string, JsonSchema> = {
  request_id: {
    type: "string",
    pattern: REQUEST_ID_PATTERN,
    description: "The `request_id` of the prediction (its `X-Request-Id`).",
  },
  actual: {
    type: ["string", "number", "boolean"],
    maxLength: 1000,
    description:
      "The true value: one of the model's class labels (true/false and 1/0 name the second and first class of a yes/no model), or a number for regression.",
  },
  event: {
    type: "string",
    pattern: EVENT_NAME_PATTERN,
    description: "A business event that followed the prediction (`converted`, `churned`, ...).",
  },
  value: { type: "number", description: "The event's value (revenue, quantity); events only." },
  row: {
    type: "integer",
    minimum: 0,
    maximum: MAX_OUTCOME_ROW,
    description: "Which row of a batch prediction (`rows[i]`); 0 for a single record.",
  },
};

/** One outcome, as Ajv checks it (the actual-or-event rule is checked in code, with a clear message). */
const ITEM_SCHEMA: JsonSchema = {
  type: "object",
  additionalProperties: false,
  required: ["request_id"],
  properties: ITEM_PROPERTIES,
};

/** A batch's envelope; each item is then checked alone, so every bad item is reported. */
const BATCH_SCHEMA: JsonSchema = {
  type: "object",
  additionalProperties: false,
  required: ["outcomes"],
  properties: { outcomes: { type: "array", minItems: 1, maxItems: MAX_OUTCOMES } },
};

const ITEM_DOC: JsonSchema = {
  ...ITEM_SCHEMA,
  oneOf: [
    { required: ["actual"], not: { anyOf: [{ required: ["event"] }, { required: ["value"] }] } },
    { required: ["event"], not: { required: ["actual"] } },
  ],
};

/** The route's body schema for the OpenAPI document: one outcome or a batch. */
export const OUTCOME_BODY_SCHEMA: JsonSchema = {
  oneOf: [
    ITEM_DOC,
    {
      ...BATCH_SCHEMA,
      properties: {
        outcomes: { type: "array", minItems: 1, maxItems: MAX_OUTCOMES, items: ITEM_DOC },
      },
    },
  ],
};

const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
const checkItem = ajv.compile(ITEM_SCHEMA);
const checkBatch = ajv.compile(BATCH_SCHEMA);

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Most problems listed for one body: enough to fix it, bounded for a huge junk batch. */
const MAX_PROBLEMS = 50;

const FIELD_MESSAGES: Readonly<Record<string, string>> = {
  request_id: "must be 1-128 letters, digits or ._:-",
  event: "must be 1-64 of a-z, 0-9, _ . -",
};

function ajvProblems(
  errors: readonly ErrorObject[] | null | undefined,
  prefix: string,
): OutcomeProblem[] {
  return (errors ?? []).map((e) => {
    const at = `${prefix}${e.instancePath}`;
    if (e.keyword === "required") {
      return { path: `${at}/${String(e.params.missingProperty)}`, message: "is required" };
    }
    if (e.keyword === "additionalProperties") {
      return {
        path: `${at}/${String(e.params.additionalProperty)}`,
        message: "is not an accepted field",
      };
    }
    const field = e.instancePath.split("/").pop() ?? "";
    const message =
      e.keyword === "pattern"
        ? (FIELD_MESSAGES[field] ?? "is not valid")
        : (e.message ?? "is invalid");
    return { path: at || "/", message };
  });
}

/**
 * The class label an `actual` names: its exact text, else a unique case-insensitive match, else
 * (yes/no models) true/1 for the second class and false/0 for the first, as the predict route
 * reads yes/no inputs.
 */
export function classLabelOf(
  actual: string | number | boolean,
  classes: readonly string[],
): string | undefined {
  const text = String(actual);
  if (classes.includes(text)) return text;
  const lower = text.toLowerCase();
  const folded = classes.filter((c) => c.toLowerCase() === lower);
  if (folded.length === 1) return folded[0];
  if (classes.length === 2) {
    if (lower === "true" || lower === "1") return classes[1];
    if (lower === "false" || lower === "0") return classes[0];
  }
  return undefined;
}

function describeClasses(classes: readonly string[]): string {
  const shown = classes.slice(0, 10).map((c) => JSON.stringify(c));
  return classes.length > 10 ? `${shown.join(", ")}, ...` : shown.join(", ");
}

function checkOutcome(
  item: Record<string, unknown>,
  path: string,
  target: OutcomeTarget,
  problems: OutcomeProblem[],
): ParsedOutcome | undefined {
  const requestId = item.request_id as string;
  const row = (item.row as number | undefined) ?? 0;
  const { actual, event, value } = item;
  if (actual !== undefined && event !== undefined) {
    problems.push({
      path: `${path}/event`,
      message: "cannot be sent with actual: send two outcomes",
    });
    return undefined;
  }
  if (actual === undefined && event === undefined) {
    problems.push({ path, message: "must have either actual or event" });
    return undefined;
  }
  if (event !== undefined) {
    if (value !== undefined && !Number.isFinite(value)) {
      problems.push({ path: `${path}/value`, message: "must be a finite number" });
      return undefined;
    }
    const v = value === undefined ? null : (value as number);
    return {
      requestId,
      row,
      kind: "event",
      event: event as string,
      actualLabel: null,
      actualValue: null,
      value: v,
    };
  }
  if (value !== undefined) {
    problems.push({ path: `${path}/value`, message: "is only accepted with an event" });
    return undefined;
  }
  const given = actual as string | number | boolean;
  if (target.task === "regression") {
    if (typeof given !== "number" || !Number.isFinite(given)) {
      problems.push({
        path: `${path}/actual`,
        message: "must be a finite number (the model predicts a number)",
      });
      return undefined;
    }
    return {
      requestId,
      row,
      kind: "actual",
      event: "",
      actualLabel: null,
      actualValue: given,
      value: null,
    };
  }
  const label = classLabelOf(given, target.classes);
  if (label === undefined) {
    problems.push({
      path: `${path}/actual`,
      message: `must be one of the model's classes: ${describeClasses(target.classes)}`,
    });
    return undefined;
  }
  return {
    requestId,
    row,
    kind: "actual",
    event: "",
    actualLabel: label,
    actualValue: null,
    value: null,
  };
}

/** Check a whole body; either every outcome in it or the problems, never a part. */
export function parseOutcomes(body: unknown, target: OutcomeTarget): OutcomeParse {
  if (!isRecord(body)) {
    return {
      ok: false,
      problems: [
        { path: "/", message: 'must be a JSON object: one outcome or {"outcomes": [...]}' },
      ],
    };
  }
  const batch = "outcomes" in body;
  if (batch && !checkBatch(body)) {
    return { ok: false, problems: ajvProblems(checkBatch.errors, "").slice(0, MAX_PROBLEMS) };
  }
  const items: readonly unknown[] = batch ? (body.outcomes as unknown[]) : [body];
  const problems: OutcomeProblem[] = [];
  const outcomes: ParsedOutcome[] = [];
  for (let i = 0; i < items.length && problems.length < MAX_PROBLEMS; i++) {
    const item = items[i];
    const path = batch ? `/outcomes/${i}` : "";
    if (!checkItem(item)) {
      problems.push(...ajvProblems(checkItem.errors, path));
      continue;
    }
    const parsed = checkOutcome(item as Record<string, unknown>, path, target, problems);
    if (parsed) outcomes.push(parsed);
  }
  // An item-level problem of a single outcome is about the body itself.
  if (problems.length > 0) {
    const named = problems.map((p) => (p.path === "" ? { ...p, path: "/" } : p));
    return { ok: false, problems: named.slice(0, MAX_PROBLEMS) };
  }
  return { ok: true, outcomes };
}
