/**
 * How a golden case's expected answer is compared with what a version actually answered:
 * exactly, within a tolerance band, or against a JSON Schema. Pure functions, so the server,
 * `ballast test` and the promotion gate judge a case the same way, and every failure names
 * the field and says in words what was expected and what came back.
 */
import type { ValidateFunction } from "ajv";
import { type InputProblem, InvalidInputError } from "../../runtime/errors.ts";
import { createAjv } from "../../runtime/record-validation.ts";

/**
 * How strictly a case is matched. `fields` limits the check to some top-level fields of the
 * expected answer (default: all of them).
 */
export type GoldenMatch =
  | { readonly mode: "exact"; readonly fields?: readonly string[] }
  | {
      readonly mode: "tolerance";
      /** A number passes within `relative × |expected|` ... */
      readonly relative?: number;
      /** ... or within `absolute`, whichever band is wider. */
      readonly absolute?: number;
      /** Each class of `probabilities` passes within ± this. */
      readonly probability?: number;
      readonly fields?: readonly string[];
    }
  | { readonly mode: "schema"; readonly schema: Record<string, unknown> };

/**
 * The match given to captured cases: a retrained model rarely answers to the last digit, so a
 * 5 % band on numbers and ±0.05 on probabilities catch real moves without flagging noise.
 */
export const DEFAULT_GOLDEN_MATCH: GoldenMatch = Object.freeze({
  mode: "tolerance",
  probability: 0.05,
  relative: 0.05,
});

/**
 * A `match` the API refuses. An InvalidInputError (`invalid_body`, 400), so the server maps it
 * without a new case; `path` is the first problem's JSON Pointer, e.g. `/match/relative`.
 */
export class GoldenMatchError extends InvalidInputError {
  readonly path: string;
  constructor(problems: readonly InputProblem[]) {
    super(
      "invalid_body",
      problems.map((p) => `${p.path || "the match"} ${p.message}`).join("; "),
      problems,
    );
    this.name = "GoldenMatchError";
    this.path = problems[0]?.path ?? "";
  }
}

const MODES = ["exact", "tolerance", "schema"] as const;
const SETTINGS: Readonly<Record<GoldenMatch["mode"], readonly string[]>> = {
  exact: ["mode", "fields"],
  tolerance: ["mode", "relative", "absolute", "probability", "fields"],
  schema: ["mode", "schema"],
};

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** One JSON Pointer segment (RFC 6901). */
/** An own field's value: a field named `__proto__` or `constructor` is data, not inherited. */
const own = (o: Readonly<Record<string, unknown>>, key: string): unknown =>
  Object.hasOwn(o, key) ? o[key] : undefined;

const pointerSegment = (key: string): string => key.replace(/~/g, "~0").replace(/\//g, "~1");

// Compiled once per schema object. A fresh Ajv each time: a shared one would keep every schema
// ever parsed (and refuse a second schema with the same $id).
const compiled = new WeakMap<object, ValidateFunction>();

function compileSchema(schema: Record<string, unknown>): ValidateFunction {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = createAjv().compile(schema);
    compiled.set(schema, validate);
  }
  return validate;
}

/**
 * Checks a `match` from an API body or a suite file and returns it in canonical form (unknown
 * settings refused, so a typo like `relativ` is not silently ignored). Every problem is listed.
 * @param path JSON Pointer of `value` in its document, prefixed to each problem's path.
 * @throws GoldenMatchError
 */
export function parseGoldenMatch(value: unknown, path = ""): GoldenMatch {
  const problems: InputProblem[] = [];
  const fail = (at: string, message: string): void => {
    problems.push({ path: at, message });
  };
  if (!isPlainObject(value)) {
    throw new GoldenMatchError([{ path, message: "must be an object with a mode" }]);
  }
  const mode = value.mode;
  if (mode === undefined) {
    throw new GoldenMatchError([
      { path: `${path}/mode`, message: "is required: exact, tolerance or schema" },
    ]);
  }
  if (!(MODES as readonly unknown[]).includes(mode)) {
    throw new GoldenMatchError([
      { path: `${path}/mode`, message: "must be exact, tolerance or schema" },
    ]);
  }
  const m = mode as GoldenMatch["mode"];
  for (const key of Object.keys(value)) {
    if (!SETTINGS[m].includes(key)) {
      fail(`${path}/${pointerSegment(key)}`, `is not a setting of the ${m} mode`);
    }
  }

  const readNumber = (key: "relative" | "absolute" | "probability"): number | undefined => {
    const v = value[key];
    if (v === undefined) return undefined;
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
      fail(`${path}/${key}`, "must be a finite number >= 0");
      return undefined;
    }
    return v;
  };
  const readFields = (): string[] | undefined => {
    const v = value.fields;
    if (v === undefined) return undefined;
    if (!Array.isArray(v)) {
      fail(`${path}/fields`, "must be a list of field names");
      return undefined;
    }
    // An empty list would check nothing, and a case that checks nothing always passes.
    if (v.length === 0) fail(`${path}/fields`, "must name at least one field");
    const out: string[] = [];
    v.forEach((f: unknown, i) => {
      if (typeof f !== "string" || f.length === 0) {
        fail(`${path}/fields/${i}`, "must be a non-empty string");
      } else if (!out.includes(f)) out.push(f);
    });
    return out;
  };

  let result: GoldenMatch;
  if (m === "schema") {
    const schema = value.schema;
    if (!isPlainObject(schema)) {
      fail(`${path}/schema`, "must be a JSON Schema object");
      throw new GoldenMatchError(problems);
    }
    try {
      compileSchema(schema);
    } catch (err: unknown) {
      const why = err instanceof Error ? err.message : String(err);
      fail(`${path}/schema`, `is not a JSON Schema that can be compiled: ${why}`);
    }
    result = { mode: "schema", schema };
  } else if (m === "exact") {
    const fields = readFields();
    result = fields ? { mode: "exact", fields } : { mode: "exact" };
  } else {
    const relative = readNumber("relative");
    const absolute = readNumber("absolute");
    const probability = readNumber("probability");
    const fields = readFields();
    result = {
      mode: "tolerance",
      ...(relative !== undefined ? { relative } : {}),
      ...(absolute !== undefined ? { absolute } : {}),
      ...(probability !== undefined ? { probability } : {}),
      ...(fields ? { fields } : {}),
    };
  }
  if (problems.length > 0) throw new GoldenMatchError(problems);
  return result;
}

/** One field that did not match: `field` is a path such as `probabilities.yes`. */
export interface FieldFailure {
  readonly field: string;
  readonly expected: unknown;
  readonly actual: unknown;
  /** For a person, e.g. `prediction: expected 42.5 ±2.125, got 47.1`. */
  readonly message: string;
}

export interface CaseOutcome {
  readonly passed: boolean;
  readonly failures: readonly FieldFailure[];
}

/** How numbers are compared where a walk is: exactly, or within a band. */
interface Rules {
  readonly exact: boolean;
  readonly relative: number;
  readonly absolute: number;
  readonly probability: number;
}

function formatValue(v: unknown): string {
  if (v === undefined) return "nothing";
  if (typeof v === "number") return Object.is(v, -0) ? "0" : String(v);
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** Six significant digits: `0.05 × 42.5` reads 2.125, not 2.1250000000000004. */
const formatBand = (b: number): string => String(Number(b.toPrecision(6)));

function numbersEqual(e: number, a: number): boolean {
  // Object.is, except that -0 and +0 are the same answer.
  return e === a || (Number.isNaN(e) && Number.isNaN(a));
}

function withinBand(e: number, a: number, band: number): boolean {
  if (!Number.isFinite(e) || !Number.isFinite(a)) return numbersEqual(e, a);
  // A few ulps of slack: 0.81 - 0.76 is 0.050000000000000044 in binary, yet within ±0.05.
  const slack = 4 * Number.EPSILON * Math.max(Math.abs(e), Math.abs(a), band);
  return Math.abs(a - e) <= band + slack;
}

function compareValue(
  path: string,
  e: unknown,
  a: unknown,
  rules: Rules,
  band: number | undefined,
  out: FieldFailure[],
): void {
  const mismatch = (detail?: string): void => {
    const shown = band !== undefined && band > 0 ? ` ±${formatBand(band)}` : "";
    out.push({
      field: path,
      expected: e,
      actual: a,
      message: `${path}: expected ${formatValue(e)}${shown}, got ${detail ?? formatValue(a)}`,
    });
  };
  if (typeof e === "number") {
    if (typeof a !== "number") {
      mismatch();
      return;
    }
    const width = band ?? 0;
    const ok = rules.exact ? numbersEqual(e, a) : withinBand(e, a, width);
    if (!ok) mismatch();
    return;
  }
  if (Array.isArray(e)) {
    if (!Array.isArray(a)) {
      mismatch();
      return;
    }
    if (a.length !== e.length) {
      out.push({
        field: path,
        expected: e,
        actual: a,
        message: `${path}: expected ${e.length} items, got ${a.length}`,
      });
      return;
    }
    e.forEach((item, i) => {
      compareValue(`${path}[${i}]`, item, a[i], rules, bandOf(item, rules), out);
    });
    return;
  }
  if (isPlainObject(e)) {
    if (!isPlainObject(a)) {
      mismatch();
      return;
    }
    for (const [key, item] of Object.entries(e)) {
      if (item === undefined) continue;
      compareValue(`${path}.${key}`, item, own(a, key), rules, bandOf(item, rules), out);
    }
    if (rules.exact) {
      // Deep equality: a field the expected answer lacks is a difference too.
      for (const [key, item] of Object.entries(a)) {
        if (item !== undefined && own(e, key) === undefined) {
          out.push({
            field: `${path}.${key}`,
            expected: undefined,
            actual: item,
            message: `${path}.${key}: expected nothing, got ${formatValue(item)}`,
          });
        }
      }
    }
    return;
  }
  // Strings, booleans, null: always exact.
  if (!Object.is(e, a)) mismatch();
}

function bandOf(e: unknown, rules: Rules): number | undefined {
  if (rules.exact || typeof e !== "number") return undefined;
  return Math.max(rules.absolute, rules.relative * Math.abs(e));
}

/** A JSON Pointer's target inside `doc`, for showing what a schema refused. */
function atPointer(doc: unknown, pointer: string): unknown {
  if (pointer === "") return doc;
  let here: unknown = doc;
  for (const raw of pointer.slice(1).split("/")) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (Array.isArray(here)) here = here[Number(key)];
    else if (isPlainObject(here)) here = own(here, key);
    else return undefined;
  }
  return here;
}

function matchSchema(
  schema: Record<string, unknown>,
  actual: Readonly<Record<string, unknown>>,
): CaseOutcome {
  let validate: ValidateFunction;
  try {
    validate = compileSchema(schema);
  } catch (err: unknown) {
    const why = err instanceof Error ? err.message : String(err);
    const message = `the case's schema cannot be compiled: ${why}`;
    return { passed: false, failures: [{ field: "", expected: schema, actual, message }] };
  }
  if (validate(actual)) return { passed: true, failures: [] };
  const failures: FieldFailure[] = [];
  for (const e of validate.errors ?? []) {
    let field = e.instancePath;
    let message = e.message ?? "is invalid";
    if (e.keyword === "required") {
      // Name the missing field itself, not the object that lacks it.
      const missing = (e.params as { missingProperty?: unknown }).missingProperty;
      field = `${field}/${pointerSegment(String(missing))}`;
      message = "is required";
    } else if (e.keyword === "enum") {
      const allowed = (e.params as { allowedValues?: unknown[] }).allowedValues ?? [];
      message = `must be one of ${allowed.map(formatValue).join(", ")}`;
    }
    const value = atPointer(actual, field);
    failures.push({
      field,
      expected: e.params,
      actual: value,
      message: `${field || "/"}: ${message}, got ${formatValue(value)}`,
    });
  }
  return { passed: false, failures };
}

/**
 * Judges one answer against a golden case. exact: deep equality per field. tolerance: a number
 * passes when |actual - expected| <= max(absolute, relative × |expected|); each class of
 * `probabilities` within ±probability (a class missing from the answer fails, extra classes
 * are ignored); strings, booleans and null exactly; objects field by field with the same rules.
 * schema: the whole answer must validate, each Ajv error a failure named by its instance path.
 * A missing answer field fails; so does a case with no field to check, which could never fail.
 */
export function matchAnswer(
  expected: Readonly<Record<string, unknown>>,
  actual: Readonly<Record<string, unknown>>,
  match: GoldenMatch,
): CaseOutcome {
  if (match.mode === "schema") return matchSchema(match.schema, actual);
  const rules: Rules =
    match.mode === "exact"
      ? { exact: true, relative: 0, absolute: 0, probability: 0 }
      : {
          exact: false,
          relative: match.relative ?? 0,
          absolute: match.absolute ?? 0,
          probability: match.probability ?? 0,
        };
  const fields =
    match.fields ?? Object.keys(expected).filter((k) => own(expected, k) !== undefined);
  const failures: FieldFailure[] = [];
  if (fields.length === 0) {
    failures.push({
      field: "",
      expected,
      actual,
      message: "the case has no expected field to check",
    });
  }
  for (const field of fields) {
    const e = own(expected, field);
    const a = own(actual, field);
    if (e === undefined) {
      failures.push({
        field,
        expected: undefined,
        actual: a,
        message: `${field}: not in the expected answer, so it cannot be checked`,
      });
      continue;
    }
    if (field === "probabilities" && !rules.exact && isPlainObject(e)) {
      // Classes carry their own band: ±probability, never relative to the class's value.
      if (!isPlainObject(a)) {
        compareValue(field, e, a, rules, undefined, failures);
        continue;
      }
      for (const [cls, p] of Object.entries(e)) {
        if (p === undefined) continue;
        const band = typeof p === "number" ? rules.probability : undefined;
        compareValue(`${field}.${cls}`, p, own(a, cls), rules, band, failures);
      }
      continue;
    }
    compareValue(field, e, a, rules, bandOf(e, rules), failures);
  }
  return { passed: failures.length === 0, failures };
}

/**
 * What to store as `expected` when a live answer is captured: the prediction and its
 * probabilities. Request ids, versions and explanations change with every call or model and
 * would make the case fail for nothing. A one-record batch answer is read as that record.
 */
export function expectedOf(answer: Readonly<Record<string, unknown>>): Record<string, unknown> {
  let one: Readonly<Record<string, unknown>> = answer;
  const batch = answer.predictions;
  if (answer.prediction === undefined && Array.isArray(batch) && batch.length === 1) {
    const only: unknown = batch[0];
    if (isPlainObject(only)) one = only;
  }
  const out: Record<string, unknown> = {};
  if (one.prediction !== undefined) out.prediction = one.prediction;
  if (isPlainObject(one.probabilities)) out.probabilities = { ...one.probabilities };
  return out;
}
