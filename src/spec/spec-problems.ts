/**
 * What is wrong with a spec, as the API and the Studio show it: a JSON Pointer into the
 * document, a sentence, and the step it belongs to (so the designer can outline the node).
 * Ajv's errors are rewritten here into the same shape, naming the field they are about.
 */
import { Ajv2020, type ErrorObject } from "ajv/dist/2020.js";
import { HTTP_URL_PATTERN } from "./http-url.ts";

export interface SpecProblem {
  /** JSON Pointer into the spec, e.g. `/steps/2/with/maxRows`; `/` for the whole document. */
  readonly path: string;
  readonly message: string;
  /** The step the problem is on, when it is on one. */
  readonly stepId?: string;
}

/**
 * One Ajv for every spec schema: draft 2020-12, every error, no coercion or defaults. The
 * `uri` format (URL settings) is checked with the platform's URL parser, in the server and the
 * Studio alike.
 */
export const specAjv = new Ajv2020({
  allErrors: true,
  strict: false,
  formats: { uri: { type: "string", validate: (value: string) => URL.canParse(value) } },
});

function quote(value: unknown): string {
  return JSON.stringify(value);
}

/**
 * Ajv errors as problems under `prefix`, naming the field (`/limits/maxRows must be >= 1`),
 * without Ajv's wrapper errors (`must match "then" schema`) whose cause is reported on its own.
 */
export function problemsFromAjv(
  errors: readonly ErrorObject[] | null | undefined,
  prefix = "",
): SpecProblem[] {
  const out: SpecProblem[] = [];
  const seen = new Set<string>();
  for (const e of errors ?? []) {
    if (e.keyword === "if") continue;
    let path = `${prefix}${e.instancePath}`;
    let message = e.message ?? "is invalid";
    if (e.keyword === "required") {
      path = `${path}/${String((e.params as { missingProperty?: string }).missingProperty)}`;
      message = "is required";
    } else if (e.keyword === "additionalProperties") {
      const field = String((e.params as { additionalProperty?: string }).additionalProperty);
      path = `${path}/${field}`;
      message = "is not a field here";
    } else if (e.keyword === "enum") {
      const allowed = (e.params as { allowedValues?: unknown[] }).allowedValues ?? [];
      message = `must be one of ${allowed.map(quote).join(", ")}`;
    } else if (
      (e.keyword === "pattern" && e.params.pattern === HTTP_URL_PATTERN) ||
      (e.keyword === "format" && e.params.format === "uri")
    ) {
      // Said once when both fail: the only URLs settings take are http(s) ones.
      message = "must be an http:// or https:// URL";
    } else if (e.keyword === "const") {
      message = `must be ${quote((e.params as { allowedValue?: unknown }).allowedValue)}`;
    }
    const key = `${path} ${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ path: path || "/", message });
  }
  return out;
}

/** A JSON Pointer segment, escaped (`~` and `/`). */
export function pointerSegment(segment: string | number): string {
  return String(segment).replaceAll("~", "~0").replaceAll("/", "~1");
}

/** The segments of a JSON Pointer, unescaped; `/` and `` are the whole document. */
export function pointerSegments(pointer: string): string[] {
  if (pointer === "" || pointer === "/") return [];
  return pointer
    .replace(/^\//, "")
    .split("/")
    .map((s) => s.replaceAll("~1", "/").replaceAll("~0", "~"));
}
