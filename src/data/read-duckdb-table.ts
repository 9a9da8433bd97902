import { type DuckDBConnection, DuckDBDecimalValue } from "@duckdb/node-api";
import { forEachChunk, queryRows, quoteIdentifier, toNumber } from "./duckdb-sql.ts";
import type { Column, ColumnSchema, ColumnType, Frame, Schema } from "./frame.ts";
import {
  type BooleanSpelling,
  booleanLabels,
  type ColumnStats,
  hasMissingValues,
  inferColumnType,
  inferStringType,
  looksLikeIdName,
  storageKind,
} from "./infer-schema.ts";

/**
 * Dictionary columns with at most this many levels are encoded inside DuckDB (an ENUM built in
 * first-appearance order, read back as integer codes), which avoids decoding every string in
 * JS. Above it (ids, free text), decoding each string once is cheaper than a huge ENUM.
 */
export const ENUM_MAX_LEVELS = 50_000;

/** Spellings a yes/no column may use (Yes, yes, Y, TRUE, ...) before it is surely not one. */
const MAX_BOOLEAN_SPELLINGS = 16;

export interface ReadTableOptions {
  /**
   * Columns DuckDB sniffed as BOOLEAN in a text file and that were loaded as VARCHAR to keep
   * their spellings. They become booleans with labels when every value is a yes/no spelling,
   * and are inferred like any text column otherwise.
   */
  readonly textBooleans?: ReadonlySet<string>;
}

interface DescribedColumn {
  readonly name: string;
  readonly sourceType: string;
}

type ColumnPlan =
  | {
      readonly kind: "numeric";
      readonly name: string;
      readonly type: "number" | "boolean" | "datetime";
      readonly sql: string;
      readonly labels?: readonly [string, string];
    }
  | {
      readonly kind: "enum";
      readonly name: string;
      readonly type: "category" | "text" | "id";
      readonly sql: string;
      readonly enumType?: string;
    }
  | {
      readonly kind: "strings";
      readonly name: string;
      readonly type: "category" | "text" | "id";
      readonly sql: string;
    };

/** The columns of a table or query with DuckDB's type names. */
export async function describeRelation(
  connection: DuckDBConnection,
  relationSql: string,
): Promise<DescribedColumn[]> {
  const rows = await queryRows(connection, `DESCRIBE ${relationSql}`);
  return rows.map((row) => ({ name: String(row[0]), sourceType: String(row[1]) }));
}

/** Nested values (STRUCT, LIST, MAP, UNION, ARRAY) are kept as their JSON text. */
function isNested(sourceType: string): boolean {
  const t = sourceType.toUpperCase();
  return /^(STRUCT|MAP|UNION)\s*\(/.test(t) || t.endsWith("]");
}

/** SQL giving the column as VARCHAR, the way a person would read it. */
function textSql(column: DescribedColumn): string {
  const id = quoteIdentifier(column.name);
  if (column.sourceType.toUpperCase() === "VARCHAR") return id;
  if (isNested(column.sourceType)) return `CAST(to_json(${id}) AS VARCHAR)`;
  return `CAST(${id} AS VARCHAR)`;
}

/**
 * Reads a DuckDB table into a Frame with inferred types and its Schema. Aggregates that
 * inference needs (counts, distinct counts, string lengths) run inside DuckDB in one query;
 * the data then streams once, every column cast in SQL to DOUBLE (numbers, booleans, epoch
 * milliseconds), to ENUM codes, or to VARCHAR, so JS only copies plain values into typed
 * arrays. Row order is the table's insertion order.
 */
export async function readDuckDBTable(
  connection: DuckDBConnection,
  table: string,
  options: ReadTableOptions = {},
): Promise<{ frame: Frame; schema: Schema }> {
  const textBooleans = options.textBooleans ?? new Set<string>();
  const tableSql = quoteIdentifier(table);
  const described = await describeRelation(connection, tableSql);
  const { rowCount, stats } = await collectStats(connection, tableSql, described);

  const plans: ColumnPlan[] = [];
  const schemaColumns: ColumnSchema[] = [];
  for (let i = 0; i < described.length; i++) {
    const column = described[i] as DescribedColumn;
    const columnStats = stats[i] as ColumnStats;
    const id = quoteIdentifier(column.name);
    let sourceType = column.sourceType;
    let type: ColumnType;
    let labels: readonly [string, string] | undefined;
    let numericSql: string | undefined;

    if (textBooleans.has(column.name)) {
      const spellings = await booleanSpellings(connection, tableSql, column.name, columnStats);
      if (spellings) {
        type = "boolean";
        sourceType = "BOOLEAN";
        labels = booleanLabels(spellings);
        numericSql = `CAST(TRY_CAST(${id} AS BOOLEAN) AS DOUBLE)`;
      } else {
        type = inferStringType(columnStats);
      }
    } else {
      type = inferColumnType(columnStats);
      if (type === "datetime") numericSql = `CAST(epoch_ms(${id}) AS DOUBLE)`;
      else if (type === "number" || type === "boolean") numericSql = `CAST(${id} AS DOUBLE)`;
    }

    if (type === "number" || type === "boolean" || type === "datetime") {
      plans.push({
        kind: "numeric",
        name: column.name,
        type,
        sql: `COALESCE(${numericSql ?? `CAST(${id} AS DOUBLE)`}, CAST('NaN' AS DOUBLE))`,
        ...(labels === undefined ? {} : { labels }),
      });
    } else {
      plans.push(await dictionaryPlan(connection, tableSql, column, columnStats, type, i));
    }
    schemaColumns.push({
      name: column.name,
      type,
      nullable: false, // measured on the frame below
      sourceType,
      ...(labels === undefined ? {} : { labels }),
    });
  }

  const columns = await streamColumns(connection, tableSql, plans, rowCount);
  // Measured on the frame rather than taken from DuckDB's counts: infinities become missing.
  const schema: Schema = {
    columns: schemaColumns.map((c, i) => {
      const frameColumn = columns[i];
      return { ...c, nullable: frameColumn ? hasMissingValues(frameColumn) : true };
    }),
  };
  return { frame: { rowCount, columns }, schema };
}

/** One aggregate query over the whole table: what `inferColumnType` needs per column. */
async function collectStats(
  connection: DuckDBConnection,
  tableSql: string,
  described: readonly DescribedColumn[],
): Promise<{ rowCount: number; stats: ColumnStats[] }> {
  const select: string[] = ["count(*)"];
  const layout: ("string" | "integer" | "plain")[] = [];
  for (const column of described) {
    const kind = storageKind(column.sourceType);
    if (kind === "string") {
      const x = textSql(column);
      select.push(
        `count(${x})`,
        `count(DISTINCT ${x})`,
        `avg(length(${x}))`,
        `avg(CASE WHEN contains(${x}, ' ') THEN 1.0 ELSE 0.0 END)`,
      );
      layout.push("string");
    } else if (kind === "integer" && looksLikeIdName(column.name)) {
      // Distinct integers only matter for the id rule; counting them costs a hash per row.
      const x = quoteIdentifier(column.name);
      select.push(`count(${x})`, `count(DISTINCT ${x})`);
      layout.push("integer");
    } else {
      select.push(`count(${quoteIdentifier(column.name)})`);
      layout.push("plain");
    }
  }
  const row =
    (await queryRows(connection, `SELECT ${select.join(", ")} FROM ${tableSql}`))[0] ?? [];
  const rowCount = toNumber(row[0]);
  let at = 1;
  const stats = described.map((column, i): ColumnStats => {
    const base = { name: column.name, sourceType: column.sourceType, rowCount };
    const nonMissing = toNumber(row[at++]);
    switch (layout[i]) {
      case "string": {
        const distinct = toNumber(row[at++]);
        const meanLength = toNumber(row[at++]);
        const spaceRatio = toNumber(row[at++]);
        return {
          ...base,
          nonMissing,
          distinct,
          meanLength: Number.isNaN(meanLength) ? 0 : meanLength,
          spaceRatio: Number.isNaN(spaceRatio) ? 0 : spaceRatio,
        };
      }
      case "integer":
        return { ...base, nonMissing, distinct: toNumber(row[at++]) };
      default:
        return { ...base, nonMissing };
    }
  });
  return { rowCount, stats };
}

/**
 * The spellings of a text column DuckDB thought boolean, or undefined when some value is not
 * a yes/no spelling after all (DuckDB sniffs a sample; the rest of the file may disagree).
 */
async function booleanSpellings(
  connection: DuckDBConnection,
  tableSql: string,
  name: string,
  stats: ColumnStats,
): Promise<BooleanSpelling[] | undefined> {
  if ((stats.distinct ?? 0) > MAX_BOOLEAN_SPELLINGS) return undefined;
  const id = quoteIdentifier(name);
  const rows = await queryRows(
    connection,
    `SELECT ${id}, TRY_CAST(${id} AS BOOLEAN), count(*) FROM ${tableSql} WHERE ${id} IS NOT NULL GROUP BY ALL`,
  );
  const spellings: BooleanSpelling[] = [];
  for (const [value, truth, count] of rows) {
    if (typeof truth !== "boolean") return undefined;
    spellings.push({ value: String(value), truth, count: toNumber(count) });
  }
  return spellings;
}

async function dictionaryPlan(
  connection: DuckDBConnection,
  tableSql: string,
  column: DescribedColumn,
  stats: ColumnStats,
  type: "category" | "text" | "id",
  index: number,
): Promise<ColumnPlan> {
  const x = textSql(column);
  const distinct = stats.distinct ?? Number.POSITIVE_INFINITY;
  if (distinct === 0 || stats.nonMissing === 0) {
    return { kind: "enum", name: column.name, type, sql: "CAST(-1 AS INTEGER)" };
  }
  if (distinct > ENUM_MAX_LEVELS) return { kind: "strings", name: column.name, type, sql: x };
  const enumType = `ballast_levels_${index}`;
  await connection.run(
    `CREATE TYPE ${enumType} AS ENUM (
       SELECT v FROM (
         SELECT ${x} AS v, min(rowid) AS first_row FROM ${tableSql} WHERE ${x} IS NOT NULL GROUP BY 1
       ) ORDER BY first_row
     )`,
  );
  return {
    kind: "enum",
    name: column.name,
    type,
    sql: `COALESCE(CAST(enum_code(CAST(${x} AS ${enumType})) AS INTEGER), -1)`,
    enumType,
  };
}

/** Reads the levels of an ENUM type in code order. */
async function enumLevels(connection: DuckDBConnection, enumType: string): Promise<string[]> {
  const levels: string[] = [];
  await forEachChunk(connection, `SELECT unnest(enum_range(NULL::${enumType}))`, (chunk) => {
    const vector = chunk.getColumnVector(0);
    for (let r = 0; r < chunk.rowCount; r++) levels.push(String(vector.getItem(r)));
  });
  return levels;
}

/** A cell of a DOUBLE column as a JS number; other numeric shapes only as a safety net. */
function asNumber(value: unknown): number {
  if (typeof value === "number") return Number.isFinite(value) ? value : Number.NaN;
  if (typeof value === "bigint") return Number(value);
  if (value instanceof DuckDBDecimalValue) return value.toDouble();
  return Number.NaN;
}

type Sink =
  | { readonly kind: "numeric"; readonly values: Float64Array }
  | { readonly kind: "codes"; readonly codes: Int32Array }
  | {
      readonly kind: "strings";
      readonly codes: Int32Array;
      readonly levels: string[];
      readonly index: Map<string, number>;
    };

/** One streaming pass over the table filling a typed array per column. */
async function streamColumns(
  connection: DuckDBConnection,
  tableSql: string,
  plans: readonly ColumnPlan[],
  rowCount: number,
): Promise<Column[]> {
  const sinks: Sink[] = plans.map((plan) => {
    if (plan.kind === "numeric") return { kind: "numeric", values: new Float64Array(rowCount) };
    if (plan.kind === "enum") return { kind: "codes", codes: new Int32Array(rowCount) };
    return { kind: "strings", codes: new Int32Array(rowCount), levels: [], index: new Map() };
  });
  if (plans.length > 0) {
    let offset = 0;
    const sql = `SELECT ${plans.map((p) => p.sql).join(", ")} FROM ${tableSql}`;
    await forEachChunk(connection, sql, (chunk) => {
      const n = chunk.rowCount;
      if (offset + n > rowCount) throw new Error("DuckDB returned more rows than it counted");
      for (let c = 0; c < sinks.length; c++) {
        const sink = sinks[c] as Sink;
        const vector = chunk.getColumnVector(c);
        if (sink.kind === "numeric") {
          const values = sink.values;
          for (let r = 0; r < n; r++) values[offset + r] = asNumber(vector.getItem(r));
        } else if (sink.kind === "codes") {
          const codes = sink.codes;
          for (let r = 0; r < n; r++) {
            const v = vector.getItem(r);
            codes[offset + r] = typeof v === "number" ? v : -1;
          }
        } else {
          const { codes, levels, index } = sink;
          for (let r = 0; r < n; r++) {
            const v = vector.getItem(r);
            if (typeof v !== "string") {
              codes[offset + r] = -1;
              continue;
            }
            let code = index.get(v);
            if (code === undefined) {
              code = levels.length;
              index.set(v, code);
              levels.push(v);
            }
            codes[offset + r] = code;
          }
        }
      }
      offset += n;
    });
    if (offset !== rowCount)
      throw new Error(`DuckDB returned ${offset} rows, expected ${rowCount}`);
  }

  const columns: Column[] = [];
  for (let c = 0; c < plans.length; c++) {
    const plan = plans[c] as ColumnPlan;
    const sink = sinks[c] as Sink;
    if (plan.kind === "numeric" && sink.kind === "numeric") {
      columns.push({
        name: plan.name,
        type: plan.type,
        values: sink.values,
        ...(plan.labels === undefined ? {} : { labels: plan.labels }),
      });
    } else if (plan.kind === "enum" && sink.kind === "codes") {
      const levels = plan.enumType ? await enumLevels(connection, plan.enumType) : [];
      columns.push({ name: plan.name, type: plan.type, codes: sink.codes, levels });
    } else if (plan.kind === "strings" && sink.kind === "strings") {
      columns.push({ name: plan.name, type: plan.type, codes: sink.codes, levels: sink.levels });
    }
  }
  return columns;
}
