/**
 * Request validation against an app's input contract (JSON Schema, compiled once per app
 * version by Ajv), turning Ajv's errors into details that name the field, e.g.
 * `/rows/2/tenure: must be number`.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";
import type { JsonSchema } from "../spec/contract.ts";
import type { InputProblem } from "./errors.ts";

// ajv-formats ships CommonJS with a default export; under NodeNext the callable may sit on .default.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ??
  addFormatsModule) as (ajv: Ajv) => Ajv;

export function createAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: false, coerceTypes: false, useDefaults: false });
  addFormats(ajv);
  return ajv;
}

const sharedAjv = createAjv();

export function compileRecordValidator(schema: JsonSchema): ValidateFunction {
  return sharedAjv.compile(schema);
}

/** Ajv errors as field-named details, most useful first, without duplicates. */
export function describeErrors(
  errors: readonly ErrorObject[] | null | undefined,
  prefix = "",
): InputProblem[] {
  const out: InputProblem[] = [];
  const seen = new Set<string>();
  for (const e of errors ?? []) {
    let path = `${prefix}${e.instancePath}`;
    let message = e.message ?? "is invalid";
    if (e.keyword === "required") {
      const field = String((e.params as { missingProperty?: string }).missingProperty ?? "");
      path = `${path}/${field}`;
      message = "is required";
    } else if (e.keyword === "additionalProperties") {
      const field = String((e.params as { additionalProperty?: string }).additionalProperty ?? "");
      path = `${path}/${field}`;
      message = "is not a field of this app's input";
    } else if (e.keyword === "enum") {
      const allowed = (e.params as { allowedValues?: unknown[] }).allowedValues ?? [];
      message = `must be one of ${allowed.map((v) => JSON.stringify(v)).join(", ")}`;
    } else if (e.keyword === "anyOf" || e.keyword === "format") {
      message = e.keyword === "format" ? message : "does not match any allowed form";
    }
    const key = `${path} ${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ path: path || "/", message });
  }
  return out;
}
