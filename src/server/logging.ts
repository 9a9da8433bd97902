/**
 * The server's pino logger (Fastify's): JSON lines in which every string is masked before it
 * is written. Callers' values reach logs through error messages (a JSON parse error quotes
 * the body, a validation error names an unknown field), URLs (query strings) and headers, so
 * masking is done where lines are built, not left to each call site:
 *
 * - `hooks.logMethod`: the message and its format arguments (and the message pino takes from
 *   an error when none is given);
 * - `formatters.log`: the object logged, deep-copied and masked, except the keys that have a
 *   serializer below (a request object is not walked, its serializer picks a few fields);
 * - `serializers.req` / `serializers.err`: Fastify's request fields and pino's error fields,
 *   masked (`remoteAddress` and the host's address only when IPs are masked);
 * - bindings of child loggers are not masked: pino writes them once when the child is made,
 *   without formatters. The only child logger is the request's; its factory (request-trace.ts)
 *   masks a `reqId` the caller chose, and `traceId` is hex. Do not bind caller data elsewhere.
 *
 * Cost: these run only for lines at an enabled level; a string with no `@`, digit or (with
 * IPs masked) colon costs a few character scans.
 */
import type { FastifyError, FastifyLoggerOptions, FastifyRequest } from "fastify";
import pino, { type LoggerOptions } from "pino";
import type { PiiMasker } from "../monitor/pii-mask.ts";

/** Where log lines go: a file path (appended, synchronously) or a stream; unset: stdout. */
export type LogDestination = string | { write(line: string): void };

/** Keys whose values pino passes to a serializer after `formatters.log`. */
const SERIALIZED = new Set(["req", "res", "err"]);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null;
}

/** The message pino would take from a lone error argument, or `{err}` without `msg`. */
function implicitMessage(first: unknown): string | undefined {
  if (first instanceof Error) return first.message;
  if (!isObject(first) || first.msg !== undefined) return undefined;
  const err = first.err;
  return isObject(err) && typeof err.message === "string" ? err.message : undefined;
}

/** The log call's arguments with every string (and format object) masked. */
export function maskLogArguments(args: readonly unknown[], masker: PiiMasker): unknown[] {
  const out = args.slice();
  for (let i = 0; i < out.length; i++) {
    const a = out[i];
    if (typeof a === "string") out[i] = masker.maskText(a);
    // The first object goes through formatters.log; later ones are format arguments.
    else if (i > 0 && isObject(a)) out[i] = masker.maskValue(a);
  }
  if (out.length === 1) {
    const message = implicitMessage(out[0]);
    if (message !== undefined) out.push(masker.maskText(message));
  }
  return out;
}

/**
 * A URL masked also where the caller percent-encoded what it holds (`%2B44%2020...`): when
 * decoding reveals something to mask, the decoded, masked form is logged; else the URL as sent.
 */
export function maskUrl(url: string, masker: PiiMasker): string {
  const masked = masker.maskText(url);
  if (!url.includes("%")) return masked;
  let decoded: string;
  try {
    decoded = decodeURIComponent(url.replace(/\+/g, " "));
  } catch {
    return masked;
  }
  const maskedDecoded = masker.maskText(decoded);
  return maskedDecoded === decoded ? masked : maskedDecoded;
}

/** The logged object masked, leaving the serialized keys to their (masking) serializers. */
export function maskLogObject(
  object: Record<string, unknown>,
  masker: PiiMasker,
): Record<string, unknown> {
  const plain: Record<string, unknown> = {};
  let serialized: Record<string, unknown> | undefined;
  for (const key of Object.keys(object)) {
    if (SERIALIZED.has(key)) {
      serialized ??= {};
      serialized[key] = object[key];
    } else plain[key] = object[key];
  }
  const masked = masker.maskValue(plain) as Record<string, unknown>;
  return serialized ? Object.assign(masked, serialized) : masked;
}

/**
 * Fastify's `logger` option: level, destination, and the masking described above.
 * `maskIps` says whether the masker masks addresses (then `remoteAddress` is `[ip]`).
 */
export function loggerOptions(options: {
  readonly level: string;
  readonly masker: PiiMasker;
  readonly maskIps: boolean;
  readonly destination?: LogDestination;
}): FastifyLoggerOptions & LoggerOptions {
  const { masker, maskIps } = options;
  const destination = options.destination;
  return {
    level: options.level,
    ...(destination === undefined
      ? {}
      : {
          stream:
            typeof destination === "string"
              ? pino.destination({ dest: destination, sync: true, mkdir: true })
              : destination,
        }),
    hooks: {
      logMethod(args, method) {
        method.apply(this, maskLogArguments(args, masker) as Parameters<typeof method>);
      },
    },
    formatters: {
      log: (object) => maskLogObject(object, masker),
    },
    serializers: {
      req: (req: FastifyRequest) => {
        const version = req.headers["accept-version"];
        return {
          method: req.method,
          url: maskUrl(req.url, masker),
          ...(typeof version === "string" ? { version: masker.maskText(version) } : {}),
          host: masker.maskText(req.host),
          remoteAddress: maskIps ? "[ip]" : req.ip,
          remotePort: req.socket?.remotePort,
        };
      },
      err: (err: FastifyError) => {
        const { type, message, stack, ...rest } = pino.stdSerializers.err(err);
        return {
          ...(masker.maskValue(rest) as Record<string, unknown>),
          type,
          message: masker.maskText(message),
          stack: masker.maskText(stack),
        };
      },
    },
  };
}
