import { afterAll, describe, expect, it } from "vitest";
import {
  cellValue,
  type DictionaryColumn,
  type Frame,
  getColumn,
  type NumericColumn,
} from "./frame.ts";
import {
  applyTypeOverrides,
  booleanLabels,
  type ColumnStats,
  inferColumnType,
  inferStringType,
  looksLikeIdName,
  parseBooleanSpelling,
  parseDatetimeText,
  parseNumberText,
  schemaOfFrame,
  storageKind,
} from "./infer-schema.ts";
import { IngestError, ingestFile } from "./ingest.ts";
import { lines, TestFiles } from "./test-files.ts";

function stats(partial: Partial<ColumnStats> & Pick<ColumnStats, "sourceType">): ColumnStats {
  return { name: "col", rowCount: 100, nonMissing: 100, ...partial };
}

describe("storageKind", () => {
  it.each([
    ["BOOLEAN", "boolean"],
    ["BIGINT", "integer"],
    ["UTINYINT", "integer"],
    ["HUGEINT", "integer"],
    ["DOUBLE", "float"],
    ["FLOAT", "float"],
    ["DECIMAL(10,2)", "float"],
    ["DATE", "datetime"],
    ["TIMESTAMP", "datetime"],
    ["TIMESTAMP_NS", "datetime"],
    ["TIMESTAMP WITH TIME ZONE", "datetime"],
    ["VARCHAR", "string"],
    ["UUID", "string"],
    ["TIME", "string"],
    ["STRUCT(a BIGINT)", "string"],
    ["BIGINT[]", "string"],
  ])("%s -> %s", (type, kind) => {
    expect(storageKind(type)).toBe(kind);
  });
});

describe("looksLikeIdName", () => {
  it.each([
    "id",
    "ID",
    "customer_id",
    "order-id",
    "user.id",
    "uuid",
    "row_key",
    "userId",
    "orderID",
  ])("%s looks like an id", (name) => expect(looksLikeIdName(name)).toBe(true));
  it.each(["idea", "valid", "paid", "kidney", "keyboard", "monkey", "width", "Ideal"])(
    "%s does not",
    (name) => expect(looksLikeIdName(name)).toBe(false),
  );
});

describe("inferColumnType", () => {
  it("maps storage types", () => {
    expect(inferColumnType(stats({ sourceType: "BOOLEAN" }))).toBe("boolean");
    expect(inferColumnType(stats({ sourceType: "DATE" }))).toBe("datetime");
    expect(inferColumnType(stats({ sourceType: "TIMESTAMP WITH TIME ZONE" }))).toBe("datetime");
    expect(inferColumnType(stats({ sourceType: "DOUBLE" }))).toBe("number");
    expect(inferColumnType(stats({ sourceType: "DECIMAL(18,3)" }))).toBe("number");
  });

  it("keeps 0/1 integer columns as numbers", () => {
    expect(inferColumnType(stats({ name: "churned", sourceType: "BIGINT", distinct: 2 }))).toBe(
      "number",
    );
  });

  it("makes all-distinct integers an id only when named like one", () => {
    const unique = { sourceType: "BIGINT", distinct: 100 } as const;
    expect(inferColumnType(stats({ ...unique, name: "customer_id" }))).toBe("id");
    expect(inferColumnType(stats({ ...unique, name: "age" }))).toBe("number");
    expect(inferColumnType(stats({ ...unique, name: "order_id", distinct: 99 }))).toBe("number");
  });

  it("delegates strings to inferStringType", () => {
    expect(inferColumnType(stats({ sourceType: "VARCHAR", distinct: 3, meanLength: 5 }))).toBe(
      "category",
    );
  });
});

describe("inferStringType", () => {
  const s = (partial: Partial<ColumnStats>) => stats({ sourceType: "VARCHAR", ...partial });

  it("id: named like an id and nearly all distinct", () => {
    expect(inferStringType(s({ name: "account_key", distinct: 99 }))).toBe("id");
    expect(inferStringType(s({ name: "account_key", distinct: 90 }))).toBe("category");
  });

  it("text: long or wordy, and mostly distinct", () => {
    expect(inferStringType(s({ distinct: 80, meanLength: 45, spaceRatio: 0 }))).toBe("text");
    expect(inferStringType(s({ distinct: 60, meanLength: 12, spaceRatio: 0.9 }))).toBe("text");
    // Long but repetitive answers are categories.
    expect(inferStringType(s({ distinct: 5, meanLength: 45, spaceRatio: 1 }))).toBe("category");
  });

  it("id: every value distinct from 20 values on", () => {
    expect(inferStringType(s({ distinct: 100, meanLength: 8 }))).toBe("id");
    expect(inferStringType(s({ rowCount: 10, nonMissing: 10, distinct: 10, meanLength: 3 }))).toBe(
      "category",
    );
  });

  it("category otherwise, and for columns with no values", () => {
    expect(inferStringType(s({ distinct: 4, meanLength: 6, spaceRatio: 0.2 }))).toBe("category");
    expect(inferStringType(s({ nonMissing: 0, distinct: 0 }))).toBe("category");
  });
});

describe("booleanLabels", () => {
  it("picks the most frequent spelling per side", () => {
    expect(
      booleanLabels([
        { value: "Yes", truth: true, count: 10 },
        { value: "yes", truth: true, count: 2 },
        { value: "No", truth: false, count: 7 },
      ]),
    ).toEqual(["No", "Yes"]);
  });

  it("derives a missing side in the same letter case", () => {
    expect(booleanLabels([{ value: "YES", truth: true, count: 3 }])).toEqual(["NO", "YES"]);
    expect(booleanLabels([{ value: "n", truth: false, count: 3 }])).toEqual(["n", "y"]);
    expect(booleanLabels([{ value: "F", truth: false, count: 1 }])).toEqual(["F", "T"]);
  });

  it("gives none for plain true/false", () => {
    expect(
      booleanLabels([
        { value: "TRUE", truth: true, count: 1 },
        { value: "false", truth: false, count: 1 },
      ]),
    ).toBeUndefined();
    expect(booleanLabels([])).toBeUndefined();
  });
});

describe("text parsers", () => {
  it("parseBooleanSpelling", () => {
    expect(["Yes", " y ", "TRUE", "t", "1"].map(parseBooleanSpelling)).toEqual([
      true,
      true,
      true,
      true,
      true,
    ]);
    expect(["No", "n", "false", "F", "0"].map(parseBooleanSpelling)).toEqual([
      false,
      false,
      false,
      false,
      false,
    ]);
    expect(parseBooleanSpelling("maybe")).toBeUndefined();
  });

  it("parseNumberText accepts plain decimals only", () => {
    expect(["12", "-3.5", " 1e3 ", ".5", "+7"].map(parseNumberText)).toEqual([
      12, -3.5, 1000, 0.5, 7,
    ]);
    for (const bad of ["", " ", "0x10", "1,000", "12abc", "NaN", "Infinity"]) {
      expect(parseNumberText(bad)).toBeUndefined();
    }
  });

  it("parseDatetimeText reads ISO dates, zone-less as UTC", () => {
    expect(parseDatetimeText("2024-01-31")).toBe(Date.UTC(2024, 0, 31));
    expect(parseDatetimeText("2024-01-31 09:30")).toBe(Date.UTC(2024, 0, 31, 9, 30));
    expect(parseDatetimeText("2024-01-31T09:30:15.25Z")).toBe(
      Date.UTC(2024, 0, 31, 9, 30, 15, 250),
    );
    expect(parseDatetimeText("2024-01-31T09:30:00+02:00")).toBe(Date.UTC(2024, 0, 31, 7, 30));
    expect(parseDatetimeText("2024-01-31T09:30:00-0500")).toBe(Date.UTC(2024, 0, 31, 14, 30));
    for (const bad of ["2024-02-30", "2024-13-01", "31/01/2024", "soon", "2024-01-31T25:00"]) {
      expect(parseDatetimeText(bad)).toBeUndefined();
    }
  });
});

function numberColumn(name: string, values: number[]): NumericColumn {
  return { name, type: "number", values: Float64Array.from(values) };
}

function categoryColumn(name: string, cells: (string | null)[]): DictionaryColumn {
  const levels: string[] = [];
  const codes = Int32Array.from(cells, (cell) => {
    if (cell === null) return -1;
    let code = levels.indexOf(cell);
    if (code < 0) code = levels.push(cell) - 1;
    return code;
  });
  return { name, type: "category", codes, levels };
}

function read(frame: Frame, name: string) {
  const column = getColumn(frame, name);
  if (!column) throw new Error(`no column ${name}`);
  return Array.from({ length: frame.rowCount }, (_, row) => cellValue(column, row));
}

function overrideError(frame: Frame, overrides: Parameters<typeof applyTypeOverrides>[1]) {
  try {
    applyTypeOverrides(frame, overrides);
  } catch (error) {
    if (error instanceof IngestError) return error;
    throw error;
  }
  throw new Error("override did not fail");
}

describe("applyTypeOverrides", () => {
  const frame: Frame = {
    rowCount: 4,
    columns: [
      numberColumn("zip", [2134, 90210, Number.NaN, 2134]),
      categoryColumn("price", ["12.5", "3", null, "12.5"]),
      categoryColumn("answer", ["Yes", "No", "Yes", null]),
      categoryColumn("day", ["2024-01-31", null, "2024-02-01 10:00", "2024-01-31"]),
      numberColumn("flag", [0, 1, 1, Number.NaN]),
      categoryColumn("city", ["Oslo", "Lima", "Oslo", "Pune"]),
    ],
  };

  it("converts numbers to categories by their text, keeping missing", () => {
    const { frame: out, schema } = applyTypeOverrides(frame, { zip: "category" });
    expect(read(out, "zip")).toEqual(["2134", "90210", null, "2134"]);
    const zip = getColumn(out, "zip") as DictionaryColumn;
    expect(zip.levels).toEqual(["2134", "90210"]);
    expect(schema.columns.find((c) => c.name === "zip")).toEqual({
      name: "zip",
      type: "category",
      nullable: true,
    });
  });

  it("parses categories as numbers, yes/no spellings as booleans, ISO text as datetimes", () => {
    const { frame: out, schema } = applyTypeOverrides(frame, {
      price: "number",
      answer: "boolean",
      day: "datetime",
      flag: "boolean",
    });
    expect(read(out, "price")).toEqual([12.5, 3, null, 12.5]);
    expect(read(out, "answer")).toEqual(["Yes", "No", "Yes", null]);
    expect((getColumn(out, "answer") as NumericColumn).labels).toEqual(["No", "Yes"]);
    expect(read(out, "day")).toEqual([
      "2024-01-31T00:00:00.000Z",
      null,
      "2024-02-01T10:00:00.000Z",
      "2024-01-31T00:00:00.000Z",
    ]);
    expect(read(out, "flag")).toEqual([false, true, true, null]);
    expect(schema.columns.map((c) => c.type)).toEqual([
      "number",
      "number",
      "boolean",
      "datetime",
      "boolean",
      "category",
    ]);
    expect(schema.columns.find((c) => c.name === "answer")?.labels).toEqual(["No", "Yes"]);
  });

  it("leaves the input frame and unnamed columns untouched", () => {
    const { frame: out } = applyTypeOverrides(frame, { city: "text", price: "number" });
    expect(out.columns[0]).toBe(frame.columns[0]);
    expect(getColumn(frame, "price")?.type).toBe("category");
    expect(getColumn(out, "city")?.type).toBe("text");
    expect(read(out, "city")).toEqual(["Oslo", "Lima", "Oslo", "Pune"]);
  });

  it("round-trips booleans and datetimes through categories in the user's words", () => {
    const step1 = applyTypeOverrides(frame, { answer: "boolean", day: "datetime" }).frame;
    const step2 = applyTypeOverrides(step1, { answer: "category", day: "category" }).frame;
    expect(read(step2, "answer")).toEqual(["Yes", "No", "Yes", null]);
    expect(read(step2, "day")[0]).toBe("2024-01-31T00:00:00.000Z");
  });

  it("names the column and the bad value when a conversion is impossible", () => {
    const e1 = overrideError(frame, { city: "number" });
    expect(e1).toMatchObject({ code: "conversion_failed", column: "city" });
    expect(e1.message).toBe(
      'Column "city" cannot become a number column: the value "Oslo" is not a number.',
    );
    const e2 = overrideError(frame, { zip: "boolean" });
    expect(e2).toMatchObject({ code: "conversion_failed", column: "zip" });
    expect(e2.message).toContain('"2134" is neither 0 nor 1');
    expect(overrideError(frame, { city: "boolean" }).message).toContain('"Oslo"');
    expect(overrideError(frame, { city: "datetime" }).message).toContain('"Oslo"');
    expect(overrideError(frame, { zip: "datetime" }).code).toBe("conversion_failed");
  });

  it("rejects unknown columns and types", () => {
    expect(overrideError(frame, { nope: "number" })).toMatchObject({
      code: "unknown_column",
      column: "nope",
    });
    expect(overrideError(frame, { zip: "money" as never }).code).toBe("conversion_failed");
  });

  it("keeps storage types from a base schema", () => {
    const base = schemaOfFrame(frame, { zip: "BIGINT", city: "VARCHAR" });
    const { schema } = applyTypeOverrides(frame, { zip: "category" }, base);
    expect(schema.columns.find((c) => c.name === "zip")?.sourceType).toBe("BIGINT");
    expect(schema.columns.find((c) => c.name === "city")?.sourceType).toBe("VARCHAR");
  });
});

describe("applyTypeOverrides on an ingested file", () => {
  const files = new TestFiles();
  afterAll(() => files.remove());

  it("turns a zip code read as a number into a category, and back", async () => {
    const path = files.write("zips.csv", lines("zip,amount", "2134,10", "90210,12", "2134,"));
    const ingested = await ingestFile(path);
    expect(ingested.schema.columns[0]?.type).toBe("number");
    const { frame, schema } = applyTypeOverrides(
      ingested.frame,
      { zip: "category" },
      ingested.schema,
    );
    expect(schema.columns[0]).toMatchObject({ type: "category", sourceType: "BIGINT" });
    expect(read(frame, "zip")).toEqual(["2134", "90210", "2134"]);
    const back = applyTypeOverrides(frame, { zip: "number" }).frame;
    expect(read(back, "zip")).toEqual([2134, 90210, 2134]);
    expect(schema.columns[1]).toMatchObject({ name: "amount", nullable: true });
  });
});
