import { describe, expect, it } from "vitest";
import type { Frame } from "../data/frame.ts";
import { schemaOfFrame } from "../data/index.ts";
import { GbdtModel } from "../learn/gbdt/model.ts";
import { createRandom } from "../learn/random.ts";
import { Predictor } from "./predictor.ts";
import { trainModel } from "./train.ts";

function table(n: number): Frame {
  const random = createRandom(3);
  const x = Float64Array.from({ length: n }, () => random.nextFloat() * 10);
  const z = Float64Array.from({ length: n }, () => random.nextFloat());
  // A step in x plus z: trees fit it, a line cannot, so AutoML's first candidate (the GBDT)
  // wins; z keeps x short of a "leak" (a column that alone predicts the target).
  const y = Float64Array.from(x, (v, i) => (v > 5 ? 10 : 0) + (z[i] as number) * 8);
  return {
    rowCount: n,
    columns: [
      { name: "x", type: "number", values: x },
      { name: "z", type: "number", values: z },
      { name: "y", type: "number", values: y },
    ],
  };
}

describe("Predictor.warm", () => {
  it("builds the model's prediction kernel before the first request, and changes no answer", async () => {
    const frame = table(400);
    const { artifact } = await trainModel(frame, schemaOfFrame(frame), {
      target: "y",
      timeBudgetMs: 400,
      seed: 1,
    });
    const cold = new Predictor(artifact);
    const expected = cold.predict({ x: 4.2, z: 0.3 });
    const warmed = new Predictor(artifact);
    expect(warmed.artifact.header.recipe.inputs.map((i) => i.column)).toEqual(["x", "z"]);
    expect(warmed.model).toBeInstanceOf(GbdtModel);
    const model = warmed.model as GbdtModel;
    expect(model.isCompiled).toBe(false);
    warmed.warm();
    expect(model.isCompiled).toBe(true);
    expect(warmed.predict({ x: 4.2, z: 0.3 })).toEqual(expected);
  });
});
