/**
 * Published apps as the data plane sees them: spec, input validator and predictor, loaded
 * once per app version and environment and kept in memory. Each replica re-checks which
 * version is deployed (and which release is rolling out) at most every `refreshMs`, so a
 * deploy or a rollout step made through another replica takes effect quickly without a
 * database round trip per request.
 *
 * Production and staging load their versions separately, even the same version: staging's
 * breakers, caches and bulkhead are its own, and only staging's runtime is built with a fault
 * injector (drills), so a drill can never reach production traffic.
 */
import type { ValidateFunction } from "ajv";
import { decodeArtifact } from "../models/artifact.ts";
import { ONNX_LEARNER, OnnxPredictor } from "../models/onnx/onnx-predictor.ts";
import { Predictor } from "../models/predictor.ts";
import { type AppVersionRuntime, createAppVersionRuntime } from "../runtime/app-version-runtime.ts";
import { FaultInjector } from "../runtime/faults/fault-injector.ts";
import type { PipelineEvents } from "../runtime/pipeline/pipeline.ts";
import { compileRecordValidator } from "../runtime/record-validation.ts";
import type { AppSpec } from "../spec/app-spec.ts";
import { recordSchema } from "../spec/contract.ts";
import type { SessionStore } from "../store/sessions/session-store.ts";

export type Environment = "production" | "staging";
/** Where a loaded version belongs: an environment, or a one-off run (a golden suite). */
export type LoadedFor = Environment | "test";

export interface PublishedApp {
  readonly workspaceId: string;
  readonly name: string;
  readonly appVersionId: string;
  readonly version: number;
  /** Which environment loaded it: staging's copy has its own policies' state and faults. */
  readonly environment: LoadedFor;
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

/** A release rolling out in production, as the registry describes it. */
export interface RolloutSource {
  readonly releaseId: string;
  readonly strategy: "canary" | "shadow" | "ab";
  readonly candidateVersionId: string;
  /** canary, ab: share of traffic the candidate serves; shadow: share mirrored to it. */
  readonly percent: number;
  /** ab: the header holding the caller's split key. */
  readonly splitHeader: string;
  /** shadow: most mirrored calls in flight. */
  readonly maxInFlight: number;
}

/** A release rolling out, with its candidate loaded: what the version router reads. */
export interface LiveRollout extends Omit<RolloutSource, "candidateVersionId"> {
  readonly candidate: PublishedApp;
}

/** What an environment of an app serves now: its deployed version, and a rollout if any. */
export interface Serving {
  readonly stable: PublishedApp;
  readonly rollout: LiveRollout | undefined;
}

/** Where the current deployment of an app comes from (the registry, wired in createBallast). */
export interface DeploymentSource {
  /**
   * The deployed app version id and, in production, the release rolling out; undefined if the
   * app does not exist or is not deployed there.
   */
  current(
    workspaceId: string,
    app: string,
    environment: Environment,
  ): Promise<{ versionId: string; rollout?: RolloutSource | undefined } | undefined>;
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
  app: Serving | undefined;
  checkedAt: number;
  refreshing?: Promise<Serving | undefined>;
  /**
   * Deployed here since `app` was read: the next lookups wait for the registry instead of
   * answering with `app` while a refresh runs (a request right after a deploy sees it).
   */
  invalidated?: boolean;
}

export class AppRuntime {
  private readonly entries = new Map<string, Entry>();
  /**
   * Loaded versions by environment and app version id: a redeploy of the same version reuses
   * the loaded model.
   */
  private readonly loaded = new Map<string, Promise<PublishedApp>>();
  /** Each app's staging fault injector (drills), by workspace/app. */
  private readonly faults = new Map<string, FaultInjector>();

  private readonly refreshMs: number;

  constructor(
    private readonly source: DeploymentSource,
    private readonly options: AppRuntimeOptions = {},
  ) {
    this.refreshMs = options.refreshMs ?? 1000;
  }

  /**
   * What the environment serves when this replica knows it without asking the registry (a
   * fresh entry): the serving versions, or undefined when there are none; null when
   * `serving` must be awaited.
   */
  peekServing(
    workspaceId: string,
    name: string,
    environment: Environment = "production",
  ): Serving | undefined | null {
    const entry = this.entries.get(`${workspaceId}/${name}/${environment}`);
    if (entry && !entry.invalidated && Date.now() - entry.checkedAt < this.refreshMs)
      return entry.app;
    return null;
  }

  /** The production version when known without waiting (see peekServing). */
  peek(workspaceId: string, name: string): PublishedApp | undefined | null {
    const serving = this.peekServing(workspaceId, name);
    return serving === null ? null : serving?.stable;
  }

  /** The app's production version (its stable one during a rollout), or undefined. */
  async get(workspaceId: string, name: string): Promise<PublishedApp | undefined> {
    return (await this.serving(workspaceId, name))?.stable;
  }

  /** What an environment of the app serves now, or undefined if nothing is deployed there. */
  async serving(
    workspaceId: string,
    name: string,
    environment: Environment = "production",
  ): Promise<Serving | undefined> {
    const key = `${workspaceId}/${name}/${environment}`;
    const entry = this.entries.get(key);
    const now = Date.now();
    if (entry && !entry.invalidated && now - entry.checkedAt < this.refreshMs) return entry.app;
    if (entry?.refreshing)
      return entry.invalidated ? entry.refreshing : (entry.app ?? entry.refreshing);
    const refreshing = this.resolve(workspaceId, name, environment);
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
      // A redeploy, an ended rollout or an undeploy leaves versions unreachable for new
      // requests: drop them, so memory holds only what can serve. Requests already holding an
      // old version finish with it.
      const kept = new Set(versionIdsOf(app));
      for (const previous of versionIdsOf(entry?.app)) {
        if (!kept.has(previous)) this.release(`${environment}:${previous}`);
      }
      return app;
    } catch (error) {
      if (this.entries.get(key) === next) this.entries.delete(key);
      throw error;
    }
  }

  /**
   * The app's staging fault injector, made on first use: drills arm it; only staging's
   * runtimes are built with it.
   */
  stagingFaults(workspaceId: string, name: string): FaultInjector {
    const key = `${workspaceId}/${name}`;
    let faults = this.faults.get(key);
    if (!faults) {
      faults = new FaultInjector();
      this.faults.set(key, faults);
    }
    return faults;
  }

  /** Drop a version no request can reach any more; its worker threads end once it drains. */
  private release(loadedKey: string): void {
    const loading = this.loaded.get(loadedKey);
    this.loaded.delete(loadedKey);
    loading?.then((app) => app.runtime.dispose()).catch(() => {});
  }

  /** Release every loaded version (server shutdown). */
  async close(): Promise<void> {
    const all = [...this.loaded.values()];
    this.loaded.clear();
    this.entries.clear();
    for (const faults of this.faults.values()) faults.disarm();
    await Promise.all(all.map((l) => l.then((app) => app.runtime.close()).catch(() => {})));
  }

  /** Loaded versions as `environment:appVersionId` (one per deployed app once traffic has moved on). */
  get loadedVersions(): readonly string[] {
    return [...this.loaded.keys()];
  }

  /** Forget an app so the next request loads its new deployment (called after a deploy here). */
  invalidate(workspaceId: string, name: string): void {
    for (const environment of ["production", "staging"] as const) {
      const key = `${workspaceId}/${name}/${environment}`;
      const entry = this.entries.get(key);
      // Keep the loaded app (so the next lookup can release what it no longer serves), but
      // make it stale so that lookup asks the registry again. A lookup already running may
      // have read the registry before the deploy: start over.
      if (entry?.app) this.entries.set(key, { app: entry.app, checkedAt: 0, invalidated: true });
      else this.entries.delete(key);
    }
  }

  private async resolve(
    workspaceId: string,
    name: string,
    environment: Environment,
  ): Promise<Serving | undefined> {
    const current = await this.source.current(workspaceId, name, environment);
    if (!current) return undefined;
    const stable = await this.load(workspaceId, current.versionId, environment);
    const r = current.rollout;
    if (!r || environment !== "production") return { stable, rollout: undefined };
    const candidate = await this.load(workspaceId, r.candidateVersionId, environment);
    const { candidateVersionId: _, ...rest } = r;
    return { stable, rollout: { ...rest, candidate } };
  }

  /**
   * Any version of an app, loaded for one run outside every environment (a golden suite on a
   * candidate): its own runtime, released when `use` is done.
   */
  async withVersion<T>(
    workspaceId: string,
    versionId: string,
    use: (app: PublishedApp) => Promise<T>,
  ): Promise<T> {
    const key = `${versionId}#${++this.runs}`;
    const app = await this.load(workspaceId, versionId, "test", key);
    try {
      return await use(app);
    } finally {
      this.release(`test:${key}`);
    }
  }

  private runs = 0;

  private load(
    workspaceId: string,
    versionId: string,
    environment: LoadedFor,
    keyId = versionId,
  ): Promise<PublishedApp> {
    const loadedKey = `${environment}:${keyId}`;
    let loading = this.loaded.get(loadedKey);
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
          ...(this.options.events && environment === "production"
            ? { events: this.options.events(workspaceId, v.name) }
            : {}),
          ...(environment === "staging" ? { faults: this.stagingFaults(workspaceId, v.name) } : {}),
        });
        return {
          workspaceId,
          name: v.name,
          appVersionId: versionId,
          version: v.version,
          environment,
          spec: v.spec,
          model: v.model,
          predictor,
          validateRecord,
          rowsIsInput: recipe.inputs.some((i) => i.column === "rows"),
          runtime,
        };
      });
      this.loaded.set(loadedKey, loading);
      loading.catch(() => this.loaded.delete(loadedKey));
    }
    return loading;
  }
}

/** The app version ids a serving state holds (stable, and the candidate of a rollout). */
function versionIdsOf(serving: Serving | undefined): string[] {
  if (!serving) return [];
  const ids = [serving.stable.appVersionId];
  if (serving.rollout) ids.push(serving.rollout.candidate.appVersionId);
  return ids;
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
