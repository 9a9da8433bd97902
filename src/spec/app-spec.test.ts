import { Ajv2020 } from "ajv/dist/2020.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_STEPS,
  DEFAULT_STEPS_FILLED,
  EVERY_KIND_STEPS,
  EVERY_POLICY,
  EVERY_WEBHOOK_FIELD,
  INVALID_SPECS,
  VALID_SPECS,
} from "./app-spec.fixtures.ts";
import {
  AppSpecError,
  appSpecJsonSchema,
  checkAppSpec,
  defaultAppSpec,
  liftIntoSteps,
  parseAppSpec,
  pipelineOf,
  stepIdAt,
  toStepsForm,
} from "./app-spec.ts";
import { DEFAULT_POLICIES } from "./policies.ts";
import { DEFAULT_WEBHOOK } from "./webhook.ts";

// A fresh Ajv, as an editor or `ballast apply` would load the published document (with a
// `uri` format check, as editors that check formats have).
const schemaAccepts = new Ajv2020({
  strict: false,
  allErrors: true,
  formats: { uri: { type: "string", validate: (s: string) => URL.canParse(s) } },
}).compile(JSON.parse(JSON.stringify(appSpecJsonSchema)));

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
      expect(model?.with).toMatchObject({ name: spec.model.name, version: spec.model.version });
      // Policies and the webhook are always complete, in the documented order.
      expect(Object.keys(spec.policies)).toEqual(Object.keys(DEFAULT_POLICIES));
      for (const [group, fields] of Object.entries(spec.policies)) {
        expect(Object.keys(fields)).toEqual(
          Object.keys(DEFAULT_POLICIES[group as keyof typeof DEFAULT_POLICIES]),
        );
      }
      expect(Object.keys(spec.webhook).filter((k) => k !== "callbackUrl")).toEqual(
        Object.keys(DEFAULT_WEBHOOK),
      );
      // Normalizing is idempotent, and the designer's steps-only form parses to the same spec.
      expect(parseAppSpec(structuredClone(spec))).toEqual(spec);
      expect(schemaAccepts(JSON.parse(JSON.stringify(spec)))).toBe(true);
      const stepsForm = toStepsForm(spec);
      expect(stepsForm).not.toHaveProperty("model");
      expect(stepsForm).not.toHaveProperty("limits");
      expect(stepsForm.policies).toEqual(spec.policies);
      expect(stepsForm.webhook).toEqual(spec.webhook);
      expect(parseAppSpec(stepsForm)).toEqual(spec);
      // The pipeline runs input first and output last, through every step.
      const chain = pipelineOf(spec);
      expect(chain.map((s) => s.id).sort()).toEqual(spec.steps.map((s) => s.id).sort());
      expect(chain[0]?.kind).toBe("input");
      expect(chain.at(-1)?.kind).toBe("output");
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
      {
        id: "model",
        kind: "model",
        after: ["validate"],
        with: { name: "churn", version: 3, timeoutMs: 2000 },
      },
      { id: "output", kind: "output", after: ["model"] },
    ]);
    expect(defaultAppSpec("churn", { name: "churn", version: 1 }).steps).toEqual(
      DEFAULT_STEPS_FILLED,
    );
  });

  it("gives a spec written before policies the default policies and a webhook that is off", () => {
    const spec = parseAppSpec(VALID_SPECS["no steps, every field"]);
    expect(spec.policies).toEqual(DEFAULT_POLICIES);
    expect(spec.webhook).toEqual(DEFAULT_WEBHOOK);
    expect(spec.webhook.enabled).toBe(false);
    expect(spec.webhook).not.toHaveProperty("callbackUrl");
    expect(parseAppSpec(VALID_SPECS["empty policies and webhook"])).toMatchObject({
      policies: DEFAULT_POLICIES,
      webhook: DEFAULT_WEBHOOK,
    });
  });

  it("fills the policies and webhook fields a spec leaves out, keeping those it gives", () => {
    const spec = parseAppSpec(VALID_SPECS["no steps, some policies and a webhook"]);
    expect(spec.policies).toEqual({
      ...DEFAULT_POLICIES,
      concurrency: { ...DEFAULT_POLICIES.concurrency, maxInFlight: 8 },
      cache: { ...DEFAULT_POLICIES.cache, enabled: true },
    });
    expect(spec.webhook).toEqual({
      ...DEFAULT_WEBHOOK,
      enabled: true,
      rename: { months: "tenure" },
    });
    const every = parseAppSpec(VALID_SPECS["every policy and webhook field"]);
    expect(every.policies).toEqual(EVERY_POLICY);
    expect(every.webhook).toEqual(EVERY_WEBHOOK_FIELD);
    // A policy is not a step: the steps form keeps it at the top, untouched.
    expect(toStepsForm(every)).toMatchObject({
      policies: EVERY_POLICY,
      webhook: EVERY_WEBHOOK_FIELD,
    });
    expect(liftIntoSteps(VALID_SPECS["no steps, some policies and a webhook"] ?? {})).toMatchObject(
      { policies: { concurrency: { maxInFlight: 8 } }, webhook: { enabled: true } },
    );
  });

  it("reads every step kind with its settings, defaults filled in, in running order", () => {
    const spec = parseAppSpec(VALID_SPECS["every step kind"]);
    // As written, and the settings it leaves out filled with their defaults.
    expect(spec.steps).toMatchObject(EVERY_KIND_STEPS);
    expect(spec.steps[6]?.with).toMatchObject({ timeoutMs: 1000, idempotent: false });
    expect(pipelineOf(spec).map((s) => [s.id, s.kind])).toEqual(
      EVERY_KIND_STEPS.map((s) => [s.id, s.kind]),
    );
    const shuffled = parseAppSpec(VALID_SPECS["three http steps, a boolean fallback"]);
    const chain = pipelineOf(shuffled);
    expect(chain.map((s) => s.id)).toEqual([
      "input",
      "validate",
      "model",
      "a",
      "b",
      "c",
      "f",
      "output",
    ]);
    const http = chain.find((s) => s.kind === "http");
    expect(http?.kind === "http" && http.settings).toEqual({
      url: "http://localhost:1/a",
      timeoutMs: 1000,
      idempotent: false,
      maxRetries: 2,
      maxConcurrent: 32,
      breakerConsecutiveFailures: 5,
      breakerErrorRate: 0.5,
      breakerWindowSeconds: 30,
      breakerMinRequests: 20,
      breakerHalfOpenAfterSeconds: 10,
    });
    const fallback = chain.find((s) => s.kind === "fallback");
    expect(fallback?.kind === "fallback" && fallback.settings.prediction).toBe(false);
    const number = parseAppSpec(
      VALID_SPECS["a fallback right after the model, a number for its prediction"],
    );
    expect(pipelineOf(number).map((s) => s.kind)).toEqual([
      "input",
      "validate",
      "model",
      "fallback",
      "output",
    ]);
    expect(number.steps[3]?.with).toEqual({ prediction: 0.5 });
  });

  it("derives the top-level fields from steps, filling the kinds' defaults", () => {
    const spec = parseAppSpec(VALID_SPECS["only steps, own ids, any order, defaults left out"]);
    expect(spec.model).toEqual({ name: "churn", version: 2 });
    expect(spec.contract).toEqual({ unknownCategories: "bucket" });
    expect(spec.limits).toEqual({ maxRows: 1000 });
    expect(spec.steps.map((s) => s.id)).toEqual(["answer", "score", "request", "check"]);
    expect(spec.steps[3]?.with).toEqual({ unknownCategories: "bucket", maxRows: 1000 });
    expect(spec.steps[1]?.with).toEqual({ name: "churn", version: 2, timeoutMs: 2000 });
  });

  it("takes each setting from wherever it is given", () => {
    const spec = parseAppSpec(VALID_SPECS["both, each setting in one place"]);
    expect(spec.limits.maxRows).toBe(20);
    expect(spec.contract.unknownCategories).toBe("reject");
    expect(spec.steps[2]?.with).toEqual({ name: "churn", version: 1, timeoutMs: 2000 });
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
  const ids = ["input", "session", "validate", "model", "cascade", "http", "fallback", "output"];
  const step = fc.record(
    {
      id: fc.constantFrom(...ids, "extra", "1x"),
      kind: fc.constantFrom(...ids, "cache"),
      after: fc.oneof(
        fc.uniqueArray(fc.constantFrom(...ids, "ghost"), { maxLength: 2 }),
        fc.constant("input"),
      ),
      with: fc.oneof(
        fc.record(
          {
            name: fc.constantFrom("churn", ""),
            version: fc.constantFrom(1, 0, 1.5),
            maxRows: fc.constantFrom(1, 0, 100001),
            unknownCategories: fc.constantFrom("bucket", "reject", "drop"),
            timeoutMs: fc.constantFrom(1, 0, 2000, "5"),
            url: fc.constantFrom("http://a.test/x", "https://b.test", "ftp://c.test", "d.test", ""),
            prediction: fc.constantFrom("no", 1, true, null, [], ""),
            minConfidence: fc.constantFrom(0, 0.5, 1, 2),
            ttlSeconds: fc.constantFrom(1, 0),
          },
          { requiredKeys: [] },
        ),
        fc.constant(null),
      ),
    },
    { requiredKeys: ["id", "kind"] },
  );
  const policies = fc.dictionary(
    fc.constantFrom("rateLimit", "concurrency", "timeouts", "cache", "idempotency", "workers", "x"),
    fc.oneof(
      fc.dictionary(
        fc.constantFrom(
          "perKeyPerSecond",
          "maxInFlight",
          "maxQueue",
          "requestMs",
          "enabled",
          "ttlSeconds",
          "threads",
          "nope",
        ),
        fc.constantFrom(0, 1, 8, 2.5, -1, true, "8", 10_000_000),
      ),
      fc.constant(null),
    ),
  );
  const webhook = fc.record(
    {
      enabled: fc.constantFrom(true, false, "yes"),
      callbackUrl: fc.constantFrom("https://h.test/cb", "http://127.0.0.1:9/x", "ftp://h", "h"),
      maxAttempts: fc.constantFrom(1, 0, 5, 101),
      rename: fc.constantFrom({}, { a: "b" }, { a: "" }, { a: 1 }),
      defaults: fc.constantFrom({}, { a: 1, b: null, c: "x" }, { a: [] }),
      extra: fc.constant(1),
    },
    { requiredKeys: [] },
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
        fc.constant(EVERY_KIND_STEPS),
        fc.shuffledSubarray(EVERY_KIND_STEPS, { minLength: 7 }),
      ),
      policies,
      webhook,
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
