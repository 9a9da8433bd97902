import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEFAULT_MONITORING, MONITORING_GROUPS } from "../../../src/spec/monitoring.ts";
import { DEFAULT_POLICIES, POLICY_GROUPS } from "../../../src/spec/policies.ts";
import { DEFAULT_RELEASE, RELEASE_GROUPS } from "../../../src/spec/release.ts";
import { webhookSettingsSchema } from "../../../src/spec/webhook.ts";
import { isPolicyProblem } from "./problems.ts";
import { type MapRow, mapRows, rowsToMap, settingFields, settingValue } from "./settings-form.ts";

const webhookFields = () => settingFields(webhookSettingsSchema);
const field = (key: string) => {
  const f = webhookFields().find((x) => x.key === key);
  if (!f) throw new Error(key);
  return f;
};

describe("the policies' forms", () => {
  it("makes one form per group: bounded integer inputs and checkboxes showing the defaults", () => {
    const concurrency = POLICY_GROUPS.find((g) => g.key === "concurrency");
    if (!concurrency) throw new Error("concurrency");
    expect(settingFields(concurrency.schema)).toEqual([
      {
        key: "maxInFlight",
        label: "Most requests in flight",
        description: expect.any(String),
        required: false,
        defaultValue: 64,
        control: "number",
        step: 1,
        min: 1,
        max: 100000,
      },
      expect.objectContaining({ key: "maxQueue", control: "number", min: 0, defaultValue: 64 }),
      expect.objectContaining({ key: "maxQueueWaitMs", control: "number", defaultValue: 250 }),
    ]);
    for (const group of POLICY_GROUPS) {
      const fields = settingFields(group.schema);
      expect(fields.map((f) => f.key)).toEqual(Object.keys(DEFAULT_POLICIES[group.key]));
      for (const f of fields) {
        expect(["number", "checkbox"]).toContain(f.control);
        expect(f.defaultValue).toBe(
          new Map(Object.entries(DEFAULT_POLICIES[group.key])).get(f.key),
        );
        expect(f.required).toBe(false);
      }
    }
    // Labels are unique across the panel, so each reads on its own.
    const labels = [
      ...POLICY_GROUPS.flatMap((g) => settingFields(g.schema).map((f) => f.label)),
      ...webhookFields().map((f) => f.label),
    ];
    expect(new Set(labels).size).toBe(labels.length);
  });

  it("makes one form per release group, fields in the defaults' order, canary steps as text", () => {
    for (const group of RELEASE_GROUPS) {
      const fields = settingFields(group.schema);
      expect(fields.map((f) => f.key)).toEqual(Object.keys(DEFAULT_RELEASE[group.key]));
      for (const f of fields) {
        expect(f.defaultValue).toBe(new Map(Object.entries(DEFAULT_RELEASE[group.key])).get(f.key));
      }
    }
    const canary = RELEASE_GROUPS.find((g) => g.key === "canary");
    if (!canary) throw new Error("canary");
    expect(settingFields(canary.schema).find((f) => f.key === "steps")).toMatchObject({
      control: "text",
      defaultValue: "5,25,50,100",
    });
  });

  it("makes one form per monitoring group, fields in the defaults' order, labels unique", () => {
    for (const group of MONITORING_GROUPS) {
      const fields = settingFields(group.schema);
      expect(fields.map((f) => f.key)).toEqual(Object.keys(DEFAULT_MONITORING[group.key]));
      for (const f of fields) {
        expect(f.defaultValue).toBe(
          new Map(Object.entries(DEFAULT_MONITORING[group.key])).get(f.key),
        );
      }
    }
    const logGroup = MONITORING_GROUPS.find((g) => g.key === "predictionLog");
    if (!logGroup) throw new Error("predictionLog");
    const sampleRate = settingFields(logGroup.schema).find((f) => f.key === "sampleRate");
    // A share, not an integer: the input must accept 0.25.
    expect(sampleRate).toMatchObject({ control: "number", min: 0, max: 1 });
    expect(sampleRate?.step).not.toBe(1);
    const labels = [
      ...POLICY_GROUPS.flatMap((g) => settingFields(g.schema).map((f) => f.label)),
      ...webhookFields().map((f) => f.label),
      ...MONITORING_GROUPS.flatMap((g) => settingFields(g.schema).map((f) => f.label)),
    ];
    expect(new Set(labels).size).toBe(labels.length);
    expect(isPolicyProblem({ path: "/monitoring/slo/errorRate", message: "x" })).toBe(true);
  });

  it("makes the webhook's form: a URL, numbers, checkboxes and two key → value lists", () => {
    expect(webhookFields().map((f) => [f.key, f.control])).toEqual([
      ["enabled", "checkbox"],
      ["callbackUrl", "text"],
      ["maxAttempts", "number"],
      ["concurrency", "number"],
      ["retentionHours", "number"],
      ["coerceTypes", "checkbox"],
      ["rename", "map"],
      ["defaults", "map"],
    ]);
    expect(field("callbackUrl")).toMatchObject({ format: "uri", required: false });
    expect(field("rename")).toMatchObject({
      keyLabel: "Incoming field",
      values: { label: "Contract field", control: "text" },
    });
    expect(field("defaults")).toMatchObject({
      keyLabel: "Field",
      values: { control: "text", types: ["string", "number", "boolean", "null"] },
    });
  });
});

describe("key → value lists", () => {
  it("reads rows as a map, values typed as the map's values are", () => {
    const defaults = field("defaults");
    const rows: MapRow[] = [
      ["contract", "Month-to-month"],
      ["tenure", "12"],
      ["senior", "false"],
      ["note", "null"],
      ["", "lost: no key yet"],
      ["half", ""],
      ["tenure", "99"],
    ];
    expect(rowsToMap(rows, defaults)).toEqual({
      contract: "Month-to-month",
      tenure: 12,
      senior: false,
      note: null,
    });
    expect(rowsToMap([["months", "tenure"]], field("rename"))).toEqual({ months: "tenure" });
    expect(rowsToMap([["n", "12"]], field("rename"))).toEqual({ n: "12" });
    expect(mapRows({ a: 1, b: null, c: true, d: "x" })).toEqual([
      ["a", "1"],
      ["b", "null"],
      ["c", "true"],
      ["d", "x"],
    ]);
    expect(mapRows("not a map")).toEqual([]);
  });

  it("gives back any map of defaults it shows", () => {
    const defaults = field("defaults");
    const value = fc.oneof(
      fc.boolean(),
      fc.constant(null),
      fc.integer(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      // Text that does not read as another type (what a person means by text).
      fc.string({ minLength: 1 }).filter((s) => settingValue(defaults.values ?? defaults, s) === s),
    );
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.string({ minLength: 1 }).filter((k) => k.trim() === k),
          value,
        ),
        (map) => {
          const back = rowsToMap(mapRows(map), defaults);
          expect(back).toEqual(
            Object.fromEntries(Object.entries(map).map(([k, v]) => [k, Object.is(v, -0) ? 0 : v])),
          );
        },
      ),
      { numRuns: 300, seed: 12 },
    );
  });

  it("puts policy and webhook problems in the policies panel", () => {
    expect(isPolicyProblem({ path: "/policies/cache/enabled", message: "x" })).toBe(true);
    expect(isPolicyProblem({ path: "/webhook", message: "x" })).toBe(true);
    expect(isPolicyProblem({ path: "/webhooks", message: "x" })).toBe(false);
    expect(isPolicyProblem({ path: "/steps/1/with/maxRows", message: "x" })).toBe(false);
  });
});
