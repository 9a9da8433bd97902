/**
 * The registry's public surface: open it, use its repositories, map its errors. Import
 * from here rather than from individual files so the internals can move.
 */

export {
  API_KEY_PREFIX,
  API_KEY_ROLES,
  type ApiKey,
  ApiKeyRepository,
  type ApiKeyRole,
  hashKey,
  type VerifiedKey,
} from "./api-key-repository.ts";
export {
  type App,
  AppRepository,
  type AppVersion,
  type NewAppVersion,
} from "./app-repository.ts";
export type { JsonObject, JsonObjectInput, JsonPrimitive, JsonValue } from "./codec.ts";
export { type Dataset, DatasetRepository, type NewDataset } from "./dataset-repository.ts";
export {
  DEPLOYMENT_ENVIRONMENTS,
  type Deployment,
  type DeploymentEnvironment,
  DeploymentRepository,
} from "./deployment-repository.ts";
export {
  ConflictError,
  NotFoundError,
  RegistryError,
  ValidationError,
} from "./errors.ts";
export {
  GOLDEN_SOURCES,
  type GoldenCase,
  GoldenRepository,
  type GoldenRun,
  type GoldenSource,
  type NewGoldenCase,
  type NewGoldenRun,
} from "./golden-repository.ts";
export { ID_PREFIX, type IdPrefix, isId, newId } from "./ids.ts";
export {
  isTerminalJobStatus,
  JOB_STATUSES,
  type Job,
  type JobError,
  type JobListOptions,
  JobRepository,
  type JobStatus,
  type JobUpdate,
  type NewJob,
} from "./job-repository.ts";
export {
  type MetricRollup,
  type MetricRollupRange,
  MetricRollupRepository,
} from "./metric-rollup-repository.ts";
export {
  type Model,
  type ModelRef,
  ModelRepository,
  type ModelVersion,
  type NewModelVersion,
  parseModelRef,
} from "./model-repository.ts";
export {
  migrateToLatest,
  type OpenRegistryOptions,
  openRegistry,
  type Registry,
  type RegistryDialect,
  type RegistryRepositories,
} from "./registry.ts";
export {
  ACTIVE_RELEASE_STATES,
  isTerminalReleaseState,
  type NewRelease,
  RELEASE_STATES,
  RELEASE_STRATEGIES,
  type Release,
  type ReleaseEvent,
  type ReleasePatch,
  ReleaseRepository,
  type ReleaseState,
  type ReleaseStrategy,
} from "./release-repository.ts";
export type { Database } from "./schema.ts";
export {
  DEFAULT_WORKSPACE_NAME,
  type Workspace,
  WorkspaceRepository,
} from "./workspace-repository.ts";
