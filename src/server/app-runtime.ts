/**
 * Published apps as the data plane sees them: spec, input validator and predictor, loaded
 * once per app version and kept in memory. Each replica re-checks which version is deployed
 * at most every `refreshMs`, so a deploy made through another replica takes effect quickly
 * without a database round trip per request.
 */
import type { ValidateFunction } from "ajv";
import { decodeArtifact } from "../models/artifact.ts";
import { ONNX_LEARNER, OnnxPredictor } from "../models/onnx/onnx-predictor.ts";
import { Predictor } from "../models/predictor.ts";
import { type AppVersionRuntime, createAppVersionRuntime } from "../runtime/app-version-runtime.ts";
import type { PipelineEvents } from "../runtime/pipeline/pipeline.ts";
import { compileRecordValidator } from "../runtime/record-validation.ts";
import type { AppSpec } from "../spec/app-spec.ts";
import { recordSchema } from "../spec/contract.ts";
import type { SessionStore } from "../store/sessions/session-store.ts";

export interface PublishedApp {
  readonly workspaceId: string;
  readonly name: string;
  readonly appVersionId: string;
  readonly version: number;
  readonly spec: AppSpec;
  readonly model: { readonly name: string; readonly version: number; readonly id: string };
  /**
   * Ballast's own models predict synchronously; imported ONNX models through onnxruntime,
   * asynchronously (their `predict` returns a promise).
   */
  readonly predictor: Predictor | OnnxPredictor;
  readonly validateRecord: ValidateFunction;
  /** Whether "rows" is one of the model's inputs (then a body with "rows" is a single record). */
  readonly rowsIsInput: boolean;
  /** The compiled pipeline and this version's policies (bulkhead, cache, worker pool, breakers). */
  readonly runtime: AppVersionRuntime;
}

/** What loaded apps share: the session store, and the counters their steps report to. */
export interface AppRuntimeOptions {
  /** How often a replica re-checks which version is deployed. */
  readonly refreshMs?: number;
  readonly sessions?: SessionStore;
  /** Called with each app version's pipeline events (fallbacks, escalations). */
  readonly events?: (workspaceId: string, app: string) => PipelineEvents;
}

/** Where the current deployment of an app comes from (the registry, wired in createBallast). */
export interface DeploymentSource {
  /** The deployed app version id, or undefined if the app does not exist or is not deployed. */
  currentVersionId(workspaceId: string, app: string): Promise<string | undefined>;
  load(appVersionId: string): Promise<{
    name: string;
    version: number;
    spec: AppSpec;
    model: { name: string; version: number; id: string };
    artifact: Uint8Array;
  }>;
  /** A model version's artifact by name and version (a cascade step's second model). */
  loadModel(workspaceId: string, name: string, version: number): Promise<Uint8Array>;
}

interface Entry {
  app: PublishedApp | undefined;
  checkedAt: number;
  refreshing?: Promise<PublishedApp | undefined>;
  /**
   * Deployed here since `app` was read: the next lookups wait for the registry instead of
   * answering with `app` while a refresh runs (a request right after a deploy sees it).
   */
  invalidated?: boolean;
}

export class AppRuntime {
  private readonly entries = new Map<string, Entry>();
  /** Predictors by app version id: a redeploy of the same version reuses the loaded model. */
  private readonly loaded = new Map<string, Promise<PublishedApp>>();

  private readonly refreshMs: number;

  constructor(
    private readonly source: DeploymentSource,
    private readonly options: AppRuntimeOptions = {},
  ) {
    this.refreshMs = options.refreshMs ?? 1000;
  }

  /**
   * The app as currently deployed when this replica knows it without asking the registry (a
   * fresh entry): the app, or undefined when there is none; null when `get` must be awaited.
   */
  peek(workspaceId: string, name: string): PublishedApp | undefined | null {
    const entry = this.entries.get(`${workspaceId}/${name}`);
    if (entry && !entry.invalidated && Date.now() - entry.checkedAt < this.refreshMs)
      return entry.app;
    return null;
  }

  /** The app as currently deployed, or undefined if there is none. */
  async get(workspaceId: string, name: string): Promise<PublishedApp | undefined> {
    const key = `${workspaceId}/${name}`;
    const entry = this.entries.get(key);
    const now = Date.now();
    if (entry && !entry.invalidated && now - entry.checkedAt < this.refreshMs) return entry.app;
    if (entry?.refreshing)
      return entry.invalidated ? entry.refreshing : (entry.app ?? entry.refreshing);
    const refreshing = this.resolve(workspaceId, name);
    const next: Entry = {
      app: entry?.app,
      checkedAt: entry?.checkedAt ?? 0,
      refreshing,
      ...(entry?.invalidated ? { invalidated: true } : {}),
    };
    this.entries.set(key, next);
    try {
      const app = await refreshing;
      // A deploy during this lookup replaced the entry: its own lookup decides, not this one.
      if (this.entries.get(key) !== next) return app;
      this.entries.set(key, { app, checkedAt: Date.now() });
      // A redeploy (or an undeploy) leaves the old version's model unreachable for new
      // requests: drop it, so memory holds one model per app. Requests already holding the
      // old version finish with it.
      const previous = entry?.app?.appVersionId;
      if (previous !== undefined && previous !== app?.appVersionId) this.release(previous);
      return app;
    } catch (error) {
      if (this.entries.get(key) === next) this.entries.delete(key);
      throw error;
    }
  }

  /** Drop a version no request can reach any more; its worker threads end once it drains. */
  private release(appVersionId: string): void {
    const loading = this.loaded.get(appVersionId);
    this.loaded.delete(appVersionId);
    loading?.then((app) => app.runtime.dispose()).catch(() => {});
  }

  /** Release every loaded version (server shutdown). */
  async close(): Promise<void> {
    const all = [...this.loaded.values()];
    this.loaded.clear();
    this.entries.clear();
    await Promise.all(all.map((l) => l.then((app) => app.runtime.close()).catch(() => {})));
  }

  /** App versions whose models are loaded (one per deployed app once traffic has moved on). */
  get loadedVersions(): readonly string[] {
    return [...this.loaded.keys()];
  }

  /** Forget an app so the next request loads its new deployment (called after a deploy here). */
  invalidate(workspaceId: string, name: string): void {
    const key = `${workspaceId}/${name}`;
    const entry = this.entries.get(key);
    // Keep the loaded app (so the next lookup can release its model if the version changed),
    // but make it stale so that lookup asks the registry again.
    // A lookup already running may have read the registry before the deploy: start over.
    if (entry?.app) this.entries.set(key, { app: entry.app, checkedAt: 0, invalidated: true });
    else this.entries.delete(key);
  }

  private async resolve(workspaceId: string, name: string): Promise<PublishedApp | undefined> {
    const versionId = await this.source.currentVersionId(workspaceId, name);
    if (!versionId) return undefined;
    let loading = this.loaded.get(versionId);
    if (!loading) {
      loading = this.source.load(versionId).then(async (v) => {
        const predictor = await loadPredictor(v.artifact);
        const recipe = predictor.artifact.header.recipe;
        const validateRecord = compileRecordValidator(recordSchema(recipe, v.spec));
        const cascade = v.spec.steps.find((s) => s.kind === "cascade");
        const cascadePredictor = cascade
          ? await loadPredictor(
              await this.source.loadModel(
                workspaceId,
                String(cascade.with?.name),
                Number(cascade.with?.version),
              ),
            )
          : undefined;
        const runtime = createAppVersionRuntime({
          spec: v.spec,
          appVersionId: versionId,
          artifact: v.artifact,
          predictor,
          ...(cascadePredictor ? { cascadePredictor } : {}),
          validateRecord,
          sessionScope: `${workspaceId}/${v.name}`,
          ...(this.options.sessions ? { sessions: this.options.sessions } : {}),
          ...(this.options.events ? { events: this.options.events(workspaceId, v.name) } : {}),
        });
        return {
          workspaceId,
          name: v.name,
          appVersionId: versionId,
          version: v.version,
          spec: v.spec,
          model: v.model,
          predictor,
          validateRecord,
          rowsIsInput: recipe.inputs.some((i) => i.column === "rows"),
          runtime,
        };
      });
      this.loaded.set(versionId, loading);
      loading.catch(() => this.loaded.delete(versionId));
    }
    return loading;
  }
}

/**
 * The predictor for an artifact's bytes: Ballast's own learners, or an onnxruntime session
 * (created once here and reused by every request) for an imported ONNX model.
 */
export async function loadPredictor(bytes: Uint8Array): Promise<Predictor | OnnxPredictor> {
  const artifact = decodeArtifact(bytes);
  if (artifact.model.learner === ONNX_LEARNER) return OnnxPredictor.create(artifact);
  const predictor = new Predictor(artifact);
  predictor.warm();
  return predictor;
}
