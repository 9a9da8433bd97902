/**
 * Every request's trace context, and its span when tracing is on, kept beside the request
 * (WeakMaps keyed by the raw request, so nothing outlives it and no Fastify decoration is
 * needed). The context is made where Fastify creates the request's child logger, which is the
 * first thing it does for any request (routes, 404s, errors alike), so that every log line of
 * the request carries `traceId` beside Fastify's `reqId`.
 *
 * Routes read it with {@link traceContextOf} / {@link stepTracerOf} (to pass into the
 * pipeline) and name the app that answered with {@link annotateTrace}.
 */
import { randomUUID } from "node:crypto";
import type { IncomingHttpHeaders, IncomingMessage } from "node:http";
import type {
  FastifyBaseLogger,
  FastifyError,
  FastifyInstance,
  FastifyRequest,
  FastifyServerOptions,
} from "fastify";
import type { Bindings, ChildLoggerOptions } from "pino";
import type { PiiMasker } from "../monitor/pii-mask.ts";
import { type StepTracer, type TraceContext, traceContextFrom } from "../monitor/trace-context.ts";
import { type ServerSpan, SPAN_ATTRIBUTES, type Tracing } from "../monitor/tracing.ts";
import { toErrorResponse } from "./error-response.ts";

type ChildLoggerFactory = NonNullable<FastifyServerOptions["childLoggerFactory"]>;

/**
 * The trace context rides on the raw request under a symbol rather than in a WeakMap: every
 * request gets one, and a WeakMap entry per request is work for the garbage collector
 * (ephemerons) that a property on an object dying anyway is not.
 */
const TRACE = Symbol("ballast.traceContext");
type TracedMessage = IncomingMessage & { [TRACE]?: TraceContext };
const spans = new WeakMap<IncomingMessage, ServerSpan>();

/** The request's trace context (made on first use if the logger factory did not run). */
export function traceContextOf(request: { readonly raw: IncomingMessage }): TraceContext {
  const raw = request.raw as TracedMessage;
  let context = raw[TRACE];
  if (!context) {
    context = traceContextFrom(raw.headers);
    raw[TRACE] = context;
  }
  return context;
}

/** Step spans under the request's span; undefined when tracing is off. */
export function stepTracerOf(request: { readonly raw: IncomingMessage }): StepTracer | undefined {
  return spans.get(request.raw)?.steps;
}

/** Names the app version that answered on the request's span (nothing when tracing is off). */
export function annotateTrace(
  request: { readonly raw: IncomingMessage },
  served: { readonly workspaceId: string; readonly app: string; readonly version: number },
): void {
  spans.get(request.raw)?.setAttributes({
    [SPAN_ATTRIBUTES.workspace]: served.workspaceId,
    [SPAN_ATTRIBUTES.app]: served.app,
    [SPAN_ATTRIBUTES.appVersion]: served.version,
  });
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** A request's id: the caller's `X-Request-Id` when it is a sane one, else a new UUID. */
export function requestIdOf(headers: IncomingHttpHeaders): string {
  const incoming = headers["x-request-id"];
  return typeof incoming === "string" && REQUEST_ID.test(incoming) ? incoming : randomUUID();
}

/**
 * Fastify's `childLoggerFactory`: makes the request's trace context and adds its trace id to
 * the request's log bindings. A request id the caller chose (`X-Request-Id`) is masked here,
 * once per request, because bindings skip the masking of each line.
 */
export function requestChildLoggerFactory(masker: PiiMasker): ChildLoggerFactory {
  return function childLogger(logger, bindings, options, rawRequest) {
    const context = traceContextFrom(rawRequest.headers);
    (rawRequest as TracedMessage)[TRACE] = context;
    bindings.traceId = context.traceId;
    const incoming = rawRequest.headers["x-request-id"];
    if (typeof bindings.reqId === "string" && bindings.reqId === incoming) {
      bindings.reqId = masker.maskText(incoming);
    }
    return new LazyChildLogger(logger, bindings, options);
  };
}

/**
 * A request's logger that makes pino's child (which serializes its bindings) only when a line
 * is actually written at an enabled level: most requests log nothing, and the child cost ~1 µs
 * and an allocation on every one of them.
 */
class LazyChildLogger implements FastifyBaseLogger {
  #child: FastifyBaseLogger | undefined;

  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: Bindings,
    private readonly options: ChildLoggerOptions | undefined,
  ) {}

  #made(): FastifyBaseLogger {
    this.#child ??= this.parent.child(this.bindings, this.options);
    return this.#child;
  }

  #enabled(level: string): boolean {
    const parent = this.parent as FastifyBaseLogger & { isLevelEnabled?(level: string): boolean };
    return this.#child !== undefined || parent.isLevelEnabled?.(level) !== false;
  }

  get level(): string {
    return this.#child?.level ?? this.options?.level ?? this.parent.level;
  }

  set level(level: string) {
    this.#made().level = level;
  }

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.#made().child(bindings, options);
  }

  // Prototype methods, not arrow fields: a logger is made per request and must stay cheap.
  fatal(...args: LogArgs): void {
    this.#write("fatal", args);
  }
  error(...args: LogArgs): void {
    this.#write("error", args);
  }
  warn(...args: LogArgs): void {
    this.#write("warn", args);
  }
  info(...args: LogArgs): void {
    this.#write("info", args);
  }
  debug(...args: LogArgs): void {
    this.#write("debug", args);
  }
  trace(...args: LogArgs): void {
    this.#write("trace", args);
  }
  silent(): void {}

  #write(level: "fatal" | "error" | "warn" | "info" | "debug" | "trace", args: LogArgs): void {
    if (!this.#enabled(level)) return;
    const child = this.#made();
    (child[level] as (...a: LogArgs) => void).apply(child, args);
  }
}

type LogArgs = [unknown, ...unknown[]];

/**
 * The SERVER span of every request: started when the request is routed (with the incoming
 * `traceparent` as its parent), failed on a 5xx error, ended when the response is sent or the
 * caller goes away. Only registered when tracing is on.
 */
export function registerRequestSpans(server: FastifyInstance, tracing: Tracing): void {
  server.addHook("onRequest", (request, _reply, done) => {
    const route = request.routeOptions.url;
    spans.set(
      request.raw,
      tracing.startServerSpan(traceContextOf(request), {
        method: request.method,
        path: pathOf(request),
        ...(route !== undefined ? { route } : {}),
      }),
    );
    done();
  });
  server.addHook("onError", (request, _reply, error, done) => {
    if (toErrorResponse(error as FastifyError).status >= 500) spans.get(request.raw)?.fail(error);
    done();
  });
  server.addHook("onResponse", (request, reply, done) => {
    spans.get(request.raw)?.end(reply.statusCode);
    done();
  });
  // The caller closed the connection before an answer: 499, as proxies log it.
  server.addHook("onRequestAbort", (request, done) => {
    spans.get(request.raw)?.end(499);
    done();
  });
}

function pathOf(request: FastifyRequest): string {
  const q = request.url.indexOf("?");
  return q < 0 ? request.url : request.url.slice(0, q);
}
