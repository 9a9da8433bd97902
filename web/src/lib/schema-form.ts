/**
 * The "try it" form, generated from an app's input JSON Schema (src/spec/contract.ts writes
 * it): numbers become number inputs, yes/no fields checkboxes, categories selects, dates date
 * inputs. Values go back to a record the app's contract accepts; nothing is guessed that the
 * schema does not say.
 */
export type FieldKind = "number" | "boolean" | "enum" | "date" | "text";

export interface FormField {
  readonly name: string;
  readonly kind: FieldKind;
  readonly required: boolean;
  /** The schema allows null (the column had missing values in training). */
  readonly nullable: boolean;
  /** For enums: the choices, as shown and as sent. */
  readonly options?: readonly string[];
  /** For yes/no fields with spellings: [false spelling, true spelling]. */
  readonly labels?: readonly [string, string];
  readonly description?: string;
}

/** Form state: strings for text-like inputs, booleans for checkboxes, "" for blank. */
export type FormValue = string | boolean;
export type FormValues = Record<string, FormValue>;

type Schema = Record<string, unknown>;

const isRecord = (v: unknown): v is Schema =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function typesOf(schema: Schema): string[] {
  const t = schema.type;
  if (typeof t === "string") return [t];
  if (Array.isArray(t)) return t.filter((x): x is string => typeof x === "string");
  return [];
}

export function fieldsFromSchema(schema: unknown): FormField[] {
  if (!isRecord(schema) || !isRecord(schema.properties)) return [];
  const required = new Set(
    Array.isArray(schema.required)
      ? schema.required.filter((x): x is string => typeof x === "string")
      : [],
  );
  const out: FormField[] = [];
  for (const [name, raw] of Object.entries(schema.properties)) {
    if (!isRecord(raw)) continue;
    const types = typesOf(raw);
    const enumValues = Array.isArray(raw.enum) ? raw.enum : undefined;
    const nullable = types.includes("null") || (enumValues?.includes(null) ?? false);
    const description = typeof raw.description === "string" ? raw.description : undefined;
    const base = {
      name,
      required: required.has(name),
      nullable,
      ...(description ? { description } : {}),
    };
    if (enumValues?.includes(true) && enumValues.includes(false)) {
      out.push({ ...base, kind: "boolean", ...labelsOf(enumValues) });
      continue;
    }
    const categories = Array.isArray(raw["x-ballast-categories"])
      ? raw["x-ballast-categories"]
      : enumValues;
    if (categories?.some((v) => typeof v === "string")) {
      out.push({
        ...base,
        kind: "enum",
        options: categories.filter((v): v is string => typeof v === "string"),
      });
      continue;
    }
    if (types.includes("number") || types.includes("integer")) {
      out.push({ ...base, kind: "number" });
      continue;
    }
    const formats = Array.isArray(raw.anyOf)
      ? raw.anyOf.filter(isRecord).map((s) => s.format)
      : [raw.format];
    if (formats.includes("date") || formats.includes("date-time")) {
      out.push({ ...base, kind: "date" });
      continue;
    }
    out.push({ ...base, kind: "text" });
  }
  return out;
}

/** contract.ts writes a yes/no field's enum as [true, false, 1, 0, falseSpelling, trueSpelling]. */
function labelsOf(values: readonly unknown[]): { labels?: [string, string] } {
  const spellings = values.filter((v): v is string => typeof v === "string" && v.length > 0);
  const [no, yes] = spellings;
  return no !== undefined && yes !== undefined && spellings.length === 2
    ? { labels: [no, yes] }
    : {};
}

/** Starting values: from an example record where it fits the field, else blank or first option. */
export function initialValues(
  fields: readonly FormField[],
  example: Readonly<Record<string, unknown>> = {},
): FormValues {
  const values: FormValues = {};
  for (const f of fields) {
    const v = example[f.name];
    switch (f.kind) {
      case "boolean":
        values[f.name] =
          v === true || v === 1 || (typeof v === "string" && v === f.labels?.[1]) || v === "true";
        break;
      case "enum":
        values[f.name] =
          typeof v === "string" && f.options?.includes(v)
            ? v
            : f.nullable && (v === null || v === undefined)
              ? ""
              : (f.options?.[0] ?? "");
        break;
      case "number":
        values[f.name] = typeof v === "number" && Number.isFinite(v) ? String(v) : "";
        break;
      case "date":
        values[f.name] = typeof v === "string" ? v.slice(0, 10) : "";
        break;
      default:
        values[f.name] = typeof v === "string" ? v : "";
    }
  }
  return values;
}

export interface RecordResult {
  readonly record: Record<string, unknown>;
  /** field name → what is wrong, for fields the contract would refuse. */
  readonly errors: Record<string, string>;
}

/** Form values → the JSON record to send; blanks are left out (or refused when required). */
export function recordFromValues(fields: readonly FormField[], values: FormValues): RecordResult {
  const record: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const f of fields) {
    const v = values[f.name];
    if (f.kind === "boolean") {
      record[f.name] = v === true;
      continue;
    }
    const text = typeof v === "string" ? v.trim() : "";
    if (text === "") {
      if (f.required) errors[f.name] = "is required";
      else if (f.nullable) record[f.name] = null;
      continue;
    }
    if (f.kind === "number") {
      const n = Number(text);
      if (!Number.isFinite(n)) errors[f.name] = "must be a number";
      else record[f.name] = n;
      continue;
    }
    record[f.name] = text;
  }
  return { record, errors };
}
