/**
 * The columnar in-memory table every later stage reads. Numbers live in typed arrays and
 * categories as dictionary codes, so a 1M-row frame costs bytes per cell, not objects.
 */

/** What a column means to a person and to the Recipe; inferred on import, changeable later. */
export type ColumnType = "number" | "category" | "boolean" | "datetime" | "text" | "id";

export const COLUMN_TYPES: readonly ColumnType[] = [
  "number",
  "category",
  "boolean",
  "datetime",
  "text",
  "id",
];

/** Numbers, booleans (0/1) and datetimes (epoch milliseconds): missing is NaN. */
export interface NumericColumn {
  readonly name: string;
  readonly type: "number" | "boolean" | "datetime";
  readonly values: Float64Array;
  /**
   * For booleans, the spellings the file used for false and true (e.g. ["No", "Yes"]), so a
   * model trained on them answers in the user's own terms. Absent for other types.
   */
  readonly labels?: readonly [string, string];
}

/** Categories, free text and identifiers: dictionary-encoded, missing is code -1. */
export interface DictionaryColumn {
  readonly name: string;
  readonly type: "category" | "text" | "id";
  readonly codes: Int32Array;
  /** levels[code] is the original string; order is first appearance. */
  readonly levels: readonly string[];
}

export type Column = NumericColumn | DictionaryColumn;

export interface Frame {
  readonly rowCount: number;
  readonly columns: readonly Column[];
}

export function isNumericColumn(column: Column): column is NumericColumn {
  return column.type === "number" || column.type === "boolean" || column.type === "datetime";
}

export function getColumn(frame: Frame, name: string): Column | undefined {
  return frame.columns.find((c) => c.name === name);
}

/**
 * The value of one cell as a JSON-like primitive, exactly as a caller of a published app
 * would send it: numbers as numbers, booleans by their file spelling when one exists,
 * datetimes as ISO strings, categories as strings, missing as null. Training feeds these
 * through the same Recipe code path that serving uses, so both see identical inputs.
 */
export function cellValue(column: Column, row: number): string | number | boolean | null {
  if (isNumericColumn(column)) {
    const v = column.values[row] ?? Number.NaN;
    if (Number.isNaN(v)) return null;
    if (column.type === "boolean") {
      if (column.labels) return column.labels[v ? 1 : 0];
      return v !== 0;
    }
    if (column.type === "datetime") return new Date(v).toISOString();
    return v;
  }
  const code = column.codes[row] ?? -1;
  return code < 0 ? null : (column.levels[code] ?? null);
}

/** Row `row` as a plain record (used by tests and for sample predictions). */
export function rowRecord(
  frame: Frame,
  row: number,
): Record<string, string | number | boolean | null> {
  const out: Record<string, string | number | boolean | null> = {};
  for (const column of frame.columns) out[column.name] = cellValue(column, row);
  return out;
}

/** The schema of one column, as stored in the registry and carried in model artifacts. */
export interface ColumnSchema {
  readonly name: string;
  readonly type: ColumnType;
  /** True when at least one value was missing in the data the schema came from. */
  readonly nullable: boolean;
  /** The storage type DuckDB read (e.g. BIGINT, VARCHAR), for people debugging an import. */
  readonly sourceType?: string;
  /** For booleans read from spellings such as Yes/No: [false spelling, true spelling]. */
  readonly labels?: readonly [string, string];
}

export interface Schema {
  readonly columns: readonly ColumnSchema[];
}

/** A short profile per column: what `ballast data import` prints and the Studio draws. */
export interface ColumnProfile {
  readonly name: string;
  readonly type: ColumnType;
  readonly count: number;
  readonly missing: number;
  /** 0..100 */
  readonly missingPct: number;
  readonly distinct: number;
  readonly min?: number | string;
  readonly max?: number | string;
  readonly mean?: number;
  readonly std?: number;
  /** Most frequent values with their counts, most frequent first (categories, booleans, text, id). */
  readonly top?: readonly { readonly value: string; readonly count: number }[];
  /** Equal-width histogram for numbers and datetimes: edges has counts.length + 1 entries. */
  readonly histogram?: { readonly edges: readonly number[]; readonly counts: readonly number[] };
}

export interface Profile {
  readonly rowCount: number;
  readonly columns: readonly ColumnProfile[];
}
