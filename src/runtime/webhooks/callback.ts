/**
 * Callbacks: an event's outcome POSTed to the app's `callbackUrl`, signed so the receiver can
 * tell it came from this Ballast and was not altered or replayed later.
 *
 * `Ballast-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>` (the
 * scheme Stripe made familiar): the timestamp is inside the MAC, so a receiver that refuses
 * old timestamps (`verifySignature`'s tolerance) also refuses a captured request sent again.
 * `Ballast-Event-Id` lets a receiver drop the duplicates at-least-once delivery can produce.
 *
 * Secrets: one per app, HMAC-SHA256(server secret, `<workspaceId>/<app>`), so nothing per app is
 * stored and every replica with the same server secret signs alike. The server secret comes
 * from `BALLAST_WEBHOOK_SECRET` or is generated once into `<dataDir>/webhook.secret` (0600).
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { formatTraceparent, newSpanId } from "../../monitor/trace-context.ts";

export const SIGNATURE_HEADER = "Ballast-Signature";
export const EVENT_ID_HEADER = "Ballast-Event-Id";

/** `t=<seconds>,v1=<hex>` for `rawBody` signed with `secret` at `timestampSeconds`. */
export function signPayload(
  secret: string,
  rawBody: string,
  timestampSeconds: number = Math.floor(Date.now() / 1000),
): string {
  const t = Math.floor(timestampSeconds);
  return `t=${t},v1=${hmacHex(secret, `${t}.${rawBody}`)}`;
}

export interface VerifyOptions {
  /** Refuse signatures older (or further in the future) than this; default 300 s. */
  readonly toleranceSeconds?: number;
  /** The receiver's clock, milliseconds since the epoch (default `Date.now()`). */
  readonly now?: number;
}

/**
 * For receivers: whether `header` is a valid signature of `rawBody` (the exact bytes received,
 * before any JSON parsing) made with `secret` within the tolerance. Several `v1=` entries are
 * accepted (one matching is enough), so a sender can sign with an old and a new secret.
 */
export function verifySignature(
  secret: string,
  header: string | null | undefined,
  rawBody: string,
  options: VerifyOptions = {},
): boolean {
  if (typeof header !== "string") return false;
  let timestamp: number | undefined;
  const signatures: string[] = [];
  for (const part of header.split(",")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === "t" && /^\d{1,12}$/.test(value)) timestamp = Number(value);
    else if (key === "v1" && /^[0-9a-f]{64}$/.test(value)) signatures.push(value);
  }
  if (timestamp === undefined || signatures.length === 0) return false;
  const tolerance = options.toleranceSeconds ?? 300;
  const nowSeconds = (options.now ?? Date.now()) / 1000;
  if (Math.abs(nowSeconds - timestamp) > tolerance) return false;
  const expected = Buffer.from(hmacHex(secret, `${timestamp}.${rawBody}`), "hex");
  return signatures.some((s) => timingSafeEqual(Buffer.from(s, "hex"), expected));
}

function hmacHex(key: string, text: string): string {
  return createHmac("sha256", key).update(text, "utf8").digest("hex");
}

/** The per-app callback secret, derived from the server secret (nothing stored per app). */
export function appCallbackSecret(serverSecret: string, workspaceId: string, app: string): string {
  return `whsec_${hmacHex(serverSecret, `${workspaceId}/${app}`)}`;
}

/**
 * The server secret: `configured` (BALLAST_WEBHOOK_SECRET) when given, else the one in
 * `<dataDir>/webhook.secret`, created (random, mode 0600) on first use. Replicas that share
 * callbacks must share this secret, so they need the environment variable.
 */
export function loadServerSecret(dataDir: string, configured?: string): string {
  if (configured !== undefined && configured.length > 0) return configured;
  const file = path.join(dataDir, "webhook.secret");
  try {
    // "wx": of two processes starting at once, one creates it and both read the same secret.
    writeFileSync(file, `${randomBytes(32).toString("hex")}\n`, { mode: 0o600, flag: "wx" });
    chmodSync(file, 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  const secret = readFileSync(file, "utf8").trim();
  if (secret.length < 16)
    throw new Error(`${file} holds no usable secret; delete it to regenerate`);
  return secret;
}

export type DeliveryOutcome =
  | { readonly ok: true; readonly status: number }
  | { readonly ok: false; readonly status?: number; readonly error: string };

/**
 * The trace id a callback is sent in when the queue did not keep the intake's: derived from
 * the callback URL and the event id, so every try of one event's callback is in the same trace
 * and a receiver can group them (a fresh span id per try tells the tries apart).
 */
export function callbackTraceId(url: string, eventId: string): string {
  const id = createHash("sha256").update(`${url}\n${eventId}`).digest("hex").slice(0, 32);
  // All zero is invalid in traceparent; a sha256 prefix of zeros is only theoretical.
  return /^0+$/.test(id) ? "00000000000000000000000000000001" : id;
}

/**
 * POST one signed callback. A 2xx answer is delivered; anything else (another status, a
 * redirect, a timeout, a refused connection) is a failure the caller retries. It carries a W3C
 * `traceparent`: the given trace id (the intake request's, when the queue kept it) or
 * {@link callbackTraceId}, and a fresh span id per try.
 */
export async function deliverCallback(options: {
  readonly url: string;
  readonly secret: string;
  readonly eventId: string;
  readonly body: unknown;
  readonly signal: AbortSignal;
  readonly timeoutMs?: number;
  /** The trace to send the callback in (32 lower-case hex digits). */
  readonly traceId?: string;
}): Promise<DeliveryOutcome> {
  const raw = JSON.stringify(options.body);
  const traceId =
    options.traceId !== undefined && /^[0-9a-f]{32}$/.test(options.traceId)
      ? options.traceId
      : callbackTraceId(options.url, options.eventId);
  const signal = AbortSignal.any([
    options.signal,
    AbortSignal.timeout(options.timeoutMs ?? 10_000),
  ]);
  try {
    const response = await fetch(options.url, {
      method: "POST",
      redirect: "manual",
      signal,
      headers: {
        "content-type": "application/json",
        "user-agent": "Ballast-Webhooks",
        [EVENT_ID_HEADER]: options.eventId,
        [SIGNATURE_HEADER]: signPayload(options.secret, raw),
        traceparent: formatTraceparent(traceId, newSpanId(), false),
      },
      body: raw,
    });
    // Read (and drop) the body so the connection can be reused.
    await response.arrayBuffer().catch(() => undefined);
    if (response.status >= 200 && response.status < 300)
      return { ok: true, status: response.status };
    return {
      ok: false,
      status: response.status,
      error: `The callback URL answered HTTP ${response.status}`,
    };
  } catch (error) {
    const reason =
      error instanceof Error ? (error.cause instanceof Error ? error.cause : error) : undefined;
    const message =
      reason?.name === "TimeoutError"
        ? "The callback URL did not answer in time"
        : `The callback URL could not be reached: ${reason?.message ?? String(error)}`;
    return { ok: false, error: message };
  }
}
