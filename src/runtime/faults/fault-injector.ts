/**
 * Fault injection for drills (`ballast drill`): a staging deployment is made slow, failing or
 * hanging on purpose, so a team can see that its deadlines, breakers, fallbacks and load
 * shedding hold before a real outage tests them. The injector only decides; the wrappers
 * (`faulty-model-runner.ts`, `faulty-fetch.ts`) act, at the two places a real fault enters a
 * request: the model step and the http steps' upstream calls. Only staging runtimes are given
 * an injector, so production never pays for, or can be harmed by, a drill.
 *
 * A fault always carries its end (`until`): a drill whose client died (Ctrl-C, a lost laptop)
 * cannot leave staging broken.
 */
import { type InputProblem, InvalidInputError, RuntimeError } from "../errors.ts";

export type FaultKind = "slow" | "error" | "hang";
export type FaultTarget = "model" | "http";

/** Every kind, in the order reports list them. */
export const FAULT_KINDS: readonly FaultKind[] = ["slow", "error", "hang"];
export const FAULT_TARGETS: readonly FaultTarget[] = ["model", "http"];

/** A slow fault's delay when the drill names none. */
export const DEFAULT_FAULT_DELAY_MS = 1000;
/** The longest delay a slow fault may add: longer is a hang, and should be drilled as one. */
export const MAX_FAULT_DELAY_MS = 600_000;
export const MIN_FAULT_DURATION_SECONDS = 1;
/** An hour: a drill is an experiment, not a state staging should be left in. */
export const MAX_FAULT_DURATION_SECONDS = 3600;

export interface FaultSettings {
  readonly kind: FaultKind;
  /** Share of the target's calls that get the fault, 0..1. */
  readonly rate: number;
  /** How long a slow call is held before it runs (slow only). */
  readonly delayMs: number;
  readonly target: FaultTarget;
  /** Epoch ms at which the fault ends by itself. */
  readonly until: number;
}

/**
 * What an injected `error` fault throws in the model step: a failure the runtime answers like
 * an upstream's (502, or the fallback marked `injected_fault`), with its own code so that logs,
 * metrics and the fallback's reason never mistake a drill for a real incident.
 */
export class InjectedFaultError extends RuntimeError {
  readonly code = "injected_fault";
  constructor(
    /** The step the fault was injected into (named by the fallback's `step`). */
    readonly stepId: string,
  ) {
    super(`Step ${stepId} failed: a fault injected by a drill`);
    this.name = "InjectedFaultError";
  }
}

/**
 * A fault-settings body the API refuses: a 400 (an InvalidInputError, so the server's error
 * mapping needs nothing new) listing every problem, each named by its JSON Pointer.
 */
export class FaultSettingsError extends InvalidInputError {
  /** The first problem's field. */
  readonly path: string;
  constructor(problems: readonly InputProblem[]) {
    super(
      "invalid_body",
      problems.map((p) => `${p.path || "the body"} ${p.message}`).join("; "),
      problems,
    );
    this.name = "FaultSettingsError";
    this.path = problems[0]?.path ?? "";
  }
}

const isKind = (v: unknown): v is FaultKind => (FAULT_KINDS as readonly unknown[]).includes(v);
const isTarget = (v: unknown): v is FaultTarget =>
  (FAULT_TARGETS as readonly unknown[]).includes(v);
const isNumber = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

const zeroCounts = (): Record<FaultKind, number> => ({ slow: 0, error: 0, hang: 0 });

export interface FaultInjectorOptions {
  /** Uniform in [0, 1); tests pass a seeded one. Default Math.random. */
  readonly random?: () => number;
  /** Epoch ms; default Date.now. */
  readonly now?: () => number;
}

/**
 * One staging deployment's fault switch. Holds at most one armed fault; the wrappers read
 * `armed` (one property read when nothing is armed) and call `roll` per call when something is.
 */
export class FaultInjector {
  readonly #random: () => number;
  readonly #now: () => number;
  #settings: FaultSettings | undefined;
  #injected = zeroCounts();

  constructor(options: FaultInjectorOptions = {}) {
    this.#random = options.random ?? Math.random;
    this.#now = options.now ?? Date.now;
  }

  /**
   * The fault last armed, without the expiry check: what hot paths read first, so an unarmed
   * injector costs one property read. `current()` and `roll()` apply the expiry.
   */
  get armed(): FaultSettings | undefined {
    return this.#settings;
  }

  /**
   * Arms a fault (replacing any armed one) and starts its counts afresh. Throws RangeError
   * naming the first bad field: settings reach here parsed, so a bad one is a bug.
   */
  arm(settings: FaultSettings): void {
    if (!isKind(settings.kind)) {
      throw new RangeError(`kind must be one of ${FAULT_KINDS.join(", ")}, got ${settings.kind}`);
    }
    if (!isNumber(settings.rate) || settings.rate < 0 || settings.rate > 1) {
      throw new RangeError(`rate must be between 0 and 1, got ${settings.rate}`);
    }
    if (
      !isNumber(settings.delayMs) ||
      settings.delayMs < 0 ||
      settings.delayMs > MAX_FAULT_DELAY_MS
    ) {
      throw new RangeError(
        `delayMs must be between 0 and ${MAX_FAULT_DELAY_MS}, got ${settings.delayMs}`,
      );
    }
    if (!isTarget(settings.target)) {
      throw new RangeError(
        `target must be one of ${FAULT_TARGETS.join(", ")}, got ${settings.target}`,
      );
    }
    if (!isNumber(settings.until) || settings.until <= this.#now()) {
      throw new RangeError(`until must be a time in the future, got ${settings.until}`);
    }
    // A copy: the caller's object cannot change the fault after it was checked.
    this.#settings = {
      kind: settings.kind,
      rate: settings.rate,
      delayMs: settings.delayMs,
      target: settings.target,
      until: settings.until,
    };
    this.#injected = zeroCounts();
  }

  /** Ends the fault now. The counts stay readable until the next `arm`, for the drill's report. */
  disarm(): void {
    this.#settings = undefined;
  }

  /** The armed fault, or undefined (none, or expired — expiry disarms). */
  current(now: number = this.#now()): FaultSettings | undefined {
    const settings = this.#settings;
    if (settings === undefined) return undefined;
    if (now >= settings.until) {
      this.#settings = undefined;
      return undefined;
    }
    return settings;
  }

  /**
   * Decides for one call of `target`: the fault to inject now (counted), or undefined. A rate
   * of 0 never injects and 1 always does (the random number is in [0, 1)).
   */
  roll(target: FaultTarget): FaultSettings | undefined {
    const settings = this.current();
    if (settings === undefined || settings.target !== target) return undefined;
    if (!(this.#random() < settings.rate)) return undefined;
    this.#injected[settings.kind]++;
    return settings;
  }

  /** Faults injected per kind since the last `arm()` (a snapshot). */
  get injected(): Readonly<Record<FaultKind, number>> {
    return { ...this.#injected };
  }
}

const BODY_FIELDS = ["fault", "rate", "durationSeconds", "delayMs", "target"];

/**
 * The settings of `PUT /v1/apps/{app}/staging/faults` from its JSON body
 * `{ fault, rate, durationSeconds, delayMs?, target? }`, ending `durationSeconds` after `now`.
 * `delayMs` defaults to 1000 and `target` to "model" (every app has a model step; http steps
 * are optional). Throws FaultSettingsError listing every problem, each naming its field.
 */
export function parseFaultSettings(body: unknown, now: number): FaultSettings {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new FaultSettingsError([{ path: "", message: "must be a JSON object" }]);
  }
  const b = body as Record<string, unknown>;
  const problems: InputProblem[] = [];
  for (const key of Object.keys(b)) {
    if (!BODY_FIELDS.includes(key)) {
      problems.push({ path: `/${key}`, message: "is not an accepted field" });
    }
  }
  const { fault, rate, durationSeconds, delayMs, target } = b;
  if (fault === undefined) problems.push({ path: "/fault", message: "is required" });
  else if (!isKind(fault)) {
    problems.push({ path: "/fault", message: `must be one of ${FAULT_KINDS.join(", ")}` });
  }
  if (rate === undefined) problems.push({ path: "/rate", message: "is required" });
  else if (!isNumber(rate) || rate < 0 || rate > 1) {
    problems.push({ path: "/rate", message: "must be between 0 and 1" });
  }
  if (durationSeconds === undefined) {
    problems.push({ path: "/durationSeconds", message: "is required" });
  } else if (
    !isNumber(durationSeconds) ||
    durationSeconds < MIN_FAULT_DURATION_SECONDS ||
    durationSeconds > MAX_FAULT_DURATION_SECONDS
  ) {
    problems.push({
      path: "/durationSeconds",
      message: `must be between ${MIN_FAULT_DURATION_SECONDS} and ${MAX_FAULT_DURATION_SECONDS}`,
    });
  }
  if (
    delayMs !== undefined &&
    (!isNumber(delayMs) || delayMs < 0 || delayMs > MAX_FAULT_DELAY_MS)
  ) {
    problems.push({ path: "/delayMs", message: `must be between 0 and ${MAX_FAULT_DELAY_MS}` });
  }
  if (target !== undefined && !isTarget(target)) {
    problems.push({ path: "/target", message: `must be one of ${FAULT_TARGETS.join(", ")}` });
  }
  if (problems.length > 0) throw new FaultSettingsError(problems);
  return {
    kind: fault as FaultKind,
    rate: rate as number,
    delayMs: (delayMs as number | undefined) ?? DEFAULT_FAULT_DELAY_MS,
    target: (target as FaultTarget | undefined) ?? "model",
    until: now + (durationSeconds as number) * 1000,
  };
}

/**
 * Resolves after `ms`, or rejects with the signal's reason as soon as it aborts: a slow
 * dependency that the caller's deadline can still cut short, as a real one would be.
 */
export function delay(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Never settles by itself: rejects with the signal's reason when it aborts. Only the caller's
 * deadline can end it, which is the point of a hang drill.
 */
export function hang(signal: AbortSignal): Promise<never> {
  return new Promise<never>((_, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
}
