import { describe, expect, it } from "vitest";
import { DEFAULT_STEPS, INVALID_SPECS, VALID_SPECS } from "../../../src/spec/app-spec.fixtures.ts";
import { parseAppSpec, pipelineOf, toStepsForm } from "../../../src/spec/app-spec.ts";
import { DEFAULT_POLICIES } from "../../../src/spec/policies.ts";
import { STEP_KINDS } from "../../../src/spec/steps/registry.ts";
import {
  addStep,
  COLUMN_GAP,
  connect,
  type DesignerGraph,
  disconnect,
  graphToSpec,
  positionsOf,
  removeSteps,
  renameStep,
  setPolicy,
  setSetting,
  setWebhookSetting,
  specToGraph,
} from "./graph.ts";
import { specToYaml, yamlToSpec } from "./yaml.ts";

const head = { apiVersion: "ballast/v1", kind: "App", name: "churn" };

function graphOf(document: Record<string, unknown>): DesignerGraph {
  const result = specToGraph(document);
  if (!result.ok) throw new Error(`${result.error.path} ${result.error.message}`);
  return result.graph;
}

/** Deep equality that also holds the key order of every object. */
function expectSameJson(actual: unknown, expected: unknown) {
  expect(JSON.stringify(actual, null, 1)).toBe(JSON.stringify(expected, null, 1));
}

/** A steps-only spec using every step kind, each setting given a value other than its default. */
function everyKindSpec(): Record<string, unknown> {
  const sample = (schema: Record<string, unknown>, key: string): unknown => {
    if (Array.isArray(schema.enum)) return schema.enum[schema.enum.length - 1];
    if (schema.type === "integer" || schema.type === "number") {
      const min = typeof schema.minimum === "number" ? schema.minimum : 1;
      const max = typeof schema.maximum === "number" ? schema.maximum : Number.MAX_SAFE_INTEGER;
      const whole = schema.type === "integer";
      // A value in range and other than the default.
      return [min + 6, min + (max - min) / 4, min, max]
        .map((n) => (whole ? Math.floor(n) : n))
        .find((n) => n >= min && n <= max && n !== schema.default);
    }
    if (schema.type === "boolean") return !schema.default;
    if (Array.isArray(schema.type)) return `${key}-value`;
    if (schema.format === "uri") return `https://example.com/${key}`;
    return `${key}-value`;
  };
  let previous: string | undefined;
  const steps = STEP_KINDS.map((kind) => {
    const settings: Record<string, unknown> = {};
    for (const [key, schema] of Object.entries(kind.settings.properties)) {
      settings[key] = sample(schema, key);
    }
    const step = {
      id: `my-${kind.type}`,
      kind: kind.type,
      ...(previous && kind.inputs > 0 ? { after: [previous] } : {}),
      ...(Object.keys(settings).length > 0 ? { with: settings } : {}),
    };
    previous = step.id;
    return step;
  });
  return { ...head, steps };
}

describe("spec → graph → spec", () => {
  it("round-trips a spec with every step kind exactly, settings and key order included", () => {
    const spec = everyKindSpec();
    const graph = graphOf(spec);
    expect(graph.nodes.map((n) => n.data.kind)).toEqual(STEP_KINDS.map((k) => k.type));
    for (const kind of STEP_KINDS) {
      const node = graph.nodes.find((n) => n.data.kind === kind.type);
      expect(Object.keys(node?.data.settings ?? {})).toEqual(Object.keys(kind.settings.properties));
    }
    expectSameJson(graphToSpec(graph), spec);
    // And it is a spec the server accepts (the model step's settings are all it needs).
    expect(() => parseAppSpec(graphToSpec(graph))).not.toThrow();
  });

  it("round-trips each step kind alone, added from the palette", () => {
    for (const kind of STEP_KINDS) {
      const { graph, id } = addStep(graphOf({ ...head, steps: [] }), kind.type);
      const spec = graphToSpec(graph);
      expect((spec.steps as unknown[])[0]).toMatchObject({ id, kind: kind.type });
      const again = graphOf(spec);
      expect(again.nodes.map((n) => [n.id, n.data])).toEqual(
        graph.nodes.map((n) => [n.id, n.data]),
      );
      expectSameJson(graphToSpec(again), spec);
    }
  });

  for (const [name, document] of Object.entries(VALID_SPECS)) {
    it(`keeps what "${name}" means`, () => {
      const back = graphToSpec(graphOf(document));
      expect(parseAppSpec(back)).toEqual(parseAppSpec(document));
      // The graph is the one place settings live: nothing mirrored is left at the top.
      expect(back).not.toHaveProperty("model");
      expect(back).not.toHaveProperty("limits");
      expect(back).not.toHaveProperty("contract");
    });
  }

  it("round-trips the designer's form of every valid spec exactly", () => {
    for (const document of Object.values(VALID_SPECS)) {
      const form = toStepsForm(parseAppSpec(document));
      expectSameJson(graphToSpec(graphOf(form)), form);
    }
  });

  it("draws a spec without steps as input → validate → model → output", () => {
    const graph = graphOf(VALID_SPECS["no steps, every field"] ?? {});
    expect(graph.nodes.map((n) => n.id)).toEqual(["input", "validate", "model", "output"]);
    expect(graph.edges.map((e) => e.id)).toEqual([
      "input->validate",
      "validate->model",
      "model->output",
    ]);
    expect(graph.nodes[1]?.data.settings).toEqual({ unknownCategories: "reject", maxRows: 50 });
    expect(graph.nodes[2]?.data.settings).toEqual({ name: "churn", version: 3 });
    expect(graph.base).toEqual(head);
  });

  it("loses nothing of a graph with problems", () => {
    for (const c of Object.values(INVALID_SPECS)) {
      const result = specToGraph(c.document);
      if (!result.ok) continue; // not drawable: the YAML panel says why (below)
      const back = graphToSpec(result.graph);
      // A disagreeing top-level field stays for the checks to point at; the rest is the steps'.
      expect(graphToSpec(graphOf(back))).toEqual(back);
      expect((back.steps as unknown[]).length).toBe(
        Array.isArray(c.document.steps) ? c.document.steps.length : 4,
      );
    }
    const ghost = graphOf(INVALID_SPECS["after names a missing step"]?.document ?? {});
    expect(ghost.nodes.find((n) => n.id === "model")?.data.missingAfter).toEqual(["ghost"]);
    expect((graphToSpec(ghost).steps as { after?: string[] }[])[2]?.after).toEqual(["ghost"]);
    const disagree = graphToSpec(
      graphOf(INVALID_SPECS["top-level field disagrees with a step"]?.document ?? {}),
    );
    expect(disagree.limits).toEqual({ maxRows: 5 });
  });

  it("keeps a step's unknown fields", () => {
    const spec = { ...head, steps: [{ id: "input", kind: "input", note: "from the web form" }] };
    expectSameJson(graphToSpec(graphOf(spec)), spec);
  });

  it("says why a document cannot be drawn, at its path", () => {
    const cases: [unknown, string][] = [
      [{ input: {} }, "/steps"],
      [[{ id: "a", kind: "input" }, "b"], "/steps/1"],
      [[{ kind: "input" }], "/steps/0/id"],
      [
        [
          { id: "a", kind: "input" },
          { id: "a", kind: "output" },
        ],
        "/steps/1/id",
      ],
      [[{ id: "a", kind: 3 }], "/steps/0/kind"],
      [[{ id: "a", kind: "input", after: "b" }], "/steps/0/after"],
      [[{ id: "a", kind: "input", after: ["b", "b"] }], "/steps/0/after"],
      [[{ id: "a", kind: "input", with: [1] }], "/steps/0/with"],
    ];
    for (const [steps, path] of cases) {
      const result = specToGraph({ ...head, steps });
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.error.path).toBe(path);
    }
  });
});

describe("layout", () => {
  it("lays the steps out left to right by how many steps run before them", () => {
    const graph = graphOf({ ...head, steps: DEFAULT_STEPS });
    expect(graph.nodes.map((n) => n.position)).toEqual([
      { x: 0, y: 0 },
      { x: COLUMN_GAP, y: 0 },
      { x: 2 * COLUMN_GAP, y: 0 },
      { x: 3 * COLUMN_GAP, y: 0 },
    ]);
    // A cycle does not send the layout into a loop.
    const cyclic = graphOf(INVALID_SPECS["a cycle"]?.document ?? {});
    expect(cyclic.nodes).toHaveLength(4);
  });

  it("keeps positions the person chose", () => {
    const graph = graphOf({ ...head, steps: DEFAULT_STEPS });
    const moved = new Map(positionsOf(graph.nodes)).set("model", { x: 9, y: 99 });
    const again = specToGraph({ ...head, steps: DEFAULT_STEPS }, moved);
    expect(again.ok && again.graph.nodes[2]?.position).toEqual({ x: 9, y: 99 });
  });
});

describe("editing", () => {
  const start = () => graphOf({ ...head, steps: DEFAULT_STEPS });

  it("inserts a step added after one into the chain when it fits there", () => {
    const before = start();
    const { graph, id, between } = addStep(before, "fallback", { after: "model" });
    expect([id, between]).toEqual(["fallback", ["output"]]);
    expect(graph.edges.map((e) => e.id)).toEqual([
      "input->validate",
      "validate->model",
      "model->fallback",
      "fallback->output",
    ]);
    // It sits where the output was; the output moves right to make room.
    const at = (g: DesignerGraph, n: string) => g.nodes.find((x) => x.id === n)?.position;
    expect(at(graph, "fallback")).toEqual({ x: 3 * COLUMN_GAP, y: 0 });
    expect(at(graph, "output")).toEqual({ x: 4 * COLUMN_GAP, y: 0 });
    expect(at(graph, "model")).toEqual(at(before, "model"));
    // Its prediction has no default: a problem until set, then a spec the server accepts.
    expect(() => parseAppSpec(graphToSpec(graph))).toThrow(/prediction/);
    const set = setSetting(graph, "fallback", "prediction", "stay");
    expect(pipelineOf(parseAppSpec(graphToSpec(set))).map((s) => s.kind)).toEqual([
      "input",
      "validate",
      "model",
      "fallback",
      "output",
    ]);

    // Every optional kind finds its place in the chain from the step before it.
    let chain = set;
    for (const [kind, after] of [
      ["session", "input"],
      ["cascade", "model"],
      ["http", "cascade"],
      ["http", "http"],
    ] as const) {
      const added = addStep(chain, kind, { after });
      expect(added.between.length, `${kind} after ${after}`).toBe(1);
      chain = added.graph;
    }
    chain = setSetting(chain, "cascade", "name", "big");
    chain = setSetting(chain, "cascade", "version", 1);
    chain = setSetting(chain, "http", "url", "http://127.0.0.1:9/a");
    chain = setSetting(chain, "http2", "url", "http://127.0.0.1:9/b");
    const parsed = parseAppSpec(graphToSpec(chain));
    expect(pipelineOf(parsed).map((s) => s.id)).toEqual([
      "input",
      "session",
      "validate",
      "model",
      "cascade",
      "http",
      "http2",
      "fallback",
      "output",
    ]);
  });

  it("adds a step that does not fit between two as a branch, for the checks to refuse", () => {
    // The output cannot run after a session step: the session branches off the input.
    const { graph, between } = addStep(start(), "session", { after: "validate" });
    expect(between).toEqual([]);
    expect(graph.edges.at(-1)).toMatchObject({ source: "validate", target: "session" });
    expect(graph.edges).toHaveLength(4);
  });

  it("adds a step with its kind's defaults, after the selected step, under a free id", () => {
    const { graph, id, between } = addStep(start(), "validate", { after: "input" });
    expect(id).toBe("validate2");
    // A second validate step cannot run before the first: it branches, for the checks to refuse.
    expect(between).toEqual([]);
    const node = graph.nodes.at(-1);
    expect(node?.data.settings).toEqual({ unknownCategories: "bucket", maxRows: 1000 });
    expect(graph.edges.at(-1)).toMatchObject({ source: "input", target: "validate2" });
    const third = addStep(graph, "validate");
    expect(third.id).toBe("validate3");
    expect(third.graph.edges).toHaveLength(graph.edges.length);
    // An input step takes no input, even when added "after" something.
    expect(addStep(start(), "input", { after: "output" }).graph.edges).toHaveLength(3);
  });

  it("removes steps with their connections", () => {
    const graph = removeSteps(start(), ["model"]);
    expect(graph.nodes.map((n) => n.id)).toEqual(["input", "validate", "output"]);
    expect(graph.edges.map((e) => e.id)).toEqual(["input->validate"]);
  });

  it("connects and disconnects", () => {
    let graph = disconnect(start(), ["validate->model"]);
    expect(graphToSpec(graph).steps).toContainEqual({
      id: "model",
      kind: "model",
      with: { name: "churn", version: 1 },
    });
    graph = connect(graph, "validate", "model");
    expect(connect(graph, "validate", "model")).toBe(graph);
    expect(connect(graph, "model", "model")).toBe(graph);
    expect(connect(graph, "nope", "model")).toBe(graph);
    expect(parseAppSpec(graphToSpec(graph)).steps).toHaveLength(4);
  });

  it("sets and clears settings, and renames steps keeping their connections", () => {
    let graph = setSetting(start(), "validate", "maxRows", 50);
    expect(parseAppSpec(graphToSpec(graph)).limits.maxRows).toBe(50);
    graph = setSetting(graph, "validate", "maxRows", undefined);
    expect(parseAppSpec(graphToSpec(graph)).limits.maxRows).toBe(1000);
    graph = renameStep(graph, "model", "score");
    expect(graph.edges.map((e) => e.id)).toEqual([
      "input->validate",
      "validate->score",
      "score->output",
    ]);
    expect(renameStep(graph, "score", "input")).toBe(graph);
    expect(parseAppSpec(graphToSpec(graph)).steps[2]?.id).toBe("score");
  });
});

describe("policies, the webhook and monitoring", () => {
  const form = () => toStepsForm(parseAppSpec(VALID_SPECS["no steps, defaults"] ?? {}));
  /** Through YAML and back, as the designer's YAML panel would. */
  const viaYaml = (graph: DesignerGraph) => {
    const read = yamlToSpec(specToYaml(graphToSpec(graph)));
    if (!read.ok) throw new Error(read.message);
    return graphOf(read.document);
  };

  it("keeps them beside the graph and writes them after the steps", () => {
    const graph = graphOf(form());
    expect(graph.base.policies).toEqual(DEFAULT_POLICIES);
    expect(Object.keys(graphToSpec(graph))).toEqual([
      "apiVersion",
      "kind",
      "name",
      "steps",
      "policies",
      "webhook",
      "monitoring",
      "release",
    ]);
    expectSameJson(graphToSpec(graph), form());
  });

  it("sets a policy at policies.<group>.<field>, through YAML and back", () => {
    let graph = setPolicy(graphOf(form()), "concurrency", "maxInFlight", 8);
    graph = setPolicy(graph, "cache", "enabled", true);
    const again = viaYaml(graph);
    expectSameJson(graphToSpec(again), graphToSpec(graph));
    const spec = parseAppSpec(graphToSpec(again));
    expect(spec.policies.concurrency).toEqual({ ...DEFAULT_POLICIES.concurrency, maxInFlight: 8 });
    expect(spec.policies.cache.enabled).toBe(true);
    // Cleared: the default applies again.
    const cleared = setPolicy(again, "concurrency", "maxInFlight", undefined);
    expect(cleared.base.policies).not.toHaveProperty("concurrency.maxInFlight");
    expect(parseAppSpec(graphToSpec(cleared)).policies.concurrency.maxInFlight).toBe(64);
  });

  it("creates a section a spec does not have, and removes one left empty", () => {
    const bare = graphOf({ ...head, steps: DEFAULT_STEPS });
    const graph = setPolicy(bare, "timeouts", "requestMs", 900);
    expect(graphToSpec(graph).policies).toEqual({ timeouts: { requestMs: 900 } });
    expect(parseAppSpec(graphToSpec(viaYaml(graph))).policies.timeouts.requestMs).toBe(900);
    expect(graphToSpec(setPolicy(graph, "timeouts", "requestMs", undefined))).not.toHaveProperty(
      "policies",
    );
    // A section typed as something else in the YAML is replaced by the edit.
    const odd = graphOf({ ...head, steps: DEFAULT_STEPS, policies: 5 });
    expect(graphToSpec(setPolicy(odd, "cache", "enabled", true)).policies).toEqual({
      cache: { enabled: true },
    });
  });

  it("sets webhook settings, maps included, through YAML and back", () => {
    let graph = setWebhookSetting(graphOf(form()), "enabled", true);
    graph = setWebhookSetting(graph, "callbackUrl", "https://hooks.example.com/x");
    graph = setWebhookSetting(graph, "rename", { months: "tenure" });
    graph = setWebhookSetting(graph, "defaults", { senior: false, note: null });
    const spec = parseAppSpec(graphToSpec(viaYaml(graph)));
    expect(spec.webhook).toMatchObject({
      enabled: true,
      callbackUrl: "https://hooks.example.com/x",
      rename: { months: "tenure" },
      defaults: { senior: false, note: null },
    });
    const off = setWebhookSetting(graph, "callbackUrl", undefined);
    expect(parseAppSpec(graphToSpec(off)).webhook).not.toHaveProperty("callbackUrl");
  });
});
