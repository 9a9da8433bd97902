/**
 * The Recipe: fitted feature preparation shared by training and serving. Training encodes
 * every cell of the frame through {@link encodeValue}; serving encodes every field of a
 * request through the same function, so the two can never disagree (no training/serving skew).
 */
import type { Column, ColumnType, Frame, Schema } from "../data/frame.ts";
import { cellValue, isNumericColumn } from "../data/frame.ts";
import type { FeatureInfo, FeatureMatrix, Labels, Task, TaskKind } from "../learn/types.ts";

/** Datetime columns become these numeric parts (UTC). */
export const DATETIME_PARTS = ["year", "month", "day", "weekday", "hour"] as const;
export type DatetimePart = (typeof DATETIME_PARTS)[number];

/** Categories rarer than this in training go to the unknown bucket, so noise doesn't become a feature. */
const MIN_LEVEL_COUNT = 2;
/** At most this many levels keep their own code; the rest share the unknown bucket. */
const MAX_LEVELS = 1000;
/** A classification target with more classes than this is refused (likely an id or free text). */
export const MAX_CLASSES = 200;

/** One input column and how it becomes features. Serializable: stored in the model artifact. */
export type RecipeInput =
  | { readonly column: string; readonly kind: "number"; readonly nullable: boolean }
  | {
      readonly column: string;
      readonly kind: "boolean";
      readonly nullable: boolean;
      /** The spellings accepted for false and true besides JSON booleans and 0/1. */
      readonly labels?: readonly [string, string];
    }
  | {
      readonly column: string;
      readonly kind: "category";
      readonly nullable: boolean;
      /** Known levels, code = index; any other value gets code levels.length (unknown bucket). */
      readonly levels: readonly string[];
    }
  | { readonly column: string; readonly kind: "datetime"; readonly nullable: boolean };

export interface RecipeTarget {
  readonly column: string;
  readonly task: TaskKind;
  /** Class labels as the caller sees them; class index = position. Absent for regression. */
  readonly classes?: readonly string[];
}

/** A column the Recipe does not use, and why (shown to people so nothing is silently dropped). */
export interface ExcludedColumn {
  readonly column: string;
  readonly reason: "excluded by request" | "identifier" | "free text" | "constant" | "target";
}

export interface Recipe {
  readonly formatVersion: 1;
  readonly target: RecipeTarget;
  readonly inputs: readonly RecipeInput[];
  readonly excluded: readonly ExcludedColumn[];
}

/** A value a caller may send for one field. */
export type RawValue = string | number | boolean | null | undefined;

/** Thrown for a value that can't be encoded; names the field so a 4xx can say which. */
export class EncodeError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = "EncodeError";
  }
}

export class RecipeError extends Error {
  constructor(
    readonly code: "unknown_target" | "constant_target" | "unsupported_target" | "no_features",
    message: string,
  ) {
    super(message);
    this.name = "RecipeError";
  }
}

export interface EncodeOptions {
  /** What to do with a category never seen in training: use the unknown bucket, or refuse. */
  readonly unknownCategories?: "bucket" | "reject";
}

/** How many matrix columns an input produces. */
export function featureWidth(input: RecipeInput): number {
  return input.kind === "datetime" ? DATETIME_PARTS.length : 1;
}

/** The matrix columns the recipe produces, in order, as the learners see them. */
export function recipeFeatures(recipe: Recipe): FeatureInfo[] {
  const out: FeatureInfo[] = [];
  for (const input of recipe.inputs) {
    if (input.kind === "category") {
      out.push({ name: input.column, kind: "categorical", cardinality: input.levels.length + 1 });
    } else if (input.kind === "datetime") {
      for (const part of DATETIME_PARTS)
        out.push({ name: `${input.column}.${part}`, kind: "numeric" });
    } else {
      out.push({ name: input.column, kind: "numeric" });
    }
  }
  return out;
}

/**
 * Encode one raw value of one input into `out` starting at `offset`. The single code path
 * for training and serving. Missing (null/undefined) becomes NaN; learners handle it.
 */
export function encodeValue(
  input: RecipeInput,
  value: RawValue,
  out: Float64Array,
  offset: number,
  options: EncodeOptions = {},
  levelIndex?: ReadonlyMap<string, number>,
): void {
  if (value === null || value === undefined) {
    for (let i = 0; i < featureWidth(input); i++) out[offset + i] = Number.NaN;
    return;
  }
  switch (input.kind) {
    case "number": {
      const n =
        typeof value === "number" ? value : typeof value === "boolean" ? Number(value) : NaN;
      if (!Number.isFinite(n)) {
        throw new EncodeError(input.column, `${input.column} must be a finite number`);
      }
      out[offset] = n;
      return;
    }
    case "boolean": {
      out[offset] = encodeBoolean(input.column, value, input.labels);
      return;
    }
    case "category": {
      const key = typeof value === "string" ? value : String(value);
      const code = levelIndex ? levelIndex.get(key) : indexOfLevel(input.levels, key);
      if (code === undefined) {
        if (options.unknownCategories === "reject") {
          throw new EncodeError(
            input.column,
            `${input.column} has the value ${JSON.stringify(key)}, which was not seen in training`,
          );
        }
        out[offset] = input.levels.length;
      } else {
        out[offset] = code;
      }
      return;
    }
    case "datetime": {
      const ms =
        typeof value === "number" ? value : typeof value === "string" ? Date.parse(value) : NaN;
      if (!Number.isFinite(ms)) {
        throw new EncodeError(input.column, `${input.column} must be an ISO-8601 date or time`);
      }
      const d = new Date(ms);
      out[offset] = d.getUTCFullYear();
      out[offset + 1] = d.getUTCMonth() + 1;
      out[offset + 2] = d.getUTCDate();
      out[offset + 3] = d.getUTCDay();
      out[offset + 4] = d.getUTCHours();
      return;
    }
  }
}

function indexOfLevel(levels: readonly string[], key: string): number | undefined {
  const i = levels.indexOf(key);
  return i < 0 ? undefined : i;
}

function encodeBoolean(
  field: string,
  value: string | number | boolean,
  labels: readonly [string, string] | undefined,
): number {
  if (typeof value === "boolean") return value ? 1 : 0;
  if (value === 0 || value === 1) return value;
  if (typeof value === "string") {
    if (labels) {
      if (value === labels[1]) return 1;
      if (value === labels[0]) return 0;
    }
    const lower = value.toLowerCase();
    if (lower === "true") return 1;
    if (lower === "false") return 0;
  }
  const accepted = labels
    ? `true, false, 0, 1, "${labels[1]}" or "${labels[0]}"`
    : "true, false, 0 or 1";
  throw new EncodeError(field, `${field} must be one of ${accepted}`);
}

/**
 * A Recipe prepared for the hot path: level lookups become hash maps and the output width is
 * known, so encoding a request is a handful of map lookups into a reused array.
 */
export class CompiledRecipe {
  readonly features: readonly FeatureInfo[];
  readonly width: number;
  private readonly levelIndexes: (ReadonlyMap<string, number> | undefined)[];
  private readonly offsets: number[];

  constructor(readonly recipe: Recipe) {
    this.features = recipeFeatures(recipe);
    this.width = this.features.length;
    this.levelIndexes = recipe.inputs.map((input) =>
      input.kind === "category" ? new Map(input.levels.map((level, i) => [level, i])) : undefined,
    );
    this.offsets = [];
    let offset = 0;
    for (const input of recipe.inputs) {
      this.offsets.push(offset);
      offset += featureWidth(input);
    }
  }

  /** Encode one record (as a caller sends it) into `out` (length {@link width}). */
  encodeRecord(
    record: Readonly<Record<string, unknown>>,
    out: Float64Array,
    options: EncodeOptions = {},
  ): void {
    const inputs = this.recipe.inputs;
    for (let i = 0; i < inputs.length; i++) {
      const input = inputs[i] as RecipeInput;
      const value = record[input.column];
      if (value !== null && value !== undefined && typeof value === "object") {
        throw new EncodeError(input.column, `${input.column} must not be an object or array`);
      }
      encodeValue(
        input,
        value as RawValue,
        out,
        this.offsets[i] ?? 0,
        options,
        this.levelIndexes[i],
      );
    }
  }

  /**
   * Encode every row of a frame into a column-major matrix, cell by cell through the same
   * {@link encodeValue} the serving path uses.
   */
  encodeFrame(frame: Frame): FeatureMatrix {
    const rows = frame.rowCount;
    const data = new Float64Array(rows * this.width);
    const row = new Float64Array(this.width);
    const columns = this.recipe.inputs.map((input) => {
      const column = frame.columns.find((c) => c.name === input.column);
      if (!column) throw new EncodeError(input.column, `The data has no column ${input.column}`);
      return column;
    });
    for (let r = 0; r < rows; r++) {
      for (let i = 0; i < columns.length; i++) {
        const input = this.recipe.inputs[i] as RecipeInput;
        encodeValue(
          input,
          cellValue(columns[i] as Column, r),
          row,
          this.offsets[i] ?? 0,
          {},
          this.levelIndexes[i],
        );
      }
      for (let f = 0; f < this.width; f++) data[f * rows + r] = row[f] ?? Number.NaN;
    }
    return { rowCount: rows, features: this.features, data };
  }

  /** Turn model output into the caller's terms. */
  classLabel(index: number): string {
    return this.recipe.target.classes?.[index] ?? String(index);
  }
}

export interface FitRecipeOptions {
  readonly target: string;
  /** Columns a person chose not to use. */
  readonly exclude?: readonly string[];
}

export interface FittedRecipe {
  readonly recipe: Recipe;
  readonly compiled: CompiledRecipe;
  readonly task: Task;
  readonly X: FeatureMatrix;
  readonly y: Labels;
}

const POSITIVE_SPELLINGS = new Set(["yes", "true", "1", "y", "t", "positive", "pos"]);

/**
 * Decide the task from the target column: booleans and two-level categories are binary,
 * more levels multi-class, numbers regression (two distinct numbers count as binary).
 */
export function detectTask(column: Column): { task: TaskKind; classes?: string[] } {
  if (column.type === "text" || column.type === "id" || column.type === "datetime") {
    throw new RecipeError(
      "unsupported_target",
      `${column.name} is a ${column.type} column; pick a category, yes/no or number column to predict`,
    );
  }
  const distinct = distinctTargetValues(column);
  if (distinct.length < 2) {
    throw new RecipeError(
      "constant_target",
      `${column.name} has ${distinct.length === 0 ? "no values" : "only one value"}; there is nothing to predict`,
    );
  }
  if (column.type === "boolean") {
    const labels = isNumericColumn(column) && column.labels ? column.labels : ["false", "true"];
    return { task: "binary", classes: [labels[0], labels[1]] };
  }
  if (column.type === "number" && distinct.length > 2) return { task: "regression" };
  if (distinct.length > MAX_CLASSES) {
    throw new RecipeError(
      "unsupported_target",
      `${column.name} has ${distinct.length} different values, more than the ${MAX_CLASSES} classes Ballast predicts; if it is a quantity, change its type to number`,
    );
  }
  const classes = [...distinct].sort(compareLabels);
  if (classes.length === 2) {
    // Put the "positive-sounding" class second so AUC and probabilities read naturally.
    const [a, b] = classes as [string, string];
    if (POSITIVE_SPELLINGS.has(a.toLowerCase()) && !POSITIVE_SPELLINGS.has(b.toLowerCase())) {
      return { task: "binary", classes: [b, a] };
    }
    return { task: "binary", classes };
  }
  return { task: "multiclass", classes };
}

function compareLabels(a: string, b: string): number {
  const na = Number(a);
  const nb = Number(b);
  if (a !== "" && b !== "" && Number.isFinite(na) && Number.isFinite(nb)) return na - nb;
  return a < b ? -1 : a > b ? 1 : 0;
}

function distinctTargetValues(column: Column): string[] {
  const seen = new Set<string>();
  if (isNumericColumn(column)) {
    for (const v of column.values) if (!Number.isNaN(v)) seen.add(String(v));
    if (column.type === "boolean" && column.labels) {
      return [...seen].map((v) => (v === "1" ? column.labels?.[1] : column.labels?.[0]) ?? v);
    }
    return [...seen];
  }
  for (const code of column.codes) if (code >= 0) seen.add(column.levels[code] ?? "");
  return [...seen];
}

function targetLabel(column: Column, row: number): string | null {
  if (isNumericColumn(column)) {
    const v = column.values[row] ?? Number.NaN;
    if (Number.isNaN(v)) return null;
    if (column.type === "boolean") {
      const labels = column.labels ?? ["false", "true"];
      return v ? labels[1] : labels[0];
    }
    return String(v);
  }
  const code = column.codes[row] ?? -1;
  return code < 0 ? null : (column.levels[code] ?? null);
}

/** Which input kind a column of this type becomes, or why it is left out. */
function inputKind(type: ColumnType): RecipeInput["kind"] | ExcludedColumn["reason"] {
  switch (type) {
    case "number":
      return "number";
    case "boolean":
      return "boolean";
    case "category":
      return "category";
    case "datetime":
      return "datetime";
    case "id":
      return "identifier";
    case "text":
      return "free text";
  }
}

/**
 * Fit the recipe on a frame: pick the task from the target, learn category levels, drop
 * identifiers, free text and constants (saying why), and encode the training matrix.
 * Rows whose target is missing are left out of training.
 */
export function fitRecipe(frame: Frame, schema: Schema, options: FitRecipeOptions): FittedRecipe {
  const targetColumn = frame.columns.find((c) => c.name === options.target);
  if (!targetColumn) {
    const names = frame.columns.map((c) => c.name).join(", ");
    throw new RecipeError(
      "unknown_target",
      `There is no column named ${options.target}; the columns are: ${names}`,
    );
  }
  const { task, classes } = detectTask(targetColumn);
  const exclude = new Set(options.exclude ?? []);

  const inputs: RecipeInput[] = [];
  const excluded: ExcludedColumn[] = [{ column: targetColumn.name, reason: "target" }];
  for (const column of frame.columns) {
    if (column === targetColumn) continue;
    if (exclude.has(column.name)) {
      excluded.push({ column: column.name, reason: "excluded by request" });
      continue;
    }
    const type = schema.columns.find((c) => c.name === column.name)?.type ?? column.type;
    const kind = inputKind(type);
    const nullable = hasMissing(column);
    switch (kind) {
      case "number":
      case "datetime":
        if (isConstant(column)) excluded.push({ column: column.name, reason: "constant" });
        else inputs.push({ column: column.name, kind, nullable });
        break;
      case "boolean": {
        if (isConstant(column)) {
          excluded.push({ column: column.name, reason: "constant" });
          break;
        }
        const labels = isNumericColumn(column) ? column.labels : undefined;
        inputs.push(
          labels
            ? { column: column.name, kind, nullable, labels }
            : { column: column.name, kind, nullable },
        );
        break;
      }
      case "category": {
        const levels = fitLevels(column);
        if (levels.length < 2 && !nullable)
          excluded.push({ column: column.name, reason: "constant" });
        else inputs.push({ column: column.name, kind, nullable, levels });
        break;
      }
      default:
        excluded.push({ column: column.name, reason: kind });
    }
  }
  if (inputs.length === 0) {
    throw new RecipeError("no_features", "No column is left to learn from besides the target");
  }
  const recipe: Recipe = {
    formatVersion: 1,
    target: classes
      ? { column: targetColumn.name, task, classes }
      : { column: targetColumn.name, task },
    inputs,
    excluded,
  };
  const compiled = new CompiledRecipe(recipe);

  // Keep only rows with a target; encode them.
  const keep: number[] = [];
  for (let r = 0; r < frame.rowCount; r++) if (targetLabel(targetColumn, r) !== null) keep.push(r);
  const trainingFrame = keep.length === frame.rowCount ? frame : selectRows(frame, keep);
  const X = compiled.encodeFrame(trainingFrame);
  const y = new Float64Array(keep.length);
  const classIndex = new Map((classes ?? []).map((c, i) => [c, i]));
  for (let i = 0; i < keep.length; i++) {
    const label = targetLabel(targetColumn, keep[i] as number) as string;
    y[i] = classes ? (classIndex.get(label) ?? 0) : Number(label);
  }
  return {
    recipe,
    compiled,
    task: { kind: task, classCount: classes?.length ?? 0 },
    X,
    y,
  };
}

function hasMissing(column: Column): boolean {
  if (isNumericColumn(column)) {
    for (const v of column.values) if (Number.isNaN(v)) return true;
    return false;
  }
  for (const code of column.codes) if (code < 0) return true;
  return false;
}

function isConstant(column: Column): boolean {
  if (!isNumericColumn(column)) return new Set(column.codes).size <= 1;
  let first: number | undefined;
  for (const v of column.values) {
    if (Number.isNaN(v)) continue;
    if (first === undefined) first = v;
    else if (v !== first) return false;
  }
  return true;
}

/** Levels seen at least MIN_LEVEL_COUNT times (all levels for small data), most frequent first. */
function fitLevels(column: Column): string[] {
  if (isNumericColumn(column)) return [];
  const counts = new Int32Array(column.levels.length);
  for (const code of column.codes) if (code >= 0) counts[code] = (counts[code] ?? 0) + 1;
  const order = [...counts.keys()].filter((i) => (counts[i] ?? 0) > 0);
  order.sort((a, b) => (counts[b] ?? 0) - (counts[a] ?? 0) || a - b);
  const minCount = column.codes.length >= 100 ? MIN_LEVEL_COUNT : 1;
  return order
    .filter((i) => (counts[i] ?? 0) >= minCount)
    .slice(0, MAX_LEVELS)
    .map((i) => column.levels[i] ?? "");
}

/** A frame holding only the given rows (in order). */
export function selectRows(frame: Frame, rows: readonly number[]): Frame {
  const columns = frame.columns.map((column): Column => {
    if (isNumericColumn(column)) {
      const values = new Float64Array(rows.length);
      for (let i = 0; i < rows.length; i++)
        values[i] = column.values[rows[i] as number] ?? Number.NaN;
      return { ...column, values };
    }
    const codes = new Int32Array(rows.length);
    for (let i = 0; i < rows.length; i++) codes[i] = column.codes[rows[i] as number] ?? -1;
    return { ...column, codes };
  });
  return { rowCount: rows.length, columns };
}
