import { describe, expect, it } from "vitest";
import { INVALID_SPECS, VALID_SPECS } from "../../../src/spec/app-spec.fixtures.ts";
import { parseAppSpec, toStepsForm } from "../../../src/spec/app-spec.ts";
import { STEP_KINDS } from "../../../src/spec/steps/registry.ts";
import { addStep, graphToSpec, specToGraph } from "./graph.ts";
import { lineOfPath, specToYaml, yamlToSpec } from "./yaml.ts";

const head = { apiVersion: "ballast/v1", kind: "App", name: "churn" };

function read(text: string): Record<string, unknown> {
  const result = yamlToSpec(text);
  if (!result.ok) throw new Error(`line ${result.line}: ${result.message}`);
  return result.document;
}

describe("spec → YAML → spec", () => {
  const documents = {
    ...VALID_SPECS,
    ...Object.fromEntries(
      Object.entries(VALID_SPECS).map(([k, v]) => [
        `${k} (designer form)`,
        toStepsForm(parseAppSpec(v)),
      ]),
    ),
    ...Object.fromEntries(Object.entries(INVALID_SPECS).map(([k, v]) => [k, v.document])),
  };
  for (const [name, document] of Object.entries(documents)) {
    it(`${name}: same document, same key order`, () => {
      const clean = JSON.parse(JSON.stringify(document));
      const back = read(specToYaml(clean));
      expect(JSON.stringify(back)).toBe(JSON.stringify(clean));
    });
  }

  it("round-trips a step of every kind, added from the palette", () => {
    for (const kind of STEP_KINDS) {
      const start = specToGraph({ ...head, steps: [] });
      if (!start.ok) throw new Error("empty graph");
      const spec = graphToSpec(addStep(start.graph, kind.type).graph);
      expect(read(specToYaml(spec))).toEqual(spec);
    }
  });

  it("writes the spec the way a person would", () => {
    const form = toStepsForm(parseAppSpec(VALID_SPECS["no steps, every field"]));
    expect(specToYaml(form)).toBe(
      [
        "apiVersion: ballast/v1",
        "kind: App",
        "name: churn",
        "steps:",
        "  - id: input",
        "    kind: input",
        "  - id: validate",
        "    kind: validate",
        "    after:",
        "      - input",
        "    with:",
        "      unknownCategories: reject",
        "      maxRows: 50",
        "  - id: model",
        "    kind: model",
        "    after:",
        "      - validate",
        "    with:",
        "      name: churn",
        "      version: 3",
        "      timeoutMs: 2000",
        "  - id: output",
        "    kind: output",
        "    after:",
        "      - model",
        "policies:",
        "  rateLimit:",
        "    perKeyPerSecond: 200",
        "    perKeyBurst: 400",
        "    perAppPerSecond: 2000",
        "    perAppBurst: 4000",
        "  concurrency:",
        "    maxInFlight: 64",
        "    maxQueue: 64",
        "    maxQueueWaitMs: 250",
        "  timeouts:",
        "    requestMs: 5000",
        "  cache:",
        "    enabled: false",
        "    ttlSeconds: 60",
        "    maxEntries: 10000",
        "  idempotency:",
        "    enabled: true",
        "    ttlSeconds: 86400",
        "  workers:",
        "    threads: 1",
        "    minBatchRows: 256",
        "webhook:",
        "  enabled: false",
        "  maxAttempts: 5",
        "  concurrency: 4",
        "  retentionHours: 168",
        "  coerceTypes: true",
        "  rename: {}",
        "  defaults: {}",
        "monitoring:",
        "  predictionLog:",
        "    enabled: true",
        "    sampleRate: 1",
        "    maxRows: 5000000",
        "    retentionDays: 30",
        "  drift:",
        "    enabled: true",
        "    psiWarn: 0.1",
        "    psiAlert: 0.25",
        "    pValue: 0.05",
        "    windowMinutes: 60",
        "    windowRows: 5000",
        "    minRows: 100",
        "    datasetShare: 0.5",
        "  slo:",
        "    latencyP95Ms: 0",
        "    errorRate: 0",
        "    availability: 0",
        "    periodDays: 30",
        "  alerts:",
        '    webhookUrl: ""',
        "    onDrift: true",
        "release:",
        "  canary:",
        "    steps: 5,25,50,100",
        "    intervalSeconds: 300",
        "    minRequests: 50",
        "    maxErrorRate: 0.02",
        "    maxP95Ms: 0",
        "    maxP95Ratio: 2",
        "    requireGolden: true",
        '    manualSteps: ""',
        '    outcomeEvent: ""',
        "    minOutcomeRatio: 0.9",
        "  shadow:",
        "    percent: 100",
        "    maxInFlight: 64",
        "  ab:",
        "    percent: 50",
        "    splitHeader: x-ballast-split-key",
        '    conversionEvent: ""',
        '    valueEvent: ""',
        "    alpha: 0.05",
        "    power: 0.8",
        "",
      ].join("\n"),
    );
  });

  it("reads JSON too", () => {
    expect(read(JSON.stringify(VALID_SPECS["only steps"]))).toEqual(VALID_SPECS["only steps"]);
  });
});

describe("invalid YAML", () => {
  const cases: [string, string, number][] = [
    // The parser flags the entry whose key the over-indented line would continue.
    [
      "bad indentation",
      "apiVersion: ballast/v1\nkind: App\nsteps:\n  - id: input\n     kind: input\n",
      4,
    ],
    [
      "a line indented less",
      "apiVersion: ballast/v1\nsteps:\n  - id: input\n    kind: input\n   after: []\n",
      5,
    ],
    ["a key twice", "apiVersion: ballast/v1\nkind: App\nname: a\nname: b\n", 4],
    ["an unclosed list", "apiVersion: ballast/v1\nkind: App\nsteps: [\n  {id: input\n", 5],
    ["a tab for indentation", "apiVersion: ballast/v1\nsteps:\n\t- id: input\n", 3],
    ["not a map", "- just\n- a list\n", 1],
    ["a bare word", "hello\n", 1],
  ];
  for (const [name, text, line] of cases) {
    it(`${name}: reports line ${line}`, () => {
      const result = yamlToSpec(text);
      expect(result.ok).toBe(false);
      if (result.ok) return;
      expect(result.line).toBe(line);
      expect(result.message.length).toBeGreaterThan(5);
      expect(result.message).not.toMatch(/\n/);
    });
  }
});

describe("lineOfPath", () => {
  const text = specToYaml(toStepsForm(parseAppSpec(VALID_SPECS["no steps, every field"])));
  const lineOf = (needle: string) => text.split("\n").findIndex((l) => l.includes(needle)) + 1;

  it("finds the line of a setting, a step, a field", () => {
    expect(lineOfPath(text, "/steps/1/with/maxRows")).toBe(lineOf("maxRows: 50"));
    expect(lineOfPath(text, "/steps/2/kind")).toBe(lineOf("kind: model"));
    expect(lineOfPath(text, "/steps/1/with")).toBe(lineOf("with:"));
    expect(lineOfPath(text, "/name")).toBe(3);
    expect(lineOfPath(text, "/steps/3/after/0")).toBe(lineOf("- model"));
  });

  it("falls back to the nearest part that exists", () => {
    expect(lineOfPath(text, "/steps/2/with/nope")).toBe(lineOf("      name: churn") - 1);
    expect(lineOfPath(text, "/steps/0/after")).toBe(lineOf("- id: input"));
    expect(lineOfPath(text, "/")).toBe(1);
    expect(lineOfPath("a: [", "/a")).toBeUndefined();
  });
});
