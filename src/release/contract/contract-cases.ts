/**
 * Contract tests generated from an app's published request schema (the one in its OpenAPI
 * path, built by `requestSchema` in src/spec/contract.ts): bodies a correct deployment must
 * accept and bodies it must refuse with a 4xx. They need no hand-written cases, so every app
 * gets them, and they catch a deployment whose validation drifted from what it publishes.
 */

/** One request to send, and what a correct server does with it. */
export interface ContractCase {
  /** Readable and unique within one generation, e.g. `missing tenure_months`. */
  readonly name: string;
  /** The JSON body to POST. Copies of a record inside one batch may share one object. */
  readonly body: unknown;
  /** accept: a 2xx answer; reject: a 4xx (never a 5xx, never a 2xx). */
  readonly expect: "accept" | "reject";
  /** Why, for the report when the server disagrees. */
  readonly why: string;
}

export interface ContractCaseOptions {
  /**
   * Records known to be valid (a golden suite's inputs): accepted as they are, and the first is
   * the base every other case changes one thing in. Without them a base is made from the schema.
   */
  readonly validRecords?: readonly Record<string, unknown>[];
  /**
   * The largest batch limit for which the over-the-limit case is built (default 1000): past
   * that the body mostly tests the server's body-size limit, and costs a large request.
   */
  readonly maxRows?: number;
}

type Schema = Record<string, unknown>;

/** Valid records sent as accept cases as they are; more would repeat the golden suite. */
const MAX_VALID_RECORDS = 5;
/** One `missing X` case per required field, for at most this many fields. */
const MAX_MISSING_CASES = 20;
const DEFAULT_MAX_ROWS = 1000;

function isObject(v: unknown): v is Schema {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const own = (o: Schema, key: string): unknown => (Object.hasOwn(o, key) ? o[key] : undefined);

/** A copy with one field set; defineProperty, so a field named `__proto__` stays a field. */
function withField(record: Schema, field: string, value: unknown): Schema {
  const out = { ...record };
  Object.defineProperty(out, field, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
  return out;
}

function withoutField(record: Schema, field: string): Schema {
  return Object.fromEntries(Object.entries(record).filter(([k]) => k !== field));
}

interface SplitSchema {
  readonly record: Schema;
  readonly rows: Schema;
}

function notRecognised(why: string): Error {
  return new Error(
    `Not a Ballast request schema (expected {oneOf: [record, {rows: [record, ...]}]}): ${why}`,
  );
}

/** The rows branch: an object whose only property is `rows`, an array of records. */
function isRowsBranch(branch: Schema): boolean {
  const properties = branch.properties;
  if (!isObject(properties)) return false;
  const keys = Object.keys(properties);
  const rows = own(properties, "rows");
  return keys.length === 1 && isObject(rows) && rows.type === "array" && isObject(rows.items);
}

function split(requestSchema: Schema): SplitSchema {
  const oneOf = requestSchema.oneOf;
  if (!Array.isArray(oneOf)) throw notRecognised("it has no oneOf");
  if (oneOf.length !== 2) throw notRecognised(`its oneOf has ${oneOf.length} branches, not 2`);
  const [a, b] = oneOf;
  if (!isObject(a) || !isObject(b)) throw notRecognised("a oneOf branch is not a schema object");
  const aIsRows = isRowsBranch(a);
  const bIsRows = isRowsBranch(b);
  if (aIsRows === bIsRows) throw notRecognised("exactly one branch must be the {rows} batch");
  const record = aIsRows ? b : a;
  const rowsBranch = aIsRows ? a : b;
  if (record.type !== "object" || !isObject(record.properties)) {
    throw notRecognised("the record branch is not an object schema with properties");
  }
  const rows = own(rowsBranch.properties as Schema, "rows");
  return { record, rows: isObject(rows) ? rows : {} };
}

/**
 * The record branch of an app's request schema: what one record must look like.
 * @throws Error naming what is not as `requestSchema` builds it.
 */
export function recordSchemaOf(requestSchema: Record<string, unknown>): Record<string, unknown> {
  return split(requestSchema).record;
}

/** What a field is, read off the shapes `recordSchema` writes. */
type FieldKind =
  | { readonly kind: "number" }
  | { readonly kind: "boolean" }
  /** An enum that is not a string category: booleans with their spellings. */
  | { readonly kind: "enum"; readonly values: readonly unknown[] }
  | { readonly kind: "category"; readonly values: readonly string[] }
  | { readonly kind: "datetime" }
  /** A string: a category scored in the unknown bucket, examples given. */
  | { readonly kind: "string"; readonly example: string | undefined }
  | { readonly kind: "unknown" };

interface Field {
  readonly name: string;
  readonly schema: Schema;
  readonly required: boolean;
  readonly nullable: boolean;
  readonly kind: FieldKind;
}

function typesOf(schema: Schema): readonly string[] {
  const t = schema.type;
  if (typeof t === "string") return [t];
  return Array.isArray(t) ? t.filter((x): x is string => typeof x === "string") : [];
}

const DATE_FORMATS = ["date", "date-time"];

function isDatetime(schema: Schema): boolean {
  if (typeof schema.format === "string" && DATE_FORMATS.includes(schema.format)) return true;
  const anyOf = schema.anyOf;
  return (
    Array.isArray(anyOf) &&
    anyOf.length > 0 &&
    anyOf.every(
      (s) => isObject(s) && typeof s.format === "string" && DATE_FORMATS.includes(s.format),
    )
  );
}

function kindOf(schema: Schema): FieldKind {
  const types = typesOf(schema);
  const values = Array.isArray(schema.enum) ? schema.enum.filter((v) => v !== null) : undefined;
  if (values) {
    const strings = values.filter((v): v is string => typeof v === "string");
    if (types.includes("string") && strings.length === values.length) {
      return { kind: "category", values: strings };
    }
    return { kind: "enum", values };
  }
  if (types.includes("number") || types.includes("integer")) return { kind: "number" };
  if (types.includes("boolean")) return { kind: "boolean" };
  if (types.includes("string")) {
    if (isDatetime(schema)) return { kind: "datetime" };
    const examples = [schema.examples, schema["x-ballast-categories"]].flatMap((list) =>
      Array.isArray(list) ? list.filter((v): v is string => typeof v === "string") : [],
    );
    return { kind: "string", example: examples[0] };
  }
  return { kind: "unknown" };
}

function fieldsOf(record: Schema): Field[] {
  const properties = record.properties as Schema;
  const required = Array.isArray(record.required) ? record.required : [];
  return Object.keys(properties).flatMap((name) => {
    const schema = own(properties, name);
    if (!isObject(schema)) return [];
    // Null must pass both the type and the enum: a category published as
    // {type: "string", enum: [..., null]} refuses null, and its cases must say so.
    const types = typesOf(schema);
    const typeAdmitsNull = schema.type === undefined || types.includes("null");
    const enumAdmitsNull = !Array.isArray(schema.enum) || schema.enum.includes(null);
    const nullable =
      typeAdmitsNull && enumAdmitsNull && (types.length > 0 || Array.isArray(schema.enum));
    return [{ name, schema, required: required.includes(name), nullable, kind: kindOf(schema) }];
  });
}

/** A valid value for a field: the first enum value, an example, 0, a date. */
function validValue(field: Field): { readonly value: unknown } | undefined {
  const k = field.kind;
  switch (k.kind) {
    case "enum":
    case "category":
      if (k.values.length > 0) return { value: k.values[0] };
      break;
    case "number": {
      const min = field.schema.minimum;
      return { value: typeof min === "number" ? min : 0 };
    }
    case "boolean":
      return { value: true };
    case "datetime":
      return { value: "2024-01-01" };
    case "string":
      return { value: k.example ?? "a" };
    case "unknown":
      if (Object.hasOwn(field.schema, "const")) return { value: field.schema.const };
      break;
  }
  return field.nullable ? { value: null } : undefined;
}

function synthesize(fields: readonly Field[]): Schema {
  let record: Schema = {};
  for (const field of fields) {
    const v = validValue(field);
    if (v) record = withField(record, field.name, v.value);
    else if (field.required) {
      throw new Error(
        `Cannot make a valid value for required field ${field.name} from its schema; pass validRecords`,
      );
    }
  }
  return record;
}

/** `base`, or the first of `base_2`, `base_3`, ... that is not `taken`. */
function freshValue(base: string, taken: (v: string) => boolean): string {
  if (!taken(base)) return base;
  for (let i = 2; ; i++) if (!taken(`${base}_${i}`)) return `${base}_${i}`;
}

/** A value of the wrong type for a field, and why it must be refused. */
function wrongValue(field: Field): { readonly value: unknown; readonly why: string } | undefined {
  const k = field.kind;
  switch (k.kind) {
    case "number":
      return { value: "abc", why: `${field.name} must be a number` };
    case "category":
    case "string":
    case "datetime":
      return { value: 123, why: `${field.name} must be a string` };
    case "boolean":
      return { value: "maybe", why: `${field.name} must be true or false` };
    case "enum": {
      const values = k.values;
      const allowed = values.map((v) => JSON.stringify(v)).join(", ");
      return {
        value: freshValue("maybe", (v) => values.includes(v)),
        why: `${field.name} must be one of ${allowed}`,
      };
    }
    case "unknown":
      return undefined;
  }
}

/**
 * Contract cases for an app's request schema. accept: the base record (and each valid record
 * given), a batch of two, each nullable field set to null. reject: a body that is not an
 * object (an array, a string), each required field missing (up to 20), each field of the
 * wrong type, an unknown field, a category outside its enum, a date that is not one, a batch
 * with one bad row, an empty batch, and a batch one row over the limit (when that limit is at
 * most `maxRows`). Every reject body fails the schema itself, so a 2xx means the server's
 * validation is looser than what it publishes.
 * @throws Error when the schema is not one `requestSchema` builds (see {@link recordSchemaOf})
 */
export function contractCases(
  requestSchema: Record<string, unknown>,
  options: ContractCaseOptions = {},
): ContractCase[] {
  const { record, rows } = split(requestSchema);
  const fields = fieldsOf(record);
  const given = (options.validRecords ?? []).slice(0, MAX_VALID_RECORDS);
  const base: Schema = given[0] ? { ...given[0] } : synthesize(fields);
  const maxItems = typeof rows.maxItems === "number" ? rows.maxItems : undefined;
  const minItems = typeof rows.minItems === "number" ? rows.minItems : 0;
  const largestBuilt = options.maxRows ?? DEFAULT_MAX_ROWS;

  const cases: ContractCase[] = [];
  const names = new Set<string>();
  const add = (name: string, expect: ContractCase["expect"], body: unknown, why: string) => {
    let unique = name;
    for (let i = 2; names.has(unique); i++) unique = `${name} (${i})`;
    names.add(unique);
    cases.push({ name: unique, body, expect, why });
  };

  // Accept.
  if (given.length === 0) add("valid record", "accept", base, "a record made from the schema");
  given.forEach((r, i) => {
    add(`valid record ${i + 1}`, "accept", { ...r }, "a record known to be valid");
  });
  const batchSize = Math.max(1, Math.min(2, maxItems ?? 2));
  add(
    `batch of ${batchSize} record${batchSize === 1 ? "" : "s"}`,
    "accept",
    { rows: Array.from({ length: batchSize }, () => ({ ...base })) },
    `a batch of ${batchSize} valid record${batchSize === 1 ? "" : "s"}`,
  );
  for (const f of fields) {
    if (f.nullable)
      add(`${f.name} null`, "accept", withField(base, f.name, null), `${f.name} is nullable`);
  }

  // Reject: the body's shape.
  const shape = 'the body must be a JSON object: one record or {"rows": [...]}';
  add("body is an array", "reject", [{ ...base }], shape);
  add("body is a string", "reject", "not a record", shape);

  // Reject: one thing wrong in an otherwise valid record.
  for (const f of fields.filter((x) => x.required).slice(0, MAX_MISSING_CASES)) {
    add(`missing ${f.name}`, "reject", withoutField(base, f.name), `${f.name} is required`);
  }
  let badRow: Schema | undefined;
  for (const f of fields) {
    const wrong = wrongValue(f);
    if (!wrong) continue;
    const body = withField(base, f.name, wrong.value);
    badRow ??= body;
    add(`${f.name} wrong type`, "reject", body, `${wrong.why}; got ${JSON.stringify(wrong.value)}`);
  }
  if (record.additionalProperties === false) {
    const extra = freshValue("unexpected_field", (v) => fields.some((f) => f.name === v));
    add(
      `unknown field ${extra}`,
      "reject",
      withField(base, extra, 1),
      `the contract has no field ${extra}`,
    );
  }
  for (const f of fields) {
    const k = f.kind;
    if (k.kind === "category") {
      const outside = freshValue("not_a_category", (v) => k.values.includes(v));
      add(
        `${f.name} outside its categories`,
        "reject",
        withField(base, f.name, outside),
        `${f.name} must be one of its ${k.values.length} categories`,
      );
    } else if (k.kind === "datetime") {
      add(
        `${f.name} not a date`,
        "reject",
        withField(base, f.name, "not a date"),
        `${f.name} must be an ISO-8601 date or date-time`,
      );
    }
  }

  // Reject: batches.
  const firstRequired = fields.find((f) => f.required);
  if (firstRequired) badRow ??= withoutField(base, firstRequired.name);
  if (badRow && (maxItems === undefined || maxItems >= 2)) {
    add(
      "batch with one invalid row",
      "reject",
      { rows: [{ ...base }, badRow] },
      "every row of a batch must fit the contract",
    );
  }
  if (minItems >= 1) {
    add("empty rows", "reject", { rows: [] }, `a batch has at least ${minItems} row(s)`);
  }
  if (maxItems !== undefined && maxItems <= largestBuilt) {
    const row = { ...base };
    add(
      `${maxItems + 1} rows (limit ${maxItems})`,
      "reject",
      { rows: Array.from({ length: maxItems + 1 }, () => row) },
      `a batch takes at most ${maxItems} rows`,
    );
  }
  return cases;
}
