/**
 * `ballast drill APP --fault slow|error|hang --rate R --duration D`: a fire drill for an app's
 * staging deployment. It arms a fault there (the server's staging runtime injects it into the
 * model step or the http steps' upstream calls), sends an open-loop load, and judges from what
 * the callers saw whether the app's defences held: deadlines, no bare 500s, the fallback, the
 * circuit breakers, and load shedding with Retry-After. Production never takes faults.
 *
 * The load is open-loop (requests leave on a fixed schedule whether or not earlier ones have
 * answered), because a closed loop slows down with the server and hides the very latency a
 * hang drill is about. It is bounded: at most rps × duration requests, at most `concurrency`
 * in flight (a request due while that many are waiting is skipped and counted, not queued).
 *
 * The judging (`judgeDrill`) is pure, apart from the HTTP, so it is tested on constructed
 * samples.
 */
import {
  FAULT_KINDS,
  type FaultKind,
  type FaultTarget,
  MAX_FAULT_DELAY_MS,
  MAX_FAULT_DURATION_SECONDS,
  MIN_FAULT_DURATION_SECONDS,
} from "../runtime/faults/fault-injector.ts";
import { ClientError } from "./client.ts";
import { table } from "./format.ts";

export interface DrillOptions {
  readonly baseUrl: string;
  readonly apiKey?: string;
  readonly app: string;
  readonly fault: FaultKind;
  /** Share of the target's calls that get the fault, 0..1. */
  readonly rate: number;
  /** How long the fault lasts and the load runs (1..3600). */
  readonly durationSeconds: number;
  /** Requests per second sent (1..500; the CLI's default is 20). */
  readonly rps: number;
  /** Most requests in flight at once (default 64). */
  readonly concurrency?: number;
  /** A slow fault's delay (the server's default: 1000 ms). */
  readonly delayMs?: number;
  /** Where the fault strikes (the server's default: the model step). */
  readonly target?: FaultTarget;
  /** One valid record, sent as every request's body. */
  readonly input: Record<string, unknown>;
  /**
   * The client gives up on a request after this long (default 30 s) and records it as
   * `client_timeout` with its full wait, so a server that hangs fails the deadline check
   * instead of hanging the drill.
   */
  readonly clientTimeoutMs?: number;
  /** Called after each request settles, for a progress bar. */
  readonly onProgress?: (done: number, total: number) => void;
}

/** What one caller saw. */
export interface DrillSample {
  /** HTTP status; 0 when no answer came (network error, client timeout). */
  readonly status: number;
  readonly ms: number;
  /** error.code of a 4xx/5xx body, or `network_error` / `client_timeout` for status 0. */
  readonly code?: string;
  /** The answer carried "fallback": the fallback step answered. */
  readonly fallback: boolean;
  /** The response carried Retry-After. */
  readonly retryAfter: boolean;
}

export type DrillCheckName = "deadline" | "no_500" | "fallback" | "breaker" | "shedding";

export interface DrillCheck {
  readonly name: DrillCheckName;
  /** null: not applicable to this drill or app. */
  readonly held: boolean | null;
  readonly detail: string;
}

export interface DrillBreaker {
  readonly step: string;
  readonly state: string;
  /** Whether the breaker opened during the drill (a count is read as "more than 0"). */
  readonly opened?: boolean;
}

/** What judging needs besides the samples: the drill's fault and the app as the server has it. */
export interface DrillContext {
  readonly fault: FaultKind;
  readonly rate: number;
  readonly target: FaultTarget;
  /** The longest a request may take by the app's policies. */
  readonly requestDeadlineMs: number;
  readonly hasFallback: boolean;
  /** One per http step. */
  readonly breakers: readonly DrillBreaker[];
  /** Faults the server injected per kind, or null when it did not say. */
  readonly injected: Record<FaultKind, number> | null;
  /** Requests not sent because `concurrency` were already in flight. */
  readonly skipped?: number;
}

export interface DrillReport {
  readonly fault: FaultKind;
  readonly rate: number;
  readonly target: FaultTarget;
  /** Requests sent (answered or not). */
  readonly requests: number;
  readonly skipped: number;
  /** Count per HTTP status ("0": no answer). */
  readonly statuses: Record<string, number>;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly injected: Record<FaultKind, number> | null;
  readonly checks: readonly DrillCheck[];
  /** Things the reader should know that no check captures (e.g. nothing was injected). */
  readonly notes: readonly string[];
  /** Every applicable check held (and at least one request was sent). */
  readonly held: boolean;
}

/** Latency a request may take beyond its deadline: the response's own trip and scheduling. */
export const DEADLINE_SLACK_MS = 250;
export const DEFAULT_DRILL_RPS = 20;
export const MAX_DRILL_RPS = 500;
export const DEFAULT_DRILL_CONCURRENCY = 64;
const DEFAULT_CLIENT_TIMEOUT_MS = 30_000;

/** Nearest-rank percentile of ascending `sorted` (0 for none). */
function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.max(1, Math.ceil(p * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1] as number;
}

const round1 = (ms: number) => Math.round(ms * 10) / 10;
const ms = (v: number) => `${Math.round(v).toLocaleString("en-US")} ms`;

/** "502 ×3, 504 ×1" from codes or statuses, most frequent first. */
function tally(values: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([v, n]) => `${v} ×${n}`)
    .join(", ");
}

const describe5xx = (s: DrillSample) => `${s.status}${s.code ? ` ${s.code}` : ""}`;

/** A 503 from the app's own bulkhead: refused before the pipeline, so no fallback could answer. */
const shedAtTheDoor = (s: DrillSample) => s.status === 503 && s.code === "overloaded";

function deadlineCheck(samples: readonly DrillSample[], context: DrillContext, maxMs: number) {
  const limit = context.requestDeadlineMs + DEADLINE_SLACK_MS;
  if (samples.length === 0) {
    return { name: "deadline", held: null, detail: "no request was sent" } as const;
  }
  if (maxMs <= limit) {
    return {
      name: "deadline",
      held: true,
      detail: `slowest answer ${ms(maxMs)}, within the ${ms(context.requestDeadlineMs)} deadline (+${DEADLINE_SLACK_MS} ms)`,
    } as const;
  }
  const over = samples.filter((s) => s.ms > limit).length;
  return {
    name: "deadline",
    held: false,
    detail: `${over} request(s) took longer than the ${ms(context.requestDeadlineMs)} deadline (+${DEADLINE_SLACK_MS} ms); slowest ${ms(maxMs)}`,
  } as const;
}

function no500Check(samples: readonly DrillSample[]): DrillCheck {
  const bad = samples.filter(
    (s) =>
      s.status === 0 ||
      (s.status >= 500 && (![502, 503, 504].includes(s.status) || s.code === undefined)),
  );
  if (bad.length === 0) {
    const fives = samples.filter((s) => s.status >= 500);
    return {
      name: "no_500",
      held: true,
      detail:
        fives.length === 0
          ? "no 5xx answer"
          : `every 5xx was a coded 502/503/504 (${tally(fives.map(describe5xx))})`,
    };
  }
  const parts = bad.map((s) =>
    s.status === 0 ? `no answer (${s.code ?? "network_error"})` : describe5xx(s),
  );
  return {
    name: "no_500",
    held: false,
    detail: `${bad.length} answer(s) a caller cannot act on: ${tally(parts)}`,
  };
}

function fallbackCheck(samples: readonly DrillSample[], context: DrillContext): DrillCheck {
  if (!context.hasFallback) {
    return { name: "fallback", held: null, detail: "the app has no fallback step" };
  }
  const answered = samples.filter((s) => s.fallback).length;
  const uncovered = samples.filter((s) => s.status >= 500 && !shedAtTheDoor(s));
  if (uncovered.length === 0) {
    return {
      name: "fallback",
      held: true,
      detail: `${answered} answer(s) by the fallback; no failure reached a caller`,
    };
  }
  const deadline = uncovered.some((s) => s.status === 504);
  return {
    name: "fallback",
    held: false,
    detail:
      `${answered} answer(s) by the fallback, but ${uncovered.length} 5xx it did not answer (${tally(uncovered.map(describe5xx))})` +
      (deadline
        ? "; a step's timeout must end early enough for the fallback to answer within the request's deadline"
        : ""),
  };
}

function breakerCheck(context: DrillContext): DrillCheck {
  const why =
    context.fault === "slow"
      ? "a slow fault is not meant to open a breaker"
      : context.target !== "http"
        ? "the fault targets the model, not the http steps"
        : context.breakers.length === 0
          ? "the app has no http step"
          : context.rate < 0.5
            ? `a rate of ${context.rate} is below the 0.5 a breaker is expected to open at`
            : undefined;
  if (why !== undefined) return { name: "breaker", held: null, detail: why };
  const states = context.breakers
    .map((b) => `${b.step}: ${b.state}${b.opened ? " (opened)" : ""}`)
    .join(", ");
  const opened = context.breakers.some((b) => b.opened === true || b.state !== "closed");
  return {
    name: "breaker",
    held: opened,
    detail: opened ? states : `no breaker opened (${states})`,
  };
}

function sheddingCheck(samples: readonly DrillSample[]): DrillCheck {
  const shed = samples.filter((s) => s.status === 503);
  if (shed.length === 0) return { name: "shedding", held: null, detail: "no 503 answer" };
  const bare = shed.filter((s) => !s.retryAfter).length;
  return bare === 0
    ? { name: "shedding", held: true, detail: `all ${shed.length} 503(s) carried Retry-After` }
    : {
        name: "shedding",
        held: false,
        detail: `${bare} of ${shed.length} 503(s) came without Retry-After`,
      };
}

/**
 * Judges a drill from what its callers saw and what the server says about the app. Checks:
 * deadline (the slowest answer within the request deadline + 250 ms), no_500 (every request
 * answered; every 5xx a 502/503/504 with a code), fallback (with a fallback step, no 5xx but the
 * bulkhead's own `overloaded` 503s), breaker (error/hang faults on http steps at a rate ≥ 0.5:
 * some breaker opened), shedding (every 503 carried Retry-After). `held`: every applicable check
 * held, and at least one request was sent.
 */
export function judgeDrill(samples: readonly DrillSample[], context: DrillContext): DrillReport {
  const sorted = samples.map((s) => s.ms).sort((a, b) => a - b);
  const maxMs = sorted.length > 0 ? (sorted[sorted.length - 1] as number) : 0;
  const statuses: Record<string, number> = {};
  for (const s of samples) statuses[String(s.status)] = (statuses[String(s.status)] ?? 0) + 1;
  const checks: DrillCheck[] = [
    deadlineCheck(samples, context, maxMs),
    no500Check(samples),
    fallbackCheck(samples, context),
    breakerCheck(context),
    sheddingCheck(samples),
  ];
  const notes: string[] = [];
  if (context.injected) {
    const total = FAULT_KINDS.reduce((sum, k) => sum + (context.injected?.[k] ?? 0), 0);
    if (total === 0 && context.rate > 0 && samples.length > 0) {
      notes.push(
        context.target === "http" && context.breakers.length === 0
          ? "No fault was injected: the app has no http step to target; drill the model instead."
          : "No fault was injected: no request reached the targeted step while the fault was armed.",
      );
    }
  } else {
    notes.push("The server reported no fault counts: whether faults were injected is unknown.");
  }
  const skipped = context.skipped ?? 0;
  if (skipped > 0) {
    notes.push(
      `${skipped} request(s) were not sent: the client's limit of requests in flight was reached.`,
    );
  }
  return {
    fault: context.fault,
    rate: context.rate,
    target: context.target,
    requests: samples.length,
    skipped,
    statuses,
    p50Ms: round1(percentile(sorted, 0.5)),
    p99Ms: round1(percentile(sorted, 0.99)),
    maxMs: round1(maxMs),
    injected: context.injected ? { ...context.injected } : null,
    checks,
    notes,
    held: samples.length > 0 && checks.every((c) => c.held !== false),
  };
}

/** The report as the console shows it: a summary, a table of checks, the verdict. */
export function formatDrillReport(report: DrillReport): string {
  const injected = report.injected
    ? FAULT_KINDS.map((k) => `${k} ${report.injected?.[k] ?? 0}`).join(", ")
    : "unknown";
  const statuses = Object.entries(report.statuses)
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([status, n]) => `${status === "0" ? "no answer" : status} ×${n}`)
    .join(", ");
  const summary = table([
    ["fault", `${report.fault} at ${Math.round(report.rate * 1000) / 10}% on ${report.target}`],
    ["requests", `${report.requests}${report.skipped > 0 ? ` (${report.skipped} skipped)` : ""}`],
    ["latency", `p50 ${ms(report.p50Ms)}, p99 ${ms(report.p99Ms)}, max ${ms(report.maxMs)}`],
    ["statuses", statuses || "none"],
    ["injected", injected],
  ]);
  const checks = table(
    report.checks.map((c) => [c.name, c.held === null ? "n/a" : c.held ? "yes" : "NO", c.detail]),
    ["CHECK", "HELD", "DETAIL"],
  );
  const failed = report.checks.filter((c) => c.held === false).map((c) => c.name);
  const verdict = report.held
    ? "HELD: every applicable check passed."
    : report.requests === 0
      ? "NOT HELD: no request was sent."
      : `NOT HELD: ${failed.join(", ")}.`;
  const notes = report.notes.map((n) => `note: ${n}`);
  return [summary, "", checks, "", ...notes, ...(notes.length ? [""] : []), verdict].join("\n");
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function check(ok: boolean, message: string): void {
  if (!ok) throw new RangeError(message);
}

function validateOptions(o: DrillOptions): { concurrency: number; clientTimeoutMs: number } {
  check(o.app.length > 0, "app must be named");
  check(FAULT_KINDS.includes(o.fault), `fault must be one of ${FAULT_KINDS.join(", ")}`);
  check(Number.isFinite(o.rate) && o.rate >= 0 && o.rate <= 1, "rate must be between 0 and 1");
  check(
    Number.isFinite(o.durationSeconds) &&
      o.durationSeconds >= MIN_FAULT_DURATION_SECONDS &&
      o.durationSeconds <= MAX_FAULT_DURATION_SECONDS,
    `duration must be between ${MIN_FAULT_DURATION_SECONDS} and ${MAX_FAULT_DURATION_SECONDS} seconds`,
  );
  check(
    Number.isFinite(o.rps) && o.rps >= 1 && o.rps <= MAX_DRILL_RPS,
    `rps must be between 1 and ${MAX_DRILL_RPS}`,
  );
  const concurrency = o.concurrency ?? DEFAULT_DRILL_CONCURRENCY;
  check(Number.isInteger(concurrency) && concurrency >= 1, "concurrency must be an integer >= 1");
  check(
    o.delayMs === undefined ||
      (Number.isFinite(o.delayMs) && o.delayMs >= 0 && o.delayMs <= MAX_FAULT_DELAY_MS),
    `delayMs must be between 0 and ${MAX_FAULT_DELAY_MS}`,
  );
  const clientTimeoutMs = o.clientTimeoutMs ?? DEFAULT_CLIENT_TIMEOUT_MS;
  check(
    Number.isFinite(clientTimeoutMs) && clientTimeoutMs > 0,
    "clientTimeoutMs must be positive",
  );
  return { concurrency, clientTimeoutMs };
}

/** The runtime view of `GET .../staging/runtime`, checked field by field. */
function parseRuntime(body: unknown): Omit<DrillContext, "fault" | "rate" | "target"> {
  const bad = (what: string) =>
    new ClientError(200, "bad_response", `The staging runtime view has no valid ${what}`);
  if (!isRecord(body)) throw bad("body");
  const { requestDeadlineMs, hasFallback, breakers, faults } = body;
  if (typeof requestDeadlineMs !== "number" || !Number.isFinite(requestDeadlineMs)) {
    throw bad("requestDeadlineMs");
  }
  if (typeof hasFallback !== "boolean") throw bad("hasFallback");
  if (!Array.isArray(breakers)) throw bad("breakers");
  const parsedBreakers = breakers.map((b: unknown): DrillBreaker => {
    if (!isRecord(b) || typeof b.step !== "string" || typeof b.state !== "string") {
      throw bad("breakers");
    }
    const opened = typeof b.opened === "number" ? b.opened > 0 : b.opened === true;
    return { step: b.step, state: b.state, opened };
  });
  let injected: Record<FaultKind, number> | null = null;
  if (faults !== null && faults !== undefined) {
    const counts = isRecord(faults) ? faults.injected : undefined;
    if (!isRecord(counts)) throw bad("faults.injected");
    injected = { slow: 0, error: 0, hang: 0 };
    for (const k of FAULT_KINDS) {
      const n = counts[k];
      if (n !== undefined && (typeof n !== "number" || !Number.isFinite(n))) {
        throw bad(`faults.injected.${k}`);
      }
      injected[k] = n ?? 0;
    }
  }
  return { requestDeadlineMs, hasFallback, breakers: parsedBreakers, injected };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs a drill against `options.baseUrl`: arms the fault on the app's staging deployment
 * (`PUT /v1/apps/{app}/staging/faults`), sends the load to its staging predict route, reads the
 * staging runtime view, and always disarms the fault at the end (it would also end by itself).
 * Throws ClientError when the server refuses a step (bad settings, unknown app, no staging).
 */
export async function runDrill(
  options: DrillOptions,
  fetchImpl: typeof fetch = globalThis.fetch,
): Promise<DrillReport> {
  const { concurrency, clientTimeoutMs } = validateOptions(options);
  const base = `/v1/apps/${encodeURIComponent(options.app)}/staging`;
  const auth: Record<string, string> = options.apiKey
    ? { authorization: `Bearer ${options.apiKey}` }
    : {};
  const api = async (method: string, route: string, body?: unknown): Promise<unknown> => {
    let response: Response;
    try {
      response = await fetchImpl(new URL(route, options.baseUrl), {
        method,
        headers: { ...auth, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      throw new ClientError(
        0,
        "unreachable",
        `Cannot reach Ballast at ${options.baseUrl} (${(error as Error).message})`,
      );
    }
    const text = await response.text();
    let parsed: unknown = {};
    try {
      if (text) parsed = JSON.parse(text);
    } catch {
      if (response.ok) {
        throw new ClientError(response.status, "bad_response", `Unexpected: ${text.slice(0, 200)}`);
      }
    }
    if (!response.ok) {
      const error = isRecord(parsed) && isRecord(parsed.error) ? parsed.error : {};
      throw new ClientError(
        response.status,
        typeof error.code === "string" ? error.code : "error",
        typeof error.message === "string" ? error.message : `HTTP ${response.status}`,
        Array.isArray(error.details) ? (error.details as { path?: string; message: string }[]) : [],
      );
    }
    return parsed;
  };

  const predictUrl = new URL(`${base}/predict`, options.baseUrl);
  const predictHeaders = { ...auth, "content-type": "application/json" };
  const predictBody = JSON.stringify(options.input);
  const predictOnce = async (): Promise<DrillSample> => {
    const started = performance.now();
    try {
      const response = await fetchImpl(predictUrl, {
        method: "POST",
        headers: predictHeaders,
        body: predictBody,
        signal: AbortSignal.timeout(clientTimeoutMs),
      });
      const text = await response.text();
      const elapsed = performance.now() - started;
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      const errorCode =
        response.status >= 400 &&
        isRecord(parsed) &&
        isRecord(parsed.error) &&
        typeof parsed.error.code === "string"
          ? parsed.error.code
          : undefined;
      const fallback =
        isRecord(parsed) &&
        (parsed.fallback !== undefined ||
          (Array.isArray(parsed.predictions) &&
            parsed.predictions.some((p: unknown) => isRecord(p) && p.fallback !== undefined)));
      return {
        status: response.status,
        ms: elapsed,
        ...(errorCode !== undefined ? { code: errorCode } : {}),
        fallback,
        retryAfter: response.headers.has("retry-after"),
      };
    } catch (error) {
      const timedOut = error instanceof DOMException && error.name === "TimeoutError";
      return {
        status: 0,
        ms: performance.now() - started,
        code: timedOut ? "client_timeout" : "network_error",
        fallback: false,
        retryAfter: false,
      };
    }
  };

  try {
    await api("PUT", `${base}/faults`, {
      fault: options.fault,
      rate: options.rate,
      durationSeconds: options.durationSeconds,
      ...(options.delayMs !== undefined ? { delayMs: options.delayMs } : {}),
      ...(options.target !== undefined ? { target: options.target } : {}),
    });

    const total = Math.floor(options.rps * options.durationSeconds);
    const interval = 1000 / options.rps;
    const samples: DrillSample[] = [];
    const inFlight = new Set<Promise<void>>();
    let skipped = 0;
    let done = 0;
    const start = performance.now();
    for (let i = 0; i < total; i++) {
      // Open loop: each request leaves at its own time, whatever the earlier ones are doing.
      const wait = start + i * interval - performance.now();
      if (wait > 0) await sleep(wait);
      if (inFlight.size >= concurrency) {
        skipped++;
        options.onProgress?.(++done, total);
        continue;
      }
      const request: Promise<void> = predictOnce().then((sample) => {
        samples.push(sample);
        inFlight.delete(request);
        options.onProgress?.(++done, total);
      });
      inFlight.add(request);
    }
    await Promise.all(inFlight);

    const runtime = parseRuntime(await api("GET", `${base}/runtime`));
    return judgeDrill(samples, {
      fault: options.fault,
      rate: options.rate,
      target: options.target ?? "model",
      ...runtime,
      skipped,
    });
  } finally {
    // The fault ends by itself at its `until`; disarming now just ends it sooner.
    await api("DELETE", `${base}/faults`).catch(() => undefined);
  }
}

/**
 * A `--duration` value in seconds: a number of seconds ("90"), or with a unit ("90s", "5m",
 * "1h"). NaN for anything else, so the caller names the option in its own error.
 */
export function parseDurationSeconds(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(s|m|h)?\s*$/i.exec(text);
  if (!match) return Number.NaN;
  const value = Number(match[1]);
  const unit = (match[2] ?? "s").toLowerCase();
  return value * (unit === "h" ? 3600 : unit === "m" ? 60 : 1);
}

/** A `--rate` value as a share: "0.2" or "20%". NaN for anything else. */
export function parseRate(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(%)?\s*$/.exec(text);
  if (!match) return Number.NaN;
  const value = Number(match[1]);
  return match[2] ? value / 100 : value;
}
