import { describe, expect, it } from "vitest";
import type { Frame } from "../data/frame.ts";
import { schemaOfFrame } from "../data/index.ts";
import { createRandom } from "../learn/random.ts";
import { trainModel } from "../models/train.ts";
import { defaultAppSpec } from "../spec/app-spec.ts";
import { AppRuntime, type DeploymentSource } from "./app-runtime.ts";

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
  readonly versions = new Map<string, Uint8Array>();
  async currentVersionId(): Promise<string | undefined> {
    return this.live;
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
    expect(runtime.loadedVersions).toEqual(["v1"]);

    // Deployed here: the next lookup loads v2 and lets v1 go.
    source.live = "v2";
    runtime.invalidate("ws", "app");
    const second = await runtime.get("ws", "app");
    expect(second?.version).toBe(2);
    expect(runtime.loadedVersions).toEqual(["v2"]);
    // A request that already held v1 still gets its answer.
    expect((await first?.predictor.predict({ x: 7 }))?.prediction).toBeCloseTo(10, 0);

    // Undeployed: nothing stays loaded.
    source.live = undefined;
    runtime.invalidate("ws", "app");
    expect(await runtime.get("ws", "app")).toBeUndefined();
    expect(runtime.loadedVersions).toEqual([]);
  });
});
