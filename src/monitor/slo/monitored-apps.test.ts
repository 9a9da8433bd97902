import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openRegistry, type Registry } from "../../registry/registry.ts";
import { DEFAULT_MONITORING } from "../../spec/monitoring.ts";
import { DeployedApps } from "./monitored-apps.ts";

let dir: string;
let registry: Registry;
let ws: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ballast-monitored-"));
  registry = await openRegistry({ sqlitePath: join(dir, "registry.db") });
  ws = (await registry.ensureDefaultWorkspace()).id;
});

afterAll(async () => {
  await registry.close();
  await rm(dir, { recursive: true, force: true });
});

/** A stored version as the registry keeps it: the spec's sections, monitoring optional. */
async function deploy(name: string, monitoring?: unknown) {
  const app = await registry.apps.ensure(ws, name);
  const spec = {
    apiVersion: "ballast/v1",
    kind: "App",
    name,
    steps: [],
    ...(monitoring ? { monitoring } : {}),
  };
  const version = await registry.apps.createVersion(app.id, { spec });
  await registry.deployments.deploy(app.id, "production", version.id);
  return version.version;
}

describe("DeployedApps", () => {
  it("lists production apps with the serving version's monitoring, defaults filled", async () => {
    await deploy("plain");
    await deploy("watched", {
      slo: { latencyP95Ms: 250 },
      alerts: { webhookUrl: "https://example.com/a" },
    });
    const deployed = new DeployedApps(registry);
    const apps = await deployed.list();
    expect(apps.map((a) => [a.app, a.version])).toEqual([
      ["plain", 1],
      ["watched", 1],
    ]);
    expect(apps[0]?.monitoring).toEqual(DEFAULT_MONITORING);
    expect(apps[1]?.monitoring.slo).toEqual({ ...DEFAULT_MONITORING.slo, latencyP95Ms: 250 });
    expect(apps[1]?.monitoring.alerts.webhookUrl).toBe("https://example.com/a");

    // A new version deployed: the next read follows it.
    expect(await deploy("watched", { slo: { errorRate: 0.01 } })).toBe(2);
    const current = await deployed.current(ws, "watched");
    expect(current?.version).toBe(2);
    expect(current?.monitoring.slo).toEqual({ ...DEFAULT_MONITORING.slo, errorRate: 0.01 });
    expect((await deployed.list()).find((a) => a.app === "watched")?.version).toBe(2);
  });

  it("knows nothing of an app that does not exist or was never deployed", async () => {
    const deployed = new DeployedApps(registry);
    expect(await deployed.current(ws, "missing")).toBeUndefined();
    await registry.apps.ensure(ws, "draft");
    expect(await deployed.current(ws, "draft")).toBeUndefined();
  });
});
