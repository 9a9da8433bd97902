/**
 * The http step: something outside the process answers (a bigger model, a rules service).
 * It is sent `{"input": record, "prediction": ...}` and its JSON `prediction` (and optional
 * `probabilities`) replaces the answer. Every call goes through the step's guard: its own
 * bulkhead, circuit breaker, retries when the step is marked idempotent, and a per-attempt
 * deadline that aborts the fetch.
 */
import type { HttpStepSettings } from "../../spec/steps/http-step.ts";
import { UpstreamError } from "../errors.ts";
import { StepGuard } from "../policies/breaker.ts";
import type { RowAnswer } from "./pipeline.ts";

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** The most of an upstream's answer read, so a runaway upstream cannot exhaust memory. */
const MAX_ANSWER_BYTES = 1024 * 1024;

export class HttpStepRunner {
  readonly guard: StepGuard;

  constructor(
    readonly stepId: string,
    private readonly settings: HttpStepSettings,
    private readonly fetchFn: typeof fetch,
  ) {
    this.guard = new StepGuard({ stepId, ...settings });
  }

  /**
   * Calls the step's URL for one row. `traceparent`, when given, is sent as is, so the
   * upstream's work joins the caller's trace (every retry of the row carries the same one).
   */
  run(
    record: Record<string, unknown>,
    current: RowAnswer,
    parent: AbortSignal,
    traceparent?: string,
  ): Promise<RowAnswer> {
    const body = JSON.stringify({
      input: record,
      prediction: {
        prediction: current.prediction,
        ...(current.probabilities ? { probabilities: current.probabilities } : {}),
      },
    });
    const headers: Record<string, string> = {
      "content-type": "application/json",
      accept: "application/json",
    };
    if (traceparent !== undefined) headers.traceparent = traceparent;
    return this.guard.execute(async (signal) => {
      let response: Response;
      try {
        response = await this.fetchFn(this.settings.url, {
          method: "POST",
          headers,
          body,
          signal,
        });
      } catch (error) {
        if (signal.aborted) throw signal.reason ?? error;
        throw new UpstreamError(
          this.stepId,
          `Step ${this.stepId} could not reach its URL: ${(error as Error).message}`,
        );
      }
      const text = await response.text();
      if (!response.ok) {
        throw new UpstreamError(
          this.stepId,
          `Step ${this.stepId}'s URL answered ${response.status}`,
          response.status,
        );
      }
      if (text.length > MAX_ANSWER_BYTES) {
        throw new UpstreamError(this.stepId, `Step ${this.stepId}'s answer is too large`);
      }
      let answer: unknown;
      try {
        answer = JSON.parse(text);
      } catch {
        throw new UpstreamError(this.stepId, `Step ${this.stepId}'s URL did not answer JSON`);
      }
      const prediction = isRecord(answer) ? answer.prediction : undefined;
      if (typeof prediction !== "string" && typeof prediction !== "number") {
        throw new UpstreamError(
          this.stepId,
          `Step ${this.stepId}'s answer has no "prediction" string or number`,
        );
      }
      const probabilities =
        isRecord(answer) && isRecord(answer.probabilities)
          ? (Object.fromEntries(
              Object.entries(answer.probabilities).filter(([, v]) => typeof v === "number"),
            ) as Record<string, number>)
          : undefined;
      return {
        prediction,
        ...(probabilities ? { probabilities } : {}),
        answered_by: { step: this.stepId },
      };
    }, parent);
  }
}
