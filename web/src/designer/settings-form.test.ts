import { describe, expect, it } from "vitest";
import { STEP_KINDS, stepKind } from "../../../src/spec/steps/registry.ts";
import type { StepKind } from "../../../src/spec/steps/step-kind.ts";
import { inputValue, settingFields, settingValue } from "./settings-form.ts";

const kind = (type: string): StepKind => {
  const k = stepKind(type);
  if (!k) throw new Error(type);
  return k;
};

describe("settingFields", () => {
  it("makes a select for an enum and a bounded integer input for a number", () => {
    expect(settingFields(kind("validate"))).toEqual([
      {
        key: "unknownCategories",
        label: "Unknown categories",
        description: expect.stringContaining("never seen in training"),
        required: false,
        defaultValue: "bucket",
        control: "select",
        options: ["bucket", "reject"],
      },
      {
        key: "maxRows",
        label: "Most rows per request",
        description: expect.any(String),
        required: false,
        defaultValue: 1000,
        control: "number",
        step: 1,
        min: 1,
        max: 100000,
      },
    ]);
  });

  it("makes a required text input and a required integer input for the model", () => {
    const [name, version] = settingFields(kind("model"));
    expect(name).toMatchObject({ key: "name", control: "text", required: true });
    expect(version).toMatchObject({ key: "version", control: "number", step: 1, min: 1 });
    expect(version).not.toHaveProperty("max");
  });

  it("has no fields for kinds without settings, and a field for every setting of every kind", () => {
    expect(settingFields(kind("input"))).toEqual([]);
    for (const k of STEP_KINDS) {
      expect(settingFields(k).map((f) => f.key)).toEqual(Object.keys(k.settings.properties));
    }
  });

  it("reads other schema shapes: booleans, plain numbers, untitled keys", () => {
    const custom: StepKind = {
      ...kind("input"),
      settings: {
        type: "object",
        properties: {
          retryOnTimeout: { type: "boolean" },
          threshold: { type: "number", minimum: 0, maximum: 1 },
          url: { type: "string", format: "uri" },
        },
        required: ["url"],
      },
    };
    expect(settingFields(custom)).toEqual([
      { key: "retryOnTimeout", label: "Retry On Timeout", required: false, control: "checkbox" },
      {
        key: "threshold",
        label: "Threshold",
        required: false,
        control: "number",
        step: "any",
        min: 0,
        max: 1,
      },
      { key: "url", label: "Url", required: true, control: "text" },
    ]);
  });
});

describe("values", () => {
  const [unknown, maxRows] = settingFields(kind("validate"));
  const [name] = settingFields(kind("model"));

  it("turns control text into the setting's type, blank into unset", () => {
    if (!unknown || !maxRows || !name) throw new Error("fields");
    expect(settingValue(maxRows, "50")).toBe(50);
    expect(settingValue(maxRows, "")).toBeUndefined();
    expect(settingValue(maxRows, "1e")).toBe("1e");
    expect(settingValue(unknown, "reject")).toBe("reject");
    expect(settingValue(name, "  ")).toBeUndefined();
    expect(settingValue(name, "churn")).toBe("churn");
    expect(settingValue(name, true)).toBe(true);
  });

  it("shows a setting's value in its control", () => {
    if (!maxRows) throw new Error("fields");
    expect(inputValue(50)).toBe("50");
    expect(inputValue(undefined)).toBe("");
    expect(inputValue({ a: 1 })).toBe('{"a":1}');
  });
});
