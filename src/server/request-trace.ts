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
import type { IncomingMessage } from "node:http";
import type { FastifyError, FastifyInstance, FastifyRequest, FastifyServerOptions } from "fastify";
import type { PiiMasker } from "../monitor/pii-mask.ts";
import { type StepTracer, type TraceContext, traceContextFrom } from "../monitor/trace-context.ts";
import { type ServerSpan, SPAN_ATTRIBUTES, type Tracing } from "../monitor/tracing.ts";
import { toErrorResponse } from "./error-response.ts";

type ChildLoggerFactory = NonNullable<FastifyServerOptions["childLoggerFactory"]>;

const contexts = new WeakMap<IncomingMessage, TraceContext>();
const spans = new WeakMap<IncomingMessage, ServerSpan>();

/** The request's trace context (made on first use if the logger factory did not run). */
export function traceContextOf(request: { readonly raw: IncomingMessage }): TraceContext {
  let context = contexts.get(request.raw);
  if (!context) {
    context = traceContextFrom(request.raw.headers);
    contexts.set(request.raw, context);
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

/**
 * Fastify's `childLoggerFactory`: makes the request's trace context and adds its trace id to
 * the request's log bindings. A request id the caller chose (`X-Request-Id`) is masked here,
 * once per request, because bindings skip the masking of each line.
 */
export function requestChildLoggerFactory(masker: PiiMasker): ChildLoggerFactory {
  return function childLogger(logger, bindings, options, rawRequest) {
    const context = traceContextFrom(rawRequest.headers);
    contexts.set(rawRequest, context);
    bindings.traceId = context.traceId;
    const incoming = rawRequest.headers["x-request-id"];
    if (typeof bindings.reqId === "string" && bindings.reqId === incoming) {
      bindings.reqId = masker.maskText(incoming);
    }
    return logger.child(bindings, options);
  };
}

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
