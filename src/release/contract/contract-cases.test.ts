import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Recipe, RecipeInput } from "../../features/recipe.ts";
import { createAjv } from "../../runtime/record-validation.ts";
import { type AppSpec, defaultAppSpec } from "../../spec/app-spec.ts";
import { recordSchema, requestSchema } from "../../spec/contract.ts";
import { type ContractCase, contractCases, recordSchemaOf } from "./contract-cases.ts";

function recipeOf(inputs: readonly RecipeInput[]): Recipe {
  return {
    formatVersion: 1,
    target: { column: "churned", task: "binary", classes: ["no", "yes"] },
    inputs,
    excluded: [],
  };
}

function specOf(unknownCategories: "bucket" | "reject", maxRows: number): AppSpec {
  const spec = defaultAppSpec("churn", { name: "churn", version: 1 });
  return { ...spec, contract: { unknownCategories }, limits: { maxRows } };
}

const churnInputs: RecipeInput[] = [
  { column: "tenure_months", kind: "number", nullable: false },
  { column: "monthly_charges", kind: "number", nullable: true },
  { column: "plan", kind: "category", nullable: false, levels: ["basic", "pro"] },
  { column: "paperless", kind: "boolean", nullable: false, labels: ["no", "yes"] },
  { column: "signup", kind: "datetime", nullable: true },
];

/** Checks each body with Ajv compiled as the server compiles contracts (formats included). */
function schemaVerdicts(schema: Record<string, unknown>, cases: readonly ContractCase[]) {
  const validate = createAjv().compile(schema);
  return cases.map((c) => ({
    name: c.name,
    expect: c.expect,
    valid: validate(c.body),
  }));
}

describe("contractCases on a churn app", () => {
  const schema = requestSchema(recipeOf(churnInputs), specOf("reject", 100));
  const cases = contractCases(schema);
  const byName = new Map(cases.map((c) => [c.name, c]));

  it("generates the cases the contract implies, each named for a person", () => {
    expect(cases.map((c) => [c.name, c.expect])).toEqual([
      ["valid record", "accept"],
      ["batch of 2 records", "accept"],
      ["monthly_charges null", "accept"],
      ["signup null", "accept"],
      ["body is an array", "reject"],
      ["body is a string", "reject"],
      ["missing tenure_months", "reject"],
      ["missing plan", "reject"],
      ["missing paperless", "reject"],
      ["tenure_months wrong type", "reject"],
      ["monthly_charges wrong type", "reject"],
      ["plan wrong type", "reject"],
      ["paperless wrong type", "reject"],
      ["signup wrong type", "reject"],
      ["unknown field unexpected_field", "reject"],
      ["plan outside its categories", "reject"],
      ["signup not a date", "reject"],
      ["batch with one invalid row", "reject"],
      ["empty rows", "reject"],
      ["101 rows (limit 100)", "reject"],
    ]);
  });

  it("makes a base record from the schema: first enum value, 0, a date", () => {
    expect(byName.get("valid record")?.body).toEqual({
      tenure_months: 0,
      monthly_charges: 0,
      plan: "basic",
      paperless: true,
      signup: "2024-01-01",
    });
  });

  it("changes exactly one thing in each single-record case", () => {
    const base = { tenure_months: 0, monthly_charges: 0, plan: "basic", paperless: true };
    expect(byName.get("missing tenure_months")?.body).toEqual({
      monthly_charges: 0,
      plan: "basic",
      paperless: true,
      signup: "2024-01-01",
    });
    expect(byName.get("tenure_months wrong type")?.body).toEqual({
      ...base,
      tenure_months: "abc",
      signup: "2024-01-01",
    });
    expect(byName.get("plan wrong type")?.body).toMatchObject({ plan: 123 });
    expect(byName.get("paperless wrong type")?.body).toMatchObject({ paperless: "maybe" });
    expect(byName.get("signup null")?.body).toEqual({ ...base, signup: null });
    expect(byName.get("signup not a date")?.body).toMatchObject({ signup: "not a date" });
    expect(byName.get("missing tenure_months")?.why).toBe("tenure_months is required");
  });

  it("builds the batches at the limits of the rows schema", () => {
    const over = byName.get("101 rows (limit 100)")?.body as { rows: unknown[] };
    expect(over.rows).toHaveLength(101);
    expect(byName.get("empty rows")?.body).toEqual({ rows: [] });
    const batch = byName.get("batch with one invalid row")?.body as { rows: unknown[] };
    expect(batch.rows).toHaveLength(2);
  });

  it("accept bodies fit the published schema and reject bodies do not", () => {
    for (const v of schemaVerdicts(schema, cases)) {
      expect({ name: v.name, valid: v.valid }).toEqual({
        name: v.name,
        valid: v.expect === "accept",
      });
    }
  });

  it("does not share a record between two cases, so changing one body leaves the rest", () => {
    const again = contractCases(schema);
    const body = (n: string) => again.find((c) => c.name === n)?.body;
    const first = body("valid record") as Record<string, unknown>;
    first.tenure_months = 99;
    expect(body("batch of 2 records")).toMatchObject({ rows: [{ tenure_months: 0 }, {}] });
    expect(body("body is an array")).toEqual([expect.objectContaining({ tenure_months: 0 })]);
    expect(body("missing plan")).toMatchObject({ tenure_months: 0 });
  });
});

describe("contractCases options and edges", () => {
  it("uses known-valid records as they are, and the first as the base", () => {
    const schema = requestSchema(recipeOf(churnInputs), specOf("bucket", 50));
    const golden = [
      { tenure_months: 12, plan: "pro", paperless: "yes" },
      { tenure_months: 3, monthly_charges: 20.5, plan: "basic", paperless: 0, signup: null },
    ];
    const cases = contractCases(schema, { validRecords: golden });
    const accepted = cases.filter((c) => c.expect === "accept").map((c) => c.name);
    expect(accepted).toEqual([
      "valid record 1",
      "valid record 2",
      "batch of 2 records",
      "monthly_charges null",
      "signup null",
    ]);
    expect(cases.find((c) => c.name === "missing plan")?.body).toEqual({
      tenure_months: 12,
      paperless: "yes",
    });
    // With unknownCategories "bucket" there is no enum: any string is a category.
    expect(cases.some((c) => c.name.includes("outside its categories"))).toBe(false);
    for (const v of schemaVerdicts(schema, cases)) expect(v.valid).toBe(v.expect === "accept");
  });

  it("builds the over-the-limit batch only up to maxRows", () => {
    const schema = requestSchema(recipeOf(churnInputs), specOf("reject", 2000));
    const names = (maxRows?: number) =>
      contractCases(schema, maxRows === undefined ? {} : { maxRows }).map((c) => c.name);
    expect(names().some((n) => n.includes("rows (limit"))).toBe(false);
    expect(names(2000)).toContain("2001 rows (limit 2000)");
  });

  it("sends a batch of one when the app takes one row at a time", () => {
    const schema = requestSchema(recipeOf(churnInputs), specOf("reject", 1));
    const cases = contractCases(schema);
    const names = cases.map((c) => c.name);
    expect(names).toContain("batch of 1 record");
    expect(names).toContain("2 rows (limit 1)");
    expect(names).not.toContain("batch with one invalid row");
    for (const v of schemaVerdicts(schema, cases)) expect(v.valid).toBe(v.expect === "accept");
  });

  it("writes at most 20 missing-field cases", () => {
    const inputs: RecipeInput[] = Array.from({ length: 25 }, (_, i) => ({
      column: `f${i}`,
      kind: "number",
      nullable: false,
    }));
    const cases = contractCases(requestSchema(recipeOf(inputs), specOf("reject", 10)));
    expect(cases.filter((c) => c.name.startsWith("missing ")).map((c) => c.name)).toEqual(
      Array.from({ length: 20 }, (_, i) => `missing f${i}`),
    );
    expect(cases.filter((c) => c.name.endsWith(" wrong type"))).toHaveLength(25);
  });

  it("picks values that are really outside a field's enum and a free extra field name", () => {
    const inputs: RecipeInput[] = [
      { column: "unexpected_field", kind: "number", nullable: false },
      { column: "answer", kind: "boolean", nullable: false, labels: ["maybe", "sure"] },
      { column: "tier", kind: "category", nullable: false, levels: ["not_a_category", "gold"] },
    ];
    const schema = requestSchema(recipeOf(inputs), specOf("reject", 10));
    const cases = contractCases(schema);
    const body = (name: string) => cases.find((c) => c.name === name)?.body;
    expect(body("answer wrong type")).toMatchObject({ answer: "maybe_2" });
    expect(body("tier outside its categories")).toMatchObject({ tier: "not_a_category_2" });
    expect(body("unknown field unexpected_field_2")).toMatchObject({ unexpected_field_2: 1 });
    for (const v of schemaVerdicts(schema, cases)) expect(v.valid).toBe(v.expect === "accept");
  });

  it("keeps a field named __proto__ a field of the body", () => {
    // By hand: recordSchema cannot publish a field with this name (it becomes the prototype).
    const record = JSON.parse(
      '{"type":"object","additionalProperties":false,"required":["__proto__"],"properties":{"__proto__":{"type":"number"}}}',
    );
    const rows = { type: "object", properties: { rows: { type: "array", items: record } } };
    const cases = contractCases({ oneOf: [record, rows] });
    const base = cases.find((c) => c.name === "valid record")?.body;
    expect(JSON.stringify(base)).toBe('{"__proto__":0}');
    expect(JSON.stringify(cases.find((c) => c.name === "__proto__ wrong type")?.body)).toBe(
      '{"__proto__":"abc"}',
    );
  });

  it("sets a field to null only where its published schema takes null", () => {
    // recordSchema adds null to a nullable category's enum; the case follows the schema as it
    // is published, whatever its type says, so a generated accept case is never a false alarm.
    const field = (schema: Record<string, unknown>) => ({
      oneOf: [
        { type: "object", properties: { x: schema } },
        { type: "object", properties: { rows: { type: "array", items: {} } } },
      ],
    });
    const nullCases = (schema: Record<string, unknown>) =>
      contractCases(field(schema)).filter((c) => c.name === "x null");
    expect(nullCases({ type: ["string", "null"], enum: ["a", null] })).toHaveLength(1);
    expect(nullCases({ enum: [true, false, null] })).toHaveLength(1);
    expect(nullCases({ type: ["number", "null"] })).toHaveLength(1);
    expect(nullCases({ type: "string", enum: ["a", null] })).toHaveLength(0);
    expect(nullCases({ type: ["string", "null"], enum: ["a"] })).toHaveLength(0);
    expect(nullCases({ type: "number" })).toHaveLength(0);
  });

  it("says so when a required field's schema gives no valid value", () => {
    const schema = {
      oneOf: [
        { type: "object", required: ["blob"], properties: { blob: { type: "object" } } },
        { type: "object", properties: { rows: { type: "array", items: {} } } },
      ],
    };
    expect(() => contractCases(schema)).toThrow(/blob.*validRecords/);
    const cases = contractCases(schema, { validRecords: [{ blob: {} }] });
    expect(cases.find((c) => c.name === "missing blob")?.body).toEqual({});
  });
});

describe("recordSchemaOf", () => {
  it("returns the record branch, whichever order oneOf lists them in", () => {
    const recipe = recipeOf(churnInputs);
    const spec = specOf("reject", 100);
    const request = requestSchema(recipe, spec);
    expect(recordSchemaOf(request)).toEqual(recordSchema(recipe, spec));
    const oneOf = request.oneOf as unknown[];
    expect(recordSchemaOf({ oneOf: [...oneOf].reverse() })).toEqual(recordSchema(recipe, spec));
  });

  it("refuses shapes it does not know, saying what it expected", () => {
    const record = recordSchema(recipeOf(churnInputs), specOf("reject", 100));
    expect(() => recordSchemaOf(record)).toThrow(/Not a Ballast request schema.*no oneOf/);
    expect(() => recordSchemaOf({ oneOf: [record] })).toThrow(/1 branches/);
    expect(() => recordSchemaOf({ oneOf: [record, record] })).toThrow(/\{rows\} batch/);
    expect(() => recordSchemaOf({ oneOf: [record, 3] })).toThrow(/not a schema object/);
  });
});

describe("contractCases over generated apps", () => {
  const name = fc.stringMatching(/^[a-z][a-z0-9_]{0,8}$/).filter((n) => n !== "rows");
  const level = fc.oneof(fc.constant("not_a_category"), fc.string({ minLength: 1, maxLength: 6 }));
  const input = (column: string): fc.Arbitrary<RecipeInput> =>
    fc.oneof(
      fc.record({
        column: fc.constant(column),
        kind: fc.constant("number"),
        nullable: fc.boolean(),
      }),
      fc.record({
        column: fc.constant(column),
        kind: fc.constant("boolean"),
        nullable: fc.boolean(),
        labels: fc.constantFrom<[string, string]>(["no", "yes"], ["maybe", "sure"], ["N", "Y"]),
      }),
      fc.record({
        column: fc.constant(column),
        kind: fc.constant("category"),
        nullable: fc.boolean(),
        levels: fc.uniqueArray(level, { minLength: 1, maxLength: 5 }),
      }),
      fc.record({
        column: fc.constant(column),
        kind: fc.constant("datetime"),
        nullable: fc.boolean(),
      }),
    );
  const app = fc.record({
    inputs: fc
      .uniqueArray(name, { minLength: 1, maxLength: 16 })
      .chain((names) => fc.tuple(...names.map(input))),
    unknownCategories: fc.constantFrom<"bucket" | "reject">("bucket", "reject"),
    maxRows: fc.oneof(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 6, max: 1500 })),
  });

  it("accept bodies validate and reject bodies fail, as Ajv judges them", () => {
    fc.assert(
      fc.property(app, ({ inputs, unknownCategories, maxRows }) => {
        const schema = requestSchema(recipeOf(inputs), specOf(unknownCategories, maxRows));
        const cases = contractCases(schema);
        for (const v of schemaVerdicts(schema, cases)) {
          expect({ name: v.name, valid: v.valid }).toEqual({
            name: v.name,
            valid: v.expect === "accept",
          });
        }
        const names = cases.map((c) => c.name);
        expect(new Set(names).size).toBe(names.length);

        const required = inputs.filter((i) => !i.nullable).map((i) => i.column);
        const missing = names.filter((n) => n.startsWith("missing ")).map((n) => n.slice(8));
        expect(missing).toEqual(required.slice(0, 20));
        // A null case for each field whose published schema takes null, as Ajv says (not every
        // nullable input's does: a category under "reject" publishes type "string").
        const fieldSchemas = recordSchema(recipeOf(inputs), specOf(unknownCategories, maxRows))
          .properties as Record<string, Record<string, unknown>>;
        const ajv = createAjv();
        const takesNull = inputs.filter(
          (i) => i.nullable && ajv.validate(fieldSchemas[i.column] ?? false, null),
        );
        const nulls = cases.filter((c) => c.expect === "accept" && c.name.endsWith(" null"));
        expect(nulls.map((c) => c.name)).toEqual(takesNull.map((i) => `${i.column} null`));
        expect(names.filter((n) => n.endsWith(" wrong type"))).toHaveLength(inputs.length);
        expect(names.includes(`${maxRows + 1} rows (limit ${maxRows})`)).toBe(maxRows <= 1000);
      }),
      { numRuns: 40 },
    );
  });
});
