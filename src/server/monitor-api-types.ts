/**
 * The monitoring API's bodies (metrics over time, process resources, drift, outcomes, SLOs and
 * alerts), type-only like api-types.ts, so the Studio's monitor page and the server agree at
 * compile time. Times are ISO-8601 strings; latencies are milliseconds; rates are shares (0-1).
 */

/** How a request ended (see src/monitor/observation.ts `outcomeOf`). */
export type OutcomeKind = "ok" | "client_error" | "shed" | "rate_limited" | "timeout" | "error";

/** Windows of the time-series API: up to 1h from memory (10 s), longer from 1-minute rollups. */
export type SeriesWindow = "5m" | "15m" | "1h" | "6h" | "24h" | "7d" | "30d";

export interface AppSeriesPointDto {
  /** Start of the interval. */
  readonly t: string;
  readonly requests: number;
  readonly rps: number;
  /** Requests per outcome; every kind present (0 when none). */
  readonly outcomes: Readonly<Record<OutcomeKind, number>>;
  /** Share of requests not `ok`. */
  readonly errorRate: number;
  /** Request latency, received to sent; null without requests. */
  readonly p50: number | null;
  readonly p95: number | null;
  readonly p99: number | null;
  /** Model-only latency; null when no model ran in the interval. */
  readonly modelP50: number | null;
  readonly modelP95: number | null;
  readonly modelP99: number | null;
  /** Response-cache hits among the requests. */
  readonly cacheHits: number;
}

/** `GET /v1/apps/{app}/series?window=&version=`: one app (optionally one version), oldest first. */
export interface AppSeriesDto {
  readonly app: string;
  readonly window: SeriesWindow;
  /** null: all versions together. */
  readonly version: number | null;
  readonly stepSeconds: number;
  /** Where the points come from: the in-memory 10-second buckets or the persisted rollups. */
  readonly source: "memory" | "rollups";
  readonly points: readonly AppSeriesPointDto[];
  readonly totals: Omit<AppSeriesPointDto, "t">;
  /** Versions that served in the window, newest first. */
  readonly versions: readonly number[];
}

export interface ProcessPointDto {
  readonly t: string;
  /** CPU of this process, percent of one core (may exceed 100 with threads). */
  readonly cpuPercent: number;
  readonly rssMb: number;
  readonly heapUsedMb: number;
  /** Event-loop delay over the interval. */
  readonly eventLoopP99Ms: number;
  /** Total GC pause time in the interval. */
  readonly gcPauseMs: number;
}

/** `GET /v1/system/series?window=` (up to 1h): this server process's resources. */
export interface ProcessSeriesDto {
  readonly window: SeriesWindow;
  readonly stepSeconds: number;
  readonly points: readonly ProcessPointDto[];
}

/** A bin of a distribution: its label and the share of rows in it. */
export interface DistributionBinDto {
  /** "≤ 12.5", "(12.5, 30]", "> 90", or a category's label; "missing" for missing values. */
  readonly label: string;
  readonly baseline: number;
  readonly live: number;
}

export interface DriftTestDto {
  /** ks (numbers) or chi2 (categories) for small windows; psi or wasserstein for large ones. */
  readonly name: "ks" | "chi2" | "psi" | "wasserstein" | "jensenshannon";
  readonly statistic: number;
  readonly pValue: number | null;
  /** What the statistic or p-value is compared with. */
  readonly threshold: number;
  readonly drifted: boolean;
}

export interface FeatureDriftDto {
  readonly feature: string;
  readonly kind: "numeric" | "categorical";
  /** Live rows in the window with this feature present. */
  readonly rows: number;
  readonly psi: number;
  readonly psiLevel: "ok" | "warn" | "alert";
  /** Kolmogorov-Smirnov against the baseline (numeric features only). */
  readonly ks: {
    readonly statistic: number;
    readonly pValue: number;
    readonly method: "exact" | "asymptotic";
    /** Present when the statistic itself is approximate (read at percentiles or deciles). */
    readonly note?: string;
  } | null;
  /** The test chosen for this window's size, which decides `drifted`. */
  readonly test: DriftTestDto;
  readonly drifted: boolean;
  readonly bins: readonly DistributionBinDto[];
}

/** `GET /v1/apps/{app}/drift?window=time|count&version=`. */
export interface DriftReportDto {
  readonly app: string;
  readonly version: number;
  readonly window: {
    readonly kind: "time" | "count";
    readonly from: string | null;
    readonly to: string | null;
    readonly rows: number;
  };
  /** False with too few rows to judge (`minRows`): nothing is flagged then. */
  readonly enoughData: boolean;
  readonly dataset: {
    readonly drifted: boolean;
    readonly driftedFeatures: number;
    readonly features: number;
    readonly share: number;
    readonly threshold: number;
  };
  /** Ranked: drifted first, then by PSI, highest first. */
  readonly features: readonly FeatureDriftDto[];
  /** The model's output against its distribution on held-out training rows. */
  readonly prediction: FeatureDriftDto | null;
}

/** `POST /v1/apps/{app}/outcomes`: one of these, or `{ "outcomes": [...] }` with up to 1000. */
export type OutcomeRequest =
  | {
      readonly request_id: string;
      readonly actual: string | number | boolean;
      readonly row?: number;
    }
  | {
      readonly request_id: string;
      readonly event: string;
      readonly value?: number;
      readonly row?: number;
    };

export interface OutcomeAcceptedDto {
  readonly accepted: number;
  /** Outcomes whose request is in the prediction log now (others join when it is flushed). */
  readonly joined: number;
}

export interface OutcomeMetricsDto {
  /** Logged predictions with an actual value. */
  readonly labelled: number;
  readonly auc: number | null;
  readonly accuracy: number | null;
  readonly rmse: number | null;
  readonly mae: number | null;
  /** Logged predictions followed by a business event. */
  readonly events: number;
  /** Events / logged predictions in the window, per event name. */
  readonly conversionRate: Readonly<Record<string, number>>;
  /** Sum of the events' values, per event name. */
  readonly eventValue: Readonly<Record<string, number>>;
}

export interface OutcomePointDto extends OutcomeMetricsDto {
  readonly t: string;
  readonly predictions: number;
}

/** `GET /v1/apps/{app}/outcomes?window=`: live quality per version, over time. */
export interface OutcomeReportDto {
  readonly app: string;
  readonly task: "binary" | "multiclass" | "regression";
  readonly window: SeriesWindow;
  readonly stepSeconds: number;
  readonly versions: readonly {
    readonly version: number;
    readonly predictions: number;
    readonly metrics: OutcomeMetricsDto;
    readonly points: readonly OutcomePointDto[];
  }[];
}

export interface BurnRateDto {
  /** "1h", "5m", "6h", "30m". */
  readonly window: string;
  /** Budget burned per unit of time, 1 = exactly on budget; null without data. */
  readonly rate: number | null;
}

export interface SloStatusDto {
  readonly name: "latency_p95" | "error_rate" | "availability";
  readonly objective: number;
  /** The measured value over the last hour; null without data. */
  readonly current: number | null;
  /** Share of the period's error budget left; null without data. */
  readonly budgetRemaining: number | null;
  readonly burnRates: readonly BurnRateDto[];
  readonly state: "ok" | "warning" | "breached" | "no_data";
}

/** A recorded breach, recovery, drift alert or rollback. */
export interface MonitorEventDto {
  readonly id: string;
  readonly at: string;
  readonly app: string;
  readonly version: number | null;
  readonly kind: "alert" | "recovery" | "rollback" | "info";
  readonly severity: "info" | "warning" | "critical";
  /** What raised it: "slo:latency_p95:fast", "drift:dataset", ... */
  readonly rule: string;
  readonly message: string;
  readonly details: Readonly<Record<string, unknown>>;
  /** Where it was sent: "log", "webhook" (and whether the webhook took it). */
  readonly deliveries: readonly { readonly channel: string; readonly ok: boolean }[];
}

/** `GET /v1/apps/{app}/slo`: the objectives' state now and the app's recent events. */
export interface AppSloDto {
  readonly app: string;
  readonly slos: readonly SloStatusDto[];
  readonly firing: readonly MonitorEventDto[];
  readonly events: readonly MonitorEventDto[];
}
