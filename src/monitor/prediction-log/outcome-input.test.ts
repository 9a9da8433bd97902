import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { classLabelOf, MAX_OUTCOMES, type OutcomeTarget, parseOutcomes } from "./outcome-input.ts";

const BINARY: OutcomeTarget = { task: "binary", classes: ["No", "Yes"] };
const MULTI: OutcomeTarget = { task: "multiclass", classes: ["cat", "dog", "bird"] };
const REGRESSION: OutcomeTarget = { task: "regression" };

const problems = (body: unknown, target: OutcomeTarget = BINARY) => {
  const parsed = parseOutcomes(body, target);
  return parsed.ok ? [] : parsed.problems;
};

describe("parseOutcomes", () => {
  it("reads one actual, one event, or a batch, with row 0 by default", () => {
    expect(parseOutcomes({ request_id: "r-1", actual: "Yes" }, BINARY)).toEqual({
      ok: true,
      outcomes: [
        {
          requestId: "r-1",
          row: 0,
          kind: "actual",
          event: "",
          actualLabel: "Yes",
          actualValue: null,
          value: null,
        },
      ],
    });
    const batch = parseOutcomes(
      {
        outcomes: [
          { request_id: "a", event: "converted", value: 12.5, row: 2 },
          { request_id: "b", event: "churned" },
          { request_id: "c", actual: 41.5 },
        ],
      },
      REGRESSION,
    );
    expect(batch.ok && batch.outcomes).toEqual([
      {
        requestId: "a",
        row: 2,
        kind: "event",
        event: "converted",
        actualLabel: null,
        actualValue: null,
        value: 12.5,
      },
      {
        requestId: "b",
        row: 0,
        kind: "event",
        event: "churned",
        actualLabel: null,
        actualValue: null,
        value: null,
      },
      {
        requestId: "c",
        row: 0,
        kind: "actual",
        event: "",
        actualLabel: null,
        actualValue: 41.5,
        value: null,
      },
    ]);
  });

  it("accepts booleans and numbers naming a yes/no model's classes, as predict reads yes/no", () => {
    expect(classLabelOf(true, ["No", "Yes"])).toBe("Yes");
    expect(classLabelOf(0, ["No", "Yes"])).toBe("No");
    expect(classLabelOf("yes", ["No", "Yes"])).toBe("Yes");
    expect(classLabelOf("TRUE", ["No", "Yes"])).toBe("Yes");
    expect(classLabelOf(3, ["1", "3", "5"])).toBe("3");
    expect(classLabelOf(true, ["cat", "dog", "bird"])).toBeUndefined();
    expect(classLabelOf("maybe", ["No", "Yes"])).toBeUndefined();
  });

  it("names the field of every problem in a batch, and accepts none of it", () => {
    expect(
      problems(
        {
          outcomes: [
            { request_id: "ok", actual: "cat" },
            { request_id: "a", actual: "fish" },
            { request_id: "b c", event: "Bought!" },
            { request_id: "d", actual: "dog", event: "x" },
            { request_id: "e" },
            { request_id: "f", actual: "dog", value: 2 },
            { request_id: "g", event: "x", row: -1, extra: true },
            "junk",
          ],
        },
        MULTI,
      ),
    ).toEqual([
      {
        path: "/outcomes/1/actual",
        message: 'must be one of the model\'s classes: "cat", "dog", "bird"',
      },
      { path: "/outcomes/2/request_id", message: "must be 1-128 letters, digits or ._:-" },
      { path: "/outcomes/2/event", message: "must be 1-64 of a-z, 0-9, _ . -" },
      { path: "/outcomes/3/event", message: "cannot be sent with actual: send two outcomes" },
      { path: "/outcomes/4", message: "must have either actual or event" },
      { path: "/outcomes/5/value", message: "is only accepted with an event" },
      { path: "/outcomes/6/extra", message: "is not an accepted field" },
      { path: "/outcomes/6/row", message: "must be >= 0" },
      { path: "/outcomes/7", message: "must be object" },
    ]);
  });

  it("refuses bodies that are not one outcome or a batch of 1-1000", () => {
    expect(problems([])).toEqual([{ path: "/", message: expect.stringContaining("JSON object") }]);
    expect(problems({ outcomes: [] })).toEqual([
      { path: "/outcomes", message: "must NOT have fewer than 1 items" },
    ]);
    const many = Array.from({ length: MAX_OUTCOMES + 1 }, () => ({
      request_id: "a",
      actual: "No",
    }));
    expect(problems({ outcomes: many })[0]?.path).toBe("/outcomes");
    expect(problems({ outcomes: [{ request_id: "a", actual: "No" }], more: 1 })).toEqual([
      { path: "/more", message: "is not an accepted field" },
    ]);
    expect(problems({ actual: "No" })).toEqual([{ path: "/request_id", message: "is required" }]);
    expect(problems({ request_id: "a", actual: "7" }, REGRESSION)[0]?.path).toBe("/actual");
    expect(
      problems({ request_id: "a", event: "x", value: Number.POSITIVE_INFINITY })[0]?.path,
    ).toBe("/value");
    expect(problems({ request_id: "x".repeat(129), actual: "No" })[0]?.path).toBe("/request_id");
  });

  it("never throws, and either accepts every outcome or names at least one field (property)", () => {
    const field = fc.oneof(
      fc.string({ maxLength: 12 }),
      fc.integer(),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
      fc.constantFrom("No", "Yes", "converted", "r-1"),
    );
    const item = fc.oneof(
      fc.record(
        { request_id: field, actual: field, event: field, value: field, row: field },
        { requiredKeys: [] },
      ),
      fc.dictionary(fc.string({ maxLength: 8 }), field, { maxKeys: 4 }),
      field,
    );
    const body = fc.oneof(
      item,
      fc.record({ outcomes: fc.array(item, { maxLength: 20 }) }),
      fc.array(item),
    );
    fc.assert(
      fc.property(body, fc.constantFrom(BINARY, MULTI, REGRESSION), (b, target) => {
        const parsed = parseOutcomes(b, target);
        if (parsed.ok) {
          const count =
            typeof b === "object" && b !== null && "outcomes" in b
              ? (b.outcomes as unknown[]).length
              : 1;
          expect(parsed.outcomes).toHaveLength(count);
          for (const o of parsed.outcomes) {
            if (o.kind === "actual" && target.task !== "regression") {
              expect(target.classes).toContain(o.actualLabel);
            }
            if (o.kind === "actual" && target.task === "regression") {
              expect(Number.isFinite(o.actualValue)).toBe(true);
            }
          }
        } else {
          expect(parsed.problems.length).toBeGreaterThan(0);
          for (const p of parsed.problems) expect(p.path.startsWith("/")).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
