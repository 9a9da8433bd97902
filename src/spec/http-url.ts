/**
 * Settings that name something outside the process (an HTTP step's `url`, the webhook's
 * `callbackUrl`) must be http(s) URLs: published as `format: "uri"` plus a pattern, so an
 * editor without format support still refuses `ftp://` or a bare host, and our own Ajv checks
 * the format too (see spec-problems.ts).
 */
import type { JsonSchema } from "./contract.ts";

/** A scheme of http or https, a host, and no whitespace anywhere. */
export const HTTP_URL_PATTERN = "^https?://[^\\s/?#]+([/?#]\\S*)?$";

export const HTTP_URL_MAX_LENGTH = 2048;

/** The schema of a setting that holds an http(s) URL. */
export function httpUrlSchema(title: string, description: string): JsonSchema {
  return {
    title,
    description,
    type: "string",
    format: "uri",
    pattern: HTTP_URL_PATTERN,
    maxLength: HTTP_URL_MAX_LENGTH,
  };
}

/** True for what the schema accepts: an absolute http(s) URL. */
export function isHttpUrl(value: string): boolean {
  return (
    value.length <= HTTP_URL_MAX_LENGTH &&
    new RegExp(HTTP_URL_PATTERN, "u").test(value) &&
    URL.canParse(value)
  );
}
