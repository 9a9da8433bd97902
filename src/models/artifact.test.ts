import { describe, expect, it } from "vitest";
import { ingestFile } from "../data/index.ts";
import { ArtifactError, decodeArtifact, encodeArtifact } from "./artifact.ts";
import { Predictor } from "./predictor.ts";
import { trainModel } from "./train.ts";

describe("model artifact", async () => {
  const { frame, schema } = await ingestFile("examples/data/wa_churn.csv");
  const trained = await trainModel(frame, schema, { target: "churn", timeBudgetMs: 1500, seed: 7 });

  it("round-trips: decode(encode(a)) serves the same predictions as the trained model", () => {
    const decoded = decodeArtifact(trained.bytes);
    expect(decoded.header.recipe).toEqual(trained.artifact.header.recipe);
    expect(encodeArtifact(decoded)).toEqual(trained.bytes);
    const a = new Predictor(trained.artifact);
    const b = Predictor.fromBytes(trained.bytes);
    const record = {
      tenure: 5,
      contract: "Month-to-month",
      monthly_charges: 80,
      total_charges: 400,
      internet_service: "Fiber optic",
    };
    const full = {
      ...Object.fromEntries(a.recipe.recipe.inputs.map((i) => [i.column, null])),
      ...record,
    };
    expect(b.predict(full)).toEqual(a.predict(full));
  });

  it("carries baseline sketches of every feature and of the predictions", () => {
    const { baseline } = trained.artifact.header;
    expect(baseline.rows).toBe(7043);
    expect(baseline.features.map((f) => f.feature)).toContain("tenure");
    for (const sketch of baseline.features) {
      const sum = sketch.proportions.reduce((s, p) => s + p, 0);
      expect(sum).toBeCloseTo(1, 9);
    }
    expect(baseline.prediction?.kind).toBe("numeric");
  });

  it("refuses bytes that are not a Ballast model, naming why", () => {
    expect(() => decodeArtifact(new Uint8Array(4))).toThrow(ArtifactError);
    const wrong = trained.bytes.slice();
    wrong[0] = 0;
    expect(() => decodeArtifact(wrong)).toThrow(/magic/);
    expect(() => decodeArtifact(trained.bytes.subarray(0, trained.bytes.length - 9))).toThrow(
      /Truncated/,
    );
  });
});
