/**
 * What `policies` and `monitoring` share: flat groups of settings, each a small JSON Schema the
 * Studio turns into one form, and the fill step that gives a spec every default. One place, so
 * both sections read and default the same way.
 */
import type { JsonSchema } from "./contract.ts";
import type { SettingsSchema } from "./steps/step-kind.ts";

/** One group of settings: a flat settings schema the Studio turns into one form. */
export interface SettingsGroup<K extends string> {
  readonly key: K;
  readonly title: string;
  /** One sentence for the form's heading and the published schema. */
  readonly description: string;
  readonly schema: SettingsSchema;
}

/** A bounded number field (`integer` for whole numbers). */
export function numberSetting(
  title: string,
  description: string,
  defaultValue: number,
  minimum: number,
  maximum: number,
  integer = false,
): JsonSchema {
  return {
    title,
    description,
    type: integer ? "integer" : "number",
    minimum,
    maximum,
    default: defaultValue,
  };
}

export function flagSetting(title: string, description: string, defaultValue: boolean): JsonSchema {
  return { title, description, type: "boolean", default: defaultValue };
}

export function settingsGroup<K extends string>(
  key: K,
  title: string,
  description: string,
  properties: Record<string, JsonSchema>,
): SettingsGroup<K> {
  return {
    key,
    title,
    description,
    schema: { type: "object", additionalProperties: false, properties },
  };
}

/** The published schema of a section made of groups: every group and field optional. */
export function groupsJsonSchema<K extends string>(
  what: string,
  groups: readonly SettingsGroup<K>[],
  defaults: Readonly<Record<K, unknown>>,
): JsonSchema {
  return {
    type: "object",
    additionalProperties: false,
    description: `${what}; every group and field is optional and defaults as documented. Groups: ${groups.map((g) => `${g.key} (${g.title.toLowerCase()})`).join(", ")}.`,
    properties: Object.fromEntries(
      groups.map((g) => [
        g.key,
        { ...g.schema, title: g.title, description: g.description, default: defaults[g.key] },
      ]),
    ),
  };
}

export const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** The defaults' fields, each taken from `given` when it is there with the default's type. */
export function filledGroup<T extends object>(defaults: T, given: unknown): T {
  const out: T = { ...defaults };
  if (!isRecord(given)) return out;
  for (const key of Object.keys(defaults) as (keyof T & string)[]) {
    const value: unknown = given[key];
    if (typeof value === typeof defaults[key]) out[key] = value as T[keyof T & string];
  }
  return out;
}
