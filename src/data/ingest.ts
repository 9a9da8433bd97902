import { readFile, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { type DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import { findCsvProblem } from "./csv-scan.ts";
import { errorText, queryRows, quoteIdentifier, quoteLiteral, toNumber } from "./duckdb-sql.ts";
import type { Frame, Profile, Schema } from "./frame.ts";
import { IngestError } from "./ingest-error.ts";
import { profileFrame } from "./profile.ts";
import { describeRelation, readDuckDBTable } from "./read-duckdb-table.ts";

export { IngestError, type IngestErrorCode, isIngestError } from "./ingest-error.ts";

/** The file formats Ballast imports, each read by DuckDB's own reader. */
export type FileFormat = "csv" | "tsv" | "parquet" | "json" | "ndjson";

export const FILE_FORMATS: readonly FileFormat[] = ["csv", "tsv", "parquet", "json", "ndjson"];

const EXTENSIONS: Readonly<Record<string, FileFormat>> = {
  csv: "csv",
  tsv: "tsv",
  tab: "tsv",
  parquet: "parquet",
  json: "json",
  ndjson: "ndjson",
  jsonl: "ndjson",
};

/**
 * The format a file name implies (`.csv`, `.tsv`/`.tab`, `.parquet`, `.json`,
 * `.ndjson`/`.jsonl`, case-insensitive; a trailing `.gz` on a text format is allowed because
 * DuckDB decompresses it). Undefined for anything else, so callers can ask the person.
 */
export function detectFormat(fileName: string): FileFormat | undefined {
  const parts = basename(fileName).toLowerCase().split(".");
  if (parts.length < 2) return undefined;
  let ext = parts.pop() ?? "";
  if (ext === "gz" && parts.length >= 2) {
    ext = parts.pop() ?? "";
    const format = EXTENSIONS[ext];
    return format === "parquet" ? undefined : format;
  }
  return EXTENSIONS[ext];
}

export interface IngestOptions {
  /** Overrides the format the file name implies. */
  readonly format?: FileFormat;
  /** Refuse files with more data rows than this (code `too_many_rows`); reading stops early. */
  readonly maxRows?: number;
}

/** What an import yields: the data, its schema (types a person can override), and a profile. */
export interface Ingested {
  readonly frame: Frame;
  readonly schema: Schema;
  readonly profile: Profile;
  readonly format: FileFormat;
}

/**
 * Spellings of "missing" in text files, beyond the empty field: what R, pandas, Excel and
 * databases write. Note that a quoted empty string is missing too.
 */
export const MISSING_SPELLINGS: readonly string[] = [
  "",
  "NA",
  "N/A",
  "n/a",
  "#N/A",
  "NULL",
  "null",
  "NaN",
  "nan",
  "<NA>",
];

const TABLE = "ballast_input";

/**
 * Reads a CSV, TSV, Parquet, JSON or NDJSON file into a Frame, infers its Schema and profiles it.
 *
 * Every call opens its own in-memory DuckDB and closes it before returning, so nothing is
 * shared between imports and no handle outlives the call.
 *
 * Text files: the first line is always the header (DuckDB's header detection misreads files
 * whose columns are all text, so it is not left to guess); the delimiter is fixed by format
 * and the quote is `"`; rows must all have as many fields as the header (no padding, no
 * skipping); a column whose later values do not fit the type DuckDB sniffed is re-read as
 * text; a file that is not UTF-8 is re-read as Latin-1. Duplicate header names get `_1`,
 * `_2` suffixes and empty ones become `column<N>` (N counted from 0), as DuckDB names them.
 *
 * Errors are IngestError with a message that names the line and/or column to fix.
 */
export async function ingestFile(path: string, options: IngestOptions = {}): Promise<Ingested> {
  const format = options.format ?? detectFormat(path);
  if (format === undefined) {
    throw new IngestError(
      "unsupported_format",
      `"${basename(path)}" is not a file type Ballast can read. ` +
        "Use a .csv, .tsv, .parquet, .json or .ndjson (.jsonl) file.",
    );
  }
  await checkFile(path);

  const instance = await DuckDBInstance.create(":memory:", {
    temp_directory: join(tmpdir(), "ballast-duckdb"),
  });
  try {
    const connection = await instance.connect();
    try {
      const loaded = await loadTable(connection, path, format, options.maxRows);
      const rows = toNumber(
        (await queryRows(connection, `SELECT count(*) FROM ${quoteIdentifier(TABLE)}`))[0]?.[0],
      );
      if (rows === 0) {
        throw new IngestError(
          "empty_file",
          format === "csv" || format === "tsv"
            ? `"${basename(path)}" has a header line but no data rows.`
            : `"${basename(path)}" contains no records.`,
        );
      }
      if (options.maxRows !== undefined && rows > options.maxRows) {
        throw new IngestError(
          "too_many_rows",
          `"${basename(path)}" has more than ${options.maxRows.toLocaleString("en-US")} rows, ` +
            "the most this server accepts. Import a sample or raise the limit.",
        );
      }
      const { frame, schema } = await readDuckDBTable(connection, TABLE, {
        textBooleans: loaded.textBooleans,
      });
      return { frame, schema, profile: profileFrame(frame), format };
    } finally {
      connection.closeSync();
    }
  } finally {
    instance.closeSync();
  }
}

/** Missing files and files with nothing in them fail before DuckDB is involved. */
async function checkFile(path: string): Promise<void> {
  let size: number;
  try {
    const info = await stat(path);
    if (!info.isFile()) {
      throw new IngestError("file_not_found", `"${path}" is a folder, not a file.`);
    }
    size = info.size;
  } catch (error) {
    if (error instanceof IngestError) throw error;
    throw new IngestError("file_not_found", `Cannot find the file "${path}".`, { cause: error });
  }
  if (size === 0) throw new IngestError("empty_file", `"${basename(path)}" is empty (0 bytes).`);
  if (size <= 64 * 1024 && !path.toLowerCase().endsWith(".gz")) {
    const text = await readFile(path, "utf8");
    if (text.trim() === "") {
      throw new IngestError("empty_file", `"${basename(path)}" contains only blank lines.`);
    }
  }
}

interface Loaded {
  readonly textBooleans: ReadonlySet<string>;
}

async function loadTable(
  connection: DuckDBConnection,
  path: string,
  format: FileFormat,
  maxRows: number | undefined,
): Promise<Loaded> {
  const limit = maxRows === undefined ? "" : ` LIMIT ${Math.max(0, Math.floor(maxRows)) + 1}`;
  switch (format) {
    case "csv":
    case "tsv":
      return loadDelimited(connection, path, format === "csv" ? "," : "\t", limit);
    case "json":
    case "ndjson":
      return loadJson(connection, path, format, limit);
    case "parquet":
      return loadParquet(connection, path, limit);
  }
}

function createTableSql(readSql: string, limit: string): string {
  return `CREATE OR REPLACE TABLE ${quoteIdentifier(TABLE)} AS SELECT * FROM ${readSql}${limit}`;
}

async function loadDelimited(
  connection: DuckDBConnection,
  path: string,
  delimiter: string,
  limit: string,
): Promise<Loaded> {
  const types = new Map<string, string>();
  const textBooleans = new Set<string>();
  let encoding = "utf-8";
  const readSql = () => {
    const typeEntries = [...types].map(([k, v]) => `${quoteLiteral(k)}: ${quoteLiteral(v)}`);
    const options = [
      `delim=${quoteLiteral(delimiter)}`,
      `quote='"'`,
      `escape='"'`,
      "header=true",
      "skip=0",
      "comment=''",
      "strict_mode=true",
      "null_padding=false",
      `nullstr=[${MISSING_SPELLINGS.map(quoteLiteral).join(", ")}]`,
      `encoding=${quoteLiteral(encoding)}`,
      ...(typeEntries.length > 0 ? [`types={${typeEntries.join(", ")}}`] : []),
    ];
    return `read_csv(${quoteLiteral(path)}, ${options.join(", ")})`;
  };

  // Each retry fixes one thing (a column re-read as text, or the encoding); bound the loop.
  for (let attempt = 0; attempt < 64; attempt++) {
    try {
      for (const column of await describeRelation(connection, `SELECT * FROM ${readSql()}`)) {
        if (column.sourceType === "BOOLEAN" && !types.has(column.name)) {
          types.set(column.name, "VARCHAR");
          textBooleans.add(column.name);
        }
      }
      await connection.run(createTableSql(readSql(), limit));
      return { textBooleans };
    } catch (error) {
      const message = errorText(error);
      const badColumn = /Error when converting column "((?:[^"]|"")*)"/.exec(message)?.[1];
      if (badColumn !== undefined && !types.has(badColumn)) {
        types.set(badColumn, "VARCHAR");
        continue;
      }
      if (/Invalid unicode/i.test(message) && encoding === "utf-8") {
        encoding = "latin-1";
        continue;
      }
      throw await delimitedError(message, path, delimiter, error);
    }
  }
  throw new IngestError("parse_error", `"${basename(path)}" could not be read.`);
}

/** The part of a DuckDB CSV error that says what went wrong, without its fix-it list. */
function csvReason(message: string): string {
  const head = message.split(/\n\s*\n\s*Possible (fixes|Solution)/)[0] ?? message;
  const lines = head.split("\n").filter((l) => l.trim() !== "");
  return (lines[lines.length - 1] ?? "").trim();
}

/** Turns DuckDB's CSV error text into a message that names the line to fix. */
async function delimitedError(
  message: string,
  path: string,
  delimiter: string,
  cause: unknown,
): Promise<IngestError> {
  const kind = delimiter === "," ? "CSV" : "TSV";
  const lineText = /CSV Error on Line: (\d+)/.exec(message)?.[1];
  const line = lineText === undefined ? undefined : Number(lineText);
  const columns = /Expected Number of Columns: (\d+) Found: (\d+)/.exec(message);
  if (line !== undefined && columns) {
    return raggedError(line, Number(columns[2]), Number(columns[1]), cause);
  }
  if (line !== undefined && /unterminated quote/i.test(message)) {
    return unterminatedQuoteError(line, cause);
  }
  if (line !== undefined && /maximum line size/i.test(message)) {
    return new IngestError("parse_error", `Line ${line} is too long to read (over 2 MB).`, {
      line,
      cause,
    });
  }
  if (line !== undefined) {
    return new IngestError(
      "parse_error",
      `Line ${line} could not be read as ${kind}: ${csvReason(message)}`,
      { line, cause },
    );
  }
  if (/sniffing file|detect the CSV parsing dialect/i.test(message)) {
    const problem = await findCsvProblem(path, delimiter);
    if (problem?.kind === "ragged") {
      return raggedError(problem.line, problem.fields, problem.expected, cause);
    }
    if (problem?.kind === "unterminated_quote") return unterminatedQuoteError(problem.line, cause);
  }
  return new IngestError(
    "parse_error",
    `"${basename(path)}" could not be read as ${kind}: ${message.split("\n")[0] ?? message}`,
    { cause },
  );
}

function raggedError(line: number, fields: number, expected: number, cause: unknown): IngestError {
  return new IngestError(
    "parse_error",
    `Line ${line} has ${fields} field${fields === 1 ? "" : "s"} but the header has ${expected} ` +
      "(ragged row). Check that line for a missing or extra separator, or a value with a " +
      'separator inside that needs "double quotes".',
    { line, cause },
  );
}

function unterminatedQuoteError(line: number, cause: unknown): IngestError {
  return new IngestError(
    "parse_error",
    `Line ${line} opens a quote (") that is never closed. Close it, or write a quote inside ` +
      'a value as two quotes ("").',
    { line, cause },
  );
}

/** Larger JSON files are not re-parsed in JS just to find the line of a syntax error. */
const JSON_LOCATE_MAX_BYTES = 256 * 1024 * 1024;

async function loadJson(
  connection: DuckDBConnection,
  path: string,
  format: "json" | "ndjson",
  limit: string,
): Promise<Loaded> {
  let fullSample = false;
  for (;;) {
    const options = [
      `format=${format === "ndjson" ? "'newline_delimited'" : "'auto'"}`,
      ...(fullSample ? ["sample_size=-1"] : []),
    ];
    try {
      await connection.run(
        createTableSql(`read_json(${quoteLiteral(path)}, ${options.join(", ")})`, limit),
      );
      break;
    } catch (error) {
      const message = errorText(error);
      if (!fullSample && /Conversion Error|Could not convert/i.test(message)) {
        // A value late in the file does not fit the type sniffed from the first records.
        fullSample = true;
        continue;
      }
      throw await jsonError(message, path, error);
    }
  }
  const rows = await queryRows(connection, `SELECT count(*) FROM ${quoteIdentifier(TABLE)}`);
  if (toNumber(rows[0]?.[0]) === 0) return { textBooleans: new Set() }; // reported as empty_file
  const columns = await describeRelation(connection, quoteIdentifier(TABLE));
  if (columns.length === 1 && columns[0]?.name === "json") {
    // DuckDB names the one column "json" when records are not objects ([1, 2], [{}]); the
    // file may also just have one field called json, so ask DuckDB for records explicitly.
    try {
      await connection.run(`DESCRIBE SELECT * FROM read_json(${quoteLiteral(path)}, records=true)`);
    } catch (error) {
      if (!/expected records/i.test(errorText(error))) throw error;
      throw new IngestError(
        "no_columns",
        `"${basename(path)}" has no named fields. Each record must be an object such as ` +
          '{"age": 42, "plan": "basic"}.',
        { cause: error },
      );
    }
  }
  return { textBooleans: new Set() };
}

/** A JSON syntax error with the line it is on: DuckDB's for NDJSON, JSON.parse's for arrays. */
async function jsonError(message: string, path: string, cause: unknown): Promise<IngestError> {
  const reason = /Malformed JSON[^:]*:\s*([^.\n]+)/.exec(message)?.[1]?.trim();
  if (reason === undefined) {
    return new IngestError(
      "parse_error",
      `"${basename(path)}" could not be read as JSON: ${message.split("\n")[0] ?? message}`,
      { cause },
    );
  }
  const duckLine = /\bin line (\d+)/.exec(message)?.[1];
  // DuckDB reports where parsing stopped, which for an unclosed object is the next line;
  // JSON.parse finds the line that is actually broken.
  const line =
    (await locateJsonSyntaxError(path, duckLine !== undefined)) ??
    (duckLine === undefined ? undefined : Number(duckLine));
  if (line === undefined) {
    return new IngestError("parse_error", `"${basename(path)}" is not valid JSON (${reason}).`, {
      cause,
    });
  }
  return new IngestError("parse_error", `Line ${line} is not valid JSON (${reason}).`, {
    line,
    cause,
  });
}

/**
 * The 1-based line of the first syntax error JSON.parse finds, for files small enough to
 * re-read: line by line for newline-delimited JSON, by position for one JSON document.
 */
async function locateJsonSyntaxError(
  path: string,
  newlineDelimited: boolean,
): Promise<number | undefined> {
  if (path.toLowerCase().endsWith(".gz")) return undefined;
  const info = await stat(path);
  if (info.size > JSON_LOCATE_MAX_BYTES) return undefined;
  const text = await readFile(path, "utf8");
  if (newlineDelimited) {
    const rows = text.split("\n");
    for (let i = 0; i < rows.length; i++) {
      const row = (rows[i] ?? "").trim();
      if (row === "") continue;
      try {
        JSON.parse(row);
      } catch {
        return i + 1;
      }
    }
    return undefined;
  }
  try {
    JSON.parse(text);
    return undefined;
  } catch (error) {
    const position = /position (\d+)/.exec(errorText(error))?.[1];
    const at = position === undefined ? text.length : Number(position);
    let line = 1;
    for (let i = 0; i < at && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
    return line;
  }
}

async function loadParquet(
  connection: DuckDBConnection,
  path: string,
  limit: string,
): Promise<Loaded> {
  try {
    await connection.run(createTableSql(`read_parquet(${quoteLiteral(path)})`, limit));
  } catch (error) {
    const first = errorText(error).split("\n")[0] ?? "";
    throw new IngestError(
      "parse_error",
      `"${basename(path)}" is not a readable Parquet file (${first.replace(/^[A-Za-z ]+Error:\s*/, "")}).`,
      { cause: error },
    );
  }
  return { textBooleans: new Set() };
}
