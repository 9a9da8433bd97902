import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEFAULT_RELEASE, fillRelease } from "../../../../src/spec/release.ts";
import type {
  AbTestResult,
  DeploymentDto,
  EnvironmentsDto,
  GateDto,
  PromoteRequest,
  ReleaseDto,
} from "../../api/types.ts";
import {
  abVerdict,
  compactJson,
  durationWords,
  eventLabel,
  eventsNewestFirst,
  formatPValue,
  gateLimitWords,
  gateValueWords,
  matchWords,
  type PromoteForm,
  previousProduction,
  promoteFormDefaults,
  promoteRequestOf,
  releaseSettings,
  stepPosition,
  strategySentence,
} from "./releases-data.ts";

/** Seconds back from words like "1 hour 30 minutes": the inverse a reader performs. */
function secondsOf(words: string): number {
  const unit: Record<string, number> = { second: 1, minute: 60, hour: 3600 };
  let total = 0;
  for (const m of words.matchAll(/(\d+) (second|minute|hour)s?/g)) {
    total += Number(m[1]) * (unit[m[2] ?? ""] ?? Number.NaN);
  }
  return total;
}

describe("durationWords", () => {
  it("says lengths of time as a person does", () => {
    expect(durationWords(300)).toBe("5 minutes");
    expect(durationWords(1)).toBe("1 second");
    expect(durationWords(90)).toBe("1 minute 30 seconds");
    expect(durationWords(3600)).toBe("1 hour");
    expect(durationWords(5400)).toBe("1 hour 30 minutes");
    expect(durationWords(0)).toBe("0 seconds");
  });

  it("reads back to the seconds, to the minute beyond an hour", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 400_000 }), (s) => {
        const expected = s >= 3600 ? s - (s % 60) : s;
        expect(secondsOf(durationWords(s))).toBe(expected);
      }),
    );
  });
});

describe("strategySentence", () => {
  const words = {
    candidate: 3,
    stable: 2,
    steps: [5, 25, 50, 100],
    intervalSeconds: 300,
    requireGolden: true,
    shadowPercent: 100,
    abPercent: 50,
    splitHeader: "x-user-id",
  };

  it("spells a canary out with its steps and interval", () => {
    expect(strategySentence("canary", words)).toBe(
      "Send 5% of traffic to v3, then 25%, 50%, 100%, checking errors and speed for 5 minutes at each step. A failed check sends everything back to v2 at once.",
    );
  });

  it("names the shares, the split header and the golden gate of the others", () => {
    expect(strategySentence("shadow", { ...words, shadowPercent: 20 })).toContain(
      "a copy of 20% of its requests also goes to v3",
    );
    const ab = strategySentence("ab", { ...words, abPercent: 10 });
    expect(ab).toContain("10% of callers get v3 and the rest v2");
    expect(ab).toContain("x-user-id");
    expect(strategySentence("direct", words)).toContain("once its golden cases pass");
    expect(strategySentence("direct", { ...words, requireGolden: false })).not.toContain("golden");
  });
});

const canaryForm = (overrides: Partial<PromoteForm> = {}): PromoteForm => ({
  ...promoteFormDefaults("production", 3, fillRelease(undefined)),
  ...overrides,
});

describe("promoteRequestOf", () => {
  it("sends the app's own canary settings when nothing is changed", () => {
    const expected: PromoteRequest = {
      to: "production",
      version: 3,
      strategy: "canary",
      steps: "5,25,50,100",
      intervalSeconds: 300,
      minRequests: 50,
      maxErrorRate: 0.02,
      maxP95Ms: 0,
      maxP95Ratio: 2,
      requireGolden: true,
      manualSteps: "",
    };
    expect(promoteRequestOf(canaryForm())).toEqual({ request: expected, errors: {} });
  });

  it("starts from the candidate's spec", () => {
    const settings = releaseSettings({
      release: { canary: { steps: "10,100", intervalSeconds: 60, maxErrorRate: 0.05 } },
    });
    const form = promoteFormDefaults("production", 4, settings);
    expect(form.steps).toBe("10,100");
    expect(form.intervalSeconds).toBe("60");
    expect(form.maxErrorRatePercent).toBe("5");
    // The rest stays at the defaults.
    expect(form.minRequests).toBe(String(DEFAULT_RELEASE.canary.minRequests));
    expect(releaseSettings("not a spec")).toEqual(DEFAULT_RELEASE);
  });

  it("sends only what staging needs", () => {
    expect(promoteRequestOf({ ...canaryForm(), to: "staging", version: "2" })).toEqual({
      request: { to: "staging", version: 2 },
      errors: {},
    });
  });

  it("keeps any ascending steps ending at 100, however they are spaced", () => {
    const steps = fc
      .uniqueArray(fc.integer({ min: 1, max: 99 }), { maxLength: 6 })
      .map((xs) => [...xs.sort((a, b) => a - b), 100]);
    fc.assert(
      fc.property(steps, fc.constantFrom("", " ", "  "), (xs, pad) => {
        const text = xs.map((x) => `${pad}${x}${pad}`).join(",");
        const { request, errors } = promoteRequestOf(canaryForm({ steps: text }));
        expect(errors).toEqual({});
        expect(request?.steps?.split(",").map(Number)).toEqual(xs);
      }),
    );
  });

  it("refuses steps out of order or not ending at 100", () => {
    for (const steps of ["50,25,100", "5,25,50", "", "5,abc,100", "0,100", "5,150"]) {
      const { request, errors } = promoteRequestOf(canaryForm({ steps }));
      expect(request, steps).toBeUndefined();
      expect(errors.steps, steps).toMatch(/^Steps: /);
    }
    const manual = promoteRequestOf(canaryForm({ manualSteps: "30" }));
    expect(manual.errors.manualSteps).toContain("30 is not one of the steps");
  });

  it("reads the error rate as a percentage", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000 }), (hundredths) => {
        const percent = hundredths / 100;
        const { request } = promoteRequestOf(canaryForm({ maxErrorRatePercent: String(percent) }));
        expect(request?.maxErrorRate).toBeCloseTo(hundredths / 10_000, 12);
      }),
    );
  });

  it("answers every typed number with a value in range or a message, never a throw", () => {
    const fields = [
      ["intervalSeconds", 1, 86_400, true],
      ["minRequests", 1, 1_000_000, true],
      ["maxErrorRatePercent", 0, 100, false],
      ["maxP95Ms", 0, 600_000, true],
      ["maxP95Ratio", 0, 1000, false],
    ] as const;
    const typed = fc.oneof(
      fc.string(),
      fc.double({ noNaN: false }).map(String),
      fc.integer({ min: -10, max: 2_000_000 }).map(String),
    );
    fc.assert(
      fc.property(fc.constantFrom(...fields), typed, ([field, min, max, integer], text) => {
        const { request, errors } = promoteRequestOf(canaryForm({ [field]: text }));
        const n = Number(text);
        const valid =
          text.trim() !== "" &&
          Number.isFinite(n) &&
          n >= min &&
          n <= max &&
          (!integer || Number.isInteger(n));
        if (valid) {
          expect(errors).toEqual({});
          const sent = field === "maxErrorRatePercent" ? request?.maxErrorRate : request?.[field];
          expect(sent).toBeCloseTo(field === "maxErrorRatePercent" ? n / 100 : n, 12);
        } else {
          expect(request).toBeUndefined();
          expect(Object.keys(errors)).toEqual([field]);
        }
      }),
    );
  });

  it("checks a shadow's share and an A/B test's header and events", () => {
    const shadow = canaryForm({ strategy: "shadow", percent: "25" });
    expect(promoteRequestOf(shadow).request).toEqual({
      to: "production",
      version: 3,
      strategy: "shadow",
      percent: 25,
    });
    expect(promoteRequestOf({ ...shadow, percent: "0" }).errors.percent).toBeDefined();
    expect(promoteRequestOf({ ...shadow, percent: "101" }).errors.percent).toBeDefined();

    const ab = canaryForm({
      strategy: "ab",
      percent: "50",
      splitHeader: " X-User-Id ",
      conversionEvent: "renewed",
      valueEvent: "",
    });
    expect(promoteRequestOf(ab).request).toEqual({
      to: "production",
      version: 3,
      strategy: "ab",
      percent: 50,
      splitHeader: "x-user-id",
      conversionEvent: "renewed",
    });
    expect(promoteRequestOf({ ...ab, splitHeader: "user id" }).errors.splitHeader).toBeDefined();
    expect(promoteRequestOf({ ...ab, valueEvent: "Big Spend" }).errors.valueEvent).toBeDefined();
  });

  it("asks for a version", () => {
    expect(promoteRequestOf(canaryForm({ version: "" })).errors.version).toBe("Choose a version");
  });
});

const deployment = (
  environment: "production" | "staging",
  version: number,
  since: string,
  until?: string,
): DeploymentDto => ({ environment, version, since, ...(until ? { until } : {}) });

describe("previousProduction", () => {
  const env = (history: DeploymentDto[]): EnvironmentsDto => ({
    app: "churn",
    production: history.find((d) => d.environment === "production" && !d.until) ?? null,
    staging: history.find((d) => d.environment === "staging" && !d.until) ?? null,
    history,
  });

  it("is the production version before the live one", () => {
    const history = [
      deployment("production", 3, "2025-01-04T00:00:00Z"),
      deployment("staging", 3, "2025-01-03T00:00:00Z"),
      deployment("production", 2, "2025-01-02T00:00:00Z", "2025-01-04T00:00:00Z"),
      deployment("production", 1, "2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z"),
    ];
    expect(previousProduction(env(history))).toBe(2);
  });

  it("skips earlier stints of the live version, and is null without another", () => {
    const history = [
      deployment("production", 3, "2025-01-05T00:00:00Z"),
      deployment("production", 3, "2025-01-03T00:00:00Z", "2025-01-04T00:00:00Z"),
      deployment("production", 1, "2025-01-01T00:00:00Z", "2025-01-03T00:00:00Z"),
    ];
    expect(previousProduction(env(history))).toBe(1);
    expect(previousProduction(env([deployment("production", 1, "2025-01-01T00:00:00Z")]))).toBe(
      null,
    );
  });
});

const gate = (g: Partial<GateDto> & Pick<GateDto, "gate">): GateDto => ({
  status: "pass",
  value: null,
  limit: null,
  message: "",
  ...g,
});

describe("gates", () => {
  it("shows each value and limit in its own unit", () => {
    expect(gateValueWords(gate({ gate: "error_rate", value: 0.0123 }))).toBe("1.23%");
    expect(gateLimitWords(gate({ gate: "error_rate", limit: 0.02 }))).toBe("at most 2%");
    expect(gateValueWords(gate({ gate: "p95", value: 123.4 }))).toBe("123 ms");
    expect(gateLimitWords(gate({ gate: "p95", limit: 500 }))).toBe("at most 500 ms");
    expect(gateValueWords(gate({ gate: "p95_ratio", value: 1.5 }))).toBe("1.5×");
    expect(gateLimitWords(gate({ gate: "p95_ratio", limit: 2 }))).toBe("at most 2× stable");
    expect(gateLimitWords(gate({ gate: "outcome", limit: 0.9 }))).toBe("at least 0.9× stable");
    expect(gateValueWords(gate({ gate: "golden" }))).toBe("—");
    expect(gateLimitWords(gate({ gate: "golden" }))).toBe("every case passes");
  });
});

describe("A/B", () => {
  const result = (r: Partial<AbTestResult>): AbTestResult => ({
    test: "two-proportion-z",
    control: { n: 1000, value: 0.1 },
    treatment: { n: 1000, value: 0.13 },
    difference: 0.03,
    relativeLift: 0.3,
    statistic: 2.1,
    df: null,
    pValue: 0.036,
    ci95: [0.002, 0.058],
    significant: true,
    requiredPerArm: 1800,
    remainingPerArm: 800,
    ...r,
  });

  it("formats p-values as a report does", () => {
    expect(formatPValue(0.0004)).toBe("< 0.001");
    expect(formatPValue(0.04321)).toBe("0.043");
    expect(formatPValue(0.5)).toBe("0.5");
    expect(formatPValue(null)).toBe("—");
  });

  it("says which version leads, or how many samples are still needed", () => {
    const better = abVerdict(result({}), 3, 2, "conversion");
    expect(better.tone).toBe("green");
    expect(better.text).toBe("v3 converts better than v2, beyond chance (p = 0.036).");
    const worse = abVerdict(result({ difference: -0.03 }), 3, 2, "conversion");
    expect(worse.tone).toBe("red");
    expect(worse.text).toContain("worse");
    const open = abVerdict(
      result({ significant: false, pValue: 0.27, remainingPerArm: 1234 }),
      3,
      2,
      "value",
    );
    expect(open.text).toBe(
      "No clear difference yet (p = 0.27). About 1,234 more samples per version are needed to tell.",
    );
    const none = abVerdict(result({ pValue: null, significant: false }), 3, null, "value");
    expect(none.text).toContain("Not enough samples");
  });
});

describe("golden cases", () => {
  it("says how strictly a case is matched", () => {
    expect(matchWords({ mode: "tolerance", relative: 0.05, probability: 0.05 })).toBe(
      "Numbers ±5%, probabilities ±0.05",
    );
    expect(matchWords({ mode: "tolerance", relative: 0.1, absolute: 2 })).toBe(
      "Numbers ±10% or ±2",
    );
    expect(matchWords({ mode: "exact", fields: ["prediction"] })).toBe("Exactly (only prediction)");
    expect(matchWords({ mode: "schema", schema: {} })).toBe("By schema");
  });

  it("cuts JSON to its cell and keeps short JSON whole", () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.integer({ min: 2, max: 200 }), (value, max) => {
        const text = compactJson(value, max);
        const whole = JSON.stringify(value);
        if (whole.length <= max) expect(text).toBe(whole);
        else {
          expect(text.length).toBe(max);
          expect(text.endsWith("…")).toBe(true);
          expect(whole.startsWith(text.slice(0, -1))).toBe(true);
        }
      }),
    );
  });
});

describe("releases", () => {
  const release = (stepIndex: number, steps: number[]): ReleaseDto => ({
    id: "rel_1",
    app: "churn",
    strategy: "canary",
    state: "running",
    candidateVersion: 3,
    stableVersion: 2,
    percent: steps[stepIndex] ?? 0,
    stepIndex,
    stepStartedAt: "2025-01-01T00:00:00Z",
    plan: {
      strategy: "canary",
      steps,
      intervalSeconds: 300,
      gates: {
        minRequests: 50,
        maxErrorRate: 0.02,
        maxP95Ms: 0,
        maxP95Ratio: 2,
        requireGolden: true,
        outcomeEvent: "",
        minOutcomeRatio: 0.9,
      },
      manualSteps: [],
      shadow: { percent: 100, maxInFlight: 64 },
      ab: {
        percent: 50,
        splitHeader: "x-ballast-split-key",
        conversionEvent: "",
        valueEvent: "",
        alpha: 0.05,
        power: 0.8,
      },
    },
    reason: null,
    events: [],
    createdAt: "2025-01-01T00:00:00Z",
    endedAt: null,
  });

  it("counts steps from one", () => {
    expect(stepPosition(release(0, [5, 25, 50, 100]))).toEqual({ step: 1, of: 4 });
    expect(stepPosition(release(3, [5, 25, 50, 100]))).toEqual({ step: 4, of: 4 });
  });

  it("lists events newest first and names their types in words", () => {
    const events = [
      { at: "2025-01-01T00:00:00Z", type: "started" },
      { at: "2025-01-01T00:10:00Z", type: "aborted" },
      { at: "2025-01-01T00:05:00Z", type: "gate_failed" },
    ];
    expect(eventsNewestFirst(events).map((e) => e.type)).toEqual([
      "aborted",
      "gate_failed",
      "started",
    ]);
    expect(eventLabel("gate_failed")).toBe("Gate failed");
    expect(eventLabel("rolled_back")).toBe("Rolled back");
  });
});
