/**
 * How values cross the repository boundary. One migration must run on SQLite and
 * PostgreSQL, so columns use only what both store alike: JSON as text, timestamps as
 * ISO-8601 text (UTC, millisecond precision, fixed width, so text order is time order),
 * booleans as integers. These helpers encode on the way in and decode, checking shape, on
 * the way out, so repository callers only ever see typed objects.
 */
import { ValidationError } from "./errors.ts";

export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | readonly JsonValue[] | JsonObject;
/** A parsed JSON object as the registry hands it back: its shape is the caller's to check. */
export interface JsonObject {
  readonly [key: string]: JsonValue;
}

/**
 * What callers may pass for a JSON object column: any object JSON.stringify turns into a
 * JSON object. Typed as `object` because TypeScript interfaces (an AppSpec, a metrics
 * record) are not assignable to index-signature types; arrays and non-serializable values
 * are rejected at run time.
 */
export type JsonObjectInput = object;

/** Serializes a JSON object column, refusing arrays, primitives, cycles and BigInts. */
export function encodeJsonObject(value: JsonObjectInput, field: string): string {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ValidationError(field, `${field} must be a JSON object`);
  }
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw new ValidationError(
      field,
      `${field} is not serializable as JSON: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  if (text === undefined || !text.startsWith("{")) {
    throw new ValidationError(field, `${field} must serialize to a JSON object`);
  }
  return text;
}

/** Parses a JSON object column; a malformed value means the database was edited by hand. */
export function decodeJsonObject(text: string, column: string): JsonObject {
  const value = parseJson(text, column);
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Error(`Registry column ${column} holds JSON that is not an object`);
  }
  return value as JsonObject;
}

function parseJson(text: string, column: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`Registry column ${column} holds malformed JSON`, { cause: error });
  }
}

/**
 * Parses a JSON object column into a caller-declared type after checking that the listed
 * array-valued keys are arrays: a cheap guard against a value written by something else,
 * for types (Schema, Profile) that this module does not own the validator of.
 */
export function decodeJsonShape<T>(text: string, column: string, arrayKeys: readonly string[]): T {
  const value = decodeJsonObject(text, column);
  for (const key of arrayKeys) {
    if (!Array.isArray(value[key])) {
      throw new Error(`Registry column ${column} holds JSON without an array "${key}"`);
    }
  }
  return value as unknown as T;
}

/** The current time as stored: ISO-8601 UTC with milliseconds, e.g. 2025-01-31T12:00:00.000Z. */
export function nowIso(): string {
  return new Date().toISOString();
}

/** The ISO timestamp `ms` milliseconds after `iso`, to keep a sequence strictly ordered. */
export function addMilliseconds(iso: string, ms: number): string {
  return new Date(Date.parse(iso) + ms).toISOString();
}

/**
 * Integer columns wider than 32 bits (sizes, row counts) and aggregates such as count(*)
 * arrive as strings from pg and as numbers from better-sqlite3; both become numbers here.
 */
export function toNumber(value: number | string | bigint): number {
  const n = typeof value === "number" ? value : Number(value);
  if (!Number.isFinite(n)) {
    throw new Error(`Registry returned a non-numeric value ${String(value)}`);
  }
  return n;
}

/** Clamps a page size so one request cannot ask the database for millions of rows. */
export function pageSize(limit: number | undefined, fallback = 100, max = 1000): number {
  if (limit === undefined) return fallback;
  if (!Number.isInteger(limit) || limit < 1) {
    throw new ValidationError("limit", "limit must be a positive integer");
  }
  return Math.min(limit, max);
}

/** Checks an offset for paging. */
export function pageOffset(offset: number | undefined): number {
  if (offset === undefined) return 0;
  if (!Number.isInteger(offset) || offset < 0) {
    throw new ValidationError("offset", "offset must be a non-negative integer");
  }
  return offset;
}
