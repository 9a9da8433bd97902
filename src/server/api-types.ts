/**
 * The shapes of the public API's bodies, shared by the server, the CLI and the Studio, so a
 * field renamed on one side fails type-checking on the other. Type-only imports, from files
 * that import nothing at run time: the Studio's bundler never pulls server code in.
 */
import type { ColumnSchema, Profile } from "../data/frame.ts";
import type {
  ClassificationReport,
  ExcludedColumnReport,
  ExclusionKind,
  RegressionReport,
  SamplePrediction,
} from "../models/report-types.ts";

export type {
  ClassificationReport,
  ExcludedColumnReport,
  ExclusionKind,
  RegressionReport,
  RocCurve,
  RocPoint,
  SampleExplanation,
  SamplePrediction,
} from "../models/report-types.ts";

/** What an API key may do: see src/server/auth.ts. */
export type Role = "admin" | "builder" | "viewer" | "invoker";

export interface DatasetDto {
  readonly id: string;
  readonly name: string;
  readonly format: string;
  readonly fileName: string;
  readonly sizeBytes: number;
  readonly rowCount: number;
  readonly columns: readonly ColumnSchema[];
  readonly profile?: Profile;
  readonly createdAt: string;
}

export interface TrainRequest {
  readonly dataset: string;
  readonly target: string;
  /** Model name; defaults to the dataset's name. */
  readonly name?: string;
  readonly metric?: string;
  readonly timeBudgetSeconds?: number;
  readonly exclude?: readonly string[];
  /** Columns to use even when the target analysis flags them (leaks, ID-like). */
  readonly include?: readonly string[];
  readonly seed?: number;
}

export type JobStatus = "queued" | "running" | "succeeded" | "failed" | "cancelled";

export interface TrainProgressDto {
  readonly fraction: number;
  readonly message: string;
  readonly candidatesTried: number;
  readonly candidatesPlanned: number;
  readonly best?: { readonly learner: string; readonly score: number };
  readonly elapsedMs: number;
  readonly timeBudgetMs: number;
}

export interface JobDto {
  readonly id: string;
  readonly kind: string;
  readonly status: JobStatus;
  readonly input: TrainRequest;
  readonly progress?: TrainProgressDto;
  /** For a finished training job: the model version it registered. */
  readonly result?: {
    readonly model: string;
    readonly version: number;
    readonly modelVersionId: string;
  };
  readonly error?: { readonly code: string; readonly message: string };
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface ModelVersionDto {
  readonly id: string;
  readonly name: string;
  readonly version: number;
  readonly task: string;
  readonly target: string;
  readonly learner: string;
  readonly metrics: {
    readonly metric: string;
    readonly cv: Record<string, number>;
    readonly holdout: Record<string, number>;
  };
  readonly datasetId?: string;
  readonly artifactSha256: string;
  readonly createdAt: string;
}

export interface ModelDetailDto extends ModelVersionDto {
  readonly classes?: readonly string[];
  readonly inputs: readonly ColumnSchema[];
  /** Left-out columns; `kind` is present for models trained with the target analysis. */
  readonly excluded: readonly {
    readonly column: string;
    readonly reason: string;
    readonly kind?: ExclusionKind;
  }[];
  readonly chosen: { readonly learner: string; readonly params: Record<string, unknown> };
  readonly candidates: readonly {
    readonly learner: string;
    readonly params: Record<string, unknown>;
    readonly cvScore: number;
    readonly fitMs: number;
  }[];
  readonly importance: readonly { readonly feature: string; readonly importance: number }[];
  /** Mean |SHAP| per feature over `rows` training rows, in the model's raw-margin units. */
  readonly shapImportance?: {
    readonly rows: number;
    readonly features: readonly { readonly feature: string; readonly importance: number }[];
  };
}

export interface AppDto {
  readonly name: string;
  readonly version: number;
  readonly model: { readonly name: string; readonly version: number };
  readonly task: string;
  readonly endpoint: string;
  readonly createdAt: string;
  readonly deployedAt: string;
}

export interface AppDetailDto extends AppDto {
  readonly spec: unknown;
  readonly inputSchema: Record<string, unknown>;
  readonly outputSchema: Record<string, unknown>;
}

export interface KeyDto {
  readonly id: string;
  readonly name: string;
  readonly role: Role;
  readonly prefix: string;
  readonly createdAt: string;
  readonly lastUsedAt?: string;
  readonly revokedAt?: string;
}

/** Present on a prediction when the request asks for it with `?explain=true`. */
export interface ExplanationDto {
  readonly class?: string;
  readonly scale: "log-odds" | "softmax-logit" | "raw" | "log";
  readonly base: number;
  readonly contributions: Record<string, number>;
}

export interface PredictionDto {
  readonly prediction: string | number;
  readonly probabilities?: Record<string, number>;
  readonly explanation?: ExplanationDto;
  /** Which step answered, in apps with a cascade, http or fallback step. */
  readonly answered_by?: {
    readonly step: string;
    readonly model?: { readonly name: string; readonly version: number };
  };
  /** Present when the fallback step answered, with why the steps before it did not. */
  readonly fallback?: { readonly reason: string; readonly step?: string };
}

export interface PredictResponseDto {
  readonly request_id: string;
  readonly app: string;
  readonly app_version: number;
  readonly model: { readonly name: string; readonly version: number };
  readonly prediction?: string | number;
  readonly probabilities?: Record<string, number>;
  readonly explanation?: ExplanationDto;
  readonly predictions?: readonly PredictionDto[];
  readonly answered_by?: PredictionDto["answered_by"];
  readonly fallback?: PredictionDto["fallback"];
  /** In apps with a session step, for a request with `x-session-id`. */
  readonly session?: {
    readonly id: string;
    readonly turn: number;
    readonly remembered: readonly string[];
  };
}

/** `GET /v1/session`: who the caller's key is. */
export interface SessionDto {
  /** The workspace's name. */
  readonly workspace: string;
  readonly key: {
    readonly id: string;
    readonly name: string;
    readonly role: Role;
    readonly prefix: string;
  };
}

/** `GET /v1/session/local`: the local admin key, on a loopback, embedded server only. */
export interface LocalSessionDto {
  readonly key: string;
}

/** A cell as the Studio shows it (and as a caller of an app would send it). */
export type CellValue = string | number | boolean | null;

/** `GET /v1/datasets/{ref}/rows?offset&limit`. */
export interface DatasetRowsDto {
  readonly columns: readonly string[];
  /** Row-major; values after the dataset's column types (dates as ISO text, missing null). */
  readonly rows: readonly (readonly CellValue[])[];
  readonly offset: number;
  readonly limit: number;
  /** Rows in the dataset. */
  readonly total: number;
}

/** Types a person may give a column (ids are only ever inferred). */
export type ColumnTypeChoice = "number" | "boolean" | "category" | "datetime" | "text";

/** `PATCH /v1/datasets/{ref}`; answered with `{ dataset: DatasetDto }`. */
export interface DatasetPatchRequest {
  readonly types: Readonly<Record<string, ColumnTypeChoice>>;
}

/** `POST /v1/datasets/{ref}/analyze`. */
export interface AnalyzeRequest {
  readonly target: string;
  readonly exclude?: readonly string[];
  /** Keep these even if flagged as leaks or ID-like (as `POST /v1/train` does). */
  readonly include?: readonly string[];
}

/** What training on `target` will do: the task, the inputs, and why the rest is left out. */
export interface TargetAnalysisDto {
  readonly target: string;
  readonly task: "binary" | "multiclass" | "regression";
  readonly classes?: readonly string[];
  /** Binary: the class probabilities, AUC and the ROC curve are about. */
  readonly positive?: string;
  readonly inputs: readonly { readonly name: string; readonly type: string }[];
  readonly excluded: readonly ExcludedColumnReport[];
  readonly warnings: readonly string[];
}

export interface MetricInfoDto {
  readonly label: string;
  readonly description: string;
  readonly better: "higher" | "lower";
}

/** `GET /v1/models/{ref}/report`: how good the model is, on rows it had not seen. */
export interface ModelReportDto {
  readonly model: { readonly id: string; readonly name: string; readonly version: number };
  readonly task: "binary" | "multiclass" | "regression";
  readonly target: string;
  /** The metric the search optimized. */
  readonly metric: string;
  /** Names and meanings of every metric below. */
  readonly metricNames: Readonly<Record<string, MetricInfoDto>>;
  /** The chosen model, refitted without the hold-out rows, scored on them. */
  readonly holdout: Readonly<Record<string, number>>;
  /** Cross-validated on the other rows. */
  readonly cv: Readonly<Record<string, number>>;
  /** One sentence in plain words. */
  readonly summary: string;
  readonly holdoutRows: number;
  readonly classification?: ClassificationReport;
  readonly regression?: RegressionReport;
  readonly chosen: ModelDetailDto["chosen"];
  readonly candidates: ModelDetailDto["candidates"];
  /** Split-gain importance, normalized to sum to 1. */
  readonly importance: ModelDetailDto["importance"];
  /** Mean |SHAP| per feature, in the model's raw-margin units. */
  readonly shapImportance?: ModelDetailDto["shapImportance"];
  readonly excluded: readonly ExcludedColumnReport[];
  readonly samples: readonly SamplePrediction[];
}

export type MetricsWindow = "5m" | "15m" | "1h" | "6h" | "24h";

export interface AppMetricsPointDto {
  /** Start of the interval (ISO-8601). */
  readonly t: string;
  readonly requests: number;
  readonly rps: number;
  /** 4xx + 5xx answers. */
  readonly errors: number;
  readonly clientErrors: number;
  readonly serverErrors: number;
  readonly errorRate: number;
  /** Milliseconds, from request received to response sent; null without requests. */
  readonly p50: number | null;
  readonly p95: number | null;
  readonly p99: number | null;
}

/** `GET /v1/apps/{app}/metrics?window=`: what this server process served, oldest first. */
export interface AppMetricsDto {
  readonly app: string;
  readonly window: MetricsWindow;
  readonly stepSeconds: number;
  readonly series: readonly AppMetricsPointDto[];
  readonly totals: Omit<AppMetricsPointDto, "t">;
}

/** One immutable version of an app. */
export interface AppVersionDto {
  readonly version: number;
  readonly spec: unknown;
  readonly model: { readonly name: string; readonly version: number } | null;
  readonly createdAt: string;
  /** True for the version serving production now. */
  readonly deployed: boolean;
}

/** `POST /v1/apps/{app}/versions`; answered with `{ version: AppVersionDto, app: AppDto }`. */
export interface CreateAppVersionRequest {
  /** An app spec (`GET /v1/spec/schema`); its name must be the app's. */
  readonly spec: unknown;
  /** staging: deploy there only; production (default): also promote directly. */
  readonly deploy?: "production" | "staging";
}

/** Where a webhook event stands (see src/runtime/webhooks/event-queue.ts). */
export type WebhookEventStatus =
  | "queued"
  | "processing"
  | "done"
  | "failed"
  | "dead"
  | "quarantined";

/** Why an event was quarantined: a field (JSON Pointer into the normalized record) and what. */
export interface WebhookProblemDto {
  readonly path: string;
  readonly message: string;
}

/** `POST /v1/hooks/{app}` answers 202 with this, and again for a repeated Idempotency-Key. */
export interface WebhookAckDto {
  readonly event_id: string;
  readonly status: "queued" | "quarantined";
  readonly problems?: readonly WebhookProblemDto[];
}

/** Delivery of an event's outcome to the app's callback URL. */
export interface WebhookCallbackDto {
  readonly url: string;
  readonly status: "pending" | "delivered" | "failed";
  readonly attempts: number;
  readonly lastStatus?: number;
  readonly lastError?: string;
  readonly deliveredAt?: string;
  readonly nextAttemptAt?: string;
}

/** `GET /v1/apps/{app}/events/{id}` (and each item of the list). */
export interface WebhookEventDto {
  readonly id: string;
  readonly app: string;
  readonly status: WebhookEventStatus;
  /** Processing attempts started; the event is dead after `maxAttempts`. */
  readonly attempts: number;
  readonly maxAttempts: number;
  /** The body as it was received (or as last fixed by a replay). */
  readonly payload: unknown;
  /** The payload after the app's mapping: what was validated and processed. */
  readonly record?: Record<string, unknown>;
  readonly problems: readonly WebhookProblemDto[];
  readonly result?: unknown;
  readonly error?: string;
  readonly callback?: WebhookCallbackDto;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly completedAt?: string;
  readonly nextAttemptAt?: string;
}

/** `GET /v1/apps/{app}/hooks/secret` (admins): what receivers verify callbacks with. */
export interface WebhookSecretDto {
  readonly app: string;
  readonly secret: string;
  readonly header: "Ballast-Signature";
  /** How the header is built, for receivers that verify by hand. */
  readonly scheme: string;
}
