/**
 * The API's bodies as the Studio sees them: the server's own types (src/server/api-types.ts,
 * type-only and free of server code), so a field renamed on one side fails type-checking on the
 * other.
 */
export type {
  ColumnProfile,
  ColumnSchema,
  ColumnType,
} from "../../../src/data/frame.ts";
export type { FieldFailure } from "../../../src/release/golden/golden-match.ts";
export type { ReleasePlan, RolloutStrategy } from "../../../src/release/release-plan.ts";
export type { ShadowSummary } from "../../../src/release/shadow-comparison.ts";
export type { AbTestResult } from "../../../src/release/stats/ab-test.ts";
export type {
  AppDetailDto,
  AppDto,
  AppMetricsDto,
  AppMetricsPointDto,
  AppVersionDto,
  ClassificationReport,
  ColumnTypeChoice,
  DatasetDto,
  DatasetRowsDto,
  ExclusionKind,
  ExplanationDto,
  JobDto,
  KeyDto,
  LocalSessionDto,
  MetricInfoDto,
  MetricsWindow,
  ModelDetailDto,
  ModelReportDto,
  ModelVersionDto,
  PredictResponseDto,
  RegressionReport,
  Role,
  SamplePrediction,
  SessionDto,
  TargetAnalysisDto,
  TrainProgressDto,
  TrainRequest,
} from "../../../src/server/api-types.ts";
/** The monitoring API (series, resources, drift, outcomes, SLOs and alerts). */
export type {
  AppSeriesDto,
  AppSeriesPointDto,
  AppSloDto,
  BurnRateDto,
  DistributionBinDto,
  DriftReportDto,
  DriftTestDto,
  FeatureDriftDto,
  MonitorEventDto,
  OutcomeAcceptedDto,
  OutcomeKind,
  OutcomeMetricsDto,
  OutcomePointDto,
  OutcomeReportDto,
  OutcomeRequest,
  ProcessPointDto,
  ProcessSeriesDto,
  SeriesWindow,
  SloStatusDto,
} from "../../../src/server/monitor-api-types.ts";
/** Safe releases: environments, rollouts, golden suites (src/server/release-api-types.ts). */
export type {
  DeploymentDto,
  EnvironmentName,
  EnvironmentsDto,
  GateDto,
  GoldenCaseDto,
  GoldenCaseResultDto,
  GoldenRunDto,
  NewGoldenCaseRequest,
  PromoteRequest,
  PromoteResponse,
  ReleaseDto,
  ReleaseEventDto,
  ReleaseLiveDto,
  ReleaseStateName,
  ReleasesDto,
  RollbackResponse,
} from "../../../src/server/release-api-types.ts";

/** `GET /studio/samples` (src/server/routes/studio.ts). */
export interface SampleFileDto {
  readonly name: string;
  readonly title: string;
  readonly description: string;
  readonly format: string;
  readonly sizeBytes: number;
  /** The column a first model would predict. */
  readonly target?: string;
}
