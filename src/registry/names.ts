/**
 * Rules for the names people give things. Names appear in URLs (`/apps/<name>/predict`),
 * in CLI references (`churn@3`) and, for apps and workspaces, in Kubernetes object names
 * and hostnames, so each kind of name is checked before it reaches the database.
 */
import { ValidationError } from "./errors.ts";
import { looksLikeId } from "./ids.ts";

/** A DNS label: lowercase letters, digits and dashes, 1-63 chars, no dash at either end. */
const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Model names: letters, digits, `.`, `_`, `-`; never `@` or `:`, which separate a version. */
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Apps and workspaces: DNS labels, because they become URL segments and Kubernetes names. */
export function validateSlug(kind: string, name: string): void {
  if (!SLUG.test(name)) {
    throw new ValidationError(
      "name",
      `Invalid ${kind} name ${JSON.stringify(name)}: use 1-63 lowercase letters, digits and dashes, starting and ending with a letter or digit`,
    );
  }
  rejectIdLookalike(kind, name);
}

export function validateModelName(name: string): void {
  if (!MODEL_NAME.test(name)) {
    throw new ValidationError(
      "name",
      `Invalid model name ${JSON.stringify(name)}: use 1-128 letters, digits, ".", "_" or "-", starting with a letter or digit`,
    );
  }
  rejectIdLookalike("model", name);
}

/**
 * Dataset names are often file names ("Churn Q3.csv"), so they are free text, but bounded,
 * trimmed and free of control characters and slashes.
 */
export function validateDatasetName(name: string): void {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  const forbidden = /[\u0000-\u001f\u007f/\\]/;
  if (name.length < 1 || name.length > 200 || name.trim() !== name || forbidden.test(name)) {
    throw new ValidationError(
      "name",
      `Invalid dataset name ${JSON.stringify(name)}: use 1-200 characters without slashes, control characters or surrounding spaces`,
    );
  }
  rejectIdLookalike("dataset", name);
}

/** A name shaped like an id would make `resolve(idOrName)` ambiguous. */
function rejectIdLookalike(kind: string, name: string): void {
  if (looksLikeId(name)) {
    throw new ValidationError(
      "name",
      `Invalid ${kind} name ${JSON.stringify(name)}: it looks like an id`,
    );
  }
}

/** Free-text labels (key names): 1-200 characters without control characters. */
export function validateLabel(field: string, value: string): void {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  if (value.trim().length === 0 || value.length > 200 || /[\u0000-\u001f\u007f]/.test(value)) {
    throw new ValidationError(
      field,
      `Invalid ${field}: use 1-200 characters without control characters`,
    );
  }
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** Blob references are sha256 keys into the blob store: 64 lowercase hex characters. */
export function validateSha256(field: string, value: string): void {
  if (!SHA256_HEX.test(value)) {
    throw new ValidationError(
      field,
      `${field} must be a sha256 hex digest (64 lowercase hex characters)`,
    );
  }
}
