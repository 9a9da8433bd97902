import { describe, expect, it } from "vitest";
import type { Frame } from "../data/frame.ts";
import { schemaOfFrame } from "../data/index.ts";
import { createRandom } from "../learn/random.ts";
import { trainModel } from "../models/train.ts";
import { defaultAppSpec } from "../spec/app-spec.ts";
import { AppRuntime, type DeploymentSource, type RolloutSource } from "./app-runtime.ts";

function table(n: number, seed: number): Frame {
  const random = createRandom(seed);
  const x = Float64Array.from({ length: n }, () => random.nextFloat() * 10);
  return {
    rowCount: n,
    columns: [
      { name: "x", type: "number", values: x },
      { name: "y", type: "number", values: Float64Array.from(x, (v) => (v > 5 ? 10 : 0)) },
    ],
  };
}

/** The registry's side of deployments, held in memory: which version is live, and its bytes. */
class Deployments implements DeploymentSource {
  live: string | undefined;
  staging: string | undefined;
  rollout: RolloutSource | undefined;
  readonly versions = new Map<string, Uint8Array>();
  async current(_ws: string, _app: string, environment: "production" | "staging") {
    const versionId = environment === "production" ? this.live : this.staging;
    return versionId ? { versionId, rollout: this.rollout } : undefined;
  }
  async loadModel(): Promise<Uint8Array> {
    throw new Error("no cascade in these specs");
  }
  async load(appVersionId: string) {
    const artifact = this.versions.get(appVersionId);
    if (!artifact) throw new Error(`no version ${appVersionId}`);
    const version = Number(appVersionId.slice(1));
    return {
      name: "app",
      version,
      spec: defaultAppSpec("app", { name: "m", version }),
      model: { name: "m", version, id: `mv${version}` },
      artifact,
    };
  }
}

describe("AppRuntime", () => {
  it("keeps one loaded model per app: a redeploy releases the old version's", async () => {
    const source = new Deployments();
    for (const [id, seed] of [
      ["v1", 1],
      ["v2", 2],
    ] as const) {
      const frame = table(300, seed);
      const trained = await trainModel(frame, schemaOfFrame(frame), {
        target: "y",
        timeBudgetMs: 300,
        seed,
      });
      source.versions.set(id, trained.bytes);
    }
    const runtime = new AppRuntime(source, { refreshMs: 60_000 });
    source.live = "v1";
    const first = await runtime.get("ws", "app");
    expect(first?.version).toBe(1);
    expect(runtime.loadedVersions).toEqual(["production:v1"]);

    // Deployed here: the next lookup loads v2 and lets v1 go.
    source.live = "v2";
    runtime.invalidate("ws", "app");
    const second = await runtime.get("ws", "app");
    expect(second?.version).toBe(2);
    expect(runtime.loadedVersions).toEqual(["production:v2"]);
    // A request that already held v1 still gets its answer.
    expect((await first?.predictor.predict({ x: 7 }))?.prediction).toBeCloseTo(10, 0);

    // Undeployed: nothing stays loaded.
    source.live = undefined;
    runtime.invalidate("ws", "app");
    expect(await runtime.get("ws", "app")).toBeUndefined();
    expect(runtime.loadedVersions).toEqual([]);
  });

  it("loads a rollout's candidate beside the stable version, and staging on its own", async () => {
    const source = new Deployments();
    for (const [id, seed] of [
      ["v1", 1],
      ["v2", 2],
    ] as const) {
      const frame = table(200, seed);
      const trained = await trainModel(frame, schemaOfFrame(frame), {
        target: "y",
        timeBudgetMs: 200,
        seed,
      });
      source.versions.set(id, trained.bytes);
    }
    const runtime = new AppRuntime(source, { refreshMs: 60_000 });
    source.live = "v1";
    source.staging = "v2";
    source.rollout = {
      releaseId: "rel_1",
      strategy: "canary",
      candidateVersionId: "v2",
      percent: 5,
      splitHeader: "x-ballast-split-key",
      maxInFlight: 8,
    };
    const serving = await runtime.serving("ws", "app");
    expect(serving?.stable.version).toBe(1);
    expect(serving?.rollout?.candidate.version).toBe(2);
    expect(serving?.rollout?.percent).toBe(5);
    const staging = await runtime.serving("ws", "app", "staging");
    expect(staging?.stable.version).toBe(2);
    expect(staging?.rollout).toBeUndefined();
    // The same version in both environments is two runtimes: staging's breakers are its own.
    expect(staging?.stable.runtime).not.toBe(serving?.rollout?.candidate.runtime);
    expect([...runtime.loadedVersions].sort()).toEqual([
      "production:v1",
      "production:v2",
      "staging:v2",
    ]);

    // The rollout ends (rolled back): the candidate is released from production only.
    source.rollout = undefined;
    runtime.invalidate("ws", "app");
    expect((await runtime.serving("ws", "app"))?.rollout).toBeUndefined();
    expect((await runtime.serving("ws", "app", "staging"))?.stable.version).toBe(2);
    expect([...runtime.loadedVersions].sort()).toEqual(["production:v1", "staging:v2"]);
    await runtime.close();
  });
});
