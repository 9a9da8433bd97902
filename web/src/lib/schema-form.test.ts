import { describe, expect, it } from "vitest";
import { fieldsFromSchema, initialValues, recordFromValues } from "./schema-form.ts";

// The shape src/spec/contract.ts recordSchema() writes.
const schema = {
  type: "object",
  additionalProperties: false,
  required: ["tenure", "contract", "partner"],
  properties: {
    tenure: { type: "number" },
    total_charges: { type: ["number", "null"] },
    partner: {
      description: 'true/false (or "Yes"/"No"), or 1/0',
      enum: [true, false, 1, 0, "No", "Yes"],
    },
    contract: {
      type: "string",
      description: "A category; values not seen in training are scored as 'unknown'",
      examples: ["Month-to-month", "One year"],
      "x-ballast-categories": ["Month-to-month", "One year", "Two year"],
    },
    plan: { type: "string", enum: ["basic", "pro", null] },
    signed: { type: "string", anyOf: [{ format: "date-time" }, { format: "date" }] },
    note: { type: "string" },
  },
};

describe("try-it form from the input schema", () => {
  const fields = fieldsFromSchema(schema);

  it("picks an input per field kind", () => {
    expect(fields.map((f) => [f.name, f.kind, f.required, f.nullable])).toEqual([
      ["tenure", "number", true, false],
      ["total_charges", "number", false, true],
      ["partner", "boolean", true, false],
      ["contract", "enum", true, false],
      ["plan", "enum", false, true],
      ["signed", "date", false, false],
      ["note", "text", false, false],
    ]);
    expect(fields.find((f) => f.name === "partner")?.labels).toEqual(["No", "Yes"]);
    expect(fields.find((f) => f.name === "contract")?.options).toEqual([
      "Month-to-month",
      "One year",
      "Two year",
    ]);
    expect(fields.find((f) => f.name === "plan")?.options).toEqual(["basic", "pro"]);
  });

  it("starts from an example record, in the field's own terms", () => {
    const values = initialValues(fields, { tenure: 12, partner: "Yes", contract: "Two year" });
    expect(values).toMatchObject({
      tenure: "12",
      total_charges: "",
      partner: true,
      contract: "Two year",
      plan: "",
      signed: "",
    });
    expect(initialValues(fields).contract).toBe("Month-to-month");
  });

  it("builds the record the contract accepts, or names the fields it would refuse", () => {
    const ok = recordFromValues(fields, {
      tenure: " 3 ",
      total_charges: "",
      partner: false,
      contract: "One year",
      plan: "pro",
      signed: "2024-02-01",
      note: "",
    });
    expect(ok.errors).toEqual({});
    expect(ok.record).toEqual({
      tenure: 3,
      total_charges: null,
      partner: false,
      contract: "One year",
      plan: "pro",
      signed: "2024-02-01",
    });
    const bad = recordFromValues(fields, { tenure: "three", contract: "", partner: true });
    expect(bad.errors).toEqual({ tenure: "must be a number", contract: "is required" });
  });

  it("tolerates a schema with no properties", () => {
    expect(fieldsFromSchema({})).toEqual([]);
    expect(fieldsFromSchema(null)).toEqual([]);
  });
});
