/**
 * The app spec: the declarative document a person builds, versions and deploys. This is its
 * first shape (a model behind a validated contract); steps and policies join it as the
 * runtime grows, always as optional fields with defaults so older specs stay valid.
 */
import { Ajv2020 } from "ajv/dist/2020.js";

export const APP_SPEC_API_VERSION = "ballast/v1";

export interface AppSpec {
  readonly apiVersion: typeof APP_SPEC_API_VERSION;
  readonly kind: "App";
  readonly name: string;
  /** The model version this app serves, pinned exactly. */
  readonly model: { readonly name: string; readonly version: number };
  readonly contract: {
    /** A category never seen in training: score it in the unknown bucket, or refuse the request. */
    readonly unknownCategories: "bucket" | "reject";
  };
  readonly limits: {
    /** Most rows accepted in one `{"rows": [...]}` request. */
    readonly maxRows: number;
  };
}

export const APP_NAME_PATTERN = "^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$";

/** The published JSON Schema of the app spec (served at /v1/schemas/app-spec.json). */
export const appSpecJsonSchema = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  $id: "https://ballast.dev/schemas/app-spec.json",
  title: "Ballast app spec",
  type: "object",
  additionalProperties: false,
  required: ["apiVersion", "kind", "name", "model"],
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
        maxRows: { type: "integer", minimum: 1, maximum: 100000, default: 1000 },
      },
    },
  },
} as const;

export const DEFAULT_MAX_ROWS = 1000;

export class AppSpecError extends Error {
  constructor(
    message: string,
    readonly details: readonly { readonly path: string; readonly message: string }[],
  ) {
    super(message);
    this.name = "AppSpecError";
  }
}

const validateSpec = new Ajv2020({ allErrors: true, strict: false }).compile(appSpecJsonSchema);

/** Validate a spec document and fill in defaults. Throws AppSpecError naming each bad field. */
export function parseAppSpec(document: unknown): AppSpec {
  if (!validateSpec(document)) {
    const details = (validateSpec.errors ?? []).map((e) => ({
      path: e.instancePath || "/",
      message: e.message ?? "is invalid",
    }));
    const first = details[0];
    throw new AppSpecError(
      `The app spec is invalid${first ? `: ${first.path} ${first.message}` : ""}`,
      details,
    );
  }
  const spec = document as Partial<AppSpec> &
    Pick<AppSpec, "apiVersion" | "kind" | "name" | "model">;
  return {
    apiVersion: spec.apiVersion,
    kind: spec.kind,
    name: spec.name,
    model: spec.model,
    contract: { unknownCategories: spec.contract?.unknownCategories ?? "bucket" },
    limits: { maxRows: spec.limits?.maxRows ?? DEFAULT_MAX_ROWS },
  };
}

/** The spec a one-click publish creates. */
export function defaultAppSpec(name: string, model: { name: string; version: number }): AppSpec {
  return parseAppSpec({ apiVersion: APP_SPEC_API_VERSION, kind: "App", name, model });
}
