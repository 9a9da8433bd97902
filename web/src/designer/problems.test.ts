import { describe, expect, it } from "vitest";
import { INVALID_SPECS, VALID_SPECS } from "../../../src/spec/app-spec.fixtures.ts";
import { checkSpec, describeProblem, groupProblems, serverProblems } from "./problems.ts";

describe("checkSpec", () => {
  it("finds nothing wrong with a valid spec", () => {
    for (const document of Object.values(VALID_SPECS)) expect(checkSpec(document).all).toEqual([]);
  });

  it("puts each problem on its step, and the rest on the spec", () => {
    const second = checkSpec(INVALID_SPECS["a second model step"]?.document ?? {});
    expect(second.byStep.get("model2")?.map(describeProblem)).toContain(
      "The runtime runs one model step today",
    );
    expect(second.byStep.has("model")).toBe(false);
    const empty = checkSpec(INVALID_SPECS["no steps at all"]?.document ?? {});
    expect(empty.byStep.size).toBe(0);
    expect(empty.general.map(describeProblem)).toContain("The pipeline needs an input step");
  });
});

describe("describeProblem", () => {
  it("reads as a sentence about the step", () => {
    expect(describeProblem({ path: "/steps/1/with/maxRows", message: "must be >= 1" })).toBe(
      "maxRows must be >= 1",
    );
    expect(describeProblem({ path: "/steps/2/after", message: "is not connected: x" })).toBe(
      "This step is not connected: x",
    );
    expect(
      describeProblem({ path: "/steps/2/after/0", message: 'names "g", which is not a step' }),
    ).toBe('Names "g", which is not a step');
    expect(describeProblem({ path: "/name", message: "must be churn" })).toBe(
      "/name must be churn",
    );
    expect(describeProblem({ path: "/", message: "must be object" })).toBe(
      "The spec must be object",
    );
  });
});

describe("serverProblems", () => {
  it("puts the server's details back on the steps of the spec that was sent", () => {
    const sent = VALID_SPECS["only steps, own ids, any order, defaults left out"] ?? {};
    expect(
      serverProblems(sent, [
        { path: "/spec/model", message: "churn@2 does not exist" },
        { path: "/spec/steps/3/with/maxRows", message: "must be <= 100000" },
        { path: "/spec/name", message: "must be churn" },
        { message: "no path at all" },
      ]),
    ).toEqual([
      { path: "/model", message: "churn@2 does not exist", stepId: "score" },
      { path: "/steps/3/with/maxRows", message: "must be <= 100000", stepId: "check" },
      { path: "/name", message: "must be churn" },
      { path: "/", message: "no path at all" },
    ]);
  });
});

describe("groupProblems", () => {
  it("orders problems spec-wide first, then by step, the runtime's limits before settings", () => {
    const grouped = groupProblems([
      { path: "/steps/2/with/name", message: "is missing", stepId: "m" },
      { path: "/steps/2", message: "nothing runs after", stepId: "m" },
      { path: "/steps/2/kind", message: "the runtime runs one", stepId: "m" },
      { path: "/steps/0/after", message: "x", stepId: "i" },
      { path: "/name", message: "must be churn" },
      { path: "/steps/2/after", message: "not connected", stepId: "m" },
    ]);
    expect(grouped.all.map((p) => p.path)).toEqual([
      "/name",
      "/steps/0/after",
      "/steps/2/kind",
      "/steps/2/after",
      "/steps/2",
      "/steps/2/with/name",
    ]);
    expect(grouped.byStep.get("m")?.[0]?.path).toBe("/steps/2/kind");
    expect(grouped.general).toHaveLength(1);
  });
});
