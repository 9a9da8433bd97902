/**
 * The spec's `webhook` section: whether `POST /v1/hooks/{app}` takes events from outside
 * systems, how their payloads are mapped onto the app's contract (renames, defaults, type
 * coercion) before validation, where results are delivered, and how hard the workers try.
 * Outside systems rarely send exactly the contract's field names and types, so the mapping is
 * part of the app, versioned with it; the callback's signing secret is not (the server keeps it).
 */
import type { JsonSchema } from "./contract.ts";
import { httpUrlSchema } from "./http-url.ts";
import type { SettingsSchema } from "./steps/step-kind.ts";

/** A value a missing field may default to. */
export type WebhookDefault = string | number | boolean | null;

export interface AppWebhook {
  /** Off: `POST /v1/hooks/{app}` answers 404 `hooks_disabled`. */
  readonly enabled: boolean;
  /** Results are POSTed here, signed with HMAC-SHA256; absent: kept for retrieval only. */
  readonly callbackUrl?: string;
  /** Attempts at processing an event before it moves to the dead-letter list. */
  readonly maxAttempts: number;
  /** Events of this app processed at once (per replica). */
  readonly concurrency: number;
  /** Results, quarantined and dead events are kept this long. */
  readonly retentionHours: number;
  /** `"42"` → 42, `"true"` → true where the contract wants a number or a boolean. */
  readonly coerceTypes: boolean;
  /** Incoming field name → the contract's field name. */
  readonly rename: Readonly<Record<string, string>>;
  /** Filled in when an event lacks the field (after renaming). */
  readonly defaults: Readonly<Record<string, WebhookDefault>>;
}

export const DEFAULT_WEBHOOK: AppWebhook = {
  enabled: false,
  maxAttempts: 5,
  concurrency: 4,
  retentionHours: 168,
  coerceTypes: true,
  rename: {},
  defaults: {},
};

/**
 * The webhook section's settings, flat at the top (`rename` and `defaults` are maps the
 * Studio edits as key → value lists), in the order the Studio's form shows them.
 */
export const webhookSettingsSchema: SettingsSchema = {
  type: "object",
  additionalProperties: false,
  properties: {
    enabled: {
      title: "Accept webhooks",
      description:
        "Take events at POST /v1/hooks/{app}; each is validated, queued durably and processed by workers.",
      type: "boolean",
      default: DEFAULT_WEBHOOK.enabled,
    },
    callbackUrl: httpUrlSchema(
      "Callback URL",
      "Each result is POSTed here, signed (Ballast-Signature, HMAC-SHA256); leave empty to keep results for retrieval by event id only.",
    ),
    maxAttempts: {
      title: "Most attempts",
      description:
        "Tries at processing one event, with backoff, before it goes to the dead letters.",
      type: "integer",
      minimum: 1,
      maximum: 100,
      default: DEFAULT_WEBHOOK.maxAttempts,
    },
    concurrency: {
      title: "Events at once",
      description: "Events of this app processed at the same time (per replica).",
      type: "integer",
      minimum: 1,
      maximum: 256,
      default: DEFAULT_WEBHOOK.concurrency,
    },
    retentionHours: {
      title: "Keep events for (hours)",
      description: "Results, quarantined and dead events are deleted after this.",
      type: "integer",
      minimum: 1,
      maximum: 8760,
      default: DEFAULT_WEBHOOK.retentionHours,
    },
    coerceTypes: {
      title: "Coerce types",
      description:
        'Read "42" as 42 and "true" as true where the contract wants a number or a yes/no.',
      type: "boolean",
      default: DEFAULT_WEBHOOK.coerceTypes,
    },
    rename: {
      title: "Rename fields",
      description: "An incoming field's name → the contract's name for it.",
      type: "object",
      propertyNames: { title: "Incoming field", minLength: 1 },
      additionalProperties: { title: "Contract field", type: "string", minLength: 1 },
      default: DEFAULT_WEBHOOK.rename,
    },
    defaults: {
      title: "Default values",
      description: "A field → the value used when an event lacks it (after renaming).",
      type: "object",
      propertyNames: { title: "Field", minLength: 1 },
      additionalProperties: { title: "Value", type: ["string", "number", "boolean", "null"] },
      default: DEFAULT_WEBHOOK.defaults,
    },
  },
};

/** The published schema of the spec's `webhook`: every field optional. */
export const webhookJsonSchema: JsonSchema = {
  ...webhookSettingsSchema,
  title: "Webhook",
  description:
    "Events from outside systems at POST /v1/hooks/{app}: mapped onto the contract, validated (invalid ones quarantined), durably queued and processed; every field optional, defaults as documented.",
  default: DEFAULT_WEBHOOK,
};

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

const isDefault = (v: unknown): v is WebhookDefault =>
  v === null || typeof v === "string" || typeof v === "number" || typeof v === "boolean";

/** A spec's `webhook` (already checked against `webhookJsonSchema`) with the defaults filled in. */
export function fillWebhook(given: unknown): AppWebhook {
  const w = isRecord(given) ? given : {};
  const pick = <T>(value: unknown, fallback: T): T =>
    typeof value === typeof fallback ? (value as T) : fallback;
  // fromEntries: a field named "__proto__" is kept as a field, never set as a prototype.
  const rename: Record<string, string> = Object.fromEntries(
    Object.entries(isRecord(w.rename) ? w.rename : {}).filter(
      (e): e is [string, string] => typeof e[1] === "string",
    ),
  );
  const defaults: Record<string, WebhookDefault> = Object.fromEntries(
    Object.entries(isRecord(w.defaults) ? w.defaults : {}).filter(
      (e): e is [string, WebhookDefault] => isDefault(e[1]),
    ),
  );
  return {
    enabled: pick(w.enabled, DEFAULT_WEBHOOK.enabled),
    ...(typeof w.callbackUrl === "string" ? { callbackUrl: w.callbackUrl } : {}),
    maxAttempts: pick(w.maxAttempts, DEFAULT_WEBHOOK.maxAttempts),
    concurrency: pick(w.concurrency, DEFAULT_WEBHOOK.concurrency),
    retentionHours: pick(w.retentionHours, DEFAULT_WEBHOOK.retentionHours),
    coerceTypes: pick(w.coerceTypes, DEFAULT_WEBHOOK.coerceTypes),
    rename,
    defaults,
  };
}
