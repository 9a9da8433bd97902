/**
 * The server context: the registry, blob store, published-app runtime and training runner,
 * plus the few operations several routes share (resolve a dataset or model reference,
 * publish an app, render DTOs). Routes receive this one object, as n8n's nodes receive their
 * execution context, so none of them reaches for a global.
 */
import type { ModelArtifact } from "../models/artifact.ts";
import { decodeArtifact, encodeArtifact } from "../models/artifact.ts";
import { AppMetricsRecorder } from "../monitor/app-metrics.ts";
import type { ApiKey } from "../registry/api-key-repository.ts";
import type { Dataset } from "../registry/dataset-repository.ts";
import { NotFoundError } from "../registry/errors.ts";
import type { Job } from "../registry/job-repository.ts";
import type { ModelVersion } from "../registry/model-repository.ts";
import type { Registry } from "../registry/registry.ts";
import type { AppSpec } from "../spec/app-spec.ts";
import { parseAppSpec } from "../spec/app-spec.ts";
import type { BlobStore } from "../store/blob-store.ts";
import type { AppDto, JobDto, KeyDto, ModelVersionDto, TrainRequest } from "./api-types.ts";
import { AppRuntime, type DeploymentSource } from "./app-runtime.ts";
import type { Principal } from "./auth.ts";
import { cachedVerifier, keyFromHeaders } from "./auth.ts";
import type { BallastConfig } from "./config.ts";
import { DatasetFrames } from "./dataset-frames.ts";
import { TrainingJobs } from "./training/training-jobs.ts";

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
  readonly metrics = new AppMetricsRecorder();
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
    this.apps = new AppRuntime(this.deploymentSource());
    this.frames = new DatasetFrames(blobs);
    this.training = new TrainingJobs({
      updateJob: async (id, patch) => this.jobDto(await registry.jobs.update(id, patch)),
      registerModel: async (job, bytes) => this.registerModel(job, bytes),
    });
  }

  /** The caller's identity from its API key, or undefined when there is no valid key. */
  authenticate = async (
    headers: Readonly<Record<string, string | string[] | undefined>>,
  ): Promise<Principal | undefined> => {
    const key = keyFromHeaders(headers);
    return key ? this.verify(key) : undefined;
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
   * Publish: create the app if new, add an immutable app version pinning the model version,
   * and point production at it, all in one transaction.
   */
  async publish(workspaceId: string, spec: AppSpec, modelVersionId: string): Promise<AppDto> {
    const { app } = await this.registry.transaction(async (tx) => {
      const app = await tx.apps.ensure(workspaceId, spec.name);
      const version = await tx.apps.createVersion(app.id, { spec, modelVersionId });
      await tx.deployments.deploy(app.id, "production", version.id);
      return { app };
    });
    this.apps.invalidate(workspaceId, app.name);
    const found = (await this.listApps(workspaceId)).find((a) => a.name === app.name);
    if (!found) throw new Error(`App ${app.name} vanished right after publishing`);
    return found;
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
      currentVersionId: async (workspaceId, name) => {
        const app = await orUndefined(this.registry.apps.getByName(workspaceId, name));
        if (!app) return undefined;
        const deployment = await this.registry.deployments.currentDeployment(app.id, "production");
        return deployment?.appVersionId;
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

  async close(): Promise<void> {
    await this.training.close();
  }
}
