import {
  COLUMN_TYPES,
  type Column,
  type ColumnSchema,
  type ColumnType,
  type DictionaryColumn,
  type Frame,
  isNumericColumn,
  type NumericColumn,
  type Schema,
} from "./frame.ts";
import { IngestError } from "./ingest-error.ts";

/**
 * How DuckDB stores a column, reduced to what inference cares about. Derived from the type
 * name DuckDB prints (`BIGINT`, `DECIMAL(10,2)`, `TIMESTAMP WITH TIME ZONE`, ...).
 */
export type StorageKind = "boolean" | "integer" | "float" | "datetime" | "string";

const INTEGER_TYPES = new Set([
  "TINYINT",
  "SMALLINT",
  "INTEGER",
  "BIGINT",
  "HUGEINT",
  "UTINYINT",
  "USMALLINT",
  "UINTEGER",
  "UBIGINT",
  "UHUGEINT",
  "BIGNUM",
  "VARINT",
]);
const FLOAT_TYPES = new Set(["FLOAT", "DOUBLE", "REAL"]);
const DATETIME_TYPES = new Set([
  "DATE",
  "TIMESTAMP",
  "TIMESTAMP_S",
  "TIMESTAMP_MS",
  "TIMESTAMP_NS",
  "TIMESTAMP WITH TIME ZONE",
  "TIMESTAMPTZ",
]);

/**
 * Everything that is not a number, boolean or point in time is read as text: VARCHAR, UUID,
 * TIME, INTERVAL, ENUM, BLOB, and nested STRUCT/LIST/MAP values (as their JSON).
 */
export function storageKind(sourceType: string): StorageKind {
  const t = sourceType.trim().toUpperCase();
  if (t === "BOOLEAN" || t === "BOOL") return "boolean";
  if (INTEGER_TYPES.has(t)) return "integer";
  if (FLOAT_TYPES.has(t) || t.startsWith("DECIMAL") || t.startsWith("NUMERIC")) return "float";
  if (DATETIME_TYPES.has(t)) return "datetime";
  return "string";
}

/** What inference knows about one column: its DuckDB type and a few aggregates DuckDB computed. */
export interface ColumnStats {
  readonly name: string;
  /** The DuckDB type name, e.g. BIGINT, VARCHAR. */
  readonly sourceType: string;
  readonly rowCount: number;
  /** Values that are not missing. */
  readonly nonMissing: number;
  /** Distinct non-missing values (needed for strings and integers). */
  readonly distinct?: number;
  /** Mean length in characters of the non-missing values (strings). */
  readonly meanLength?: number;
  /** Share (0..1) of non-missing values that contain a space (strings). */
  readonly spaceRatio?: number;
}

/**
 * Thresholds of the inference rules, in one place so they can be tuned and cited.
 * - `idDistinctRatio`: a column named like an identifier is an id when at least this share of
 *   its values is distinct ("nearly every value").
 * - `idMinRows`: an unnamed all-distinct string column is an id only from this many values on;
 *   below it, all-distinct is a coincidence of small data.
 * - `textMeanLength` / `textSpaceRatio` / `textDistinctRatio`: free text is long or wordy AND
 *   mostly distinct; long but repetitive labels ("I strongly agree") stay categories.
 */
export const INFERENCE_THRESHOLDS = {
  idDistinctRatio: 0.99,
  idMinRows: 20,
  textMeanLength: 30,
  textSpaceRatio: 0.5,
  textDistinctRatio: 0.5,
} as const;

const ID_NAME = /(^|[_\s.-])(id|uuid|guid|key)$/i;
const CAMEL_ID_NAME = /[a-z0-9](Id|ID|Uuid|UUID|Guid|GUID|Key)$/;

/** `id`, `customer_id`, `order-key`, `userId`, `UUID`: names people give identifiers. */
export function looksLikeIdName(name: string): boolean {
  return ID_NAME.test(name) || CAMEL_ID_NAME.test(name);
}

/**
 * The type of a column DuckDB read as text. Rules, in order:
 * 1. named like an id and nearly every value distinct -> `id`;
 * 2. long (mean length > 30) or wordy (half the values contain a space), and at least half
 *    the values distinct -> `text` (free text: reviews, descriptions, notes);
 * 3. every value distinct and at least 20 of them -> `id` (codes such as "7590-VHVEG");
 * 4. otherwise -> `category`. A column with no values at all is a category with no levels.
 */
export function inferStringType(stats: ColumnStats): "category" | "text" | "id" {
  const n = stats.nonMissing;
  if (n === 0) return "category";
  const distinct = stats.distinct ?? 0;
  const distinctRatio = distinct / n;
  const t = INFERENCE_THRESHOLDS;
  if (looksLikeIdName(stats.name) && distinctRatio >= t.idDistinctRatio) return "id";
  const long = (stats.meanLength ?? 0) > t.textMeanLength;
  const wordy = (stats.spaceRatio ?? 0) >= t.textSpaceRatio;
  if ((long || wordy) && distinctRatio >= t.textDistinctRatio) return "text";
  if (distinct === n && n >= t.idMinRows) return "id";
  return "category";
}

/**
 * The type a person most likely means, from DuckDB's storage type and the data:
 * - BOOLEAN -> `boolean` (including Yes/No spellings DuckDB recognised in a text file);
 * - DATE / TIMESTAMP[_S|_MS|_NS|TZ] -> `datetime`;
 * - integers -> `number`, except a column named like an id whose values are all distinct,
 *   which is an `id`. Columns holding only 0 and 1 stay `number` on purpose: callers send
 *   0/1, and a number behaves the same in every learner;
 * - FLOAT / DOUBLE / DECIMAL -> `number`;
 * - everything else -> `inferStringType` (id, text or category).
 */
export function inferColumnType(stats: ColumnStats): ColumnType {
  switch (storageKind(stats.sourceType)) {
    case "boolean":
      return "boolean";
    case "datetime":
      return "datetime";
    case "float":
      return "number";
    case "integer": {
      const allDistinct = stats.nonMissing > 0 && stats.distinct === stats.nonMissing;
      return allDistinct && looksLikeIdName(stats.name) ? "id" : "number";
    }
    case "string":
      return inferStringType(stats);
  }
}

const TRUE_SPELLINGS = new Set(["true", "t", "yes", "y", "1"]);
const FALSE_SPELLINGS = new Set(["false", "f", "no", "n", "0"]);

/**
 * Reads a yes/no spelling the way DuckDB casts text to BOOLEAN (case-insensitive true/false,
 * t/f, yes/no, y/n, 1/0, surrounding spaces ignored); undefined when it is none of them.
 */
export function parseBooleanSpelling(text: string): boolean | undefined {
  const s = text.trim().toLowerCase();
  if (TRUE_SPELLINGS.has(s)) return true;
  if (FALSE_SPELLINGS.has(s)) return false;
  return undefined;
}

const OPPOSITES: Readonly<Record<string, string>> = {
  true: "false",
  false: "true",
  t: "f",
  f: "t",
  yes: "no",
  no: "yes",
  y: "n",
  n: "y",
  "1": "0",
  "0": "1",
};

/** "Yes" -> "No", "YES" -> "NO", "y" -> "n": the other spelling in the same letter case. */
function oppositeSpelling(spelling: string): string {
  const trimmed = spelling.trim();
  const lower = trimmed.toLowerCase();
  const opposite = OPPOSITES[lower] ?? (parseBooleanSpelling(lower) ? "false" : "true");
  if (trimmed === trimmed.toUpperCase() && trimmed !== lower) return opposite.toUpperCase();
  const first = trimmed.charAt(0);
  if (first !== first.toLowerCase()) return opposite.charAt(0).toUpperCase() + opposite.slice(1);
  return opposite;
}

/** One spelling of a yes/no column with what it means and how often it occurs. */
export interface BooleanSpelling {
  readonly value: string;
  readonly truth: boolean;
  readonly count: number;
}

/**
 * The [false, true] labels a boolean column keeps so a model answers in the file's own words:
 * the most frequent spelling of each side (ties: alphabetical), the missing side derived from
 * the other ("Yes" -> "No"). Undefined for real booleans (true/false in any case), which need
 * no labels.
 */
export function booleanLabels(
  spellings: readonly BooleanSpelling[],
): readonly [string, string] | undefined {
  const best = (truth: boolean): string | undefined => {
    const side = spellings
      .filter((s) => s.truth === truth && s.count > 0)
      .sort((a, b) => b.count - a.count || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
    return side[0]?.value;
  };
  const yes = best(true);
  const no = best(false);
  if (yes === undefined && no === undefined) return undefined;
  const isPlain = (s: string | undefined) =>
    s === undefined || s.toLowerCase() === "true" || s.toLowerCase() === "false";
  if (isPlain(yes) && isPlain(no)) return undefined;
  const falseLabel = no ?? oppositeSpelling(yes ?? "true");
  const trueLabel = yes ?? oppositeSpelling(no ?? "false");
  return [falseLabel, trueLabel];
}

/** Whether any cell of the column is missing (NaN or code -1). */
export function hasMissingValues(column: Column): boolean {
  if (isNumericColumn(column)) {
    for (const v of column.values) if (Number.isNaN(v)) return true;
    return false;
  }
  for (const c of column.codes) if (c < 0) return true;
  return false;
}

/**
 * The schema a frame implies: its types and labels, nullability measured on the data, and
 * DuckDB storage types when the caller still knows them (by column name).
 */
export function schemaOfFrame(
  frame: Frame,
  sourceTypes: Readonly<Record<string, string | undefined>> = {},
): Schema {
  const columns: ColumnSchema[] = frame.columns.map((column) => {
    const sourceType = sourceTypes[column.name];
    const labels = isNumericColumn(column) ? column.labels : undefined;
    return {
      name: column.name,
      type: column.type,
      nullable: hasMissingValues(column),
      ...(sourceType === undefined ? {} : { sourceType }),
      ...(labels === undefined ? {} : { labels }),
    };
  });
  return { columns };
}

const NUMBER_TEXT = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/** A plain decimal number ("12", "-3.5", "1e6"); no hex, no thousands separators, no blanks. */
export function parseNumberText(text: string): number | undefined {
  const s = text.trim();
  if (!NUMBER_TEXT.test(s)) return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n : undefined;
}

const DATETIME_TEXT =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/**
 * An ISO-8601-like date or date-time as epoch milliseconds. Without a zone it is read as UTC,
 * the way DuckDB reads a TIMESTAMP, so the same text gives the same instant on every server.
 */
export function parseDatetimeText(text: string): number | undefined {
  const m = DATETIME_TEXT.exec(text.trim());
  if (!m) return undefined;
  const [, y, mo, d, h = "00", mi = "00", s = "00", frac = "", zone] = m;
  let tz = zone === undefined ? "Z" : zone.toUpperCase();
  if (/^[+-]\d{2}$/.test(tz)) tz = `${tz}:00`;
  else if (/^[+-]\d{4}$/.test(tz)) tz = `${tz.slice(0, 3)}:${tz.slice(3)}`;
  const ms = frac === "" ? "" : `.${frac.slice(1, 4).padEnd(3, "0")}`;
  const iso = `${y}-${mo}-${d}T${h}:${mi}:${s}${ms}${tz}`;
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return undefined;
  // Date.parse rolls 2024-02-31 over to March 2; a real calendar date must survive a round trip.
  const day = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
  if (day.getUTCMonth() !== Number(mo) - 1 || day.getUTCDate() !== Number(d)) return undefined;
  return t;
}

function conversionError(column: string, value: string, target: ColumnType, why: string) {
  return new IngestError(
    "conversion_failed",
    `Column "${column}" cannot become ${describeType(target)}: the value "${value}" ${why}.`,
    { column },
  );
}

function describeType(type: ColumnType): string {
  switch (type) {
    case "number":
      return "a number column";
    case "boolean":
      return "a yes/no column";
    case "datetime":
      return "a date column";
    case "category":
      return "a category column";
    case "text":
      return "a text column";
    case "id":
      return "an id column";
  }
}

/** Dictionary-encodes the text of each cell of a numeric column, first appearance first. */
function numericToDictionary(
  column: NumericColumn,
  type: DictionaryColumn["type"],
): DictionaryColumn {
  const codes = new Int32Array(column.values.length);
  const levels: string[] = [];
  const byValue = new Map<number, number>();
  for (let i = 0; i < column.values.length; i++) {
    const v = column.values[i] ?? Number.NaN;
    if (Number.isNaN(v)) {
      codes[i] = -1;
      continue;
    }
    let code = byValue.get(v);
    if (code === undefined) {
      code = levels.length;
      byValue.set(v, code);
      if (column.type === "boolean") {
        levels.push(column.labels ? column.labels[v ? 1 : 0] : v ? "true" : "false");
      } else if (column.type === "datetime") {
        levels.push(new Date(v).toISOString());
      } else {
        levels.push(String(v));
      }
    }
    codes[i] = code;
  }
  return { name: column.name, type, codes, levels };
}

/** Maps each level through `parse` once, then expands to rows; the first bad level fails. */
function dictionaryToValues(
  column: DictionaryColumn,
  parse: (level: string) => number | undefined,
  target: ColumnType,
  why: string,
): Float64Array {
  const used = new Uint8Array(column.levels.length);
  for (const c of column.codes) if (c >= 0) used[c] = 1;
  const levelValues = new Float64Array(column.levels.length);
  for (let code = 0; code < column.levels.length; code++) {
    const level = column.levels[code] ?? "";
    if (!used[code]) {
      levelValues[code] = Number.NaN;
      continue;
    }
    const v = parse(level);
    if (v === undefined) throw conversionError(column.name, level, target, why);
    levelValues[code] = v;
  }
  const values = new Float64Array(column.codes.length);
  for (let i = 0; i < column.codes.length; i++) {
    const c = column.codes[i] ?? -1;
    values[i] = c < 0 ? Number.NaN : (levelValues[c] ?? Number.NaN);
  }
  return values;
}

function toBoolean(column: Column): NumericColumn {
  if (isNumericColumn(column)) {
    if (column.type === "boolean") return column;
    if (column.type === "datetime") {
      throw new IngestError(
        "conversion_failed",
        `Column "${column.name}" holds dates and cannot become a yes/no column.`,
        { column: column.name },
      );
    }
    for (const v of column.values) {
      if (!Number.isNaN(v) && v !== 0 && v !== 1) {
        throw conversionError(column.name, String(v), "boolean", "is neither 0 nor 1");
      }
    }
    return { name: column.name, type: "boolean", values: Float64Array.from(column.values) };
  }
  const counts = new Float64Array(column.levels.length);
  for (const c of column.codes) if (c >= 0) counts[c] = (counts[c] ?? 0) + 1;
  const spellings: BooleanSpelling[] = [];
  const values = dictionaryToValues(
    column,
    (level) => {
      const truth = parseBooleanSpelling(level);
      return truth === undefined ? undefined : truth ? 1 : 0;
    },
    "boolean",
    "is not a yes/no spelling (true/false, yes/no, y/n, t/f, 1/0)",
  );
  column.levels.forEach((level, code) => {
    const count = counts[code] ?? 0;
    const truth = parseBooleanSpelling(level);
    if (count > 0 && truth !== undefined) spellings.push({ value: level, truth, count });
  });
  const labels = booleanLabels(spellings);
  return {
    name: column.name,
    type: "boolean",
    values,
    ...(labels === undefined ? {} : { labels }),
  };
}

function convertColumn(column: Column, type: ColumnType): Column {
  if (column.type === type) return column;
  switch (type) {
    case "number": {
      if (isNumericColumn(column)) {
        return { name: column.name, type: "number", values: Float64Array.from(column.values) };
      }
      const values = dictionaryToValues(column, parseNumberText, "number", "is not a number");
      return { name: column.name, type: "number", values };
    }
    case "boolean":
      return toBoolean(column);
    case "datetime": {
      if (isNumericColumn(column)) {
        throw new IngestError(
          "conversion_failed",
          `Column "${column.name}" holds ${column.type === "boolean" ? "yes/no values" : "numbers"} ` +
            "and cannot become a date column; dates must be written like 2024-01-31.",
          { column: column.name },
        );
      }
      const values = dictionaryToValues(
        column,
        parseDatetimeText,
        "datetime",
        "is not a date like 2024-01-31 or 2024-01-31T09:30:00Z",
      );
      return { name: column.name, type: "datetime", values };
    }
    case "category":
    case "text":
    case "id":
      if (isNumericColumn(column)) return numericToDictionary(column, type);
      return { name: column.name, type, codes: column.codes, levels: column.levels };
  }
}

/**
 * Applies the types a person chose over the inferred ones (e.g. a zip code read as a number
 * made a category, or "12.5" strings made numbers). Columns not named keep their type and
 * their data; converted columns get new arrays, the input frame is never modified.
 *
 * Throws IngestError `unknown_column` for a name the frame lacks, and `conversion_failed`
 * naming the column and the first value that cannot convert. `baseSchema` carries over the
 * DuckDB storage types of the original import.
 */
export function applyTypeOverrides(
  frame: Frame,
  overrides: Readonly<Record<string, ColumnType>>,
  baseSchema?: Schema,
): { frame: Frame; schema: Schema } {
  const names = new Set(frame.columns.map((c) => c.name));
  for (const [name, type] of Object.entries(overrides)) {
    if (!names.has(name)) {
      throw new IngestError("unknown_column", `There is no column named "${name}".`, {
        column: name,
      });
    }
    if (!COLUMN_TYPES.includes(type)) {
      throw new IngestError(
        "conversion_failed",
        `"${String(type)}" is not a column type; use one of ${COLUMN_TYPES.join(", ")}.`,
        { column: name },
      );
    }
  }
  const columns = frame.columns.map((column) => {
    const type = Object.hasOwn(overrides, column.name) ? overrides[column.name] : undefined;
    return type === undefined ? column : convertColumn(column, type);
  });
  const converted: Frame = { rowCount: frame.rowCount, columns };
  const sourceTypes: Record<string, string | undefined> = {};
  for (const c of baseSchema?.columns ?? []) sourceTypes[c.name] = c.sourceType;
  return { frame: converted, schema: schemaOfFrame(converted, sourceTypes) };
}
