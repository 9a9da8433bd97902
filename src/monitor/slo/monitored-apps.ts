/**
 * Which apps are watched and how: every app deployed to production, with the monitoring
 * settings of the version serving it, read from the registry (no model is loaded, so the
 * evaluator can watch apps this process never served). Settings are cached by app version
 * id: versions are immutable, so a cached entry is never stale, and a redeploy is picked up
 * at the next read of the deployments.
 */
import { NotFoundError } from "../../registry/errors.ts";
import type { RegistryRepositories } from "../../registry/registry.ts";
import { type AppMonitoring, fillMonitoring } from "../../spec/monitoring.ts";

export interface MonitoredApp {
  readonly workspaceId: string;
  readonly app: string;
  /** The app version serving production. */
  readonly version: number;
  readonly monitoring: AppMonitoring;
}

export class DeployedApps {
  readonly #registry: Pick<RegistryRepositories, "apps" | "deployments">;
  readonly #specs = new Map<string, AppMonitoring>();

  constructor(registry: Pick<RegistryRepositories, "apps" | "deployments">) {
    this.#registry = registry;
  }

  /** Every app deployed to production, in every workspace. */
  async list(): Promise<MonitoredApp[]> {
    const deployments = await this.#registry.deployments.listCurrent({
      environment: "production",
    });
    const live = new Set(deployments.map((d) => d.appVersionId));
    for (const id of this.#specs.keys()) if (!live.has(id)) this.#specs.delete(id);
    const out: MonitoredApp[] = [];
    for (const d of deployments) {
      out.push({
        workspaceId: d.workspaceId,
        app: d.appName,
        version: d.appVersion,
        monitoring: await this.#monitoring(d.appId, d.appVersionId),
      });
    }
    return out;
  }

  /** One app as deployed to production now, or undefined when it is not deployed. */
  async current(workspaceId: string, app: string): Promise<MonitoredApp | undefined> {
    let found: { id: string; name: string };
    try {
      found = await this.#registry.apps.getByName(workspaceId, app);
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
    const d = await this.#registry.deployments.currentDeployment(found.id, "production");
    if (!d) return undefined;
    return {
      workspaceId,
      app: found.name,
      version: d.appVersion,
      monitoring: await this.#monitoring(d.appId, d.appVersionId),
    };
  }

  async #monitoring(appId: string, appVersionId: string): Promise<AppMonitoring> {
    const cached = this.#specs.get(appVersionId);
    if (cached) return cached;
    const version = await this.#registry.apps.getVersionById(appId, appVersionId);
    // Only the monitoring section, checked when the version was saved: a spec that today's
    // stricter step rules would refuse is still watched with the settings it was saved with.
    const monitoring = fillMonitoring(version.spec.monitoring);
    this.#specs.set(appVersionId, monitoring);
    return monitoring;
  }
}
