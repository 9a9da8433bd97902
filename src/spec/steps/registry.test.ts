import { Ajv2020 } from "ajv/dist/2020.js";
import { describe, expect, it } from "vitest";
import { parseAppSpec } from "../app-spec.ts";
import { settingDefaults } from "../step-graph.ts";
import { DEFAULT_PIPELINE, STEP_KINDS, stepKind } from "./registry.ts";
import { defineStepKind } from "./step-kind.ts";

describe("the step kind registry", () => {
  it("describes every kind for the palette and the forms", () => {
    const ajv = new Ajv2020({
      strict: true,
      strictRequired: false,
      allowUnionTypes: true,
      formats: { uri: true },
    });
    const types = new Set<string>();
    for (const kind of STEP_KINDS) {
      expect(types.has(kind.type)).toBe(false);
      types.add(kind.type);
      expect(kind.title.length).toBeGreaterThan(0);
      expect(kind.description).toMatch(/\.$/);
      expect(kind.icon).toMatch(/^[a-z-]+$/);
      expect(kind.count.min).toBeLessThanOrEqual(kind.count.max);
      // The settings schema compiles strictly and its defaults satisfy it.
      const validate = ajv.compile(kind.settings);
      expect(validate(settingDefaults(kind)) || kind.settings.required?.length).toBeTruthy();
      for (const [key, schema] of Object.entries(kind.settings.properties)) {
        expect(typeof schema.title, `${kind.type}.${key} needs a title for its form`).toBe(
          "string",
        );
        expect(typeof schema.description, `${kind.type}.${key} needs a description`).toBe("string");
      }
      for (const b of kind.bindings ?? [])
        expect(kind.settings.properties).toHaveProperty(b.setting);
      for (const t of kind.runsAfter ?? []) expect(stepKind(t)).toBeDefined();
      expect(stepKind(kind.type)).toBe(kind);
    }
    expect(stepKind("cache")).toBeUndefined();
  });

  it("lists the kinds in palette order and chains them as the runtime runs them", () => {
    expect(STEP_KINDS.map((k) => k.type)).toEqual([
      "input",
      "session",
      "validate",
      "model",
      "cascade",
      "http",
      "fallback",
      "output",
    ]);
    const chain = Object.fromEntries(STEP_KINDS.map((k) => [k.type, [k.runsAfter, k.count]]));
    expect(chain).toEqual({
      input: [undefined, { min: 1, max: 1 }],
      session: [["input"], { min: 0, max: 1 }],
      validate: [["input", "session"], { min: 1, max: 1 }],
      model: [["validate"], { min: 1, max: 1 }],
      cascade: [["model"], { min: 0, max: 1 }],
      http: [["model", "cascade", "http"], { min: 0, max: 3 }],
      fallback: [["model", "cascade", "http"], { min: 0, max: 1 }],
      output: [["model", "cascade", "http", "fallback"], { min: 1, max: 1 }],
    });
    for (const kind of STEP_KINDS) {
      if (kind.type === "input" || kind.type === "output") continue;
      expect([kind.inputs, kind.outputs]).toEqual([1, 1]);
    }
    // Every kind that waits on something has a time budget with a default.
    for (const type of ["model", "cascade", "http"]) {
      expect(stepKind(type)?.settings.properties.timeoutMs).toMatchObject({
        type: "integer",
        default: expect.any(Number),
      });
    }
  });

  it("has a default pipeline that is a valid graph", () => {
    const spec = parseAppSpec({
      apiVersion: "ballast/v1",
      kind: "App",
      name: "a",
      model: { name: "m", version: 1 },
    });
    expect(spec.steps.map((s) => [s.id, s.kind])).toEqual(DEFAULT_PIPELINE);
  });

  it("refuses to bind settings of a kind that may appear more than once", () => {
    const kind = {
      type: "twice",
      title: "Twice",
      description: "Two of them.",
      icon: "box",
      inputs: 1,
      outputs: 1,
      settings: { type: "object", properties: { x: { type: "number" } } },
      count: { min: 0, max: 2 },
      bindings: [{ setting: "x", field: ["limits", "x"] }],
    } as const;
    expect(() => defineStepKind(kind)).toThrow(/at most one step/);
    expect(defineStepKind({ ...kind, bindings: [] }).type).toBe("twice");
  });
});
