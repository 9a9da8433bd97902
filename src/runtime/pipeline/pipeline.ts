/**
 * The executor of an app's steps. A spec's steps form a chain,
 * `input → [session] → validate → model → [cascade] → [http]* → [fallback] → output`, compiled
 * once per app version into this object; a request is then a walk down the chain with one
 * deadline signal passed through every step.
 *
 * Nothing here is module-level or shared between requests except what a step is meant to
 * share across them (a breaker's state, a bulkhead's count, the session store, which keys
 * state by workspace, app and session id). A step failure after validation (timeout, open
 * breaker, upstream error, a pool that is full, a bug) is answered by the fallback step when
 * there is one, marked as such; without one it reaches the caller as 502/503/504. Caller
 * mistakes (InvalidInputError) are never covered by a fallback: they are the caller's to fix.
 */
import type { ValidateFunction } from "ajv";
import type { Prediction } from "../../models/predictor.ts";
import {
  outgoingTraceparent,
  type StepSpan,
  type StepTracer,
  type TraceContext,
} from "../../monitor/trace-context.ts";
import { type AppSpec, type PipelineStep, pipelineOf } from "../../spec/app-spec.ts";
import type { SessionStore } from "../../store/sessions/session-store.ts";
import { DeadlineExceededError, InvalidInputError, RuntimeError } from "../errors.ts";
import { withDeadline } from "../policies/deadline.ts";
import { describeErrors } from "../record-validation.ts";
import { HttpStepRunner } from "./http-step.ts";
import type { ModelRunner, RowPaths } from "./model-runner.ts";
import { type SessionSettings, type SessionTurn, sessionTurn } from "./session-step.ts";

/** Who produced a row's answer, when the pipeline could have more than one answerer. */
export interface AnsweredBy {
  readonly step: string;
  readonly model?: { readonly name: string; readonly version: number };
}

export interface RowAnswer extends Prediction {
  readonly answered_by?: AnsweredBy;
  /** Present when the fallback step answered: why the steps before it did not. */
  readonly fallback?: { readonly reason: string; readonly step?: string };
}

export interface PipelineRequest {
  readonly records: readonly Record<string, unknown>[];
  readonly paths: RowPaths;
  readonly explain: boolean;
  /** The request's own deadline; every step's budget is cut to what is left of it. */
  readonly signal: AbortSignal;
  /** The `x-session-id` header, when the caller sent one. */
  readonly sessionId?: string;
  /** The request's trace: http steps send its trace id on in `traceparent`. */
  readonly traceContext?: TraceContext;
  /** Opens a span per step when tracing is on; absent, the steps do no tracing work. */
  readonly tracer?: StepTracer;
}

export interface PipelineResult {
  readonly answers: readonly RowAnswer[];
  readonly session?: SessionTurn;
  /**
   * Milliseconds spent in the model and cascade model steps (performance.now()), summed over
   * rows for the cascade: the model's share of the latency, apart from queues and http steps.
   */
  readonly modelMs?: number;
  /** The rows as the model encoded them, for drift (see `PredictObservation.encoded`). */
  readonly encoded?: readonly number[];
}

/** Time spent in model steps by one request, summed as its rows finish (and its encoded rows). */
interface ModelTime {
  ms: number;
  encoded?: number[] | undefined;
}

/** Ends a step's span, recording the error when the step failed. */
function endSpan(span: StepSpan | undefined, error?: unknown): void {
  if (!span) return;
  if (error !== undefined) span.fail(error);
  span.end();
}

/** What a pipeline needs from outside: loaded models, the session store, fetch for http steps. */
export interface PipelineDeps {
  /** The app's own model step. */
  readonly model: ModelRunner;
  readonly modelRef: { readonly name: string; readonly version: number };
  /** The cascade step's second model, loaded with the app version. */
  readonly cascadeModel?: ModelRunner;
  readonly validateRecord: ValidateFunction;
  readonly sessions?: SessionStore;
  /** workspaceId/app: what session ids are scoped to. */
  readonly sessionScope: string;
  /** Counts what the steps did, for the app's metrics. */
  readonly events?: PipelineEvents;
  readonly fetch?: typeof fetch;
}

export interface PipelineEvents {
  fallback(reason: string): void;
  escalated(count: number): void;
}

interface CascadeSettings {
  readonly id: string;
  readonly name: string;
  readonly version: number;
  readonly minConfidence: number;
  readonly timeoutMs: number;
}

/** The top class probability of a classifier's answer (undefined for regression). */
function confidenceOf(p: Prediction): number | undefined {
  if (!p.probabilities) return undefined;
  let best = 0;
  for (const v of Object.values(p.probabilities)) if (v > best) best = v;
  return best;
}

/** A step failure the fallback answers for: anything but the caller's own mistake. */
const coveredByFallback = (error: unknown) => !(error instanceof InvalidInputError);

const reasonOf = (error: unknown) =>
  error instanceof RuntimeError ? error.code : error instanceof Error ? "error" : "error";

export class Pipeline {
  /** The steps in the order they run. */
  readonly steps: readonly PipelineStep[];
  private session?: { id: string; settings: SessionSettings };
  private validateId = "validate";
  private modelStep: { id: string; timeoutMs: number } = { id: "model", timeoutMs: 2000 };
  private cascade?: CascadeSettings;
  private readonly http: HttpStepRunner[] = [];
  private fallbackStep?: { id: string; prediction: string | number | boolean };
  private readonly unknownCategories: "bucket" | "reject";
  /** Hand the model's encoded rows on (drift watched, an in-thread model): one copy a request. */
  private readonly keepEncoded: boolean;

  constructor(
    spec: AppSpec,
    private readonly deps: PipelineDeps,
  ) {
    this.steps = pipelineOf(spec);
    this.unknownCategories = spec.contract.unknownCategories;
    this.keepEncoded = spec.monitoring.drift.enabled && deps.model.encodedWidth > 0;
    for (const step of this.steps) {
      switch (step.kind) {
        case "session":
          this.session = { id: step.id, settings: step.settings };
          break;
        case "validate":
          this.validateId = step.id;
          break;
        case "model":
          this.modelStep = { id: step.id, timeoutMs: step.settings.timeoutMs };
          break;
        case "cascade":
          this.cascade = { id: step.id, ...step.settings };
          break;
        case "http":
          this.http.push(
            new HttpStepRunner(step.id, step.settings, deps.fetch ?? globalThis.fetch),
          );
          break;
        case "fallback":
          this.fallbackStep = { id: step.id, prediction: step.settings.prediction };
          break;
        default:
          break;
      }
    }
  }

  /**
   * Whether a request of this many rows waits on anything a deadline can cut short (the
   * session store, a worker thread, onnxruntime, a cascade, an http step). When it does not,
   * the whole pipeline runs synchronously in microseconds and no deadline timer is armed.
   */
  cancellable(rows: number): boolean {
    return (
      this.session !== undefined ||
      this.cascade !== undefined ||
      this.http.length > 0 ||
      this.deps.model.cancellable(rows)
    );
  }

  /** Whether answers depend on more than the input (then responses must not be cached). */
  get hasSession(): boolean {
    return this.session !== undefined;
  }

  /** Whether a response can say a step other than the model answered. */
  get hasAlternateAnswerers(): boolean {
    return this.cascade !== undefined || this.http.length > 0 || this.fallbackStep !== undefined;
  }

  /** The http steps' guards, for metrics (breaker states). */
  get httpSteps(): readonly HttpStepRunner[] {
    return this.http;
  }

  async run(request: PipelineRequest): Promise<PipelineResult> {
    const tracer = request.tracer;
    let records = request.records;
    let session: SessionTurn | undefined;
    if (this.session && request.sessionId !== undefined && this.deps.sessions) {
      if (records.length !== 1) {
        throw new InvalidInputError(
          "invalid_body",
          "A request in a session carries one record, not a batch",
          [{ path: "/rows", message: "is not allowed with x-session-id" }],
        );
      }
      const span = tracer?.startStep(this.session.id, "session");
      try {
        const turn = await sessionTurn(
          this.deps.sessions,
          this.deps.sessionScope,
          request.sessionId,
          records[0] as Record<string, unknown>,
          this.session.settings,
        );
        records = [turn.record];
        session = turn.turn;
      } catch (error) {
        endSpan(span, error);
        throw error;
      }
      endSpan(span);
    }
    const validateSpan = tracer?.startStep(this.validateId, "validate");
    try {
      this.validate(records, request.paths);
    } catch (error) {
      endSpan(validateSpan, error);
      throw error;
    }
    endSpan(validateSpan);
    const time: ModelTime = { ms: 0 };
    const answers = await this.answer(records, request, time);
    const modelMs = time.ms;
    const encoded = time.encoded;
    return session ? { answers, session, modelMs, encoded } : { answers, modelMs, encoded };
  }

  /**
   * The whole pipeline synchronously, for the common request that waits on nothing (no
   * session, cascade or http step; in-thread prediction): the same steps, spans and fallback
   * as `run`, without a promise. Undefined when this request must go through `run`.
   */
  runNow(request: Omit<PipelineRequest, "signal">): PipelineResult | undefined {
    const records = request.records;
    if (
      this.session !== undefined ||
      this.cascade !== undefined ||
      this.http.length > 0 ||
      this.deps.model.cancellable(records.length)
    ) {
      return undefined;
    }
    const tracer = request.tracer;
    const validateSpan = tracer?.startStep(this.validateId, "validate");
    try {
      this.validate(records, request.paths);
    } catch (error) {
      endSpan(validateSpan, error);
      throw error;
    }
    endSpan(validateSpan);
    const span = tracer?.startStep(this.modelStep.id, "model");
    const started = performance.now();
    let predictions: Prediction[];
    const encoded = this.keepEncoded
      ? new Array<number>(records.length * this.deps.model.encodedWidth)
      : undefined;
    try {
      predictions = this.deps.model.predictNow(records, request.paths, {
        unknownCategories: this.unknownCategories,
        explain: request.explain,
        encoded,
      });
    } catch (error) {
      const modelMs = performance.now() - started;
      endSpan(span, error);
      if (!this.fallbackStep || !coveredByFallback(error)) throw error;
      return { answers: records.map(() => this.fallbackAnswer(error, tracer)), modelMs };
    }
    const modelMs = performance.now() - started;
    endSpan(span);
    const answers: RowAnswer[] = this.hasAlternateAnswerers
      ? predictions.map((p) => ({
          ...p,
          answered_by: { step: this.modelStep.id, model: this.deps.modelRef },
        }))
      : predictions;
    return { answers, modelMs, encoded };
  }

  /**
   * Records run for no caller's request (a golden case, shadow traffic): synchronously when
   * nothing waits, else through `run` under `deadlineMs`. Row paths are not reported.
   */
  async runDetached(
    records: readonly Record<string, unknown>[],
    deadlineMs: number,
  ): Promise<PipelineResult> {
    const request = { records, paths: () => "", explain: false };
    return (
      this.runNow(request) ?? withDeadline(deadlineMs, (signal) => this.run({ ...request, signal }))
    );
  }

  /** The validate step: every record against the contract, the first bad one named. */
  private validate(records: readonly Record<string, unknown>[], paths: RowPaths): void {
    const validate = this.deps.validateRecord;
    for (let i = 0; i < records.length; i++) {
      if (!validate(records[i])) {
        throw new InvalidInputError(
          "invalid_input",
          "The input does not match the app's contract",
          describeErrors(validate.errors, paths(i)),
        );
      }
    }
  }

  private async answer(
    records: readonly Record<string, unknown>[],
    request: PipelineRequest,
    time: ModelTime,
  ): Promise<RowAnswer[]> {
    let predictions: Prediction[];
    const model = this.deps.model;
    const encoded =
      this.keepEncoded && !model.cancellable(records.length)
        ? new Array<number>(records.length * model.encodedWidth)
        : undefined;
    const predict = (signal: AbortSignal) =>
      model.predict(records, request.paths, {
        unknownCategories: this.unknownCategories,
        explain: request.explain,
        signal,
        encoded,
      });
    const span = request.tracer?.startStep(this.modelStep.id, "model");
    const started = performance.now();
    try {
      predictions = model.cancellable(records.length)
        ? await withDeadline(this.modelStep.timeoutMs, predict, {
            parent: request.signal,
            stepId: this.modelStep.id,
          })
        : await predict(request.signal);
    } catch (error) {
      time.ms += performance.now() - started;
      endSpan(span, error);
      if (!this.fallbackStep || !coveredByFallback(error)) throw error;
      return records.map(() => this.fallbackAnswer(error, request.tracer));
    }
    time.ms += performance.now() - started;
    time.encoded = encoded;
    endSpan(span);
    const modelAnswers: RowAnswer[] = this.hasAlternateAnswerers
      ? predictions.map((p) => ({
          ...p,
          answered_by: { step: this.modelStep.id, model: this.deps.modelRef },
        }))
      : predictions;
    if (!this.cascade && this.http.length === 0) return modelAnswers;
    return Promise.all(
      modelAnswers.map((answer, i) => this.afterModel(answer, records, i, request, time)),
    );
  }

  /** Cascade and http steps for one row; a failure takes the fallback, or fails the request. */
  private async afterModel(
    first: RowAnswer,
    records: readonly Record<string, unknown>[],
    index: number,
    request: PipelineRequest,
    time: ModelTime,
  ): Promise<RowAnswer> {
    const record = records[index] as Record<string, unknown>;
    const tracer = request.tracer;
    let span: StepSpan | undefined;
    try {
      let answer = first;
      const cascade = this.cascade;
      if (cascade && this.deps.cascadeModel) {
        const confidence = confidenceOf(answer);
        if (confidence !== undefined && confidence < cascade.minConfidence) {
          span = tracer?.startStep(cascade.id, "cascade");
          const started = performance.now();
          let second: Prediction | undefined;
          try {
            [second] = await withDeadline(
              cascade.timeoutMs,
              (signal) =>
                (this.deps.cascadeModel as ModelRunner).predict(
                  [record],
                  () => request.paths(index),
                  {
                    unknownCategories: this.unknownCategories,
                    explain: request.explain,
                    signal,
                  },
                ),
              { parent: request.signal, stepId: cascade.id },
            );
          } finally {
            time.ms += performance.now() - started;
          }
          endSpan(span);
          span = undefined;
          this.deps.events?.escalated(1);
          if (second) {
            answer = {
              ...second,
              answered_by: {
                step: cascade.id,
                model: { name: cascade.name, version: cascade.version },
              },
            };
          }
        }
      }
      for (const http of this.http) {
        span = tracer?.startStep(http.stepId, "http");
        answer = await http.run(
          record,
          answer,
          request.signal,
          outgoingTraceparent(request.traceContext, span),
        );
        endSpan(span);
        span = undefined;
      }
      return answer;
    } catch (error) {
      endSpan(span, error);
      if (!this.fallbackStep || !coveredByFallback(error)) throw error;
      return this.fallbackAnswer(error, tracer);
    }
  }

  private fallbackAnswer(error: unknown, tracer: StepTracer | undefined): RowAnswer {
    const step = this.fallbackStep as { id: string; prediction: string | number | boolean };
    endSpan(tracer?.startStep(step.id, "fallback"));
    const reason = reasonOf(error);
    this.deps.events?.fallback(reason);
    const failedStep =
      error instanceof DeadlineExceededError
        ? error.stepId
        : typeof (error as { stepId?: unknown }).stepId === "string"
          ? (error as { stepId: string }).stepId
          : undefined;
    return {
      prediction: typeof step.prediction === "boolean" ? String(step.prediction) : step.prediction,
      answered_by: { step: step.id },
      fallback: failedStep === undefined ? { reason } : { reason, step: failedStep },
    };
  }
}
