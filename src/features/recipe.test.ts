import { describe, expect, it } from "vitest";
import type { Frame, Schema } from "../data/frame.ts";
import { ingestFile, rowRecord } from "../data/index.ts";
import { CompiledRecipe, EncodeError, fitRecipe, RecipeError } from "./recipe.ts";

const frame: Frame = {
  rowCount: 6,
  columns: [
    {
      name: "y",
      type: "category",
      codes: Int32Array.from([0, 1, 0, 1, 0, 1]),
      levels: ["no", "yes"],
    },
    { name: "x", type: "number", values: Float64Array.from([1, 2, Number.NaN, 4, 5, 6]) },
    {
      name: "c",
      type: "category",
      codes: Int32Array.from([0, 1, 2, 0, -1, 1]),
      levels: ["a", "b", "c"],
    },
    {
      name: "flag",
      type: "boolean",
      values: Float64Array.from([0, 1, 1, 0, 1, 0]),
      labels: ["N", "Y"],
    },
    { name: "when", type: "datetime", values: Float64Array.from([0, 86_400_000, 2, 3, 4, 5]) },
    {
      name: "id",
      type: "id",
      codes: Int32Array.from([0, 1, 2, 3, 4, 5]),
      levels: ["a1", "a2", "a3", "a4", "a5", "a6"],
    },
    { name: "same", type: "number", values: Float64Array.from([7, 7, 7, 7, 7, 7]) },
  ],
};
const schema: Schema = {
  columns: frame.columns.map((c) => ({ name: c.name, type: c.type, nullable: false })),
};

describe("fitRecipe", () => {
  it("detects the task, orders a positive-sounding class second, and says why columns are left out", () => {
    const fitted = fitRecipe(frame, schema, { target: "y" });
    expect(fitted.task).toEqual({ kind: "binary", classCount: 2 });
    expect(fitted.recipe.target.classes).toEqual(["no", "yes"]);
    expect(fitted.recipe.inputs.map((i) => i.column)).toEqual(["x", "c", "flag", "when"]);
    expect(fitted.recipe.excluded).toEqual([
      { column: "y", reason: "target" },
      { column: "id", reason: "identifier" },
      { column: "same", reason: "constant" },
    ]);
    expect(Array.from(fitted.y)).toEqual([0, 1, 0, 1, 0, 1]);
    // x, c, flag, then five datetime parts.
    expect(fitted.X.features).toHaveLength(8);
  });

  it("honours exclusions, refuses unknown and constant targets", () => {
    expect(
      fitRecipe(frame, schema, { target: "y", exclude: ["c"] }).recipe.inputs.map((i) => i.column),
    ).not.toContain("c");
    expect(() => fitRecipe(frame, schema, { target: "nope" })).toThrow(RecipeError);
    expect(() => fitRecipe(frame, schema, { target: "same" })).toThrow(/only one value/);
    expect(() => fitRecipe(frame, schema, { target: "id" })).toThrow(/id column/);
  });

  it("makes a numeric target with many values a regression", () => {
    const fitted = fitRecipe(frame, schema, { target: "x" });
    expect(fitted.task.kind).toBe("regression");
    // The row with a missing target is left out.
    expect(fitted.X.rowCount).toBe(5);
  });
});

describe("one code path for training and serving", () => {
  it("encodes every row of wa_churn identically from the frame and from the record a caller would send", async () => {
    const { frame: churn, schema: churnSchema } = await ingestFile("examples/data/wa_churn.csv");
    const fitted = fitRecipe(churn, churnSchema, { target: "churn" });
    const compiled = new CompiledRecipe(fitted.recipe);
    const row = new Float64Array(compiled.width);
    for (let r = 0; r < churn.rowCount; r++) {
      const record = JSON.parse(JSON.stringify(rowRecord(churn, r)));
      compiled.encodeRecord(record, row);
      for (let f = 0; f < compiled.width; f++) {
        const trained = fitted.X.data[f * churn.rowCount + r] as number;
        if (Number.isNaN(trained)) expect(row[f]).toBeNaN();
        else expect(row[f]).toBe(trained);
      }
    }
  });
});

describe("encodeRecord", () => {
  const compiled = fitRecipe(frame, schema, { target: "y" }).compiled;
  const out = new Float64Array(compiled.width);

  it("maps unknown categories to the unknown bucket, or refuses them", () => {
    compiled.encodeRecord({ x: 1, c: "zzz", flag: "Y", when: "2024-03-05T10:00:00Z" }, out);
    expect(out[1]).toBe(3);
    expect(() =>
      compiled.encodeRecord({ x: 1, c: "zzz", flag: "Y", when: "2024-03-05T10:00:00Z" }, out, {
        unknownCategories: "reject",
      }),
    ).toThrow(EncodeError);
  });

  it("accepts boolean spellings and splits datetimes into parts", () => {
    compiled.encodeRecord({ x: 1, c: "a", flag: "Y", when: "2024-03-05T10:00:00Z" }, out);
    expect(out[2]).toBe(1);
    expect(Array.from(out.subarray(3))).toEqual([2024, 3, 5, 2, 10]);
    compiled.encodeRecord({ x: 1, c: "a", flag: false, when: 0 }, out);
    expect(out[2]).toBe(0);
  });

  it("names the field it cannot encode", () => {
    try {
      compiled.encodeRecord({ x: 1, c: "a", flag: "maybe", when: 0 }, out);
      expect.unreachable();
    } catch (error) {
      expect((error as EncodeError).field).toBe("flag");
    }
    expect(() => compiled.encodeRecord({ x: 1, c: "a", flag: 1, when: "not a date" }, out)).toThrow(
      /when/,
    );
    expect(() =>
      compiled.encodeRecord({ x: Number.POSITIVE_INFINITY, c: "a", flag: 1, when: 0 }, out),
    ).toThrow(/x/);
  });
});
