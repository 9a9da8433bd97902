import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { STEP_KINDS, stepKind } from "../../../src/spec/steps/registry.ts";
import type { StepKind } from "../../../src/spec/steps/step-kind.ts";
import { inputValue, settingFields, settingValue } from "./settings-form.ts";

const kind = (type: string) => {
  const k = stepKind(type);
  if (!k) throw new Error(type);
  return k.settings;
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
    const [name, version, timeout] = settingFields(kind("model"));
    expect(name).toMatchObject({ key: "name", control: "text", required: true });
    expect(version).toMatchObject({ key: "version", control: "number", step: 1, min: 1 });
    expect(version).not.toHaveProperty("max");
    expect(timeout).toMatchObject({ key: "timeoutMs", required: false, defaultValue: 2000 });
  });

  it("has no fields for kinds without settings, and a field for every setting of every kind", () => {
    expect(settingFields(kind("input"))).toEqual([]);
    for (const k of STEP_KINDS) {
      expect(settingFields(k.settings).map((f) => f.key)).toEqual(
        Object.keys(k.settings.properties),
      );
    }
  });

  it("reads other schema shapes: booleans, plain numbers, untitled keys", () => {
    const custom: StepKind["settings"] = {
      type: "object",
      properties: {
        retryOnTimeout: { type: "boolean" },
        threshold: { type: "number", minimum: 0, maximum: 1 },
        url: { type: "string", format: "uri" },
      },
      required: ["url"],
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
      { key: "url", label: "Url", required: true, control: "text", format: "uri" },
    ]);
  });

  it("makes a text input read as a number or yes/no for the fallback's prediction", () => {
    const [prediction] = settingFields(kind("fallback"));
    expect(prediction).toMatchObject({
      key: "prediction",
      label: "Fallback prediction",
      control: "text",
      required: true,
      types: ["string", "number", "boolean"],
    });
    if (!prediction) throw new Error("fields");
    expect(settingValue(prediction, "stay")).toBe("stay");
    expect(settingValue(prediction, "0.25")).toBe(0.25);
    expect(settingValue(prediction, " 3 ")).toBe(3);
    expect(settingValue(prediction, "-1e3")).toBe(-1000);
    expect(settingValue(prediction, "true")).toBe(true);
    expect(settingValue(prediction, "false")).toBe(false);
    expect(settingValue(prediction, "null")).toBe("null");
    expect(settingValue(prediction, "1 2")).toBe("1 2");
    expect(settingValue(prediction, "0x10")).toBe("0x10");
    expect(settingValue(prediction, "Infinity")).toBe("Infinity");
    expect(settingValue(prediction, "")).toBeUndefined();
    expect(inputValue(false)).toBe("false");
    expect(inputValue(0)).toBe("0");
  });

  it("reads back what it shows, for any value of a several-typed setting", () => {
    const [prediction] = settingFields(kind("fallback"));
    if (!prediction) throw new Error("fields");
    fc.assert(
      fc.property(
        fc.oneof(
          fc.boolean(),
          fc.double({ noNaN: true, noDefaultInfinity: true }),
          fc.integer(),
          fc.string({ minLength: 1 }),
        ),
        (value) => {
          const shown = inputValue(value);
          const back = settingValue(prediction, shown);
          if (typeof value === "string") {
            // Text that reads as a number or yes/no becomes one; other text stays as typed.
            if (back !== undefined && typeof back === "string") expect(back).toBe(value);
          } else {
            expect(back).toEqual(Object.is(value, -0) ? 0 : value);
          }
        },
      ),
      { numRuns: 500, seed: 11 },
    );
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
