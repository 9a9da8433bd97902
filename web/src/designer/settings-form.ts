/**
 * A settings form generated from a flat settings schema (a step kind's `settings`, a policy
 * group, the webhook section): an enum becomes a select, a number or integer a number input
 * with the schema's minimum and maximum, a boolean a checkbox, a map (`rename`, `defaults`) a
 * list of key → value rows, anything else a text input. A setting that takes several types
 * (the fallback's prediction) is a text input read as a number or yes/no when it reads as one.
 * Values go back into the spec as the schema's types.
 */
import type { JsonSchema } from "../../../src/spec/contract.ts";
import type { SettingsSchema } from "../../../src/spec/steps/step-kind.ts";

export type SettingControl = "select" | "number" | "checkbox" | "text" | "map";

/** JSON types a text input's value may be read as. */
export type ScalarType = "string" | "number" | "integer" | "boolean" | "null";

export interface SettingField {
  readonly key: string;
  readonly label: string;
  readonly description?: string;
  readonly control: SettingControl;
  readonly required: boolean;
  /** For selects: the allowed values. */
  readonly options?: readonly (string | number | boolean)[];
  readonly min?: number;
  readonly max?: number;
  /** 1 for integers, "any" for other numbers. */
  readonly step?: 1 | "any";
  readonly defaultValue?: unknown;
  /** For a text input whose setting takes more than text: the types it is read as. */
  readonly types?: readonly ScalarType[];
  /** "uri" for URL settings (a URL keyboard, a placeholder). */
  readonly format?: string;
  /** For maps: how each value is edited (its key is always text). */
  readonly values?: SettingField;
  /** For maps: what a key is called (the schema's `propertyNames.title`). */
  readonly keyLabel?: string;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

const humanize = (key: string) =>
  key.replace(/([a-z])([A-Z])/g, "$1 $2").replace(/^./, (c) => c.toUpperCase());

const SCALARS: readonly ScalarType[] = ["string", "number", "integer", "boolean", "null"];
const isScalarType = (t: unknown): t is ScalarType => SCALARS.some((s) => s === t);

/** One setting's field; `key` and `required` come from the object holding it. */
function fieldOf(key: string, schema: JsonSchema, required: boolean): SettingField {
  const base = {
    key,
    label: typeof schema.title === "string" ? schema.title : humanize(key),
    ...(typeof schema.description === "string" ? { description: schema.description } : {}),
    required,
    ...("default" in schema ? { defaultValue: schema.default } : {}),
  };
  if (Array.isArray(schema.enum)) {
    return {
      ...base,
      control: "select",
      options: schema.enum.filter(
        (v): v is string | number | boolean =>
          typeof v === "string" || typeof v === "number" || typeof v === "boolean",
      ),
    };
  }
  if (Array.isArray(schema.type)) {
    const types = schema.type.filter(isScalarType);
    return { ...base, control: "text", ...(types.length > 0 ? { types } : {}) };
  }
  if (schema.type === "integer" || schema.type === "number") {
    return {
      ...base,
      control: "number",
      step: schema.type === "integer" ? 1 : "any",
      ...(typeof schema.minimum === "number" ? { min: schema.minimum } : {}),
      ...(typeof schema.maximum === "number" ? { max: schema.maximum } : {}),
    };
  }
  if (schema.type === "boolean") return { ...base, control: "checkbox" };
  if (schema.type === "object") {
    const values = isRecord(schema.additionalProperties)
      ? fieldOf("value", schema.additionalProperties, true)
      : { key: "value", label: "Value", control: "text" as const, required: true };
    const keys = isRecord(schema.propertyNames) ? schema.propertyNames : {};
    return {
      ...base,
      control: "map",
      values,
      ...(typeof keys.title === "string" ? { keyLabel: keys.title } : {}),
    };
  }
  return {
    ...base,
    control: "text",
    ...(typeof schema.format === "string" ? { format: schema.format } : {}),
  };
}

/** The form of a flat settings schema, one field per property in the schema's order. */
export function settingFields(schema: SettingsSchema): SettingField[] {
  const required = new Set(schema.required ?? []);
  return Object.entries(schema.properties).map(([key, s]) => fieldOf(key, s, required.has(key)));
}

/** What the form control shows for a setting's value. */
export function inputValue(value: unknown): string {
  if (value === undefined || value === null) return "";
  if (isRecord(value) || Array.isArray(value)) return JSON.stringify(value);
  return String(value);
}

const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

/** Text read as the first of `types` it can be: yes/no, null, a number, else the text. */
function scalarValue(types: readonly ScalarType[], text: string): unknown {
  const trimmed = text.trim();
  if (types.includes("boolean") && (trimmed === "true" || trimmed === "false")) {
    return trimmed === "true";
  }
  if (types.includes("null") && trimmed === "null") return null;
  if ((types.includes("number") || types.includes("integer")) && NUMBER.test(trimmed)) {
    const n = Number(trimmed);
    if (Number.isFinite(n) && (types.includes("number") || Number.isInteger(n))) return n;
  }
  return text;
}

/**
 * The setting a control's text stands for: `undefined` for blank (the default applies, or the
 * step reports the setting missing), a number for number inputs (what the browser could not
 * read as one stays text, for the checks to refuse), the option's own value for selects, and
 * for a setting of several types the type the text reads as.
 */
export function settingValue(field: SettingField, raw: string | boolean): unknown {
  if (typeof raw === "boolean") return raw;
  if (raw.trim() === "") return undefined;
  if (field.control === "number") {
    const n = Number(raw);
    return Number.isFinite(n) ? n : raw;
  }
  if (field.control === "select") {
    return field.options?.find((o) => String(o) === raw) ?? raw;
  }
  if (field.types) return scalarValue(field.types, raw);
  return raw;
}

/** A map setting's entries as the rows of its editor: key text, value text. */
export type MapRow = readonly [key: string, value: string];

export function mapRows(value: unknown): MapRow[] {
  if (!isRecord(value)) return [];
  // A map value may be null on purpose (a default of null): it shows as the word.
  return Object.entries(value).map(([k, v]) => [k, v === null ? "null" : inputValue(v)]);
}

/**
 * The map the editor's rows stand for, values read as the map's value field says. A row
 * without a key or a value is still being typed: it is left out (the editor keeps it). A key
 * written twice keeps its first row.
 */
export function rowsToMap(rows: readonly MapRow[], field: SettingField): Record<string, unknown> {
  const out = new Map<string, unknown>();
  const values = field.values ?? { key: "value", label: "Value", control: "text", required: true };
  for (const [key, text] of rows) {
    const k = key.trim();
    if (k === "" || out.has(k)) continue;
    const value = settingValue(values, text);
    if (value !== undefined) out.set(k, value);
  }
  // fromEntries: a field named "__proto__" or "constructor" is a field like any other.
  return Object.fromEntries(out);
}
