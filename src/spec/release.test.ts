import { describe, expect, it } from "vitest";
import { AppSpecError, defaultAppSpec, parseAppSpec } from "./app-spec.ts";
import { DEFAULT_RELEASE, parseManualSteps, parseSteps } from "./release.ts";

const base = () =>
  JSON.parse(JSON.stringify(defaultAppSpec("churn", { name: "churn", version: 1 })));

function problemsOf(release: unknown): { path: string; message: string }[] {
  try {
    parseAppSpec({ ...base(), release });
    return [];
  } catch (error) {
    if (error instanceof AppSpecError) return [...error.details];
    throw error;
  }
}

describe("the spec's release section", () => {
  it("defaults every group, and keeps what a spec sets", () => {
    expect(parseAppSpec(base()).release).toEqual(DEFAULT_RELEASE);
    const spec = parseAppSpec({
      ...base(),
      release: { canary: { steps: "10, 100", intervalSeconds: 60 } },
    });
    expect(spec.release.canary).toMatchObject({
      steps: "10, 100",
      intervalSeconds: 60,
      minRequests: 50,
    });
  });

  it("names the field of canary steps that are not ascending to 100", () => {
    expect(problemsOf({ canary: { steps: "50,25,100" } })).toEqual([
      { path: "/release/canary/steps", message: "steps must be ascending" },
    ]);
    expect(problemsOf({ canary: { steps: "5,50" } })[0]?.message).toBe("the last step must be 100");
    expect(problemsOf({ canary: { steps: "5,50,100", manualSteps: "25" } })[0]?.path).toBe(
      "/release/canary/manualSteps",
    );
    expect(problemsOf({ canary: { steps: "five" } })[0]?.path).toBe("/release/canary/steps");
    expect(problemsOf({ ab: { percent: 150 } })[0]?.path).toBe("/release/ab/percent");
  });

  it("parses steps and manual steps", () => {
    expect(parseSteps(" 5, 25 ,50,100")).toEqual([5, 25, 50, 100]);
    expect(() => parseSteps("0,100")).toThrow(/step 1/);
    expect(parseManualSteps("", [5, 100])).toEqual([]);
    expect(parseManualSteps("5", [5, 100])).toEqual([5]);
  });
});
