/**
 * A step's settings form, generated from its kind's settings schema: an enum becomes a select,
 * a number or integer a number input with the schema's minimum and maximum, a boolean a
 * checkbox, anything else a text input. Values go back into the step as the schema's types.
 */
import type { StepKind } from "../../../src/spec/steps/step-kind.ts";

export type SettingControl = "select" | "number" | "checkbox" | "text";

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
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

const humanize = (key: string) =>
  key.replace(/([a-z])([A-Z])/g, "$1 $2").replace(/^./, (c) => c.toUpperCase());

export function settingFields(kind: StepKind): SettingField[] {
  const required = new Set(kind.settings.required ?? []);
  return Object.entries(kind.settings.properties).map(([key, schema]) => {
    const base = {
      key,
      label: typeof schema.title === "string" ? schema.title : humanize(key),
      ...(typeof schema.description === "string" ? { description: schema.description } : {}),
      required: required.has(key),
      ...("default" in schema ? { defaultValue: schema.default } : {}),
    };
    if (Array.isArray(schema.enum)) {
      return {
        ...base,
        control: "select" as const,
        options: schema.enum.filter(
          (v): v is string | number | boolean =>
            typeof v === "string" || typeof v === "number" || typeof v === "boolean",
        ),
      };
    }
    if (schema.type === "integer" || schema.type === "number") {
      return {
        ...base,
        control: "number" as const,
        step: schema.type === "integer" ? (1 as const) : ("any" as const),
        ...(typeof schema.minimum === "number" ? { min: schema.minimum } : {}),
        ...(typeof schema.maximum === "number" ? { max: schema.maximum } : {}),
      };
    }
    if (schema.type === "boolean") return { ...base, control: "checkbox" as const };
    return { ...base, control: "text" as const };
  });
}

/** What the form control shows for a setting's value. */
export function inputValue(value: unknown): string {
  if (value === undefined || value === null) return "";
  if (isRecord(value) || Array.isArray(value)) return JSON.stringify(value);
  return String(value);
}

/**
 * The setting a control's text stands for: `undefined` for blank (the default applies, or the
 * step reports the setting missing), a number for number inputs (what the browser could not
 * read as one stays text, for the checks to refuse), the option's own value for selects.
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
  return raw;
}
