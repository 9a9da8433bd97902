import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Column, Frame, Schema } from "../data/frame.ts";
import { schemaOfFrame } from "../data/index.ts";
import { RecipeError } from "../features/recipe.ts";
import { auc } from "../learn/metrics.ts";
import { createRandom } from "../learn/random.ts";
import {
  analyzeTarget,
  groupedAuc,
  LEAK_THRESHOLD,
  TargetAnalysisError,
} from "./target-analysis.ts";

function numeric(name: string, values: ArrayLike<number>): Column {
  return { name, type: "number", values: Float64Array.from(values) };
}

function category(
  name: string,
  values: readonly (string | null)[],
  type: "category" | "text" | "id" = "category",
): Column {
  const levels: string[] = [];
  const index = new Map<string, number>();
  const codes = Int32Array.from(values, (v) => {
    if (v === null) return -1;
    let code = index.get(v);
    if (code === undefined) {
      code = levels.length;
      levels.push(v);
      index.set(v, code);
    }
    return code;
  });
  return { name, type, codes, levels };
}

function frameOf(columns: readonly Column[]): { frame: Frame; schema: Schema } {
  const first = columns[0];
  const rowCount = first ? ("values" in first ? first.values.length : first.codes.length) : 0;
  const frame: Frame = { rowCount, columns };
  return { frame, schema: schemaOfFrame(frame) };
}

/** A churn-like table: a target, useful and useless columns, and every kind of exclusion. */
function customers(n: number, seed = 1) {
  const random = createRandom(seed);
  const churn: string[] = [];
  const tenure: number[] = [];
  const plan: string[] = [];
  const cancelReason: (string | null)[] = [];
  const noise: number[] = [];
  const code: string[] = [];
  const rowNumber: number[] = [];
  const constant: number[] = [];
  const notes: string[] = [];
  const customerId: string[] = [];
  for (let i = 0; i < n; i++) {
    const t = Math.floor(random.nextFloat() * 72);
    const p = ["monthly", "yearly", "two-year"][random.nextInt(3)] as string;
    const risk = (p === "monthly" ? 0.5 : 0.1) + (t < 12 ? 0.2 : 0);
    const yes = random.nextFloat() < risk;
    churn.push(yes ? "Yes" : "No");
    tenure.push(t);
    plan.push(p);
    // Written when a customer leaves: known only after the outcome.
    cancelReason.push(yes ? (["price", "service", "moved"][random.nextInt(3)] ?? "price") : null);
    noise.push(random.nextFloat());
    code.push(`C${i}`);
    rowNumber.push(i + 1);
    constant.push(7);
    notes.push(`customer wrote note number ${i} about ${p}`);
    customerId.push(`id-${i}`);
  }
  return frameOf([
    category("churn", churn),
    numeric("tenure", tenure),
    category("plan", plan),
    category("cancel_reason", cancelReason),
    numeric("noise", noise),
    category("code", code),
    numeric("row", rowNumber),
    numeric("constant", constant),
    category("notes", notes, "text"),
    category("customer_id", customerId, "id"),
  ]);
}

describe("analyzeTarget", () => {
  it("detects the task and says why each left-out column is left out", () => {
    const { frame, schema } = customers(600);
    const analysis = analyzeTarget(frame, schema, { target: "churn", exclude: ["noise"] });
    expect(analysis.task).toBe("binary");
    expect(analysis.classes).toEqual(["No", "Yes"]);
    expect(analysis.positive).toBe("Yes");
    expect(analysis.inputs).toEqual([
      { name: "tenure", type: "number" },
      { name: "plan", type: "category" },
    ]);
    const kinds = Object.fromEntries(analysis.excluded.map((e) => [e.column, e.kind]));
    expect(kinds).toEqual({
      cancel_reason: "leak",
      noise: "user",
      code: "id",
      row: "id",
      constant: "constant",
      notes: "unsupported",
      customer_id: "id",
    });
    for (const e of analysis.excluded) expect(e.reason.length).toBeGreaterThan(10);
    expect(analysis.excluded.find((e) => e.kind === "leak")?.reason).toMatch(/AUC 1\.000/);
    expect(analysis.warnings.join(" ")).toMatch(/cancel_reason predicts churn almost perfectly/);
    // What training uses is exactly what the analysis shows.
    expect(analysis.fitted.recipe.inputs.map((i) => i.column)).toEqual(["tenure", "plan"]);
  });

  it("keeps a flagged column the person includes", () => {
    const { frame, schema } = customers(400);
    const analysis = analyzeTarget(frame, schema, {
      target: "churn",
      include: ["cancel_reason", "row"],
    });
    const inputs = analysis.inputs.map((i) => i.name);
    expect(inputs).toContain("cancel_reason");
    expect(inputs).toContain("row");
    expect(analysis.excluded.map((e) => e.column)).not.toContain("cancel_reason");
  });

  it("flags a regression leak by R² and leaves a merely useful column in", () => {
    const random = createRandom(3);
    const n = 500;
    const x = Array.from({ length: n }, () => random.nextFloat() * 100);
    const price = x.map((v) => 3 * v + 10 + random.nextFloat() * 150);
    const tax = price.map((p) => p * 0.2 + random.nextFloat() * 0.01);
    const { frame, schema } = frameOf([
      numeric("price", price),
      numeric("size", x),
      numeric("tax", tax),
    ]);
    const analysis = analyzeTarget(frame, schema, { target: "price" });
    expect(analysis.task).toBe("regression");
    expect(analysis.inputs.map((i) => i.name)).toEqual(["size"]);
    expect(analysis.excluded).toEqual([expect.objectContaining({ column: "tax", kind: "leak" })]);
    expect(analysis.excluded[0]?.reason).toMatch(/R² (0\.9[89]\d|1\.000) on its own/);
  });

  it("keeps a suspected leak, with a warning, when it is the only column left to learn from", () => {
    const random = createRandom(4);
    const x = Array.from({ length: 400 }, () => random.nextFloat() * 10);
    const { frame, schema } = frameOf([
      numeric("x", x),
      numeric(
        "y",
        x.map((v) => (v > 5 ? 10 : 0)),
      ),
    ]);
    const analysis = analyzeTarget(frame, schema, { target: "y" });
    expect(analysis.inputs.map((i) => i.name)).toEqual(["x"]);
    expect(analysis.excluded).toEqual([]);
    expect(analysis.warnings[0]).toMatch(
      /^x alone predicts y almost perfectly.*it is kept because/,
    );
    // With another column to learn from, the same column is left out as a leak.
    const other = Array.from({ length: 400 }, () => random.nextFloat());
    const two = frameOf([
      numeric("x", x),
      numeric("z", other),
      numeric(
        "y",
        x.map((v) => (v > 5 ? 10 : 0)),
      ),
    ]);
    const withOther = analyzeTarget(two.frame, two.schema, { target: "y" });
    expect(withOther.inputs.map((i) => i.name)).toEqual(["z"]);
    expect(withOther.excluded).toEqual([expect.objectContaining({ column: "x", kind: "leak" })]);
  });

  it("flags a multiclass leak by one-vs-rest AUC", () => {
    const random = createRandom(4);
    const n = 300;
    const species = Array.from({ length: n }, () => ["a", "b", "c"][random.nextInt(3)] as string);
    const { frame, schema } = frameOf([
      category("species", species),
      category(
        "label_copy",
        species.map((s) => s.toUpperCase()),
      ),
      numeric(
        "width",
        Array.from({ length: n }, () => random.nextFloat()),
      ),
    ]);
    const analysis = analyzeTarget(frame, schema, { target: "species" });
    expect(analysis.task).toBe("multiclass");
    expect(analysis.excluded.map((e) => `${e.column}:${e.kind}`)).toEqual(["label_copy:leak"]);
  });

  it("warns about missing targets, rare classes and numbers that look like categories", () => {
    const random = createRandom(5);
    const n = 400;
    const target = Array.from({ length: n }, (_, i) =>
      i % 10 === 0 ? null : random.nextFloat() < 0.03 ? "fraud" : "ok",
    );
    const binary = analyzeTarget(
      ...(Object.values(
        frameOf([
          category("label", target),
          numeric(
            "amount",
            Array.from({ length: n }, () => random.nextFloat()),
          ),
        ]),
      ) as [Frame, Schema]),
      { target: "label" },
    );
    expect(binary.warnings.join("\n")).toMatch(/40 of 400 rows \(10%\) have no value for label/);
    expect(binary.warnings.join("\n")).toMatch(/Only \d(\.\d)?% of rows are fraud/);
    const rating = frameOf([
      numeric(
        "stars",
        Array.from({ length: n }, () => 1 + random.nextInt(5)),
      ),
      numeric(
        "x",
        Array.from({ length: n }, () => random.nextFloat()),
      ),
    ]);
    const regression = analyzeTarget(rating.frame, rating.schema, { target: "stars" });
    expect(regression.warnings.join("\n")).toMatch(/only 5 different values/);
  });

  it("refuses unknown columns and targets it cannot predict, as training does", () => {
    const { frame, schema } = customers(100);
    expect(() => analyzeTarget(frame, schema, { target: "nope" })).toThrow(RecipeError);
    expect(() => analyzeTarget(frame, schema, { target: "notes" })).toThrow(/text column/);
    expect(() => analyzeTarget(frame, schema, { target: "constant" })).toThrow(/only one value/);
    try {
      analyzeTarget(frame, schema, { target: "churn", exclude: ["nope"] });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(TargetAnalysisError);
      expect(error).toMatchObject({ field: "exclude", column: "nope" });
    }
  });

  it("partitions the columns, flags a copy of the target and never flags independent noise", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 60, max: 400 }),
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.integer({ min: 1, max: 4 }),
        fc.constantFrom("binary", "multiclass", "regression"),
        (n, seed, noiseColumns, kind) => {
          const random = createRandom(seed);
          const y =
            kind === "regression"
              ? Array.from({ length: n }, () => random.nextFloat() * 1000)
              : Array.from({ length: n }, () =>
                  String(random.nextInt(kind === "binary" ? 2 : 4) + 10),
                );
          // Make sure every class exists.
          if (kind !== "regression") {
            for (let k = 0; k < (kind === "binary" ? 2 : 4); k++) y[k] = String(k + 10);
          }
          const target =
            kind === "regression" ? numeric("y", y as number[]) : category("y", y as string[]);
          const copy =
            kind === "regression"
              ? numeric(
                  "copy",
                  (y as number[]).map((v) => v * 2 + 1),
                )
              : category(
                  "copy",
                  (y as string[]).map((v) => `c${v}`),
                );
          const noise = Array.from({ length: noiseColumns }, (_, c) =>
            c % 2 === 0
              ? numeric(
                  `n${c}`,
                  Array.from({ length: n }, () => random.nextFloat()),
                )
              : category(
                  `n${c}`,
                  Array.from({ length: n }, () => `v${random.nextInt(6)}`),
                ),
          );
          const { frame, schema } = frameOf([target, copy, ...noise]);
          const analysis = analyzeTarget(frame, schema, { target: "y" });
          const used = analysis.inputs.map((i) => i.name);
          const left = analysis.excluded.map((e) => e.column);
          expect([...used, ...left].sort()).toEqual(
            frame.columns
              .map((c) => c.name)
              .filter((c) => c !== "y")
              .sort(),
          );
          expect(analysis.excluded.find((e) => e.column === "copy")?.kind).toBe("leak");
          expect(analysis.excluded.filter((e) => e.kind === "leak")).toHaveLength(1);
          expect(analysis.fitted.recipe.inputs.map((i) => i.column)).toEqual(used);
        },
      ),
      { numRuns: 60, seed: 7 },
    );
    expect(LEAK_THRESHOLD).toBe(0.98);
  });
});

describe("groupedAuc", () => {
  it("equals the row-by-row mid-rank AUC", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            score: fc.integer({ min: 0, max: 5 }),
            rows: fc.integer({ min: 0, max: 6 }),
            positiveShare: fc.double({ min: 0, max: 1, noNaN: true }),
          }),
          { minLength: 1, maxLength: 12 },
        ),
        (groups) => {
          const scores = Float64Array.from(groups, (g) => g.score / 5);
          const rowsIn = Float64Array.from(groups, (g) => g.rows);
          const positives = Float64Array.from(groups, (g) => Math.round(g.rows * g.positiveShare));
          const y: number[] = [];
          const s: number[] = [];
          groups.forEach((g, i) => {
            for (let r = 0; r < g.rows; r++) {
              y.push(r < (positives[i] as number) ? 1 : 0);
              s.push(scores[i] as number);
            }
          });
          const expected = auc(y, s);
          const got = groupedAuc(scores, positives, rowsIn);
          if (Number.isNaN(expected)) expect(got).toBeNaN();
          else expect(got).toBeCloseTo(expected, 12);
        },
      ),
      { numRuns: 300, seed: 11 },
    );
  });
});
