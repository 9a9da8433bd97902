import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Column,
  cellValue,
  type DictionaryColumn,
  type Frame,
  getColumn,
  isNumericColumn,
  type NumericColumn,
} from "./frame.ts";
import { detectFormat, IngestError, type Ingested, ingestFile } from "./ingest.ts";
import { ENUM_MAX_LEVELS } from "./read-duckdb-table.ts";
import { lines, TestFiles } from "./test-files.ts";

const WA_CHURN = fileURLToPath(new URL("../../examples/data/wa_churn.csv", import.meta.url));

const files = new TestFiles();
afterAll(() => files.remove());

function column(frame: Frame, name: string): Column {
  const c = getColumn(frame, name);
  if (!c) throw new Error(`no column ${name}`);
  return c;
}

function numeric(frame: Frame, name: string): NumericColumn {
  const c = column(frame, name);
  if (!isNumericColumn(c)) throw new Error(`${name} is ${c.type}`);
  return c;
}

function dictionary(frame: Frame, name: string): DictionaryColumn {
  const c = column(frame, name);
  if (isNumericColumn(c)) throw new Error(`${name} is ${c.type}`);
  return c;
}

/** Every cell of a column as callers see it (null for missing). */
function cells(frame: Frame, name: string): (string | number | boolean | null)[] {
  const c = column(frame, name);
  return Array.from({ length: frame.rowCount }, (_, row) => cellValue(c, row));
}

function types(ingested: Ingested): Record<string, string> {
  return Object.fromEntries(ingested.schema.columns.map((c) => [c.name, c.type]));
}

async function ingestError(path: string, options = {}): Promise<IngestError> {
  try {
    await ingestFile(path, options);
  } catch (error) {
    if (error instanceof IngestError) return error;
    throw error;
  }
  throw new Error(`ingesting ${path} did not fail`);
}

/** A CSV with `n` data rows where `row(i)` gives the fields of row i. */
function bigCsv(header: string, n: number, row: (i: number) => string): string {
  const out: string[] = [header];
  for (let i = 0; i < n; i++) out.push(row(i));
  return lines(...out);
}

describe("detectFormat", () => {
  it.each([
    ["data.csv", "csv"],
    ["DATA.CSV", "csv"],
    ["a/b/c.tsv", "tsv"],
    ["x.tab", "tsv"],
    ["x.parquet", "parquet"],
    ["x.json", "json"],
    ["x.ndjson", "ndjson"],
    ["x.jsonl", "ndjson"],
    ["x.csv.gz", "csv"],
    ["x.jsonl.gz", "ndjson"],
  ])("%s -> %s", (name, format) => {
    expect(detectFormat(name)).toBe(format);
  });

  it.each(["x.xlsx", "x.txt", "csv", "x.parquet.gz", "x.gz", ""])("%s -> undefined", (name) => {
    expect(detectFormat(name)).toBeUndefined();
  });
});

describe("ingestFile on examples/data/wa_churn.csv", () => {
  let churn: Ingested;
  beforeAll(async () => {
    churn = await ingestFile(WA_CHURN);
  });

  it("reads every row and column", () => {
    expect(churn.format).toBe("csv");
    expect(churn.frame.rowCount).toBe(7043);
    expect(churn.frame.columns).toHaveLength(20);
    expect(churn.schema.columns.map((c) => c.name)).toEqual(churn.frame.columns.map((c) => c.name));
    for (const c of churn.frame.columns) {
      const length = isNumericColumn(c) ? c.values.length : c.codes.length;
      expect(length).toBe(7043);
    }
  });

  it("keeps the Yes/No spellings of churn as boolean labels", () => {
    const c = numeric(churn.frame, "churn");
    expect(c.type).toBe("boolean");
    expect(c.labels).toEqual(["No", "Yes"]);
    const schema = churn.schema.columns.find((s) => s.name === "churn");
    expect(schema).toMatchObject({ type: "boolean", labels: ["No", "Yes"], sourceType: "BOOLEAN" });
    // First data rows of the file: No, No, Yes, No.
    expect(cells(churn.frame, "churn").slice(0, 4)).toEqual(["No", "No", "Yes", "No"]);
    expect(Array.from(c.values.slice(0, 4))).toEqual([0, 0, 1, 0]);
    const yes = c.values.reduce((sum, v) => sum + v, 0);
    expect(yes).toBe(1869);
  });

  it("infers numbers, 0/1 integers as numbers, and categories", () => {
    const t = types(churn);
    expect(t.tenure).toBe("number");
    expect(t.monthly_charges).toBe("number");
    expect(t.female).toBe("number");
    expect(t.senior_citizen).toBe("number");
    expect(t.contract).toBe("category");
    expect(t.payment_method).toBe("category");
    expect(cells(churn.frame, "tenure").slice(0, 3)).toEqual([1, 34, 2]);
    const contract = dictionary(churn.frame, "contract");
    expect([...contract.levels].sort()).toEqual(["Month-to-month", "One year", "Two year"]);
    expect(contract.levels[0]).toBe("Month-to-month"); // first appearance order
  });

  it("reads NA as missing: total_charges has 11 missing values", () => {
    const c = numeric(churn.frame, "total_charges");
    expect(c.type).toBe("number");
    expect(c.values.filter((v) => Number.isNaN(v))).toHaveLength(11);
    expect(churn.schema.columns.find((s) => s.name === "total_charges")?.nullable).toBe(true);
    expect(churn.schema.columns.find((s) => s.name === "tenure")?.nullable).toBe(false);
    const profile = churn.profile.columns.find((p) => p.name === "total_charges");
    expect(profile).toMatchObject({ count: 7032, missing: 11 });
    expect(cells(churn.frame, "total_charges")[1]).toBe(1889.5);
  });

  it("profiles every column", () => {
    expect(churn.profile.rowCount).toBe(7043);
    expect(churn.profile.columns).toHaveLength(20);
    const churnProfile = churn.profile.columns.find((p) => p.name === "churn");
    expect(churnProfile?.top).toEqual([
      { value: "No", count: 5174 },
      { value: "Yes", count: 1869 },
    ]);
  });
});

describe("ingestFile formats", () => {
  it("reads TSV, keeping commas and quotes inside values", async () => {
    const path = files.write(
      "plans.tsv",
      lines("plan\tprice\tnote", "basic\t9.5\thas, comma", 'pro\t19\t"quoted\ttab"', "team\t\t"),
    );
    const result = await ingestFile(path);
    expect(result.format).toBe("tsv");
    expect(types(result)).toMatchObject({ plan: "category", price: "number" });
    expect(cells(result.frame, "price")).toEqual([9.5, 19, null]);
    expect(cells(result.frame, "note")).toEqual(["has, comma", "quoted\ttab", null]);
  });

  it("reads Parquet with BIGINT, DECIMAL, DOUBLE, DATE, TIMESTAMP, BOOLEAN and VARCHAR", async () => {
    const path = await files.copy(
      "typed.parquet",
      `SELECT * FROM (VALUES
         (1::BIGINT, 12.34::DECIMAL(10,2), 0.5::DOUBLE, DATE '2024-01-02', TIMESTAMP '2024-01-02 03:04:05.678', true, 'a'),
         (9007199254740993::BIGINT, NULL, -1e300, NULL, NULL, false, NULL),
         (NULL, -0.01::DECIMAL(10,2), NULL, DATE '1969-12-31', TIMESTAMP '1970-01-01 00:00:00', NULL, 'b')
       ) t(big, dec, dbl, day, ts, flag, word)`,
    );
    const result = await ingestFile(path);
    expect(result.format).toBe("parquet");
    expect(types(result)).toEqual({
      big: "number",
      dec: "number",
      dbl: "number",
      day: "datetime",
      ts: "datetime",
      flag: "boolean",
      word: "category",
    });
    expect(cells(result.frame, "big")).toEqual([1, 9007199254740992, null]);
    expect(cells(result.frame, "dec")).toEqual([12.34, null, -0.01]);
    expect(cells(result.frame, "dbl")).toEqual([0.5, -1e300, null]);
    expect(Array.from(numeric(result.frame, "day").values)).toEqual([
      Date.UTC(2024, 0, 2),
      Number.NaN,
      Date.UTC(1969, 11, 31),
    ]);
    expect(cells(result.frame, "ts")).toEqual([
      "2024-01-02T03:04:05.678Z",
      null,
      "1970-01-01T00:00:00.000Z",
    ]);
    // Real booleans carry no labels and read back as true/false.
    expect(numeric(result.frame, "flag").labels).toBeUndefined();
    expect(cells(result.frame, "flag")).toEqual([true, false, null]);
    expect(cells(result.frame, "word")).toEqual(["a", null, "b"]);
    expect(result.schema.columns.map((c) => c.sourceType)).toEqual([
      "BIGINT",
      "DECIMAL(10,2)",
      "DOUBLE",
      "DATE",
      "TIMESTAMP",
      "BOOLEAN",
      "VARCHAR",
    ]);
  });

  it("reads a JSON array of objects, nested values as JSON text", async () => {
    const path = files.write(
      "records.json",
      JSON.stringify([
        { age: 42, plan: "basic", active: true, tags: { a: [1, 2] } },
        { age: null, plan: "pro", active: false, tags: null },
        { age: 7.5, active: true, tags: { a: [] } },
      ]),
    );
    const result = await ingestFile(path);
    expect(result.format).toBe("json");
    expect(types(result)).toMatchObject({ age: "number", plan: "category", active: "boolean" });
    expect(cells(result.frame, "age")).toEqual([42, null, 7.5]);
    expect(cells(result.frame, "plan")).toEqual(["basic", "pro", null]);
    expect(cells(result.frame, "active")).toEqual([true, false, true]);
    expect(cells(result.frame, "tags")).toEqual(['{"a":[1,2]}', null, '{"a":[]}']);
  });

  it.each(["events.ndjson", "events.jsonl", "events-lines.json"])(
    "reads newline-delimited JSON (%s)",
    async (name) => {
      const path = files.write(
        name,
        lines(
          '{"user": "u1", "amount": 3, "day": "2024-03-01"}',
          '{"user": "u2", "amount": 4.25, "day": "2024-03-02"}',
          '{"user": "u1", "amount": null, "day": null}',
        ),
      );
      const result = await ingestFile(path);
      expect(result.frame.rowCount).toBe(3);
      expect(types(result)).toEqual({ user: "category", amount: "number", day: "datetime" });
      expect(cells(result.frame, "amount")).toEqual([3, 4.25, null]);
      expect(cells(result.frame, "day")).toEqual([
        "2024-03-01T00:00:00.000Z",
        "2024-03-02T00:00:00.000Z",
        null,
      ]);
    },
  );

  it("reads date and timestamp columns of a CSV as datetimes in epoch milliseconds", async () => {
    const path = files.write(
      "visits.csv",
      lines(
        "day,at,zoned",
        "2024-01-02,2024-01-02 03:04:05,2024-01-02T03:04:05Z",
        "2023-12-31,2023-12-31 23:59:59.5,2023-12-31T23:59:59+02:00",
        ",,",
      ),
    );
    const result = await ingestFile(path);
    expect(types(result)).toEqual({ day: "datetime", at: "datetime", zoned: "datetime" });
    expect(Array.from(numeric(result.frame, "day").values)).toEqual([
      Date.UTC(2024, 0, 2),
      Date.UTC(2023, 11, 31),
      Number.NaN,
    ]);
    expect(cells(result.frame, "at")).toEqual([
      "2024-01-02T03:04:05.000Z",
      "2023-12-31T23:59:59.500Z",
      null,
    ]);
    expect(cells(result.frame, "zoned")).toEqual([
      "2024-01-02T03:04:05.000Z",
      "2023-12-31T21:59:59.000Z",
      null,
    ]);
    const profile = result.profile.columns.find((p) => p.name === "day");
    expect(profile).toMatchObject({
      min: "2023-12-31T00:00:00.000Z",
      max: "2024-01-02T00:00:00.000Z",
    });
  });

  it("infers id columns from names and uniqueness, text from long wordy values", async () => {
    const words = ["great", "service", "but", "the", "price", "went", "up", "again", "sadly"];
    const path = files.write(
      "tickets.csv",
      bigCsv("ticket_id,order_id,code,size,comment,plan", 30, (i) => {
        const comment = `Ticket ${i}: ${words.slice(0, 3 + (i % 6)).join(" ")}`;
        return `T-${1000 + i},${500 + i},C${i * 7},${i},"${comment}",${i % 2 ? "basic" : "pro"}`;
      }),
    );
    const result = await ingestFile(path);
    expect(types(result)).toEqual({
      ticket_id: "id", // named like an id, all distinct
      order_id: "id", // integer, named like an id, all distinct
      code: "id", // all distinct, 30 rows
      size: "number", // integer, all distinct, but not named like an id
      comment: "text",
      plan: "category",
    });
    expect(cells(result.frame, "order_id").slice(0, 2)).toEqual(["500", "501"]);
    expect(cells(result.frame, "comment")[0]).toBe("Ticket 0: great service but");
  });

  it("keeps yes/no spellings as labels, and none for true/false", async () => {
    const path = files.write(
      "flags.csv",
      lines(
        "a,b,c,d,e",
        "yes,true,T,TRUE,Y",
        "no,false,F,FALSE,N",
        "yes,,T,TRUE,Y",
        ",false,T,TRUE,Y",
      ),
    );
    const result = await ingestFile(path);
    // DuckDB does not sniff Y/N as BOOLEAN, so that column stays a category.
    expect(types(result)).toEqual({
      a: "boolean",
      b: "boolean",
      c: "boolean",
      d: "boolean",
      e: "category",
    });
    expect(numeric(result.frame, "a").labels).toEqual(["no", "yes"]);
    expect(numeric(result.frame, "b").labels).toBeUndefined();
    expect(numeric(result.frame, "c").labels).toEqual(["F", "T"]);
    expect(numeric(result.frame, "d").labels).toBeUndefined();
    expect(cells(result.frame, "a")).toEqual(["yes", "no", "yes", null]);
    expect(cells(result.frame, "b")).toEqual([true, false, null, false]);
    expect(cells(result.frame, "c")).toEqual(["T", "F", "T", "T"]);
    expect(result.schema.columns.find((c) => c.name === "c")?.labels).toEqual(["F", "T"]);
  });

  it("derives the missing side of a one-sided yes/no column", async () => {
    const path = files.write("all-yes.csv", lines("subscribed,n", "Yes,1", "Yes,2", ",3"));
    const result = await ingestFile(path);
    expect(numeric(result.frame, "subscribed").labels).toEqual(["No", "Yes"]);
  });

  it("treats the usual spellings of missing as missing", async () => {
    const path = files.write(
      "gaps.csv",
      lines("x,y", "1,a", "NA,N/A", "NULL,null", "NaN,#N/A", ',""', "2,b"),
    );
    const result = await ingestFile(path);
    expect(cells(result.frame, "x")).toEqual([1, null, null, null, null, 2]);
    expect(cells(result.frame, "y")).toEqual(["a", null, null, null, null, "b"]);
  });

  it("re-reads as text a column whose late values do not fit the sniffed type", async () => {
    // DuckDB sniffs the first 20,480 rows; row 25,000 breaks the integer type it chose.
    const path = files.write(
      "late.csv",
      bigCsv("n,grade,flag", 30_000, (i) => {
        if (i === 25_000) return `${i},oops,maybe`;
        return `${i},${i % 5},${i % 3 ? "Yes" : "No"}`;
      }),
    );
    const result = await ingestFile(path);
    expect(result.frame.rowCount).toBe(30_000);
    expect(types(result)).toEqual({ n: "number", grade: "category", flag: "category" });
    expect(cells(result.frame, "grade").slice(24_999, 25_002)).toEqual(["4", "oops", "1"]);
    expect(cells(result.frame, "flag").slice(24_999, 25_002)).toEqual(["No", "maybe", "Yes"]);
  });

  it(`decodes high-cardinality columns (over ${ENUM_MAX_LEVELS} levels) in first-appearance order`, async () => {
    const n = ENUM_MAX_LEVELS + 5_000;
    const path = files.write(
      "many.csv",
      bigCsv(
        "customer,segment",
        n,
        (i) => `cust-${(i * 7919) % n},${i % 3 === 0 ? "" : `s${i % 4}`}`,
      ),
    );
    const result = await ingestFile(path);
    const customer = dictionary(result.frame, "customer");
    expect(customer.type).toBe("id");
    expect(customer.levels).toHaveLength(n);
    expect(customer.levels.slice(0, 3)).toEqual(["cust-0", "cust-7919", "cust-15838"]);
    expect(Array.from(customer.codes.slice(0, 3))).toEqual([0, 1, 2]);
    const segment = dictionary(result.frame, "segment");
    expect(segment.type).toBe("category");
    expect(segment.levels).toEqual(["s1", "s2", "s0", "s3"]);
    expect(cells(result.frame, "segment").slice(0, 8)).toEqual([
      null,
      "s1",
      "s2",
      null,
      "s0",
      "s1",
      null,
      "s3",
    ]);
  });

  it("names duplicate and empty header cells deterministically", async () => {
    const path = files.write("dups.csv", lines("x,x,,y", "1,2,3,4"));
    const result = await ingestFile(path);
    expect(result.frame.columns.map((c) => c.name)).toEqual(["x", "x_1", "column2", "y"]);
    expect(rowValues(result.frame)).toEqual([1, 2, 3, 4]);
  });

  it("reads a file that is not UTF-8 as Latin-1", async () => {
    const path = files.write(
      "latin1.csv",
      Buffer.from("city,n\ncaf\xe9,1\nna\xefve,2\n", "latin1"),
    );
    const result = await ingestFile(path);
    expect(cells(result.frame, "city")).toEqual(["café", "naïve"]);
  });

  it("reads gzip-compressed CSV and honours an explicit format", async () => {
    const gz = files.write("small.csv.gz", gzipSync(lines("a,b", "1,x", "2,y")));
    expect(cells((await ingestFile(gz)).frame, "b")).toEqual(["x", "y"]);
    const txt = files.write("export.txt", lines("a;b", "1;x"));
    await expect(ingestFile(txt)).rejects.toMatchObject({ code: "unsupported_format" });
    const asTsv = files.write("export2.txt", lines("a\tb", "1\tx"));
    const result = await ingestFile(asTsv, { format: "tsv" });
    expect(result.format).toBe("tsv");
    expect(cells(result.frame, "b")).toEqual(["x"]);
  });

  it("enforces maxRows", async () => {
    const path = files.write(
      "ten.csv",
      bigCsv("i", 10, (i) => String(i)),
    );
    expect((await ingestFile(path, { maxRows: 10 })).frame.rowCount).toBe(10);
    const error = await ingestError(path, { maxRows: 9 });
    expect(error.code).toBe("too_many_rows");
    expect(error.message).toContain("more than 9 rows");
  });
});

function rowValues(frame: Frame): (string | number | boolean | null)[] {
  return frame.columns.map((c) => cellValue(c, 0));
}

describe("ingestFile rejects bad input with a message naming the place", () => {
  it("a ragged CSV row inside DuckDB's sniffing sample", async () => {
    const path = files.write("ragged.csv", lines("a,b,c,d,e", "1,2,3,4,5", "6,7,8,9,10", "1,2,3"));
    const error = await ingestError(path);
    expect(error.code).toBe("parse_error");
    expect(error.line).toBe(4);
    expect(error.message).toMatch(/^Line 4 has 3 fields but the header has 5 \(ragged row\)/);
  });

  it("a CSV row with an extra field", async () => {
    const path = files.write("extra.csv", lines("a,b,c", "1,2,3", "4,5,6,7", "8,9,10"));
    const error = await ingestError(path);
    expect(error).toMatchObject({ code: "parse_error", line: 3 });
    expect(error.message).toContain("Line 3 has 4 fields but the header has 3");
  });

  it("a ragged row far beyond the sniffing sample", async () => {
    const path = files.write(
      "ragged-late.csv",
      bigCsv("a,b,c", 30_000, (i) => (i === 27_000 ? "1,2" : `${i},${i},x${i}`)),
    );
    const error = await ingestError(path);
    expect(error).toMatchObject({ code: "parse_error", line: 27_002 });
    expect(error.message).toContain("Line 27002 has 2 fields but the header has 3");
  });

  it("a ragged TSV row, counting lines inside quoted multi-line values", async () => {
    const path = files.write("ragged.tsv", lines("a\tb", '"multi', 'line"\t1', "x\ty\tz"));
    const error = await ingestError(path);
    expect(error).toMatchObject({ code: "parse_error", line: 4 });
  });

  it("a quote that is never closed", async () => {
    const path = files.write("open-quote.csv", lines("a,b", "1,x", '2,"never closed', "3,y"));
    const error = await ingestError(path);
    expect(error).toMatchObject({ code: "parse_error", line: 3 });
    expect(error.message).toContain("never closed");
  });

  it("an empty file", async () => {
    const error = await ingestError(files.write("empty.csv", ""));
    expect(error.code).toBe("empty_file");
    expect(error.message).toContain("empty.csv");
  });

  it("a header with no rows", async () => {
    const error = await ingestError(files.write("header-only.csv", "a,b,c\n"));
    expect(error.code).toBe("empty_file");
    expect(error.message).toContain("no data rows");
  });

  it("a file of blank lines", async () => {
    expect((await ingestError(files.write("blank.csv", "\n\n  \n"))).code).toBe("empty_file");
  });

  it("invalid JSON in an array, naming the line", async () => {
    const path = files.write("broken.json", '[\n{"a": 1},\n{"a": 2},\n{"a": 3,,},\n{"a": 4}\n]\n');
    const error = await ingestError(path);
    expect(error).toMatchObject({ code: "parse_error", line: 4 });
    expect(error.message).toMatch(/^Line 4 is not valid JSON/);
  });

  it("invalid NDJSON, naming the line", async () => {
    const path = files.write("broken.ndjson", lines('{"a": 1}', '{"a": 2}', '{"a": 3', '{"a": 4}'));
    const error = await ingestError(path);
    expect(error).toMatchObject({ code: "parse_error", line: 3 });
    expect(error.message).toMatch(/^Line 3 is not valid JSON/);
  });

  it("a JSON array with no records, and records without fields", async () => {
    expect((await ingestError(files.write("none.json", "[]"))).code).toBe("empty_file");
    expect((await ingestError(files.write("scalars.json", "[1, 2, 3]"))).code).toBe("no_columns");
    expect((await ingestError(files.write("blank-objects.json", "[{}, {}]"))).code).toBe(
      "no_columns",
    );
  });

  it("an unknown extension", async () => {
    const error = await ingestError(files.write("book.xlsx", "PK"));
    expect(error.code).toBe("unsupported_format");
    expect(error.message).toContain("book.xlsx");
  });

  it("a missing file", async () => {
    const error = await ingestError(files.path("nowhere.csv"));
    expect(error.code).toBe("file_not_found");
    expect(error.message).toContain("nowhere.csv");
  });

  it("a .parquet file that is not Parquet", async () => {
    const error = await ingestError(files.write("fake.parquet", "a,b\n1,2\n"));
    expect(error.code).toBe("parse_error");
    expect(error.message).toContain("not a readable Parquet file");
  });
});
