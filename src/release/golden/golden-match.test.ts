import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../../runtime/errors.ts";
import {
  DEFAULT_GOLDEN_MATCH,
  expectedOf,
  type GoldenMatch,
  GoldenMatchError,
  matchAnswer,
  parseGoldenMatch,
} from "./golden-match.ts";

/** The GoldenMatchError `fn` throws (fails the test when it throws nothing or something else). */
function thrown(fn: () => unknown): GoldenMatchError {
  try {
    fn();
  } catch (err: unknown) {
    if (err instanceof GoldenMatchError) return err;
    throw err;
  }
  throw new Error("expected a GoldenMatchError");
}

const answer = (fields: Record<string, unknown>): Record<string, unknown> => ({
  request_id: "r-1",
  app: "churn",
  app_version: 3,
  model: { name: "churn", version: 7 },
  ...fields,
});

describe("DEFAULT_GOLDEN_MATCH", () => {
  it("is a 5 % band on numbers and ±0.05 on probabilities", () => {
    expect(DEFAULT_GOLDEN_MATCH).toEqual({ mode: "tolerance", probability: 0.05, relative: 0.05 });
  });
});

describe("parseGoldenMatch", () => {
  it("returns each mode in canonical form", () => {
    expect(parseGoldenMatch({ mode: "exact" })).toEqual({ mode: "exact" });
    expect(parseGoldenMatch({ mode: "exact", fields: ["prediction", "prediction"] })).toEqual({
      mode: "exact",
      fields: ["prediction"],
    });
    expect(parseGoldenMatch({ mode: "tolerance", relative: 0.1, absolute: 0 })).toEqual({
      mode: "tolerance",
      relative: 0.1,
      absolute: 0,
    });
    const schema = { type: "object", required: ["prediction"] };
    expect(parseGoldenMatch({ mode: "schema", schema })).toEqual({ mode: "schema", schema });
  });

  it("accepts the default match", () => {
    expect(parseGoldenMatch(DEFAULT_GOLDEN_MATCH)).toEqual(DEFAULT_GOLDEN_MATCH);
  });

  it("names the field of each problem under the given path", () => {
    expect(thrown(() => parseGoldenMatch({ mode: "tolerance", relative: -1 }, "/match")).path).toBe(
      "/match/relative",
    );
    expect(thrown(() => parseGoldenMatch({}, "/match")).path).toBe("/match/mode");
    expect(thrown(() => parseGoldenMatch({ mode: "fuzzy" }, "/match")).path).toBe("/match/mode");
    expect(thrown(() => parseGoldenMatch([], "/cases/2/match")).path).toBe("/cases/2/match");
    expect(thrown(() => parseGoldenMatch(null)).path).toBe("");
    expect(thrown(() => parseGoldenMatch({ mode: "exact", fields: ["a", ""] })).path).toBe(
      "/fields/1",
    );
    expect(thrown(() => parseGoldenMatch({ mode: "exact", fields: "a" })).path).toBe("/fields");
    expect(thrown(() => parseGoldenMatch({ mode: "exact", fields: [] })).path).toBe("/fields");
    expect(thrown(() => parseGoldenMatch({ mode: "schema", schema: [] })).path).toBe("/schema");
  });

  it("refuses numbers that are not finite and non-negative", () => {
    for (const bad of [-0.01, Number.NaN, Number.POSITIVE_INFINITY, "0.1", null, true]) {
      const err = thrown(() => parseGoldenMatch({ mode: "tolerance", probability: bad }));
      expect(err.path).toBe("/probability");
      expect(err.message).toContain("finite number >= 0");
    }
  });

  it("refuses settings of another mode, so a typo is not silently ignored", () => {
    const err = thrown(() => parseGoldenMatch({ mode: "exact", relative: 0.1 }, "/match"));
    expect(err.path).toBe("/match/relative");
    expect(thrown(() => parseGoldenMatch({ mode: "tolerance", relativ: 0.1 })).path).toBe(
      "/relativ",
    );
    expect(thrown(() => parseGoldenMatch({ mode: "tolerance", "a/b": 1 })).path).toBe("/a~1b");
  });

  it("refuses a schema Ajv cannot compile", () => {
    const err = thrown(() =>
      parseGoldenMatch({ mode: "schema", schema: { type: "nonsense" } }, "/match"),
    );
    expect(err.path).toBe("/match/schema");
    expect(err.message).toContain("is not a JSON Schema that can be compiled");
    // Valid against the meta-schema, yet it cannot compile: the reference goes nowhere.
    const ref = thrown(() => parseGoldenMatch({ mode: "schema", schema: { $ref: "#/nowhere" } }));
    expect(ref.path).toBe("/schema");
  });

  it("lists every problem and is a 400 the server already maps", () => {
    const err = thrown(() =>
      parseGoldenMatch({ mode: "tolerance", relative: -1, absolute: "x", fields: [3] }, "/m"),
    );
    expect(err.problems.map((p) => p.path)).toEqual(["/m/relative", "/m/absolute", "/m/fields/0"]);
    expect(err).toBeInstanceOf(InvalidInputError);
    expect(err.code).toBe("invalid_body");
    expect(err.status).toBe(400);
  });
});

describe("matchAnswer: tolerance", () => {
  const tolerance = (settings: Omit<Extract<GoldenMatch, { mode: "tolerance" }>, "mode">) =>
    ({ mode: "tolerance", ...settings }) as const;

  it("says for a person what was expected and what came back", () => {
    const outcome = matchAnswer(
      { prediction: 42.5 },
      answer({ prediction: 47.1 }),
      DEFAULT_GOLDEN_MATCH,
    );
    expect(outcome).toEqual({
      passed: false,
      failures: [
        {
          field: "prediction",
          expected: 42.5,
          actual: 47.1,
          message: "prediction: expected 42.5 ±2.125, got 47.1",
        },
      ],
    });
  });

  it("passes a number inside the relative band and fails one just outside", () => {
    // 5 % of 42.5 is 2.125: 44.625 is on the edge.
    expect(
      matchAnswer({ prediction: 42.5 }, answer({ prediction: 44.6 }), DEFAULT_GOLDEN_MATCH),
    ).toMatchObject({ passed: true });
    expect(
      matchAnswer({ prediction: 42.5 }, answer({ prediction: 40.4 }), DEFAULT_GOLDEN_MATCH),
    ).toMatchObject({ passed: true });
    expect(
      matchAnswer({ prediction: 42.5 }, answer({ prediction: 44.63 }), DEFAULT_GOLDEN_MATCH),
    ).toMatchObject({ passed: false });
  });

  it("uses the wider of the absolute and relative bands", () => {
    const m = tolerance({ absolute: 1, relative: 0.01 });
    // Near 0 the absolute band (1) is the wider one; at 1000 the relative one (10).
    expect(matchAnswer({ prediction: 0 }, { prediction: 0.9 }, m).passed).toBe(true);
    expect(matchAnswer({ prediction: 0 }, { prediction: -1.1 }, m).passed).toBe(false);
    expect(matchAnswer({ prediction: 1000 }, { prediction: 1009 }, m).passed).toBe(true);
    expect(matchAnswer({ prediction: 1000 }, { prediction: 1011 }, m).passed).toBe(false);
    expect(matchAnswer({ prediction: -1000 }, { prediction: -991 }, m).passed).toBe(true);
  });

  it("is exact on numbers when no band is given", () => {
    const m = tolerance({});
    expect(matchAnswer({ prediction: 3 }, { prediction: 3 }, m).passed).toBe(true);
    const out = matchAnswer({ prediction: 3 }, { prediction: 3.001 }, m);
    expect(out.failures[0]?.message).toBe("prediction: expected 3, got 3.001");
  });

  it("matches a number within the band exactly as integer arithmetic says", () => {
    // e and a integers, relative = k %: |a - e| <= max(abs, k/100 |e|) <=> 100|a-e| <= max(100 abs, k|e|).
    fc.assert(
      fc.property(
        fc.integer({ min: -100_000, max: 100_000 }),
        fc.integer({ min: -100_000, max: 100_000 }),
        fc.integer({ min: 0, max: 50 }),
        fc.integer({ min: 0, max: 2_000 }),
        (e, a, k, abs) => {
          const expected = 100 * Math.abs(a - e) <= Math.max(100 * abs, k * Math.abs(e));
          const m = tolerance({ relative: k / 100, absolute: abs });
          expect(matchAnswer({ prediction: e }, { prediction: a }, m).passed).toBe(expected);
        },
      ),
    );
  });

  it("gives each class of probabilities its own ±probability band", () => {
    const expected = { prediction: "yes", probabilities: { yes: 0.81, no: 0.19 } };
    // 0.81 - 0.76 is 0.050000000000000044 in binary, yet exactly ±0.05 on paper.
    const onEdge = answer({ prediction: "yes", probabilities: { yes: 0.76, no: 0.24 } });
    expect(matchAnswer(expected, onEdge, DEFAULT_GOLDEN_MATCH)).toEqual({
      passed: true,
      failures: [],
    });
    const moved = answer({ prediction: "yes", probabilities: { yes: 0.87, no: 0.13 } });
    const out = matchAnswer(expected, moved, DEFAULT_GOLDEN_MATCH);
    expect(out.failures.map((f) => f.message)).toEqual([
      "probabilities.yes: expected 0.81 ±0.05, got 0.87",
      "probabilities.no: expected 0.19 ±0.05, got 0.13",
    ]);
    // The band is absolute for probabilities, never relative to the class's value.
    const small = { probabilities: { rare: 0.01 } };
    expect(matchAnswer(small, { probabilities: { rare: 0.05 } }, DEFAULT_GOLDEN_MATCH).passed).toBe(
      true,
    );
  });

  it("fails a class missing from the answer and ignores extra classes", () => {
    const expected = { probabilities: { yes: 0.5, no: 0.5 } };
    const missing = matchAnswer(expected, { probabilities: { yes: 0.5 } }, DEFAULT_GOLDEN_MATCH);
    expect(missing.failures).toEqual([
      {
        field: "probabilities.no",
        expected: 0.5,
        actual: undefined,
        message: "probabilities.no: expected 0.5 ±0.05, got nothing",
      },
    ]);
    const extra = { probabilities: { yes: 0.5, no: 0.45, maybe: 0.05 } };
    expect(matchAnswer(expected, extra, DEFAULT_GOLDEN_MATCH).passed).toBe(true);
    const notAnObject = matchAnswer(expected, { probabilities: 0.5 }, DEFAULT_GOLDEN_MATCH);
    expect(notAnObject.failures.map((f) => f.field)).toEqual(["probabilities"]);
  });

  it("compares strings and booleans exactly, whatever the band", () => {
    const m = tolerance({ relative: 1, absolute: 100 });
    const out = matchAnswer({ prediction: "yes" }, { prediction: "Yes" }, m);
    expect(out.failures[0]?.message).toBe('prediction: expected "yes", got "Yes"');
    expect(matchAnswer({ flag: true }, { flag: 1 }, m).passed).toBe(false);
    expect(matchAnswer({ prediction: 42 }, { prediction: "42" }, m).passed).toBe(false);
    expect(matchAnswer({ x: null }, { x: 0 }, m).passed).toBe(false);
  });

  it("fails a field missing from the answer", () => {
    const out = matchAnswer({ prediction: "yes" }, answer({}), DEFAULT_GOLDEN_MATCH);
    expect(out.failures).toEqual([
      {
        field: "prediction",
        expected: "yes",
        actual: undefined,
        message: 'prediction: expected "yes", got nothing',
      },
    ]);
  });

  it("walks nested objects and arrays with the same rules", () => {
    const m = tolerance({ relative: 0.1 });
    const expected = { explanation: { base: 10, contributions: { age: 2, plan: -1 } }, v: [1, 2] };
    const close = {
      explanation: { base: 10.5, contributions: { age: 2.1, plan: -1, x: 9 } },
      v: [1.05, 2],
    };
    expect(matchAnswer(expected, close, m).passed).toBe(true);
    const far = { explanation: { base: 12, contributions: { age: 2 } }, v: [1, 2, 3] };
    expect(matchAnswer(expected, far, m).failures.map((f) => f.message)).toEqual([
      "explanation.base: expected 10 ±1, got 12",
      "explanation.contributions.plan: expected -1 ±0.1, got nothing",
      "v: expected 2 items, got 3",
    ]);
    expect(matchAnswer({ v: [1] }, { v: [1.3] }, m).failures[0]?.field).toBe("v[0]");
  });

  it("checks only the listed fields, and fails a listed field the case does not have", () => {
    const expected = { prediction: "yes", probabilities: { yes: 0.9 } };
    const actual = { prediction: "yes", probabilities: { yes: 0.1 } };
    expect(matchAnswer(expected, actual, tolerance({ fields: ["prediction"] })).passed).toBe(true);
    const out = matchAnswer(expected, actual, tolerance({ fields: ["score"] }));
    expect(out.failures[0]?.field).toBe("score");
    expect(out.passed).toBe(false);
  });

  it("fails a case with nothing to check, which could otherwise never fail", () => {
    expect(matchAnswer({}, answer({ prediction: 1 }), DEFAULT_GOLDEN_MATCH).passed).toBe(false);
  });

  it("reads own fields only: __proto__ and constructor are data", () => {
    const expected = JSON.parse('{"probabilities": {"__proto__": 0.5, "constructor": 0.5}}');
    const out = matchAnswer(expected, { probabilities: {} }, DEFAULT_GOLDEN_MATCH);
    expect(out.failures.map((f) => f.field)).toEqual([
      "probabilities.__proto__",
      "probabilities.constructor",
    ]);
  });
});

describe("matchAnswer: exact", () => {
  const exact: GoldenMatch = { mode: "exact" };

  it("passes deep-equal fields and ignores fields the case does not name", () => {
    const expected = { prediction: "yes", probabilities: { yes: 0.81, no: 0.19 } };
    const actual = answer({ prediction: "yes", probabilities: { no: 0.19, yes: 0.81 } });
    expect(matchAnswer(expected, actual, exact)).toEqual({ passed: true, failures: [] });
  });

  it("compares numbers as Object.is, except that -0 equals +0", () => {
    expect(matchAnswer({ p: 0 }, { p: -0 }, exact).passed).toBe(true);
    expect(matchAnswer({ p: Number.NaN }, { p: Number.NaN }, exact).passed).toBe(true);
    expect(matchAnswer({ p: 0.3 }, { p: 0.1 + 0.2 }, exact).passed).toBe(false);
    expect(matchAnswer({ p: 42.5 }, { p: 47.1 }, exact).failures[0]?.message).toBe(
      "p: expected 42.5, got 47.1",
    );
  });

  it("fails an extra key inside a nested object (deep equality)", () => {
    const out = matchAnswer(
      { probabilities: { yes: 1 } },
      { probabilities: { yes: 1, no: 0 } },
      exact,
    );
    expect(out.failures).toEqual([
      {
        field: "probabilities.no",
        expected: undefined,
        actual: 0,
        message: "probabilities.no: expected nothing, got 0",
      },
    ]);
  });

  it("matches any JSON answer against itself", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue(), { minKeys: 1 }), (doc) => {
        const copy = structuredClone(doc);
        expect(matchAnswer(doc, copy, exact)).toEqual({ passed: true, failures: [] });
        expect(matchAnswer(doc, copy, DEFAULT_GOLDEN_MATCH).passed).toBe(true);
      }),
    );
  });
});

describe("matchAnswer: schema", () => {
  const match = parseGoldenMatch({
    mode: "schema",
    schema: {
      type: "object",
      required: ["prediction", "probabilities"],
      properties: {
        prediction: { type: "string", enum: ["yes", "no"] },
        probabilities: { type: "object" },
      },
    },
  });

  it("passes an answer the schema accepts", () => {
    const actual = answer({ prediction: "no", probabilities: { yes: 0.2, no: 0.8 } });
    expect(matchAnswer({}, actual, match)).toEqual({ passed: true, failures: [] });
  });

  it("reports Ajv's errors by instance path, naming a missing field itself", () => {
    const out = matchAnswer({}, answer({ prediction: "maybe" }), match);
    expect(out.passed).toBe(false);
    expect(out.failures.map((f) => f.field)).toEqual(["/probabilities", "/prediction"]);
    expect(out.failures.map((f) => f.message)).toEqual([
      "/probabilities: is required, got nothing",
      '/prediction: must be one of "yes", "no", got "maybe"',
    ]);
    expect(out.failures[1]?.actual).toBe("maybe");
  });
});

describe("expectedOf", () => {
  it("keeps the prediction and probabilities, nothing that changes from call to call", () => {
    const live = answer({
      prediction: "yes",
      probabilities: { yes: 0.81, no: 0.19 },
      explanation: { scale: "log-odds", base: 0.1, contributions: {} },
      answered_by: { step: "model" },
    });
    expect(expectedOf(live)).toEqual({ prediction: "yes", probabilities: { yes: 0.81, no: 0.19 } });
    expect(expectedOf(answer({ prediction: 42.5 }))).toEqual({ prediction: 42.5 });
  });

  it("copies the probabilities, so the stored case does not follow the live object", () => {
    const probabilities = { yes: 0.5, no: 0.5 };
    const captured = expectedOf({ prediction: "yes", probabilities });
    probabilities.yes = 0;
    expect(captured.probabilities).toEqual({ yes: 0.5, no: 0.5 });
  });

  it("reads a one-record batch answer as that record", () => {
    const batch = answer({ predictions: [{ prediction: 3, explanation: {} }] });
    expect(expectedOf(batch)).toEqual({ prediction: 3 });
  });

  it("captures what a later match of the same answer passes", () => {
    const live = answer({ prediction: "no", probabilities: { yes: 0.3, no: 0.7 } });
    expect(matchAnswer(expectedOf(live), live, DEFAULT_GOLDEN_MATCH).passed).toBe(true);
    expect(matchAnswer(expectedOf(live), live, { mode: "exact" }).passed).toBe(true);
  });
});
