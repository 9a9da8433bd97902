/**
 * What the predict route tells the monitor about every answer it sent: one
 * {@link PredictObservation} per request, handed to each {@link PredictObserver} (metrics,
 * prediction log, drift) after the response is written. Observers run on the request's thread,
 * so each does only constant work per request here (a counter, a histogram, a sketch update, a
 * push onto a buffer) and leaves anything heavier (writing files, computing reports) to a timer.
 */
import type { OnnxPredictor } from "../models/onnx/onnx-predictor.ts";
import type { Predictor } from "../models/predictor.ts";
import type { RowAnswer } from "../runtime/pipeline/pipeline.ts";
import type { AppMonitoring } from "../spec/monitoring.ts";

/** How a request ended, as the metrics count it. */
export type Outcome = "ok" | "client_error" | "shed" | "rate_limited" | "timeout" | "error";

export const OUTCOMES: readonly Outcome[] = [
  "ok",
  "client_error",
  "shed",
  "rate_limited",
  "timeout",
  "error",
];

/**
 * The outcome of an answer: 429 is rate limited; 503 is shed (overload: a full bulkhead, queue
 * or pool, an open breaker); 504 is a timeout; other 4xx are the caller's; other 5xx errors.
 */
export function outcomeOf(status: number): Outcome {
  if (status < 400) return "ok";
  if (status === 429) return "rate_limited";
  if (status < 500) return "client_error";
  if (status === 503) return "shed";
  if (status === 504) return "timeout";
  return "error";
}

/** The app version that answered, with what the observers need of it. */
export interface ServedVersion {
  readonly workspaceId: string;
  readonly app: string;
  readonly version: number;
  readonly appVersionId: string;
  readonly model: { readonly name: string; readonly version: number };
  /**
   * The model's predictor (Ballast's own or an imported ONNX model; both have `artifact`,
   * `recipe` and `task`): its artifact carries the baseline sketches and the fitted recipe.
   */
  readonly predictor: Predictor | OnnxPredictor;
  readonly monitoring: AppMonitoring;
}

export interface PredictObservation {
  /** The request's id (`X-Request-Id`), also in the response body as `request_id`. */
  readonly requestId: string;
  /** The W3C trace id the request ran under, when tracing is on or a `traceparent` came in. */
  readonly traceId?: string;
  /** When the request was received (epoch milliseconds). */
  readonly at: number;
  readonly served: ServedVersion;
  readonly status: number;
  readonly outcome: Outcome;
  /** From request received to response sent. */
  readonly latencyMs: number;
  /** Time spent in the model step(s) only; absent when no model ran (refused, cache hit). */
  readonly modelMs?: number;
  /** The validated input records (200 answers only), in request order. */
  readonly records?: readonly Readonly<Record<string, unknown>>[];
  /**
   * The request body's JSON text, when the front door kept it (200 answers only): `records` are
   * that text's value parsed, itself (one record) or with `bodyRows` its `rows`. The prediction
   * log sends its thread this text instead of serializing the records on the event loop.
   */
  readonly bodyText?: string;
  readonly bodyRows?: boolean;
  /** The answers, one per record (200 answers only). */
  readonly answers?: readonly RowAnswer[];
  /**
   * The rows as the model encoded them (records × the recipe's width, in order), when the model
   * ran on the request's thread and the version watches drift: drift counts them instead of
   * encoding every record a second time.
   */
  readonly encoded?: readonly number[];
  /** True when the response cache answered. */
  readonly cacheHit?: boolean;
}

/** Something that watches every answer; `observe` must be cheap and must never throw. */
export interface PredictObserver {
  observe(observation: PredictObservation): void;
}
