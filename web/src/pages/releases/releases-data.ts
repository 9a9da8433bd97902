/**
 * The Releases page's words and arithmetic, kept out of the components so they are tested
 * without a browser: what each strategy will do said in plain words, the promote form turned
 * into the API's request (with a message per bad field), each gate's value against its limit,
 * and the colours each state is shown with.
 */
import {
  type AppRelease,
  fillRelease,
  parseManualSteps,
  parseSteps,
} from "../../../../src/spec/release.ts";
import type {
  AbTestResult,
  DeploymentDto,
  EnvironmentName,
  EnvironmentsDto,
  GateDto,
  PromoteRequest,
  ReleaseDto,
  ReleasePlan,
  ReleaseStateName,
  RolloutStrategy,
} from "../../api/types.ts";
import { formatInteger, formatNumber } from "../../lib/format.ts";

type Tone = "neutral" | "blue" | "green" | "amber" | "red" | "violet";

/** The strategies in the order the promote dialog offers them: the safe default first. */
export const STRATEGIES: readonly RolloutStrategy[] = ["canary", "shadow", "ab", "direct"];

export function strategyTitle(strategy: RolloutStrategy): string {
  switch (strategy) {
    case "canary":
      return "Canary";
    case "shadow":
      return "Shadow";
    case "ab":
      return "A/B test";
    case "direct":
      return "All at once";
  }
}

/** "5 minutes", "1 hour 30 minutes", "45 seconds": a length of time as a person says it. */
export function durationWords(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "—";
  const s = Math.round(seconds);
  const unit = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  const parts: string[] = [];
  if (h > 0) parts.push(unit(h, "hour"));
  if (m > 0) parts.push(unit(m, "minute"));
  // Seconds beside hours are noise; beside minutes (or alone) they are what was asked for.
  if (rest > 0 && h === 0) parts.push(unit(rest, "second"));
  return parts.length > 0 ? parts.join(" ") : unit(0, "second");
}

/** What a release will do, enough to say it in one sentence. */
export interface PlanWords {
  readonly candidate: number;
  /** The version production runs now, if any. */
  readonly stable: number | null;
  readonly steps: readonly number[];
  readonly intervalSeconds: number;
  readonly requireGolden: boolean;
  readonly shadowPercent: number;
  readonly abPercent: number;
  readonly splitHeader: string;
}

const pct = (n: number) => `${formatNumber(n, 2)}%`;

/**
 * One sentence per strategy, with this release's numbers, e.g. "Send 5% of traffic to v3,
 * then 25%, 50%, 100%, checking errors and speed for 5 minutes at each step."
 */
export function strategySentence(strategy: RolloutStrategy, p: PlanWords): string {
  const v = `v${p.candidate}`;
  const stable = p.stable !== null ? `v${p.stable}` : "the current version";
  switch (strategy) {
    case "canary": {
      const [first, ...rest] = p.steps;
      const then = rest.length > 0 ? `, then ${rest.map(pct).join(", ")}` : "";
      return `Send ${pct(first ?? 100)} of traffic to ${v}${then}, checking errors and speed for ${durationWords(p.intervalSeconds)} at each step. A failed check sends everything back to ${stable} at once.`;
    }
    case "shadow":
      return `${stable} keeps answering; a copy of ${pct(p.shadowPercent)} of its requests also goes to ${v}, whose answers are compared but never sent. You promote ${v} when the comparison convinces you.`;
    case "ab":
      return `${pct(p.abPercent)} of callers get ${v} and the rest ${stable}, each caller always the same version (by the ${p.splitHeader} header); their outcomes are compared with a significance test.`;
    case "direct":
      return `Send all traffic to ${v} at once${p.requireGolden ? ", once its golden cases pass" : ""}. No step checks errors or speed first.`;
  }
}

/** The one-line explanation beside each choice in the promote dialog (no numbers needed). */
export function strategyHint(strategy: RolloutStrategy): string {
  switch (strategy) {
    case "canary":
      return "Traffic moves over in steps; live errors and speed are checked at each one, and a bad version is rolled back by itself.";
    case "shadow":
      return "The new version answers a copy of real traffic in the background; nobody sees its answers until you promote it.";
    case "ab":
      return "Callers are split between the two versions to see which one leads to better outcomes.";
    case "direct":
      return "Everything switches at once. Fast, but a bad version reaches every caller.";
  }
}

/** The words a plan stored with a release is read back in (the live panel and the history). */
export function planWords(release: ReleaseDto): PlanWords {
  const plan: ReleasePlan = release.plan;
  return {
    candidate: release.candidateVersion,
    stable: release.stableVersion,
    steps: plan.steps,
    intervalSeconds: plan.intervalSeconds,
    requireGolden: plan.gates.requireGolden,
    shadowPercent: plan.shadow.percent,
    abPercent: plan.ab.percent,
    splitHeader: plan.ab.splitHeader,
  };
}

// ---------- the promote form ----------

/** The promote dialog's fields, as typed (strings), so a half-typed number is not lost. */
export interface PromoteForm {
  readonly to: EnvironmentName;
  readonly version: string;
  readonly strategy: RolloutStrategy;
  readonly steps: string;
  readonly intervalSeconds: string;
  readonly minRequests: string;
  /** A percentage (2 means 2 %), as an analyst reads an error rate. */
  readonly maxErrorRatePercent: string;
  readonly maxP95Ms: string;
  readonly maxP95Ratio: string;
  readonly requireGolden: boolean;
  readonly manualSteps: string;
  /** Shadow: share mirrored; A/B: the candidate's share of callers. */
  readonly percent: string;
  readonly splitHeader: string;
  readonly conversionEvent: string;
  readonly valueEvent: string;
}

/** The release settings of a version's spec, with every default filled in. */
export function releaseSettings(spec: unknown): AppRelease {
  const release =
    typeof spec === "object" && spec !== null && !Array.isArray(spec)
      ? (spec as { release?: unknown }).release
      : undefined;
  try {
    return fillRelease(release);
  } catch {
    return fillRelease(undefined);
  }
}

/** The form filled with the candidate's own settings, so "Start" alone follows the app's spec. */
export function promoteFormDefaults(
  to: EnvironmentName,
  version: number | null,
  settings: AppRelease,
  strategy: RolloutStrategy = "canary",
): PromoteForm {
  const c = settings.canary;
  return {
    to,
    version: version === null ? "" : String(version),
    strategy,
    steps: c.steps,
    intervalSeconds: String(c.intervalSeconds),
    minRequests: String(c.minRequests),
    maxErrorRatePercent: String(Number((c.maxErrorRate * 100).toPrecision(6))),
    maxP95Ms: String(c.maxP95Ms),
    maxP95Ratio: String(c.maxP95Ratio),
    requireGolden: c.requireGolden,
    manualSteps: c.manualSteps,
    percent: String(strategy === "ab" ? settings.ab.percent : settings.shadow.percent),
    splitHeader: settings.ab.splitHeader,
    conversionEvent: settings.ab.conversionEvent,
    valueEvent: settings.ab.valueEvent,
  };
}

/** The share a strategy starts with when the person switches to it in the dialog. */
export function percentFor(strategy: RolloutStrategy, settings: AppRelease): string {
  return String(strategy === "ab" ? settings.ab.percent : settings.shadow.percent);
}

export type PromoteField = keyof PromoteForm;

export interface PromoteCheck {
  /** Set when every field is valid. */
  readonly request?: PromoteRequest;
  /** A message per bad field, in the form's own field names. */
  readonly errors: Partial<Record<PromoteField, string>>;
}

const EVENT = /^([a-z0-9_.-]{1,64})?$/;
const HEADER = /^[a-z0-9-]{1,64}$/;

function readNumber(
  text: string,
  opts: { min: number; max: number; integer?: boolean; minExclusive?: boolean },
): number | string {
  const t = text.trim();
  if (t === "") return "Enter a number";
  const n = Number(t);
  if (!Number.isFinite(n)) return "Enter a number";
  if (opts.integer && !Number.isInteger(n)) return "Enter a whole number";
  if (opts.minExclusive ? n <= opts.min : n < opts.min) {
    return opts.minExclusive ? `Must be more than ${opts.min}` : `Must be at least ${opts.min}`;
  }
  if (n > opts.max) return `Must be at most ${formatNumber(opts.max)}`;
  return n;
}

/**
 * The API request the form asks for, or a message per bad field. Only the settings the chosen
 * strategy uses are sent: the others would be overrides of nothing.
 */
export function promoteRequestOf(form: PromoteForm): PromoteCheck {
  const errors: Partial<Record<PromoteField, string>> = {};
  const num = (
    field: PromoteField,
    opts: { min: number; max: number; integer?: boolean; minExclusive?: boolean },
  ): number => {
    const value = readNumber(String(form[field]), opts);
    if (typeof value === "string") {
      errors[field] = value;
      return Number.NaN;
    }
    return value;
  };
  const version = num("version", { min: 1, max: Number.MAX_SAFE_INTEGER, integer: true });
  if (form.version.trim() === "") errors.version = "Choose a version";
  if (form.to === "staging") {
    return Object.keys(errors).length > 0
      ? { errors }
      : { request: { to: "staging", version }, errors };
  }
  const strategy = form.strategy;
  let request: PromoteRequest = { to: "production", version, strategy };
  if (strategy === "canary") {
    let steps: number[] = [];
    try {
      steps = parseSteps(form.steps);
    } catch (error) {
      errors.steps = `Steps: ${error instanceof Error ? error.message : String(error)}`;
    }
    if (!errors.steps) {
      try {
        parseManualSteps(form.manualSteps, steps);
      } catch (error) {
        errors.manualSteps = error instanceof Error ? error.message : String(error);
      }
    }
    const intervalSeconds = num("intervalSeconds", { min: 1, max: 86_400, integer: true });
    const minRequests = num("minRequests", { min: 1, max: 1_000_000, integer: true });
    const maxErrorRatePercent = num("maxErrorRatePercent", { min: 0, max: 100 });
    const maxP95Ms = num("maxP95Ms", { min: 0, max: 600_000, integer: true });
    const maxP95Ratio = num("maxP95Ratio", { min: 0, max: 1000 });
    request = {
      ...request,
      steps: steps.join(","),
      intervalSeconds,
      minRequests,
      maxErrorRate: maxErrorRatePercent / 100,
      maxP95Ms,
      maxP95Ratio,
      requireGolden: form.requireGolden,
      manualSteps: form.manualSteps
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s !== "")
        .join(","),
    };
  } else if (strategy === "shadow") {
    const percent = num("percent", { min: 0, max: 100, minExclusive: true });
    request = { ...request, percent };
  } else if (strategy === "ab") {
    const percent = num("percent", { min: 0, max: 100, minExclusive: true });
    const splitHeader = form.splitHeader.trim().toLowerCase();
    if (!HEADER.test(splitHeader)) {
      errors.splitHeader = "A header name: letters, digits and -, e.g. x-user-id";
    }
    const conversionEvent = form.conversionEvent.trim();
    const valueEvent = form.valueEvent.trim();
    if (!EVENT.test(conversionEvent)) errors.conversionEvent = "An event name: a-z, 0-9, _ . -";
    if (!EVENT.test(valueEvent)) errors.valueEvent = "An event name: a-z, 0-9, _ . -";
    request = {
      ...request,
      percent,
      splitHeader,
      ...(conversionEvent ? { conversionEvent } : {}),
      ...(valueEvent ? { valueEvent } : {}),
    };
  } else {
    request = { ...request, requireGolden: form.requireGolden };
  }
  return Object.keys(errors).length > 0 ? { errors } : { request, errors };
}

/** The plan words of what the form would start, for the sentence under the strategy choice. */
export function formPlanWords(form: PromoteForm, stable: number | null): PlanWords {
  let steps: readonly number[] = [];
  try {
    steps = parseSteps(form.steps);
  } catch {
    steps = [];
  }
  const n = (s: string, fallback: number) => {
    const v = Number(s);
    return s.trim() !== "" && Number.isFinite(v) ? v : fallback;
  };
  return {
    candidate: n(form.version, 0),
    stable,
    steps: steps.length > 0 ? steps : [100],
    intervalSeconds: n(form.intervalSeconds, 0),
    requireGolden: form.requireGolden,
    shadowPercent: n(form.percent, 0),
    abPercent: n(form.percent, 0),
    splitHeader: form.splitHeader.trim() || "split key",
  };
}

// ---------- environments ----------

/**
 * The version production would go back to on a rollback: the production deployment before
 * the live one (history is newest first). Null when production never ran another version.
 */
export function previousProduction(env: EnvironmentsDto): number | null {
  const current = env.production;
  const production = env.history.filter((d) => d.environment === "production");
  const live = current
    ? production.findIndex((d) => d.version === current.version && d.until === undefined)
    : -1;
  const earlier = live >= 0 ? production.slice(live + 1) : production;
  const before = earlier.find((d) => d.version !== current?.version);
  return before ? before.version : null;
}

/** The deployment's version for a sentence, or what stands in for none. */
export function deployedWords(d: DeploymentDto | null): string {
  return d ? `v${d.version}` : "nothing yet";
}

// ---------- the live release ----------

export function isActive(state: ReleaseStateName): boolean {
  return state === "running" || state === "paused";
}

export function releaseStateInfo(state: ReleaseStateName): { label: string; tone: Tone } {
  switch (state) {
    case "running":
      return { label: "Rolling out", tone: "blue" };
    case "paused":
      return { label: "Waiting for approval", tone: "amber" };
    case "succeeded":
      return { label: "Released", tone: "green" };
    case "rolled_back":
      return { label: "Rolled back", tone: "red" };
    case "aborted":
      return { label: "Aborted", tone: "neutral" };
  }
}

export function gateTitle(gate: GateDto["gate"]): string {
  switch (gate) {
    case "error_rate":
      return "Error rate";
    case "p95":
      return "Response time (p95)";
    case "p95_ratio":
      return "Response time vs stable";
    case "golden":
      return "Golden cases";
    case "outcome":
      return "Outcome vs stable";
    case "manual":
      return "A person's approval";
  }
}

export function gateStatusInfo(status: GateDto["status"]): { label: string; tone: Tone } {
  switch (status) {
    case "pass":
      return { label: "Pass", tone: "green" };
    case "fail":
      return { label: "Fail", tone: "red" };
    case "no_data":
      return { label: "No data yet", tone: "amber" };
    case "waiting":
      return { label: "Waiting", tone: "blue" };
  }
}

const times = (n: number) => `${formatNumber(n, 2)}×`;

/** A gate's measured value in its own unit (a rate as a percentage, latency in ms). */
export function gateValueWords(gate: GateDto): string {
  const v = gate.value;
  if (v === null) return "—";
  switch (gate.gate) {
    case "error_rate":
      return pct(v * 100);
    case "p95":
      return `${formatNumber(v, v < 10 ? 1 : 0)} ms`;
    case "p95_ratio":
    case "outcome":
      return times(v);
    default:
      return formatNumber(v);
  }
}

/** A gate's limit in words: "at most 2%", "at least 0.9× stable", "every case passes". */
export function gateLimitWords(gate: GateDto): string {
  const l = gate.limit;
  switch (gate.gate) {
    case "golden":
      return "every case passes";
    case "manual":
      return "a person approves";
    case "error_rate":
      return l === null ? "—" : `at most ${pct(l * 100)}`;
    case "p95":
      return l === null ? "—" : `at most ${formatNumber(l, 0)} ms`;
    case "p95_ratio":
      return l === null ? "—" : `at most ${times(l)} stable`;
    case "outcome":
      return l === null ? "—" : `at least ${times(l)} stable`;
  }
}

/** Where a canary stands: step i (1-based) of n, and whether this is the last. */
export function stepPosition(release: ReleaseDto): { step: number; of: number } {
  const of = Math.max(1, release.plan.steps.length);
  return { step: Math.min(of, Math.max(1, release.stepIndex + 1)), of };
}

/** The release's events newest first (the API stores them in order of time). */
export function eventsNewestFirst<T extends { readonly at: string }>(events: readonly T[]): T[] {
  return [...events].sort((a, b) => Date.parse(b.at) - Date.parse(a.at));
}

export function eventTone(type: string): Tone {
  if (type === "gate_failed" || type === "rolled_back" || type === "failed") return "red";
  if (type === "aborted") return "neutral";
  if (type === "paused") return "amber";
  if (type === "gate_passed" || type === "promoted" || type === "approved" || type === "succeeded")
    return "green";
  return "blue";
}

/** "gate_failed" → "Gate failed". */
export function eventLabel(type: string): string {
  const words = type.replace(/[_.:-]+/g, " ").trim();
  return words ? words.charAt(0).toUpperCase() + words.slice(1) : type;
}

// ---------- A/B tests ----------

/** A p-value as read in a report: two significant digits, tiny ones as "< 0.001". */
export function formatPValue(p: number | null): string {
  if (p === null || Number.isNaN(p)) return "—";
  if (p < 0.001) return "< 0.001";
  return String(Number(p.toPrecision(2)));
}

/**
 * An A/B test's verdict in one sentence: which version leads, whether the difference is
 * beyond chance at the plan's level, and if not how many more samples each version needs.
 */
export function abVerdict(
  r: AbTestResult,
  candidate: number,
  stable: number | null,
  what: "conversion" | "value",
): { text: string; tone: Tone } {
  const v = `v${candidate}`;
  const s = stable !== null ? `v${stable}` : "the current version";
  const measure = what === "conversion" ? "converts" : "scores";
  if (r.pValue === null) {
    return {
      text: `Not enough samples to compare yet (${formatInteger(r.control.n)} for ${s}, ${formatInteger(r.treatment.n)} for ${v}).`,
      tone: "neutral",
    };
  }
  if (r.significant) {
    const better = r.difference > 0;
    return {
      text: `${v} ${measure} ${better ? "better" : "worse"} than ${s}, beyond chance (p = ${formatPValue(r.pValue)}).`,
      tone: better ? "green" : "red",
    };
  }
  const more =
    r.remainingPerArm !== null && r.remainingPerArm > 0
      ? ` About ${formatInteger(r.remainingPerArm)} more samples per version are needed to tell.`
      : r.requiredPerArm === null
        ? " The two versions measure the same so far."
        : "";
  return { text: `No clear difference yet (p = ${formatPValue(r.pValue)}).${more}`, tone: "amber" };
}

// ---------- golden cases ----------

/** A value as short JSON for a table cell: `{"tenure":1,…}` cut at `max` characters. */
export function compactJson(value: unknown, max: number): string {
  if (value === undefined) return "(nothing)";
  const text = JSON.stringify(value) ?? String(value);
  return text.length > max ? `${text.slice(0, Math.max(0, max - 1))}…` : text;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** How strictly a case is matched, in words: "exactly", "numbers ±5%, probabilities ±0.05". */
export function matchWords(match: Record<string, unknown>): string {
  const mode = match.mode;
  const fields = Array.isArray(match.fields) ? match.fields.map(String) : [];
  const only = fields.length > 0 ? ` (only ${fields.join(", ")})` : "";
  if (mode === "exact") return `Exactly${only}`;
  if (mode === "schema") return "By schema";
  if (mode === "tolerance") {
    const parts: string[] = [];
    const n = (k: string) => {
      const v = match[k];
      return typeof v === "number" ? v : undefined;
    };
    const relative = n("relative");
    const absolute = n("absolute");
    const probability = n("probability");
    const bands: string[] = [];
    if (relative !== undefined && relative > 0) bands.push(`±${formatNumber(relative * 100, 2)}%`);
    if (absolute !== undefined && absolute > 0) bands.push(`±${formatNumber(absolute, 4)}`);
    if (bands.length > 0) parts.push(`numbers ${bands.join(" or ")}`);
    if (probability !== undefined && probability > 0)
      parts.push(`probabilities ±${formatNumber(probability, 4)}`);
    const words = parts.length > 0 ? parts.join(", ") : "exactly";
    return `${words.charAt(0).toUpperCase()}${words.slice(1)}${only}`;
  }
  return isRecord(match) && Object.keys(match).length === 0 ? "Default" : String(mode ?? "—");
}

export function sourceLabel(source: string): string {
  switch (source) {
    case "studio":
      return "Studio";
    case "live":
      return "Live traffic";
    case "api":
      return "API";
    case "cli":
      return "CLI";
    default:
      return source;
  }
}
