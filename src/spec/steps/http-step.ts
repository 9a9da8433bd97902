/**
 * A call to something outside the process (an external model, a rules service): it POSTs
 * `{"input": record, "prediction": current answer}` and the JSON answer's `prediction` (and
 * `probabilities`, if any) replaces the current answer. Everything outside can hang or fail,
 * so the step carries its own time budget, bulkhead, retries (only when the call is
 * idempotent) and circuit breaker, each with a default.
 */
import { httpUrlSchema } from "../http-url.ts";
import { defineStepKind } from "./step-kind.ts";

export interface HttpStepSettings {
  readonly url: string;
  /** Each attempt's budget. */
  readonly timeoutMs: number;
  /** Only an idempotent step is retried: a retry of anything else could act twice. */
  readonly idempotent: boolean;
  readonly maxRetries: number;
  /** The step's own bulkhead: calls beyond it are refused at once. */
  readonly maxConcurrent: number;
  /** Open after this many failed calls in a row (0 = off). */
  readonly breakerConsecutiveFailures: number;
  /** Open when this share of the window's calls failed (0..1; 0 = off). */
  readonly breakerErrorRate: number;
  readonly breakerWindowSeconds: number;
  /** The error rate is not judged on fewer calls than this in the window. */
  readonly breakerMinRequests: number;
  /** An open breaker lets one probe call through after this long. */
  readonly breakerHalfOpenAfterSeconds: number;
}

export const httpStep = defineStepKind({
  type: "http",
  title: "HTTP call",
  description:
    "Calls an outside service with the record and the current answer and takes its prediction, inside a timeout, a bulkhead and a circuit breaker.",
  icon: "http",
  inputs: 1,
  outputs: 1,
  settings: {
    type: "object",
    additionalProperties: false,
    required: ["url"],
    properties: {
      url: httpUrlSchema(
        "URL",
        'Where to POST {"input": record, "prediction": answer}; it answers {"prediction": ...}.',
      ),
      timeoutMs: {
        title: "Timeout (ms)",
        description: "Time one attempt may take; it is cancelled after that.",
        type: "integer",
        minimum: 1,
        maximum: 600_000,
        default: 1000,
      },
      idempotent: {
        title: "Safe to retry",
        description: "Calling twice does no harm; only then are failed calls retried.",
        type: "boolean",
        default: false,
      },
      maxRetries: {
        title: "Most retries",
        description: "Retries of a failed call (with jittered backoff) when it is safe to retry.",
        type: "integer",
        minimum: 0,
        maximum: 10,
        default: 2,
      },
      maxConcurrent: {
        title: "Most calls at once",
        description: "Calls of this step in flight at once; more are refused as overload.",
        type: "integer",
        minimum: 1,
        maximum: 10_000,
        default: 32,
      },
      breakerConsecutiveFailures: {
        title: "Open after failures in a row",
        description: "The circuit opens after this many consecutive failures.",
        type: "integer",
        minimum: 1,
        maximum: 1000,
        default: 5,
      },
      breakerErrorRate: {
        title: "Open at error rate",
        description:
          "The circuit also opens when this share of calls in the window fails (0 to 1).",
        type: "number",
        minimum: 0,
        maximum: 1,
        default: 0.5,
      },
      breakerWindowSeconds: {
        title: "Error rate window (s)",
        description: "The span over which the error rate is measured.",
        type: "number",
        minimum: 0.1,
        maximum: 3600,
        default: 30,
      },
      breakerMinRequests: {
        title: "Least calls for the error rate",
        description: "The error rate counts only once the window holds this many calls.",
        type: "integer",
        minimum: 1,
        maximum: 100_000,
        default: 20,
      },
      breakerHalfOpenAfterSeconds: {
        title: "Probe after (s)",
        description: "An open circuit lets one probe call through after this long.",
        type: "number",
        minimum: 0.1,
        maximum: 3600,
        default: 10,
      },
    },
  },
  count: { min: 0, max: 3 },
  runsAfter: ["model", "cascade", "http"],
});
