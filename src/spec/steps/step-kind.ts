/**
 * A step kind: what the designer's palette shows, what a step's `with` settings may hold, and
 * how many of it (and after what) the runtime can run today. Kinds are plain data so the server
 * (schema, validation) and the Studio (palette, forms) read the same definitions; adding a kind
 * is adding a file beside this one and a line in `registry.ts`.
 */
import type { JsonSchema } from "../contract.ts";

/**
 * A flat object of settings as JSON Schema: one property per setting, each with its `title`,
 * `description`, `default` and bounds. Step kinds, policy groups and the webhook section share
 * the shape so one generator in the Studio makes every form from it.
 */
export type SettingsSchema = JsonSchema & {
  readonly type: "object";
  readonly properties: Readonly<Record<string, JsonSchema>>;
  readonly required?: readonly string[];
};

/** A step setting that mirrors a top-level spec field written before steps existed. */
export interface SettingBinding {
  /** The key in the step's `with`. */
  readonly setting: string;
  /** Where the same value lives at the top of the spec, e.g. `["limits", "maxRows"]`. */
  readonly field: readonly [string, string];
}

export interface StepKind {
  /** The `kind` a step names, e.g. `"validate"`. */
  readonly type: string;
  readonly title: string;
  /** One sentence for the palette and the settings panel. */
  readonly description: string;
  /** An icon name the Studio maps to a picture; unknown names get a generic one. */
  readonly icon: string;
  /** How many steps this one runs after (0: it starts the pipeline). */
  readonly inputs: number;
  /** How many outputs it has (0: it ends the pipeline). */
  readonly outputs: number;
  /**
   * The `with` settings as a JSON Schema object with flat properties; `title`, `description`,
   * `enum`, `minimum`/`maximum` and `default` drive the Studio's generated form.
   */
  readonly settings: SettingsSchema;
  /** How many steps of this kind one app has: the runtime's limits today. */
  readonly count: { readonly min: number; readonly max: number };
  /** The kinds a step of this kind may run right after today (absent: any kind). */
  readonly runsAfter?: readonly string[];
  /** Settings mirrored at the top of the spec (only for kinds with `count.max` 1). */
  readonly bindings?: readonly SettingBinding[];
}

/** The default of each setting, as the schema declares it (settings without one are left out). */
export function defaultsOf(schema: SettingsSchema): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, setting] of Object.entries(schema.properties)) {
    if ("default" in setting) out[key] = setting.default;
  }
  return out;
}

/** Identity, but checks the object against StepKind and keeps its literal type. */
export function defineStepKind<const K extends StepKind>(kind: K): K {
  if (kind.bindings?.length && kind.count.max !== 1) {
    throw new Error(`Step kind ${kind.type}: only a kind with at most one step can bind settings`);
  }
  return kind;
}
