/**
 * The server context: the registry, blob store, published-app runtime and training runner,
 * plus the few operations several routes share (resolve a dataset or model reference,
 * publish an app, render DTOs). Routes receive this one object, as n8n's nodes receive their
 * execution context, so none of them reaches for a global.
 */
import type { Redis } from "ioredis";
import type { ModelArtifact } from "../models/artifact.ts";
import { decodeArtifact, encodeArtifact } from "../models/artifact.ts";
import type { AlertLogger } from "../monitor/alerts/alert-service.ts";
import { AppMetricsRecorder } from "../monitor/app-metrics.ts";
import { DriftMonitor } from "../monitor/drift/drift-monitor.ts";
import { type EventLoopMonitor, startEventLoopMonitor } from "../monitor/event-loop.ts";
import { MetricRollups } from "../monitor/metric-rollups.ts";
import type { PredictObserver } from "../monitor/observation.ts";
import { PredictionLog } from "../monitor/prediction-log/prediction-log.ts";
import { predictionLogPath } from "../monitor/prediction-log/prediction-store.ts";
import { ProcessMetrics } from "../monitor/process-metrics.ts";
import { PrometheusMetrics } from "../monitor/prometheus.ts";
import { RuntimeCounters } from "../monitor/runtime-counters.ts";
import { SloMonitor } from "../monitor/slo/slo-monitor.ts";
import type { ApiKey } from "../registry/api-key-repository.ts";
import type { AppVersion } from "../registry/app-repository.ts";
import type { Dataset } from "../registry/dataset-repository.ts";
import { NotFoundError } from "../registry/errors.ts";
import type { Job } from "../registry/job-repository.ts";
import type { ModelVersion } from "../registry/model-repository.ts";
import type { Registry } from "../registry/registry.ts";
import type { Release } from "../registry/release-repository.ts";
import { planOf } from "../release/release-plan.ts";
import { createRateLimiter, type RateLimiter } from "../runtime/policies/rate-limit.ts";
import { BullmqEventQueue } from "../runtime/webhooks/bullmq-event-queue.ts";
import { loadServerSecret } from "../runtime/webhooks/callback.ts";
import type { EventProcessor } from "../runtime/webhooks/event-queue.ts";
import { SqliteEventQueue } from "../runtime/webhooks/sqlite-event-queue.ts";
import {
  type DeployedHookApp,
  type WebhookApp,
  WebhookService,
} from "../runtime/webhooks/webhook-service.ts";
import type { AppSpec } from "../spec/app-spec.ts";
import { parseAppSpec } from "../spec/app-spec.ts";
import type { BlobStore } from "../store/blob-store.ts";
import type { IdempotencyStore } from "../store/idempotency/idempotency-store.ts";
import { RedisIdempotencyStore } from "../store/idempotency/redis-idempotency-store.ts";
import { SqliteIdempotencyStore } from "../store/idempotency/sqlite-idempotency-store.ts";
import { openRedis } from "../store/redis.ts";
import { openRuntimeDb, type RuntimeDatabase, runtimeDbPath } from "../store/runtime-db.ts";
import { MemorySessionStore } from "../store/sessions/memory-session-store.ts";
import { RedisSessionStore } from "../store/sessions/redis-session-store.ts";
import type { SessionStore } from "../store/sessions/session-store.ts";
import type { AppDto, JobDto, KeyDto, ModelVersionDto, TrainRequest } from "./api-types.ts";
import {
  AppRuntime,
  type DeploymentSource,
  type PublishedApp,
  type RolloutSource,
} from "./app-runtime.ts";
import type { Principal } from "./auth.ts";
import { cachedVerifier, keyFromHeaders } from "./auth.ts";
import type { BallastConfig } from "./config.ts";
import { DatasetFrames } from "./dataset-frames.ts";
import { ReleaseController } from "./releases/release-controller.ts";
import { ReleaseService } from "./releases/release-service.ts";
import { ShadowMirror } from "./shadow-mirror.ts";
import { TrainingJobs } from "./training/training-jobs.ts";

/**
 * The log of work nobody's request awaits (alerts, the prediction log's flushes): the server's
 * logger once `setLogger` has been called (createBallast does so as soon as Fastify exists),
 * so these lines are masked and formatted like every other.
 */
class BackgroundLog implements AlertLogger {
  private target: AlertLogger | undefined;
  use(target: AlertLogger): void {
    this.target = target;
  }
  info(object: object, message: string): void {
    this.target?.info(object, message);
  }
  warn(object: object, message: string): void {
    this.target?.warn(object, message);
  }
  error(object: object, message: string): void {
    this.target?.error(object, message);
  }
}

/**
 * What the version router needs of an active release: a direct release never routes, and a
 * paused canary keeps the traffic share it had.
 */
function rolloutOf(release: Release | undefined): RolloutSource | undefined {
  if (!release || release.strategy === "direct") return undefined;
  const plan = planOf(release.plan);
  return {
    releaseId: release.id,
    strategy: release.strategy,
    candidateVersionId: release.candidateVersionId,
    percent: release.percent,
    splitHeader: plan.ab.splitHeader,
    maxInFlight: plan.shadow.maxInFlight,
  };
}

/** Undefined instead of NotFoundError, for lookups where absence is an ordinary answer. */
async function orUndefined<T>(lookup: Promise<T>): Promise<T | undefined> {
  try {
    return await lookup;
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  }
}

export class ServerContext {
  readonly apps: AppRuntime;
  readonly training: TrainingJobs;
  /** What every predict request served, per app (the Monitor page and, later, Prometheus). */
  readonly metrics: AppMetricsRecorder;
  /** 1-minute rollups of `metrics` in the registry (30 days): long windows, SLO burn rates. */
  readonly metricRollups: MetricRollups;
  /** `/metrics` for Prometheus; undefined when turned off (`BALLAST_PROMETHEUS=0`). */
  readonly prometheus: PrometheusMetrics | undefined;
  /** This process's CPU, memory, event-loop delay and GC, every 10 s for the last hour. */
  readonly processMetrics = new ProcessMetrics();
  /** Live inputs and predictions against the training baselines, per app version. */
  readonly drift = new DriftMonitor();
  /** SLO burn rates and drift judged on a timer; alerts recorded, logged and sent. */
  readonly slo: SloMonitor;
  /** Promotions, rollbacks and the live state of releases (src/server/releases). */
  readonly releases: ReleaseService;
  /** Judges running canaries on a timer; started with the server. */
  readonly releaseController: ReleaseController;
  /** Shadow releases' mirrored requests and their comparisons. */
  readonly shadow = new ShadowMirror();
  /** Where background work logs (see BackgroundLog). */
  readonly log = new BackgroundLog();
  /**
   * Everyone told about each predict answer (src/monitor/observation.ts): metrics, the
   * prediction log, drift. The predict route calls them in order after the response is sent.
   */
  readonly observers: PredictObserver[] = [];
  /** Sampled predictions and reported outcomes: `<dataDir>/monitor/predictions.duckdb`. */
  readonly predictionLog: PredictionLog;
  /** What the runtime's policies did per app (shed, rate limited, fallbacks). */
  readonly counters = new RuntimeCounters();
  /** This process's event-loop delay: the first sign that CPU work is starving requests. */
  readonly eventLoop: EventLoopMonitor = startEventLoopMonitor();
  /** Shared state of the data plane: Redis when configured, else in process and runtime.db. */
  readonly redis: Redis | undefined;
  readonly runtimeDb: RuntimeDatabase;
  readonly rateLimiter: RateLimiter;
  readonly idempotency: IdempotencyStore;
  readonly sessions: SessionStore;
  /** Webhook intake, the durable event queue (runtime.db or BullMQ) and its workers. */
  readonly webhooks: WebhookService;
  /** Parsed specs of deployed app versions, for the webhook supervisor's polls. */
  private readonly hookSpecs = new Map<string, AppSpec>();
  /** Datasets' rows with their types applied, recently read ones cached. */
  readonly frames: DatasetFrames;
  private readonly verify: ReturnType<typeof cachedVerifier>;

  constructor(
    readonly config: BallastConfig,
    readonly registry: Registry,
    readonly blobs: BlobStore,
  ) {
    this.verify = cachedVerifier(async (plaintext) => {
      const verified = await registry.apiKeys.verifyKey(plaintext);
      if (verified) void registry.apiKeys.touchKey(verified.keyId).catch(() => {});
      return verified;
    });
    this.runtimeDb = openRuntimeDb(runtimeDbPath(config.dataDir));
    this.predictionLog = new PredictionLog({
      path: predictionLogPath(config.dataDir),
      onError: (error, during) =>
        this.log.error({ err: error, during }, "prediction log: a write failed"),
    });
    this.observers.push(this.predictionLog);
    this.redis = config.redisUrl ? openRedis({ url: config.redisUrl }) : undefined;
    const prefix = config.redisPrefix;
    this.rateLimiter = createRateLimiter({
      ...(this.redis ? { redis: this.redis } : {}),
      prefix: `${prefix}rl:`,
    });
    this.idempotency = this.redis
      ? new RedisIdempotencyStore(this.redis, { prefix: `${prefix}idem:` })
      : new SqliteIdempotencyStore(this.runtimeDb);
    this.sessions = this.redis
      ? new RedisSessionStore(this.redis, { prefix: `${prefix}session:` })
      : new MemorySessionStore();
    this.apps = new AppRuntime(this.deploymentSource(), {
      sessions: this.sessions,
      events: (workspaceId, app) => ({
        fallback: (reason) => this.counters.count(workspaceId, app, `fallback:${reason}`),
        escalated: (n) => this.counters.count(workspaceId, app, "escalated", n),
      }),
    });
    this.frames = new DatasetFrames(blobs);
    this.training = new TrainingJobs({
      updateJob: async (id, patch) => this.jobDto(await registry.jobs.update(id, patch)),
      registerModel: async (job, bytes) => this.registerModel(job, bytes),
    });
    this.webhooks = this.createWebhooks();
    this.metrics = new AppMetricsRecorder({ memoryMinutes: config.metricsMemoryMinutes });
    this.metricRollups = new MetricRollups({
      recorder: this.metrics,
      repository: registry.metricRollups,
      retentionDays: config.metricsRollupDays,
    });
    this.prometheus = config.prometheus
      ? new PrometheusMetrics({ apps: this.apps, counters: this.counters, webhooks: this.webhooks })
      : undefined;
    this.observers.unshift(this.metrics, ...(this.prometheus ? [this.prometheus] : []));
    this.observers.push(this.drift);
    this.slo = new SloMonitor({
      registry,
      metrics: this.metricRollups,
      drift: this.drift,
      logger: this.log,
      serverSecret: loadServerSecret(config.dataDir, config.webhookSecret),
      intervalMs: config.sloIntervalMs,
    });
    this.releases = new ReleaseService({
      registry,
      apps: this.apps,
      metrics: this.metricRollups,
      alerts: this.slo.alerts,
      shadow: this.shadow,
      predictionLog: this.predictionLog,
    });
    this.releaseController = new ReleaseController(this.releases, config.releaseTickMs, this.log);
  }

  /**
   * Webhooks on BullMQ when Redis is configured, else on the SQLite queue in runtime.db. Each
   * event is processed by one function: the app's pipeline on the normalized record.
   */
  private createWebhooks(): WebhookService {
    const { config } = this;
    const { pollMs, ...timings } = config.webhookTimings;
    const onError = (error: unknown) => this.webhooks.report(error);
    const queue = config.redisUrl
      ? new BullmqEventQueue({ url: config.redisUrl, prefix: config.redisPrefix, timings, onError })
      : new SqliteEventQueue(this.runtimeDb, { timings, onError });
    // An event runs through the same pipeline as a predict request (its steps, breakers and
    // fallback), under the attempt's time budget; the queue's own cap bounds concurrency.
    const processor: EventProcessor = async (event, signal) => {
      const published = await this.apps.get(event.workspaceId, event.app);
      if (!published) throw new Error(`The app ${event.app} is not deployed`);
      const { answers } = await published.runtime.pipeline.run({
        records: [event.record],
        paths: () => "",
        explain: false,
        signal,
      });
      return {
        app: published.name,
        app_version: published.version,
        model: { name: published.model.name, version: published.model.version },
        ...answers[0],
      };
    };
    return new WebhookService({
      queue,
      processor,
      pollMs,
      serverSecret: loadServerSecret(config.dataDir, config.webhookSecret),
      deployedApps: () => this.deployedHookApps(),
    });
  }

  /** Every deployed app's webhook settings, read from the registry (no model is loaded). */
  private async deployedHookApps(): Promise<DeployedHookApp[]> {
    const deployments = await this.registry.deployments.listCurrent({ environment: "production" });
    const current = new Set(deployments.map((d) => d.appVersionId));
    for (const id of this.hookSpecs.keys()) if (!current.has(id)) this.hookSpecs.delete(id);
    return Promise.all(
      deployments.map(async (d) => {
        let spec = this.hookSpecs.get(d.appVersionId);
        if (!spec) {
          const version = await this.registry.apps.getVersionById(d.appId, d.appVersionId);
          spec = parseAppSpec(version.spec);
          this.hookSpecs.set(d.appVersionId, spec);
        }
        return {
          workspaceId: d.workspaceId,
          name: d.appName,
          webhook: spec.webhook,
          timeoutMs: spec.policies.timeouts.requestMs,
        };
      }),
    );
  }

  /** What the webhook intake needs of a published app (its mapping, contract and validator). */
  webhookApp(published: PublishedApp): WebhookApp {
    return {
      workspaceId: published.workspaceId,
      name: published.name,
      webhook: published.spec.webhook,
      fields: published.predictor.artifact.header.recipe.inputs,
      validateRecord: published.validateRecord,
    };
  }

  /** The caller's identity from its API key, or undefined when there is no valid key. */
  authenticate = async (
    headers: Readonly<Record<string, string | string[] | undefined>>,
  ): Promise<Principal | undefined> => {
    const key = keyFromHeaders(headers);
    return key ? this.verify(key) : undefined;
  };

  /**
   * The caller's identity when it is known without waiting (a recently verified key):
   * undefined for no key or a bad key, null when `authenticate` must be awaited.
   */
  authenticateNow = (
    headers: Readonly<Record<string, string | string[] | undefined>>,
  ): Principal | undefined | null => {
    const key = keyFromHeaders(headers);
    return key ? this.verify.peek(key) : undefined;
  };

  /** Drop cached key verifications (after a revoke, so it takes effect at once here). */
  forgetKeys(): void {
    this.verify.clear();
  }

  findDataset(workspaceId: string, ref: string): Promise<Dataset | undefined> {
    return orUndefined(this.registry.datasets.resolve(workspaceId, ref));
  }

  findModelVersion(workspaceId: string, ref: string): Promise<ModelVersion | undefined> {
    return orUndefined(this.registry.models.getVersion(workspaceId, ref));
  }

  /** Every model version in the workspace, newest first. */
  async listModelVersions(workspaceId: string): Promise<ModelVersion[]> {
    const models = await this.registry.models.list(workspaceId);
    const versions = (
      await Promise.all(models.map((m) => this.registry.models.listVersions(workspaceId, m.name)))
    ).flat();
    return versions.sort((a, b) =>
      a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0,
    );
  }

  /** Store a trained artifact and register it as the next version of its model. */
  private async registerModel(
    job: { id: string; workspaceId: string; request: TrainRequest; datasetId: string },
    bytes: Uint8Array,
  ): Promise<NonNullable<JobDto["result"]>> {
    const { header } = decodeArtifact(bytes);
    const sha256 = await this.blobs.put(bytes);
    const version = await this.registry.models.createModelVersion(
      job.workspaceId,
      job.request.name ?? job.request.dataset,
      {
        artifactSha256: sha256,
        task: header.task.kind,
        target: header.recipe.target.column,
        learner: header.learner.name,
        metrics: {
          metric: header.training.metric,
          cv: header.training.cv,
          holdout: header.training.holdout,
        },
        datasetId: job.datasetId,
      },
    );
    return { model: version.modelName, version: version.version, modelVersionId: version.id };
  }

  /** The decoded artifact of a model version. */
  async modelArtifact(version: ModelVersion): Promise<ModelArtifact> {
    return decodeArtifact(await this.blobs.get(version.artifactSha256));
  }

  /**
   * Store an imported model's artifact (already checked, see src/models/onnx/import.ts) and
   * register it as the next version of `name`, with learner "onnx" and no training metrics.
   */
  async registerImportedModel(
    workspaceId: string,
    name: string,
    artifact: ModelArtifact,
  ): Promise<ModelVersion> {
    const sha256 = await this.blobs.put(encodeArtifact(artifact));
    return this.registry.models.createModelVersion(workspaceId, name, {
      artifactSha256: sha256,
      task: artifact.header.task.kind,
      target: artifact.header.recipe.target.column,
      learner: artifact.header.learner.name,
      metrics: { metric: artifact.header.training.metric, cv: {}, holdout: {} },
      datasetId: null,
    });
  }

  /**
   * Publish: create the app if new, add an immutable app version pinning the model version and
   * deploy it to staging, in one transaction; then, unless only staging was asked for, promote
   * it to production directly. That promotion is a release like any other: the golden suite
   * must pass (else 409 `golden_failed`, the version staying in staging) and no other release
   * may be in progress.
   */
  async publish(
    workspaceId: string,
    spec: AppSpec,
    modelVersionId: string,
    options: { readonly deploy?: "production" | "staging" } = {},
  ): Promise<AppDto> {
    return (await this.publishVersion(workspaceId, spec, modelVersionId, options)).app;
  }

  /** `publish`, also telling which version was created. */
  async publishVersion(
    workspaceId: string,
    spec: AppSpec,
    modelVersionId: string,
    options: { readonly deploy?: "production" | "staging" } = {},
  ): Promise<{ app: AppDto; version: AppVersion }> {
    const { app, version } = await this.registry.transaction(async (tx) => {
      const app = await tx.apps.ensure(workspaceId, spec.name);
      const version = await tx.apps.createVersion(app.id, { spec, modelVersionId });
      await tx.deployments.deploy(app.id, "staging", version.id);
      return { app, version };
    });
    this.apps.invalidate(workspaceId, app.name);
    if ((options.deploy ?? "production") === "production") {
      await this.releases.promote(workspaceId, app.name, {
        to: "production",
        version: version.version,
        strategy: "direct",
      });
    }
    // Start (or stop) this app's webhook workers now rather than at the next poll.
    this.webhooks.sync().catch((error: unknown) => this.webhooks.report(error));
    const found = (await this.listApps(workspaceId)).find((a) => a.name === app.name);
    if (found) return { app: found, version };
    // Only in staging so far (a first version): described from the version itself.
    const staged: AppDto = {
      name: app.name,
      version: version.version,
      model: spec.model,
      task: (await this.findModelVersion(workspaceId, modelVersionId))?.task ?? "unknown",
      endpoint: `/v1/apps/${app.name}/predict`,
      createdAt: version.createdAt,
      deployedAt: version.createdAt,
    };
    return { app: staged, version };
  }

  /** Apps with a production deployment, as the API lists them. */
  async listApps(workspaceId: string): Promise<AppDto[]> {
    const deployments = await this.registry.deployments.listCurrent({
      workspaceId,
      environment: "production",
    });
    return Promise.all(
      deployments.map(async (d) => {
        const version = await this.registry.apps.getVersionById(d.appId, d.appVersionId);
        const spec = parseAppSpec(version.spec);
        const model = version.modelVersionId
          ? await this.findModelVersion(workspaceId, version.modelVersionId)
          : undefined;
        return {
          name: d.appName,
          version: version.version,
          model: spec.model,
          task: model?.task ?? "unknown",
          endpoint: `/v1/apps/${d.appName}/predict`,
          createdAt: version.createdAt,
          deployedAt: d.createdAt,
        };
      }),
    );
  }

  private deploymentSource(): DeploymentSource {
    return {
      current: async (workspaceId, name, environment) => {
        const app = await orUndefined(this.registry.apps.getByName(workspaceId, name));
        if (!app) return undefined;
        const [deployment, release] = await Promise.all([
          this.registry.deployments.currentDeployment(app.id, environment),
          environment === "production" ? this.registry.releases.active(app.id) : undefined,
        ]);
        if (!deployment) return undefined;
        return { versionId: deployment.appVersionId, rollout: rolloutOf(release) };
      },
      loadModel: async (workspaceId, name, version) => {
        const model = await this.registry.models.getVersion(workspaceId, `${name}@${version}`);
        return this.blobs.get(model.artifactSha256);
      },
      load: async (appVersionId) => {
        const { registry } = this;
        const row = await registry.db
          .selectFrom("app_versions")
          .innerJoin("apps", "apps.id", "app_versions.app_id")
          .select(["apps.workspace_id as workspaceId", "app_versions.app_id as appId"])
          .where("app_versions.id", "=", appVersionId)
          .executeTakeFirstOrThrow();
        const version = await registry.apps.getVersionById(row.appId, appVersionId);
        const spec = parseAppSpec(version.spec);
        if (!version.modelVersionId) throw new Error(`App version ${appVersionId} has no model`);
        const model = await registry.models.getVersion(row.workspaceId, version.modelVersionId);
        return {
          name: spec.name,
          version: version.version,
          spec,
          model: { name: model.modelName, version: model.version, id: model.id },
          artifact: await this.blobs.get(model.artifactSha256),
        };
      },
    };
  }

  jobDto(job: Job): JobDto {
    return {
      id: job.id,
      kind: job.kind,
      status: job.status,
      input: job.input as unknown as TrainRequest,
      ...(job.progress
        ? { progress: job.progress as unknown as NonNullable<JobDto["progress"]> }
        : {}),
      ...(job.result ? { result: job.result as unknown as NonNullable<JobDto["result"]> } : {}),
      ...(job.error
        ? { error: { code: job.error.code ?? "failed", message: job.error.message } }
        : {}),
      createdAt: job.createdAt,
      updatedAt: job.updatedAt,
    };
  }

  modelVersionDto(v: ModelVersion): ModelVersionDto {
    const metrics = v.metrics as unknown as ModelVersionDto["metrics"];
    return {
      id: v.id,
      name: v.modelName,
      version: v.version,
      task: v.task,
      target: v.target,
      learner: v.learner,
      metrics,
      ...(v.datasetId ? { datasetId: v.datasetId } : {}),
      artifactSha256: v.artifactSha256,
      createdAt: v.createdAt,
    };
  }

  keyDto(k: ApiKey): KeyDto {
    return {
      id: k.id,
      name: k.name,
      role: k.role,
      prefix: k.prefix,
      createdAt: k.createdAt,
      ...(k.lastUsedAt ? { lastUsedAt: k.lastUsedAt } : {}),
      ...(k.revokedAt ? { revokedAt: k.revokedAt } : {}),
    };
  }

  /** Send background work's log lines to the server's logger. */
  setLogger(logger: AlertLogger): void {
    this.log.use(logger);
  }

  async close(): Promise<void> {
    await this.releaseController.close();
    await this.shadow.drain();
    await this.slo.close();
    this.drift.close();
    this.processMetrics.stop();
    await this.metricRollups.close();
    await this.webhooks.close();
    await this.training.close();
    await this.apps.close();
    await this.predictionLog.close();
    this.eventLoop.stop();
    await this.idempotency.close();
    await this.sessions.close();
    this.redis?.disconnect();
    this.runtimeDb.close();
  }
}
