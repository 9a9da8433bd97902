/**
 * Webhook payload normalization: outside systems rarely send the contract's exact field names
 * and types (a CRM posts `"tenure": "12"`, calls the field `months`, leaves out what it does
 * not know). The app's `webhook` mapping fixes that before validation, in three steps:
 *
 * 1. rename: `rename[incoming] = contractField`. A renamed field wins over an incoming field
 *    already named like its target; of two renames onto one target, the first listed wins.
 *    Renames are applied once (not chained).
 * 2. defaults: a field absent after renaming gets its default (a `null` sent is kept: it is a
 *    value, and nullable fields accept it).
 * 3. coercion (`coerceTypes`), only for the contract's own fields and only when unambiguous:
 *    a number field takes a numeric string (`" 42.5 "` → 42.5); a yes/no field takes
 *    `"true"`/`"false"`/`"1"`/`"0"` (any case) and its training labels in any case; a
 *    category takes a number or boolean as its text; an empty string in a nullable number or
 *    yes/no field is `null`. Anything else is left as sent, for validation to name.
 *
 * Pure: no I/O, the input is not mutated, nothing outside the arguments is read.
 */
import type { AppWebhook } from "../../spec/webhook.ts";

/** A field of the app's contract, as the mapping needs it (a Recipe input fits). */
export type ContractField =
  | { readonly column: string; readonly kind: "number" | "datetime"; readonly nullable: boolean }
  | {
      readonly column: string;
      readonly kind: "boolean";
      readonly nullable: boolean;
      /** The spellings of false and true seen in training. */
      readonly labels?: readonly [string, string];
    }
  | { readonly column: string; readonly kind: "category"; readonly nullable: boolean };

export type WebhookMapping = Pick<AppWebhook, "rename" | "defaults" | "coerceTypes">;

const NUMERIC = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** The record the app's contract is checked against, built from an event's body. */
export function normalizePayload(
  body: Readonly<Record<string, unknown>>,
  mapping: WebhookMapping,
  fields: readonly ContractField[],
): Record<string, unknown> {
  const renamed = new Map(Object.entries(mapping.rename).filter(([from, to]) => from !== to));
  // A Map, then Object.fromEntries: a field named "__proto__" stays a field.
  const out = new Map<string, unknown>();
  for (const [key, value] of Object.entries(body)) {
    if (value !== undefined && !renamed.has(key)) out.set(key, value);
  }
  const byRename = new Set<string>();
  for (const [from, to] of renamed) {
    if (!Object.hasOwn(body, from) || body[from] === undefined || byRename.has(to)) continue;
    out.set(to, body[from]);
    byRename.add(to);
  }
  for (const [field, value] of Object.entries(mapping.defaults)) {
    if (!out.has(field)) out.set(field, value);
  }
  if (mapping.coerceTypes) {
    for (const field of fields) {
      if (!out.has(field.column)) continue;
      out.set(field.column, coerce(out.get(field.column), field));
    }
  }
  return Object.fromEntries(out);
}

function coerce(value: unknown, field: ContractField): unknown {
  switch (field.kind) {
    case "number": {
      if (typeof value !== "string") return value;
      const text = value.trim();
      if (text === "") return field.nullable ? null : value;
      if (!NUMERIC.test(text)) return value;
      const n = Number(text);
      return Number.isFinite(n) ? n : value;
    }
    case "boolean": {
      if (typeof value !== "string") return value;
      const text = value.trim().toLowerCase();
      if (text === "") return field.nullable ? null : value;
      if (text === "true" || text === "1") return true;
      if (text === "false" || text === "0") return false;
      const labels = field.labels;
      if (labels) {
        if (labels[1].toLowerCase() === text) return labels[1];
        if (labels[0].toLowerCase() === text) return labels[0];
      }
      return value;
    }
    case "category":
      return typeof value === "number" || typeof value === "boolean" ? String(value) : value;
    case "datetime":
      return value;
  }
}
