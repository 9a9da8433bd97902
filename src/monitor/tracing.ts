/**
 * OpenTelemetry spans, exported over OTLP/HTTP (JSON) to a collector: one SERVER span per HTTP
 * request and one child span per pipeline step, so a slow or failing answer can be followed
 * from the caller's trace into each step and on to the services the steps call.
 *
 * Created only when an OTLP endpoint is configured; without one there is no provider, no
 * exporter and no span, and requests carry only their {@link TraceContext}. The provider is not
 * registered globally (no `trace.setGlobalTracerProvider`): every span is started with an
 * explicit parent, so several servers in one process (tests) each export their own spans.
 *
 * The span ids are the request's own: a small {@link IdGenerator} hands the SDK the ids of the
 * request's trace context, so the trace id in the log lines is the one in the collector, also
 * for traces that start here. Exception messages are masked like log lines before they leave.
 */
import {
  type Attributes,
  type Context,
  createTraceState,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  trace,
} from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  type IdGenerator,
} from "@opentelemetry/sdk-trace-base";
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_SERVICE_NAME,
  ATTR_SERVICE_VERSION,
  ATTR_URL_PATH,
} from "@opentelemetry/semantic-conventions";
import { outcomeOf } from "./observation.ts";
import type { PiiMasker } from "./pii-mask.ts";
import {
  formatTraceparent,
  newSpanId,
  newTraceId,
  type StepSpan,
  type StepTracer,
  type TraceContext,
} from "./trace-context.ts";

export interface TracingOptions {
  /**
   * The collector's OTLP/HTTP base URL (as `OTEL_EXPORTER_OTLP_ENDPOINT`: `/v1/traces` is
   * appended), or a full URL already ending in `/v1/traces`.
   */
  readonly endpoint: string;
  readonly serviceName?: string;
  readonly serviceVersion?: string;
  /** Masks exception messages and stacks before they are exported. */
  readonly masker: PiiMasker;
  /** How long spans wait in the batch before export (BatchSpanProcessor; default 5 s). */
  readonly scheduledDelayMs?: number;
}

/** Attribute names of our own, beside the semantic conventions. */
export const SPAN_ATTRIBUTES = {
  workspace: "ballast.workspace",
  app: "ballast.app",
  appVersion: "ballast.app.version",
  outcome: "ballast.outcome",
  requestId: "ballast.request_id",
  stepId: "ballast.step.id",
  stepKind: "ballast.step.kind",
} as const;

/** The URL the exporter posts to. */
export function tracesUrl(endpoint: string): string {
  const base = endpoint.replace(/\/+$/, "");
  return base.endsWith("/v1/traces") ? base : `${base}/v1/traces`;
}

/**
 * Hands the SDK the ids we already chose for a request (set just before `startSpan`, which is
 * synchronous), else fresh random ones.
 */
class RequestIdGenerator implements IdGenerator {
  nextTraceId: string | undefined;
  nextSpanId: string | undefined;

  generateTraceId(): string {
    const id = this.nextTraceId ?? newTraceId();
    this.nextTraceId = undefined;
    return id;
  }

  generateSpanId(): string {
    const id = this.nextSpanId ?? newSpanId();
    this.nextSpanId = undefined;
    return id;
  }
}

/** The span of one HTTP request, as the server's hooks see it. */
export interface ServerSpan {
  /** Step spans under this span, for the pipeline. */
  readonly steps: StepTracer;
  setAttributes(attributes: Attributes): void;
  /** Records an error; the span ends with an error status. */
  fail(error: unknown): void;
  /** Ends the span with the response's status (and its outcome); later calls do nothing. */
  end(status: number): void;
}

export class Tracing {
  private readonly provider: BasicTracerProvider;
  private readonly ids = new RequestIdGenerator();
  private readonly tracer;
  private readonly masker: PiiMasker;

  constructor(options: TracingOptions) {
    this.masker = options.masker;
    const exporter = new OTLPTraceExporter({ url: tracesUrl(options.endpoint) });
    this.provider = new BasicTracerProvider({
      resource: resourceFromAttributes({
        [ATTR_SERVICE_NAME]: options.serviceName ?? "ballast",
        ...(options.serviceVersion ? { [ATTR_SERVICE_VERSION]: options.serviceVersion } : {}),
      }),
      idGenerator: this.ids,
      spanProcessors: [
        new BatchSpanProcessor(exporter, {
          scheduledDelayMillis: options.scheduledDelayMs ?? 5000,
        }),
      ],
    });
    this.tracer = this.provider.getTracer("ballast");
  }

  /**
   * Starts the SERVER span of a request in its trace context: the incoming span as its parent
   * (a remote parent), and the context's own ids as the span's.
   */
  startServerSpan(
    context: TraceContext,
    request: { readonly method: string; readonly route?: string; readonly path: string },
  ): ServerSpan {
    const parent = context.parentSpanId
      ? trace.setSpanContext(ROOT_CONTEXT, {
          traceId: context.traceId,
          spanId: context.parentSpanId,
          traceFlags: context.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
          isRemote: true,
          ...(context.traceState ? { traceState: createTraceState(context.traceState) } : {}),
        })
      : ROOT_CONTEXT;
    this.ids.nextTraceId = context.traceId;
    this.ids.nextSpanId = context.spanId;
    const span = this.tracer.startSpan(
      request.route ? `${request.method} ${request.route}` : request.method,
      {
        kind: SpanKind.SERVER,
        attributes: {
          [ATTR_HTTP_REQUEST_METHOD]: request.method,
          [ATTR_URL_PATH]: this.masker.maskText(request.path),
          ...(request.route ? { [ATTR_HTTP_ROUTE]: request.route } : {}),
        },
      },
      parent,
    );
    this.ids.nextTraceId = undefined;
    this.ids.nextSpanId = undefined;
    return new OtelServerSpan(span, this.tracer, this.masker);
  }

  /** Exports every finished span now (tests, and before shutdown). */
  flush(): Promise<void> {
    return this.provider.forceFlush();
  }

  /** Flushes and stops the exporter. */
  shutdown(): Promise<void> {
    return this.provider.shutdown();
  }
}

type Tracer = ReturnType<BasicTracerProvider["getTracer"]>;

function recordFailure(span: Span, error: unknown, masker: PiiMasker): void {
  const name = error instanceof Error ? error.name : "Error";
  const message = masker.maskText(error instanceof Error ? error.message : String(error));
  const code = (error as { code?: unknown } | null)?.code;
  span.recordException({
    name,
    message,
    ...(error instanceof Error && error.stack ? { stack: masker.maskText(error.stack) } : {}),
  });
  span.setAttribute(ATTR_ERROR_TYPE, typeof code === "string" ? code : name);
  span.setStatus({ code: SpanStatusCode.ERROR, message });
}

class OtelServerSpan implements ServerSpan {
  private ended = false;
  private failed = false;
  private stepParent: Context | undefined;

  constructor(
    private readonly span: Span,
    private readonly tracer: Tracer,
    private readonly masker: PiiMasker,
  ) {}

  get steps(): StepTracer {
    return this;
  }

  startStep(stepId: string, kind: string): StepSpan {
    this.stepParent ??= trace.setSpan(ROOT_CONTEXT, this.span);
    const span = this.tracer.startSpan(
      `step ${kind}`,
      {
        kind: SpanKind.INTERNAL,
        attributes: { [SPAN_ATTRIBUTES.stepId]: stepId, [SPAN_ATTRIBUTES.stepKind]: kind },
      },
      this.stepParent,
    );
    return new OtelStepSpan(span, this.masker);
  }

  setAttributes(attributes: Attributes): void {
    this.span.setAttributes(attributes);
  }

  fail(error: unknown): void {
    if (this.ended || this.failed) return;
    this.failed = true;
    recordFailure(this.span, error, this.masker);
  }

  end(status: number): void {
    if (this.ended) return;
    this.ended = true;
    this.span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
    this.span.setAttribute(SPAN_ATTRIBUTES.outcome, outcomeOf(status));
    // HTTP semantic conventions: a SERVER span is an error for 5xx, not for the caller's 4xx.
    if (status >= 500 && !this.failed) {
      this.span.setStatus({ code: SpanStatusCode.ERROR });
      this.span.setAttribute(ATTR_ERROR_TYPE, String(status));
    }
    this.span.end();
  }
}

class OtelStepSpan implements StepSpan {
  private ended = false;

  constructor(
    private readonly span: Span,
    private readonly masker: PiiMasker,
  ) {}

  get traceparent(): string {
    const c = this.span.spanContext();
    return formatTraceparent(c.traceId, c.spanId, (c.traceFlags & TraceFlags.SAMPLED) !== 0);
  }

  fail(error: unknown): void {
    if (!this.ended) recordFailure(this.span, error, this.masker);
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.span.end();
  }
}
