/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/), version 00: what ties one request's
 * log lines, spans and outgoing calls together across services. Every request gets a
 * {@link TraceContext}: continued from a valid incoming `traceparent` (same trace id, the
 * caller's span as parent) or started here. A malformed header is ignored (a new trace
 * starts), never refused: tracing must not turn a working call into a 400.
 *
 * Nothing here depends on OpenTelemetry: with no OTLP endpoint configured the server still
 * logs trace ids and propagates `traceparent`, at the cost of parsing one header or drawing
 * 24 random bytes. The {@link StepTracer} interface lets the pipeline open spans without
 * importing the SDK (`tracing.ts` implements it).
 */
import { randomFillSync } from "node:crypto";

/** The trace a request runs in, and this server's span in it. */
export interface TraceContext {
  /** 32 lower-case hex digits, not all zero. */
  readonly traceId: string;
  /** This server's span for the request (16 hex digits). */
  readonly spanId: string;
  /** The caller's span, when a valid `traceparent` came in. */
  readonly parentSpanId?: string;
  /** The caller's sampling decision (`traceparent` flags bit 0); false for a new trace. */
  readonly sampled: boolean;
  /** The incoming `tracestate`, passed on unchanged (only with a valid `traceparent`). */
  readonly traceState?: string;
}

/** A parsed `traceparent`. */
export interface TraceParent {
  readonly traceId: string;
  readonly parentId: string;
  readonly sampled: boolean;
}

// Version 00 is exactly 55 characters. A higher version may append fields after a dash
// (the spec's forward compatibility); version ff is invalid.
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = "00000000000000000000000000000000";
const ZERO_SPAN = "0000000000000000";

/**
 * Parses a `traceparent` header value; undefined when it is absent or invalid (upper-case hex,
 * all-zero ids, version ff, extra fields on version 00, wrong length). Never throws.
 */
export function parseTraceparent(value: unknown): TraceParent | undefined {
  if (typeof value !== "string" || value.length < 55 || value.length > 512) return undefined;
  const m = TRACEPARENT.exec(value);
  if (!m) return undefined;
  const [, version, traceId, parentId, flags, rest] = m;
  if (version === undefined || traceId === undefined || parentId === undefined) return undefined;
  if (flags === undefined || version === "ff") return undefined;
  if (version === "00" && rest !== undefined) return undefined;
  if (traceId === ZERO_TRACE || parentId === ZERO_SPAN) return undefined;
  return { traceId, parentId, sampled: (Number.parseInt(flags, 16) & 1) === 1 };
}

/** `00-<trace id>-<span id>-<flags>`: what an outgoing call carries. */
export function formatTraceparent(traceId: string, spanId: string, sampled: boolean): string {
  return `00-${traceId}-${spanId}-${sampled ? "01" : "00"}`;
}

// An entropy cache, as Node keeps for randomUUID: one randomFillSync per 512 ids instead of
// one per id. It holds no request state; refilled when used up.
const POOL_BYTES = 8192;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let poolOffset = POOL_BYTES;

function randomHex(bytes: number, zero: string): string {
  for (;;) {
    if (poolOffset + bytes > POOL_BYTES) {
      randomFillSync(pool);
      poolOffset = 0;
    }
    const hex = pool.toString("hex", poolOffset, poolOffset + bytes);
    poolOffset += bytes;
    if (hex !== zero) return hex;
  }
}

/** A new random trace id (16 bytes, never all zero). */
export function newTraceId(): string {
  return randomHex(16, ZERO_TRACE);
}

/** A new random span id (8 bytes, never all zero). */
export function newSpanId(): string {
  return randomHex(8, ZERO_SPAN);
}

/**
 * The trace context of a request from its headers: the incoming trace continued when its
 * `traceparent` is valid (its span becomes our parent), else a new trace. Either way this
 * server's span gets a new id.
 */
export function traceContextFrom(headers: {
  readonly [name: string]: string | string[] | undefined;
}): TraceContext {
  const incoming = parseTraceparent(headers.traceparent);
  if (!incoming) return { traceId: newTraceId(), spanId: newSpanId(), sampled: false };
  const state = headers.tracestate;
  return {
    traceId: incoming.traceId,
    spanId: newSpanId(),
    parentSpanId: incoming.parentId,
    sampled: incoming.sampled,
    // Several tracestate headers are one list (RFC 9110 field combination).
    ...(typeof state === "string" && state.length <= 512
      ? { traceState: state }
      : Array.isArray(state) && state.join(",").length <= 512
        ? { traceState: state.join(",") }
        : {}),
  };
}

/** A span of one pipeline step, as the pipeline sees it. */
export interface StepSpan {
  /** The `traceparent` to send to whatever the step calls: this step's span as the parent. */
  readonly traceparent: string;
  /** Records a failure of the step (the span ends with an error status). */
  fail(error: unknown): void;
  end(): void;
}

/**
 * Opens one span per pipeline step under the request's span. Optional on the pipeline's
 * request: without it the steps run with no tracing work at all.
 */
export interface StepTracer {
  startStep(stepId: string, kind: string): StepSpan;
}

/**
 * The `traceparent` an outgoing call of a step sends: the step span's when tracing is on,
 * else the request's trace id with a fresh span id (so the callee still joins the trace).
 */
export function outgoingTraceparent(
  context: TraceContext | undefined,
  span: StepSpan | undefined,
): string | undefined {
  if (span) return span.traceparent;
  if (!context) return undefined;
  return formatTraceparent(context.traceId, newSpanId(), context.sampled);
}
