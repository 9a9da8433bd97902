/**
 * Canonical JSON: one string per JSON value, whatever order its keys were written in. Two
 * things hash it to decide "is this the same request?": the response cache (same validated
 * input → same cached answer) and idempotency keys (same key with a different body → 422).
 * Both break if `{"a":1,"b":2}` and `{"b":2,"a":1}` hash differently, or if two different
 * values hash alike, so the rules live here, once.
 *
 * Rules: object keys sorted by UTF-16 code units (`Array.prototype.sort`), no whitespace,
 * strings escaped as `JSON.stringify` does (lone surrogates escaped, so distinct strings stay
 * distinct), numbers in JavaScript's shortest round-trip form with `-0` written as `0`.
 * Like `JSON.stringify`: `toJSON()` is honoured (dates become ISO strings), object properties
 * whose value is `undefined`, a function or a symbol are left out, and in arrays they become
 * `null`. Unlike it, values JSON cannot represent faithfully are refused with a `TypeError`
 * instead of silently becoming `null` (NaN, ±Infinity, bigint, cycles), so such a value can
 * never share a hash with a real `null`.
 *
 * It is on the hot path (every cached predict request): a flat ~20-field row costs a few
 * microseconds, string building only, no intermediate objects.
 */
import { hash } from "node:crypto";

/** The canonical JSON text of `value`; throws `TypeError` for what JSON cannot represent. */
export function canonicalJson(value: unknown): string {
  const text = encode(value, []);
  if (text === undefined) {
    throw new TypeError(`canonical JSON cannot encode a top-level ${typeof value}`);
  }
  return text;
}

/**
 * sha256 (hex) of the canonical JSON of `value`: equal for equal JSON values whatever their key
 * order, different otherwise (up to sha256 collisions).
 */
export function canonicalHash(value: unknown): string {
  return hash("sha256", canonicalJson(value), "hex");
}

/** `undefined` means "leave this property out" (JSON's rule for undefined, functions, symbols). */
function encode(value: unknown, ancestors: object[]): string | undefined {
  switch (typeof value) {
    case "string":
      return encodeString(value);
    case "number":
      return encodeNumber(value);
    case "boolean":
      return value ? "true" : "false";
    case "undefined":
    case "function":
    case "symbol":
      return undefined;
    case "bigint":
      throw new TypeError("canonical JSON cannot encode a bigint");
    case "object":
      break;
  }
  if (value === null) return "null";
  const object = value as object;
  if (hasToJson(object)) return encode(object.toJSON(), ancestors);
  if (ancestors.includes(object)) {
    throw new TypeError("canonical JSON cannot encode a cyclic structure");
  }
  ancestors.push(object);
  let text: string;
  if (Array.isArray(object)) {
    text = "[";
    for (let i = 0; i < object.length; i++) {
      if (i > 0) text += ",";
      text += encode(object[i], ancestors) ?? "null";
    }
    text += "]";
  } else {
    const record = object as Record<string, unknown>;
    const keys = Object.keys(record).sort();
    text = "{";
    let first = true;
    for (const key of keys) {
      const encoded = encode(record[key], ancestors);
      if (encoded === undefined) continue;
      if (!first) text += ",";
      first = false;
      text += encodeString(key);
      text += ":";
      text += encoded;
    }
    text += "}";
  }
  ancestors.pop();
  return text;
}

/** What JSON.stringify escapes: quote, backslash, control characters, (lone) surrogates. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: JSON escapes exactly these characters.
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** Exactly JSON.stringify's output, without its per-call cost for the common plain string. */
function encodeString(value: string): string {
  return NEEDS_ESCAPE.test(value) ? JSON.stringify(value) : `"${value}"`;
}

function encodeNumber(value: number): string {
  if (!Number.isFinite(value)) {
    throw new TypeError(`canonical JSON cannot encode the number ${value}`);
  }
  // String(-0) is "0" already; the explicit branch documents the rule and keeps it if that changes.
  return value === 0 ? "0" : String(value);
}

function hasToJson(value: object): value is { toJSON(): unknown } {
  return typeof (value as { toJSON?: unknown }).toJSON === "function";
}
