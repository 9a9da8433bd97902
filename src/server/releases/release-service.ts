/**
 * Releases: how a version reaches production. Every operation (promote, approve, abort,
 * roll back) is a registry write, so every replica's router sees it within its refresh, and
 * every transition of an active release is a compare-and-set on its revision, so two replicas
 * (or a person and the controller) never both move it.
 *
 * - promote to staging: deploy the version there, nothing else;
 * - promote to production: run the golden suite on the candidate (a failure refuses the
 *   promotion), then start a release: direct (deployed at once), canary (traffic in steps,
 *   judged by `tick`), shadow or A/B (run until a person approves or aborts);
 * - roll back: an active release ends with all traffic on the stable version, an alert and an
 *   event; without one, production goes back to the version it served before.
 */
import type { AlertService } from "../../monitor/alerts/alert-service.ts";
import type { PredictionLog } from "../../monitor/prediction-log/prediction-log.ts";
import type { MetricsSource, WindowCounts } from "../../monitor/sources.ts";
import type { AppVersion } from "../../registry/app-repository.ts";
import type { Deployment } from "../../registry/deployment-repository.ts";
import type { Registry } from "../../registry/registry.ts";
import type { Release, ReleasePatch } from "../../registry/release-repository.ts";
import {
  errorRate,
  type GateVerdict,
  judgeStep,
  type OutcomeCounts,
  type StepDecision,
} from "../../release/canary-judge.ts";
import {
  PlanError,
  type PlanOverrides,
  planOf,
  type ReleasePlan,
  type RolloutStrategy,
  resolvePlan,
} from "../../release/release-plan.ts";
import { twoProportionZTest, welchTTest } from "../../release/stats/ab-test.ts";
import { parseAppSpec } from "../../spec/app-spec.ts";
import type { AppRuntime } from "../app-runtime.ts";
import { ApiError, badRequest } from "../errors.ts";
import type {
  DeploymentDto,
  EnvironmentName,
  GateDto,
  GoldenRunDto,
  PromoteRequest,
  PromoteResponse,
  ReleaseDto,
  ReleaseLiveDto,
  RollbackResponse,
} from "../release-api-types.ts";
import type { ShadowMirror } from "../shadow-mirror.ts";
import { runGoldenSuite } from "./golden-runner.ts";

export interface ReleaseServiceDeps {
  readonly registry: Registry;
  readonly apps: AppRuntime;
  readonly metrics: MetricsSource;
  readonly alerts: AlertService;
  readonly shadow: ShadowMirror;
  /** The prediction log, for A/B tests and outcome gates; absent: those have no data. */
  readonly predictionLog?: PredictionLog | undefined;
  readonly now?: () => number;
}

/** The stable version's latency baseline for the relative gate: its last hour. */
const STABLE_BASELINE_SECONDS = 3600;

const conflictError = (code: string, message: string) => new ApiError(409, code, message);

export function deploymentDto(d: Deployment): DeploymentDto {
  return {
    environment: d.environment,
    version: d.appVersion,
    since: d.createdAt,
    ...(d.replacedAt ? { until: d.replacedAt } : {}),
  };
}

export function releaseDto(r: Release): ReleaseDto {
  return {
    id: r.id,
    app: r.appName,
    strategy: r.strategy,
    state: r.state,
    candidateVersion: r.candidateVersion,
    stableVersion: r.stableVersion,
    percent: r.percent,
    stepIndex: r.stepIndex,
    stepStartedAt: r.stepStartedAt,
    plan: planOf(r.plan),
    reason: r.reason,
    events: r.events.map((e) => ({
      at: e.at,
      type: e.type,
      message: e.message,
      ...(e.percent !== undefined ? { percent: e.percent } : {}),
      ...(e.details ? { details: e.details } : {}),
    })),
    createdAt: r.createdAt,
    endedAt: r.endedAt,
  };
}

export class ReleaseService {
  private readonly now: () => number;
  /** The gates' latest verdicts per release, for the live view (this replica's). */
  private readonly lastGates = new Map<string, readonly GateVerdict[]>();

  constructor(private readonly deps: ReleaseServiceDeps) {
    this.now = deps.now ?? Date.now;
  }

  private async appOf(workspaceId: string, name: string) {
    return this.deps.registry.apps.getByName(workspaceId, name);
  }

  async environments(workspaceId: string, name: string) {
    const app = await this.appOf(workspaceId, name);
    const [production, staging, history] = await Promise.all([
      this.deps.registry.deployments.currentDeployment(app.id, "production"),
      this.deps.registry.deployments.currentDeployment(app.id, "staging"),
      this.deps.registry.deployments.history(app.id, { limit: 100 }),
    ]);
    return {
      app: app.name,
      production: production ? deploymentDto(production) : null,
      staging: staging ? deploymentDto(staging) : null,
      history: history.map(deploymentDto),
    };
  }

  /** Runs the golden suite on one version (default: staging's, else production's). */
  async runGolden(workspaceId: string, name: string, version?: number): Promise<GoldenRunDto> {
    const app = await this.appOf(workspaceId, name);
    const target =
      version !== undefined
        ? await this.deps.registry.apps.getVersion(app.id, version)
        : await this.defaultCandidate(app.id);
    return runGoldenSuite(this.deps, workspaceId, app.id, target);
  }

  private async defaultCandidate(appId: string) {
    const staging = await this.deps.registry.deployments.currentDeployment(appId, "staging");
    const production = await this.deps.registry.deployments.currentDeployment(appId, "production");
    const id = staging?.appVersionId ?? production?.appVersionId;
    if (!id) throw badRequest("not_deployed", "The app has no deployed version to test");
    return this.deps.registry.apps.getVersionById(appId, id);
  }

  async promote(
    workspaceId: string,
    name: string,
    request: PromoteRequest,
  ): Promise<PromoteResponse> {
    const app = await this.appOf(workspaceId, name);
    const { registry } = this.deps;
    const environment: EnvironmentName = request.to;
    if (environment === "staging") {
      const version =
        request.version !== undefined
          ? await registry.apps.getVersion(app.id, request.version)
          : await registry.apps.latestVersion(app.id);
      if (!version) throw badRequest("no_version", "The app has no version to deploy");
      const deployment = await registry.deployments.deploy(app.id, "staging", version.id);
      this.deps.apps.invalidate(workspaceId, app.name);
      return { environment, deployment: deploymentDto(deployment), release: null, golden: null };
    }
    const strategy: RolloutStrategy = request.strategy ?? "direct";
    let candidate: AppVersion;
    if (request.version !== undefined) {
      candidate = await registry.apps.getVersion(app.id, request.version);
    } else {
      const staging = await registry.deployments.currentDeployment(app.id, "staging");
      if (!staging) {
        throw badRequest(
          "nothing_in_staging",
          "Nothing is deployed to staging; name the version to promote",
          [{ path: "/version", message: "is required when staging is empty" }],
        );
      }
      candidate = await registry.apps.getVersionById(app.id, staging.appVersionId);
    }
    const active = await registry.releases.active(app.id);
    if (active) {
      throw conflictError(
        "release_in_progress",
        `A ${active.strategy} release of v${active.candidateVersion} is in progress; approve, abort or roll it back first`,
      );
    }
    const production = await registry.deployments.currentDeployment(app.id, "production");
    if (production?.appVersionId === candidate.id) {
      throw conflictError("already_live", `v${candidate.version} already serves production`);
    }
    let plan: ReleasePlan;
    try {
      plan = resolvePlan(strategy, parseAppSpec(candidate.spec).release, overridesOf(request));
    } catch (error) {
      if (error instanceof PlanError) {
        throw badRequest("invalid_plan", error.message, [
          { path: `/${error.field}`, message: error.message },
        ]);
      }
      throw error;
    }
    // The golden suite gates every promotion to production; canaries may also re-check it.
    const golden = await runGoldenSuite(this.deps, workspaceId, app.id, candidate);
    if (!golden.ok && golden.total > 0) {
      throw new ApiError(
        409,
        "golden_failed",
        `The golden suite failed on v${candidate.version}: ${golden.failed} of ${golden.total} cases; it was not promoted`,
        golden.results
          .filter((r) => !r.passed)
          .slice(0, 50)
          .map((r) => ({
            path: `/golden/${r.case}`,
            message: r.error ?? r.failures.map((f) => f.message).join("; ") ?? "did not match",
          })),
      );
    }
    const goldenMessage =
      golden.total === 0
        ? "no golden cases"
        : `golden suite passed (${golden.passed}/${golden.total})`;
    if (strategy === "direct" || !production) {
      // Nothing to compare with (a first deployment) or no rollout asked for: deploy now.
      const release = await registry.transaction(async (tx) => {
        const started = await tx.releases.start({
          appId: app.id,
          strategy: "direct",
          candidateVersionId: candidate.id,
          stableVersionId: production?.appVersionId ?? null,
          plan: planJson({ ...plan, strategy: "direct", steps: [100] }),
          percent: 100,
          state: "succeeded",
          event: {
            type: "promoted",
            message: `v${candidate.version} promoted to production directly; ${goldenMessage}`,
            percent: 100,
          },
        });
        await tx.deployments.deploy(app.id, "production", candidate.id);
        return started;
      });
      this.deps.apps.invalidate(workspaceId, app.name);
      const deployment = await registry.deployments.currentDeployment(app.id, "production");
      return {
        environment,
        deployment: deployment ? deploymentDto(deployment) : null,
        release: releaseDto(release),
        golden,
      };
    }
    const first = plan.steps[0] as number;
    const describe =
      strategy === "canary"
        ? `canary of v${candidate.version}: ${first}% of traffic, steps ${plan.steps.join(" → ")}%, ${plan.intervalSeconds} s each`
        : strategy === "shadow"
          ? `shadow of v${candidate.version}: ${first}% of traffic mirrored`
          : `A/B test of v${candidate.version}: ${first}% of callers`;
    const release = await registry.releases.start({
      appId: app.id,
      strategy,
      candidateVersionId: candidate.id,
      stableVersionId: production.appVersionId,
      plan: planJson(plan),
      percent: first,
      event: { type: "started", message: `${describe}; ${goldenMessage}`, percent: first },
    });
    this.deps.apps.invalidate(workspaceId, app.name);
    // Load the candidate here before answering, so the first requests routed to it do not wait
    // for its model to load and count that wait against its latency gate.
    await this.deps.apps.serving(workspaceId, app.name).catch(() => undefined);
    return {
      environment,
      deployment: deploymentDto(production),
      release: releaseDto(release),
      golden,
    };
  }

  async releases(workspaceId: string, name: string, limit = 50) {
    const app = await this.appOf(workspaceId, name);
    const list = await this.deps.registry.releases.list(app.id, { limit });
    const active = list.find((r) => r.state === "running" || r.state === "paused");
    return {
      app: app.name,
      active: active ? await this.live(active) : null,
      releases: list.map(releaseDto),
    };
  }

  /** The live view of an active release. */
  async live(release: Release): Promise<ReleaseLiveDto> {
    const plan = planOf(release.plan);
    const now = this.now();
    const stepStart = Date.parse(release.stepStartedAt);
    const elapsed = Math.max(1, (now - stepStart) / 1000);
    const window =
      release.strategy === "canary"
        ? elapsed
        : Math.max(1, (now - Date.parse(release.createdAt)) / 1000);
    const [candidate, stable] = await Promise.all([
      this.counts(release, release.candidateVersion, window),
      release.stableVersion !== null
        ? this.counts(release, release.stableVersion, window)
        : undefined,
    ]);
    const traffic = [
      ...(stable && release.stableVersion !== null
        ? [
            {
              version: release.stableVersion,
              role: "stable" as const,
              requests: stable.requests,
              errorRate: errorRate(stable),
              p95Ms: stable.p95,
            },
          ]
        : []),
      {
        version: release.candidateVersion,
        role: "candidate" as const,
        requests: candidate.requests,
        errorRate: errorRate(candidate),
        p95Ms: candidate.p95,
      },
    ];
    const gates: GateDto[] = (this.lastGates.get(release.id) ?? []).map((g) => ({ ...g }));
    if (release.state === "paused") {
      gates.push({
        gate: "manual",
        status: "waiting",
        value: null,
        limit: null,
        message: `waiting for approval at ${release.percent}%`,
      });
    }
    return {
      release: releaseDto(release),
      secondsLeft:
        release.strategy === "canary" && release.state === "running"
          ? Math.max(0, plan.intervalSeconds - (now - stepStart) / 1000)
          : null,
      gates,
      traffic,
      shadow:
        release.strategy === "shadow" ? this.deps.shadow.comparison(release.id).summary() : null,
      ab: release.strategy === "ab" ? await this.abResults(release, plan) : null,
    };
  }

  private counts(release: Release, version: number, seconds: number): Promise<WindowCounts> {
    return this.deps.metrics.windowCounts(release.workspaceId, release.appName, seconds, {
      version,
    });
  }

  private async abResults(
    release: Release,
    plan: ReleasePlan,
  ): Promise<NonNullable<ReleaseLiveDto["ab"]>> {
    const notes: string[] = [];
    const log = this.deps.predictionLog;
    if (!log) return { conversion: null, value: null, notes: ["the prediction log is off"] };
    const stats = async (event: string) => {
      const rows = await log.eventStats({
        workspaceId: release.workspaceId,
        app: release.appName,
        from: Date.parse(release.createdAt),
        to: this.now() + 1,
        event,
      });
      const control = rows.find((r) => r.version === release.stableVersion);
      const treatment = rows.find((r) => r.version === release.candidateVersion);
      return control && treatment ? { control, treatment } : undefined;
    };
    const options = { alpha: plan.ab.alpha, power: plan.ab.power };
    let conversion = null;
    let value = null;
    try {
      if (plan.ab.conversionEvent === "") notes.push("no conversion event is configured");
      else {
        const s = await stats(plan.ab.conversionEvent);
        if (!s) notes.push("no logged predictions in one of the arms yet");
        else
          conversion = twoProportionZTest(
            { n: s.control.predictions, conversions: s.control.conversions },
            { n: s.treatment.predictions, conversions: s.treatment.conversions },
            options,
          );
      }
      if (plan.ab.valueEvent === "") notes.push("no value event is configured");
      else {
        const s = await stats(plan.ab.valueEvent);
        if (!s) notes.push("no logged predictions in one of the arms yet");
        else
          value = welchTTest(
            {
              n: s.control.predictions,
              mean: s.control.valueMean,
              variance: s.control.valueVariance,
            },
            {
              n: s.treatment.predictions,
              mean: s.treatment.valueMean,
              variance: s.treatment.valueVariance,
            },
            options,
          );
      }
    } catch (error) {
      notes.push(`the prediction log could not be read: ${(error as Error).message}`);
    }
    return { conversion, value, notes };
  }

  private async activeOf(workspaceId: string, name: string): Promise<Release> {
    const app = await this.appOf(workspaceId, name);
    const active = await this.deps.registry.releases.active(app.id);
    if (!active) throw conflictError("no_release", `No release of ${app.name} is in progress`);
    return active;
  }

  /** A paused canary step goes on; a shadow or A/B candidate is promoted to all traffic. */
  async approve(workspaceId: string, name: string): Promise<ReleaseDto> {
    const release = await this.activeOf(workspaceId, name);
    if (release.strategy === "canary") {
      if (release.state !== "paused") {
        throw conflictError(
          "not_waiting",
          `The canary is at ${release.percent}% and not waiting for approval`,
        );
      }
      const next = await this.nextStep(release, "approved", "approved by a person");
      if (!next) throw conflictError("moved", "The release moved meanwhile; look again");
      return releaseDto(next);
    }
    const done = await this.succeed(
      release,
      "approved",
      `v${release.candidateVersion} promoted to production by a person after the ${release.strategy === "ab" ? "A/B test" : "shadow"}`,
    );
    if (!done) throw conflictError("moved", "The release moved meanwhile; look again");
    return releaseDto(done);
  }

  /** Stops the release without promoting; traffic back on the stable version. */
  async abort(workspaceId: string, name: string): Promise<ReleaseDto> {
    const release = await this.activeOf(workspaceId, name);
    const ended = await this.end(release, {
      state: "aborted",
      percent: 0,
      reason: "aborted by a person",
      event: {
        type: "aborted",
        message: `Aborted at ${release.percent}%; all traffic on v${release.stableVersion}`,
        percent: 0,
      },
    });
    if (!ended) throw conflictError("moved", "The release moved meanwhile; look again");
    await this.deps.alerts.raise({
      workspaceId: release.workspaceId,
      app: release.appName,
      version: release.candidateVersion,
      kind: "info",
      rule: "release:abort",
      message: `The ${release.strategy} release of v${release.candidateVersion} was aborted`,
      details: { release: release.id },
    });
    return releaseDto(ended);
  }

  /** Rolls back the active release, or production to the version it served before. */
  async rollback(workspaceId: string, name: string): Promise<RollbackResponse> {
    const app = await this.appOf(workspaceId, name);
    const active = await this.deps.registry.releases.active(app.id);
    if (active) {
      const ended = await this.rollbackRelease(active, "rolled back by a person", {});
      const production = await this.deps.registry.deployments.currentDeployment(
        app.id,
        "production",
      );
      return {
        deployment: production ? deploymentDto(production) : null,
        release: ended ? releaseDto(ended) : null,
      };
    }
    const history = await this.deps.registry.deployments.history(app.id, {
      environment: "production",
      limit: 50,
    });
    const current = history[0];
    const previous = history.find((d) => d.appVersionId !== current?.appVersionId);
    if (!current || !previous) {
      throw conflictError(
        "nothing_to_roll_back",
        `${app.name} has no earlier production version to go back to`,
      );
    }
    const deployment = await this.deps.registry.deployments.deploy(
      app.id,
      "production",
      previous.appVersionId,
    );
    this.deps.apps.invalidate(workspaceId, app.name);
    await this.deps.alerts.raise({
      workspaceId,
      app: app.name,
      version: current.appVersion,
      kind: "rollback",
      severity: "warning",
      rule: "release:rollback",
      message: `Production rolled back by a person from v${current.appVersion} to v${previous.appVersion}`,
      details: { from: current.appVersion, to: previous.appVersion },
    });
    return { deployment: deploymentDto(deployment), release: null };
  }

  private async rollbackRelease(
    release: Release,
    reason: string,
    details: Record<string, unknown>,
    failed?: GateVerdict,
  ) {
    const ended = await this.end(release, {
      state: "rolled_back",
      percent: 0,
      reason,
      event: {
        type: "rolled_back",
        message: `Rolled back at ${release.percent}%: ${reason}; all traffic on v${release.stableVersion}`,
        percent: 0,
        details: JSON.parse(JSON.stringify(details)),
      },
    });
    if (!ended) return undefined;
    await this.deps.alerts.raise({
      workspaceId: release.workspaceId,
      app: release.appName,
      version: release.candidateVersion,
      kind: "rollback",
      rule: "release:rollback",
      message: `v${release.candidateVersion} was rolled back at ${release.percent}% of traffic: ${reason}`,
      details: JSON.parse(
        JSON.stringify({
          release: release.id,
          strategy: release.strategy,
          ...(failed ? { gate: failed.gate, value: failed.value, limit: failed.limit } : {}),
          ...details,
        }),
      ),
    });
    return ended;
  }

  private async end(release: Release, patch: ReleasePatch) {
    const ended = await this.deps.registry.releases.advance(release.id, release.revision, patch);
    if (ended) {
      this.deps.apps.invalidate(release.workspaceId, release.appName);
      this.lastGates.delete(release.id);
    }
    return ended;
  }

  /** The candidate takes all of production, in the same transaction as the release ends. */
  private async succeed(release: Release, type: string, message: string) {
    const done = await this.deps.registry.transaction(async (tx) => {
      const ended = await tx.releases.advance(release.id, release.revision, {
        state: "succeeded",
        percent: 100,
        event: { type, message, percent: 100 },
      });
      if (ended)
        await tx.deployments.deploy(release.appId, "production", release.candidateVersionId);
      return ended;
    });
    if (done) {
      this.deps.apps.invalidate(release.workspaceId, release.appName);
      this.lastGates.delete(release.id);
      this.deps.shadow.forget(release.id);
      await this.deps.alerts.raise({
        workspaceId: release.workspaceId,
        app: release.appName,
        version: release.candidateVersion,
        kind: "info",
        rule: "release:promoted",
        message,
        details: { release: release.id },
      });
    }
    return done;
  }

  /** The canary's next step (or success after the last). */
  private async nextStep(release: Release, type: string, why: string) {
    const plan = planOf(release.plan);
    const next = release.stepIndex + 1;
    if (next >= plan.steps.length) {
      return this.succeed(
        release,
        "promoted",
        `v${release.candidateVersion} reached 100% and was promoted: ${why}`,
      );
    }
    const percent = plan.steps[next] as number;
    const moved = await this.deps.registry.releases.advance(release.id, release.revision, {
      state: "running",
      stepIndex: next,
      percent,
      stepStarted: true,
      event: {
        type,
        message: `${why}; ${percent}% of traffic to v${release.candidateVersion}`,
        percent,
      },
    });
    if (moved) this.deps.apps.invalidate(release.workspaceId, release.appName);
    return moved;
  }

  /**
   * One pass of the rollout controller: every running canary judged on its step's live
   * metrics. Returns what each release did, for logs and tests.
   */
  async tick(): Promise<{ release: string; decision: StepDecision["kind"] | "skipped" }[]> {
    const out: { release: string; decision: StepDecision["kind"] | "skipped" }[] = [];
    const active = await this.deps.registry.releases.listActive();
    for (const release of active) {
      if (release.strategy !== "canary" || release.state !== "running") {
        out.push({ release: release.id, decision: "skipped" });
        continue;
      }
      out.push({ release: release.id, decision: await this.judge(release) });
    }
    return out;
  }

  private async judge(release: Release): Promise<StepDecision["kind"]> {
    const plan = planOf(release.plan);
    const now = this.now();
    const elapsedMs = now - Date.parse(release.stepStartedAt);
    const windowSeconds = Math.max(1, elapsedMs / 1000);
    const [candidate, stable, goldenRun] = await Promise.all([
      this.counts(release, release.candidateVersion, windowSeconds),
      release.stableVersion !== null
        ? this.counts(release, release.stableVersion, STABLE_BASELINE_SECONDS)
        : undefined,
      this.deps.registry.golden.latestRun(release.appId, release.candidateVersionId),
    ]);
    const golden = goldenRun ? goldenRun.ok || goldenRun.total === 0 : null;
    const outcome = plan.gates.outcomeEvent !== "" ? await this.outcomeCounts(release, plan) : null;
    const decision = judgeStep(
      plan.gates,
      { candidate, stable: stable ?? candidate, golden, outcome },
      elapsedMs >= plan.intervalSeconds * 1000,
    );
    this.lastGates.set(release.id, decision.gates);
    if (decision.kind === "fail") {
      await this.rollbackRelease(
        release,
        decision.failed.message,
        { gates: decision.gates },
        decision.failed,
      );
    } else if (decision.kind === "pass") {
      const percent = release.percent;
      const summary = decision.gates.map((g) => g.message).join("; ");
      if (plan.manualSteps.includes(percent)) {
        await this.deps.registry.releases.advance(release.id, release.revision, {
          state: "paused",
          event: {
            type: "paused",
            message: `Gates passed at ${percent}% (${summary}); waiting for approval`,
            percent,
            details: { gates: JSON.parse(JSON.stringify(decision.gates)) },
          },
        });
      } else {
        await this.nextStep(release, "step", `gates passed at ${percent}% (${summary})`);
      }
    }
    return decision.kind;
  }

  private async outcomeCounts(
    release: Release,
    plan: ReleasePlan,
  ): Promise<{ candidate: OutcomeCounts; stable: OutcomeCounts } | null> {
    const log = this.deps.predictionLog;
    if (!log) return null;
    try {
      const rows = await log.eventStats({
        workspaceId: release.workspaceId,
        app: release.appName,
        from: Date.parse(release.stepStartedAt),
        to: this.now() + 1,
        event: plan.gates.outcomeEvent,
      });
      const c = rows.find((r) => r.version === release.candidateVersion);
      const s = rows.find((r) => r.version === release.stableVersion);
      if (!c || !s) return null;
      return { candidate: c, stable: s };
    } catch {
      return null;
    }
  }
}

function overridesOf(request: PromoteRequest): PlanOverrides {
  const { to: _to, version: _version, strategy: _strategy, ...rest } = request;
  return rest;
}

function planJson(plan: ReleasePlan) {
  return JSON.parse(JSON.stringify(plan)) as Record<string, never>;
}
