/**
 * The release API's shapes (environments, releases, golden suites, drills), shared by the
 * routes, the CLI and the Studio.
 */
import type { FieldFailure } from "../release/golden/golden-match.ts";
import type { ReleasePlan, RolloutStrategy } from "../release/release-plan.ts";
import type { ShadowSummary } from "../release/shadow-comparison.ts";
import type { AbTestResult } from "../release/stats/ab-test.ts";

export type EnvironmentName = "production" | "staging";

export interface DeploymentDto {
  readonly environment: EnvironmentName;
  readonly version: number;
  readonly since: string;
  /** When a later deploy replaced it; absent while live. */
  readonly until?: string;
}

export interface EnvironmentsDto {
  readonly app: string;
  readonly production: DeploymentDto | null;
  readonly staging: DeploymentDto | null;
  /** Both environments' deployments, newest first. */
  readonly history: readonly DeploymentDto[];
}

export type ReleaseStateName = "running" | "paused" | "succeeded" | "rolled_back" | "aborted";

export interface ReleaseEventDto {
  readonly at: string;
  readonly type: string;
  readonly message: string;
  readonly percent?: number;
  readonly details?: Record<string, unknown>;
}

/** One gate's latest verdict in the current step. */
export interface GateDto {
  readonly gate: "error_rate" | "p95" | "p95_ratio" | "golden" | "outcome" | "manual";
  readonly status: "pass" | "fail" | "no_data" | "waiting";
  readonly value: number | null;
  readonly limit: number | null;
  readonly message: string;
}

export interface ReleaseDto {
  readonly id: string;
  readonly app: string;
  readonly strategy: RolloutStrategy;
  readonly state: ReleaseStateName;
  readonly candidateVersion: number;
  readonly stableVersion: number | null;
  /** canary, ab: the candidate's share of traffic now; shadow: the share mirrored. */
  readonly percent: number;
  readonly stepIndex: number;
  readonly stepStartedAt: string;
  readonly plan: ReleasePlan;
  readonly reason: string | null;
  readonly events: readonly ReleaseEventDto[];
  readonly createdAt: string;
  readonly endedAt: string | null;
}

/** The live view of the active release: its gates now, a shadow's comparison, an A/B's tests. */
export interface ReleaseLiveDto {
  readonly release: ReleaseDto;
  /** Canary: seconds left in the current step's analysis interval. */
  readonly secondsLeft: number | null;
  readonly gates: readonly GateDto[];
  /** Per version, in the current step (canary) or since the release began (shadow, A/B). */
  readonly traffic: readonly {
    readonly version: number;
    readonly role: "stable" | "candidate";
    readonly requests: number;
    readonly errorRate: number | null;
    readonly p95Ms: number | null;
  }[];
  readonly shadow: ShadowSummary | null;
  readonly ab: {
    readonly conversion: AbTestResult | null;
    readonly value: AbTestResult | null;
    /** Why a test has no result yet (no event configured, log unavailable, too few samples). */
    readonly notes: readonly string[];
  } | null;
}

export interface ReleasesDto {
  readonly app: string;
  readonly active: ReleaseLiveDto | null;
  readonly releases: readonly ReleaseDto[];
}

export interface PromoteRequest {
  readonly to: EnvironmentName;
  /** The app version to promote; default: staging's version (to production) or the newest (to staging). */
  readonly version?: number;
  readonly strategy?: RolloutStrategy;
  /** Overrides of the candidate spec's `release` settings, for this release only. */
  readonly steps?: string;
  readonly intervalSeconds?: number;
  readonly minRequests?: number;
  readonly maxErrorRate?: number;
  readonly maxP95Ms?: number;
  readonly maxP95Ratio?: number;
  readonly requireGolden?: boolean;
  readonly manualSteps?: string;
  readonly percent?: number;
  readonly splitHeader?: string;
  readonly conversionEvent?: string;
  readonly valueEvent?: string;
}

export interface PromoteResponse {
  readonly environment: EnvironmentName;
  readonly deployment: DeploymentDto | null;
  /** Production promotions: the release started (direct ones end at once). */
  readonly release: ReleaseDto | null;
  readonly golden: GoldenRunDto | null;
}

export interface GoldenCaseDto {
  readonly id: string;
  readonly name: string;
  readonly input: Record<string, unknown>;
  readonly expected: Record<string, unknown>;
  readonly match: Record<string, unknown>;
  readonly source: "studio" | "live" | "api" | "cli";
  readonly requestId: string | null;
  readonly createdAt: string;
}

export interface NewGoldenCaseRequest {
  readonly name?: string;
  readonly input: Record<string, unknown>;
  /** Default: the answer the production version gives now (prediction and probabilities). */
  readonly expected?: Record<string, unknown>;
  readonly match?: Record<string, unknown>;
  readonly source?: "studio" | "api" | "cli";
}

export interface CaptureGoldenRequest {
  /** A logged production prediction whose input and answer become a case. */
  readonly requestId: string;
  readonly name?: string;
  readonly match?: Record<string, unknown>;
}

export interface GoldenCaseResultDto {
  readonly case: string;
  readonly passed: boolean;
  readonly ms: number;
  readonly failures: readonly FieldFailure[];
  /** A request that failed outright (status and error code). */
  readonly error?: string;
  readonly actual?: Record<string, unknown>;
}

export interface GoldenRunDto {
  readonly id: string | null;
  readonly version: number;
  readonly passed: number;
  readonly failed: number;
  readonly total: number;
  readonly ok: boolean;
  readonly results: readonly GoldenCaseResultDto[];
  readonly createdAt: string;
}

/** `GET /v1/apps/{app}/staging/runtime`: what a drill judges against. */
export interface StagingRuntimeDto {
  readonly version: number;
  readonly requestDeadlineMs: number;
  readonly hasFallback: boolean;
  readonly breakers: readonly {
    readonly step: string;
    readonly state: string;
    readonly opened: boolean;
  }[];
  readonly faults: {
    readonly armed: boolean;
    readonly kind: string | null;
    readonly rate: number | null;
    readonly until: string | null;
    readonly injected: Readonly<Record<"slow" | "error" | "hang", number>>;
  } | null;
}

export interface RollbackResponse {
  /** Production's deployment after the rollback. */
  readonly deployment: DeploymentDto | null;
  /** The release that was rolled back, when one was rolling out. */
  readonly release: ReleaseDto | null;
}
