import { Ajv2020 } from "ajv/dist/2020.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEFAULT_STEPS, INVALID_SPECS, VALID_SPECS } from "./app-spec.fixtures.ts";
import {
  AppSpecError,
  appSpecJsonSchema,
  checkAppSpec,
  defaultAppSpec,
  liftIntoSteps,
  parseAppSpec,
  stepIdAt,
  toStepsForm,
} from "./app-spec.ts";

// A fresh Ajv, as an editor or `ballast apply` would load the published document.
const schemaAccepts = new Ajv2020({ strict: false, allErrors: true }).compile(
  JSON.parse(JSON.stringify(appSpecJsonSchema)),
);

const head = { apiVersion: "ballast/v1", kind: "App", name: "churn" } as const;

describe("valid specs", () => {
  for (const [name, document] of Object.entries(VALID_SPECS)) {
    it(`${name}: passes the published schema and parseAppSpec`, () => {
      expect(schemaAccepts(document), JSON.stringify(schemaAccepts.errors)).toBe(true);
      const spec = parseAppSpec(structuredClone(document));
      // Both forms, consistent: the top-level fields are the steps' settings.
      const validate = spec.steps.find((s) => s.kind === "validate");
      const model = spec.steps.find((s) => s.kind === "model");
      expect(validate?.with).toEqual({
        unknownCategories: spec.contract.unknownCategories,
        maxRows: spec.limits.maxRows,
      });
      expect(model?.with).toEqual({ name: spec.model.name, version: spec.model.version });
      // Normalizing is idempotent, and the designer's steps-only form parses to the same spec.
      expect(parseAppSpec(structuredClone(spec))).toEqual(spec);
      expect(schemaAccepts(JSON.parse(JSON.stringify(spec)))).toBe(true);
      const stepsForm = toStepsForm(spec);
      expect(stepsForm).not.toHaveProperty("model");
      expect(stepsForm).not.toHaveProperty("limits");
      expect(parseAppSpec(stepsForm)).toEqual(spec);
    });
  }

  it("derives the default pipeline from a spec written before steps", () => {
    const spec = parseAppSpec(VALID_SPECS["no steps, every field"]);
    expect(spec.steps).toEqual([
      { id: "input", kind: "input" },
      {
        id: "validate",
        kind: "validate",
        after: ["input"],
        with: { unknownCategories: "reject", maxRows: 50 },
      },
      { id: "model", kind: "model", after: ["validate"], with: { name: "churn", version: 3 } },
      { id: "output", kind: "output", after: ["model"] },
    ]);
    expect(defaultAppSpec("churn", { name: "churn", version: 1 }).steps).toEqual(DEFAULT_STEPS);
  });

  it("derives the top-level fields from steps, filling the kinds' defaults", () => {
    const spec = parseAppSpec(VALID_SPECS["only steps, own ids, any order, defaults left out"]);
    expect(spec.model).toEqual({ name: "churn", version: 2 });
    expect(spec.contract).toEqual({ unknownCategories: "bucket" });
    expect(spec.limits).toEqual({ maxRows: 1000 });
    expect(spec.steps.map((s) => s.id)).toEqual(["answer", "score", "request", "check"]);
    expect(spec.steps[3]?.with).toEqual({ unknownCategories: "bucket", maxRows: 1000 });
  });

  it("takes each setting from wherever it is given", () => {
    const spec = parseAppSpec(VALID_SPECS["both, each setting in one place"]);
    expect(spec.limits.maxRows).toBe(20);
    expect(spec.contract.unknownCategories).toBe("reject");
    expect(spec.steps[2]?.with).toEqual({ name: "churn", version: 1 });
  });
});

describe("invalid specs", () => {
  for (const [name, c] of Object.entries(INVALID_SPECS)) {
    it(`${name}: refused by parseAppSpec${c.schemaRefuses ? " and the schema" : ""}, naming ${c.path}`, () => {
      const checked = checkAppSpec(structuredClone(c.document));
      expect(checked.ok).toBe(false);
      if (checked.ok) return;
      const problem = checked.problems.find((p) => p.path === c.path);
      expect(problem, JSON.stringify(checked.problems)).toBeDefined();
      if (c.stepId !== undefined) expect(problem?.stepId).toBe(c.stepId);
      if (c.message) expect(problem?.message).toMatch(c.message);
      expect(() => parseAppSpec(structuredClone(c.document))).toThrow(AppSpecError);
      // JSON Schema cannot say every graph rule; those it can say, it says.
      expect(schemaAccepts(structuredClone(c.document))).toBe(!c.schemaRefuses);
    });
  }

  it("reports every problem of a graph at once, in document order", () => {
    const checked = checkAppSpec({
      ...head,
      steps: [
        { id: "input", kind: "input" },
        { id: "validate", kind: "validate", after: ["input"], with: { maxRows: 0 } },
        { id: "model", kind: "model", after: ["validate"] },
        { id: "model2", kind: "model", with: { name: "x", version: 1 } },
        { id: "output", kind: "output", after: ["model"] },
      ],
    });
    expect(checked.ok).toBe(false);
    if (checked.ok) return;
    expect(checked.problems.map((p) => [p.stepId, p.path])).toEqual([
      ["validate", "/steps/1/with/maxRows"],
      ["model", "/steps/2/with/name"],
      ["model", "/steps/2/with/version"],
      ["model2", "/steps/3/kind"],
      ["model2", "/steps/3/after"],
      ["model2", "/steps/3"],
    ]);
  });

  it("throws AppSpecError whose details are path and message only", () => {
    try {
      parseAppSpec(INVALID_SPECS["a second model step"]?.document);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(AppSpecError);
      const details = (error as AppSpecError).details;
      expect(details).toContainEqual({
        path: "/steps/3/kind",
        message: "the runtime runs one model step today",
      });
      for (const d of details) expect(Object.keys(d).sort()).toEqual(["message", "path"]);
      expect((error as AppSpecError).message).toMatch(/^The app spec is invalid: \/steps\/3\/kind/);
    }
  });
});

describe("liftIntoSteps", () => {
  it("moves mirrored top-level settings into their steps, keeping what disagrees", () => {
    const document = {
      ...head,
      model: { name: "churn", version: 1 },
      contract: { unknownCategories: "reject" },
      limits: { maxRows: 5 },
      steps: [
        { id: "input", kind: "input" },
        { id: "validate", kind: "validate", after: ["input"], with: { maxRows: 1000 } },
        { id: "model", kind: "model", after: ["validate"] },
        { id: "output", kind: "output", after: ["model"] },
      ],
    };
    const lifted = liftIntoSteps(document);
    expect(lifted).toEqual({
      ...head,
      limits: { maxRows: 5 },
      steps: [
        { id: "input", kind: "input" },
        {
          id: "validate",
          kind: "validate",
          after: ["input"],
          with: { maxRows: 1000, unknownCategories: "reject" },
        },
        { id: "model", kind: "model", after: ["validate"], with: { name: "churn", version: 1 } },
        { id: "output", kind: "output", after: ["model"] },
      ],
    });
    // The input is left as it was.
    expect(document.steps[2]).not.toHaveProperty("with");
    expect(document.contract).toEqual({ unknownCategories: "reject" });
  });

  it("gives a spec without steps the default pipeline, invalid values and all", () => {
    const lifted = liftIntoSteps({ ...head, model: { name: "churn", version: 0 }, extra: 1 });
    expect(lifted).toEqual({
      ...head,
      extra: 1,
      steps: [
        { id: "input", kind: "input" },
        { id: "validate", kind: "validate", after: ["input"] },
        { id: "model", kind: "model", after: ["validate"], with: { name: "churn", version: 0 } },
        { id: "output", kind: "output", after: ["model"] },
      ],
    });
    expect(liftIntoSteps({ ...head, steps: "x" })).toEqual({ ...head, steps: "x" });
  });
});

describe("stepIdAt", () => {
  it("puts a path back on the step it is about", () => {
    const document = VALID_SPECS["only steps, own ids, any order, defaults left out"];
    expect(stepIdAt(document, "/spec/steps/1/with/version")).toBe("score");
    expect(stepIdAt(document, "/steps/3")).toBe("check");
    expect(stepIdAt(document, "/spec/model")).toBe("score");
    expect(stepIdAt(document, "/limits/maxRows")).toBe("check");
    expect(stepIdAt(document, "/contract")).toBe("check");
    expect(stepIdAt(document, "/spec/name")).toBeUndefined();
    expect(stepIdAt(document, "/steps/9")).toBeUndefined();
    // A spec without steps: the default pipeline's ids.
    expect(stepIdAt(VALID_SPECS["no steps, defaults"], "/spec/model")).toBe("model");
  });
});

describe("the published schema and parseAppSpec agree", () => {
  const step = fc.record(
    {
      id: fc.constantFrom("input", "validate", "model", "output", "extra", "1x"),
      kind: fc.constantFrom("input", "validate", "model", "output", "cache"),
      after: fc.oneof(
        fc.uniqueArray(fc.constantFrom("input", "validate", "model", "output", "ghost"), {
          maxLength: 2,
        }),
        fc.constant("input"),
      ),
      with: fc.oneof(
        fc.record(
          {
            name: fc.constantFrom("churn", ""),
            version: fc.constantFrom(1, 0, 1.5),
            maxRows: fc.constantFrom(1, 0, 100001),
            unknownCategories: fc.constantFrom("bucket", "reject", "drop"),
          },
          { requiredKeys: [] },
        ),
        fc.constant(null),
      ),
    },
    { requiredKeys: ["id", "kind"] },
  );
  const document = fc.record(
    {
      model: fc.constantFrom({ name: "churn", version: 1 }, { name: "churn", version: 2 }),
      limits: fc.constantFrom({ maxRows: 1000 }, { maxRows: 7 }, {}),
      steps: fc.oneof(
        fc.array(step, { maxLength: 6 }),
        // Mostly-right graphs, so valid documents are generated too.
        fc.constant(DEFAULT_STEPS),
        fc.shuffledSubarray(DEFAULT_STEPS, { minLength: 3 }),
      ),
    },
    { requiredKeys: [] },
  );

  it("answers any JSON with a spec or problems, never an exception", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.jsonValue(),
          fc.jsonValue().map((steps) => ({ ...head, steps })),
          fc
            .array(fc.dictionary(fc.constantFrom("id", "kind", "after", "with"), fc.jsonValue()))
            .map((steps) => ({ ...head, steps })),
        ),
        (doc) => {
          const checked = checkAppSpec(doc);
          expect(checked.ok || checked.problems.length > 0).toBe(true);
          expect(() =>
            liftIntoSteps(
              typeof doc === "object" && doc !== null && !Array.isArray(doc) ? doc : {},
            ),
          ).not.toThrow();
        },
      ),
      { numRuns: 1000, seed: 7 },
    );
  });

  it("never accepts in parseAppSpec what the schema refuses, nor throws anything else", () => {
    let accepted = 0;
    fc.assert(
      fc.property(document, (doc) => {
        const full = { ...head, ...doc };
        const checked = checkAppSpec(structuredClone(full));
        if (checked.ok) {
          accepted++;
          expect(schemaAccepts(structuredClone(full))).toBe(true);
        } else {
          expect(checked.problems.length).toBeGreaterThan(0);
          for (const p of checked.problems) expect(p.path).toMatch(/^\//);
        }
      }),
      { numRuns: 1500, seed: 42 },
    );
    expect(accepted).toBeGreaterThan(20);
  });
});
