/**
 * The prediction log's rows as they are written: what a row holds, the catalog of what rows
 * share, and the batch file DuckDB reads in one INSERT.
 *
 * Logging every request must cost each request little CPU, on the event loop (building the
 * row) and in DuckDB's thread (parsing and compressing it), and both grow with the bytes per
 * row. So a row keeps only what differs from row to row:
 * - what every row of an app version repeats (workspace, app, version, model, task, classes)
 *   is one `log_versions` row, referred to by a small integer key;
 * - an input record is written as the JSON array of its values when its field names, in
 *   order, are a known shape (`log_shapes`), else as the JSON object;
 * - an answer that the typed columns already say (prediction, and for a binary model the
 *   positive class's probability when the other is its complement) is not written again.
 * The `predictions` view (prediction-store.ts) puts rows back together, so readers still see
 * one wide row with the input, output and probabilities as JSON.
 *
 * The batch file is tab-separated text, read with `read_csv` and explicit column types (about
 * half of what DuckDB spends reading the same rows as NDJSON): no field holds a raw tab or
 * newline (JSON text never does; other text is quoted with U+001F when it does), an empty
 * field is NULL, and times are milliseconds from a base the batch gives, so the numbers
 * written are small integers, which are cheap to format.
 */

/** What every row of an app version shares, stored once in `log_versions`. */
export interface LoggedVersion {
  readonly workspaceId: string;
  readonly app: string;
  readonly appVersion: number;
  readonly appVersionId: string;
  readonly modelName: string;
  readonly modelVersion: number;
  readonly task: "binary" | "multiclass" | "regression";
  /** Binary: the class whose probability `score` is (the model's second, "positive" class). */
  readonly positiveLabel: string | null;
  /** The model's classes in order, when known: a compact binary row's probabilities follow them. */
  readonly classes: readonly string[] | null;
}

/** One row as the batch file holds it; text fields already JSON where they are JSON. */
export interface RowFields {
  readonly requestId: string;
  readonly row: number;
  readonly versionKey: number;
  /** When the request was received, epoch ms. */
  readonly at: number;
  readonly latencyMs: number;
  readonly modelMs: number | null;
  readonly traceId: string | null;
  readonly cacheHit: boolean;
  /** The input's shape, when `input` is the array of its values; null when it is the object. */
  readonly shapeId: number | null;
  /** JSON: the masked record (its values when `shapeId` is set). */
  readonly input: string;
  readonly predictionLabel: string | null;
  readonly predictionValue: number | null;
  readonly score: number | null;
  /** JSON `{ label: probability }`; null when the typed columns give it back (compact binary). */
  readonly probabilities: string | null;
  /** JSON: the masked answer; null when the typed columns and probabilities give it back. */
  readonly output: string | null;
}

/**
 * `read_csv`'s line limit, its default (2,000,000 bytes), set explicitly: a larger one costs every
 * batch a larger buffer (~0.5 ms of CPU a batch at 16 MB).
 */
const MAX_LINE_BYTES = 2_000_000;

/**
 * Largest row the batch file may hold, a little under the line limit: about twice the request
 * bodies the server takes by default. A larger row is logged with its input and output replaced
 * by their size, rather than failing its batch.
 */
export const MAX_ROW_BYTES = MAX_LINE_BYTES - 4096;

/** The batch file's columns, in order, with the types `read_csv` reads them as. */
const FILE_COLUMNS: readonly (readonly [string, string])[] = [
  ["request_id", "VARCHAR"],
  ["row_index", "INTEGER"],
  ["version_key", "INTEGER"],
  ["at_ms", "DOUBLE"],
  ["latency_us", "BIGINT"],
  ["model_us", "BIGINT"],
  ["trace_id", "VARCHAR"],
  ["cache_hit", "BOOLEAN"],
  ["shape_id", "INTEGER"],
  ["input", "VARCHAR"],
  ["prediction_label", "VARCHAR"],
  ["prediction_value", "DOUBLE"],
  ["score", "DOUBLE"],
  ["probabilities", "VARCHAR"],
  ["output", "VARCHAR"],
];

/** Quotes text fields that hold a tab, newline or the quote itself; never in JSON text. */
const QUOTE = "\u001f";

/**
 * The SELECT that reads a batch file as `prediction_rows` rows (in the table's column order).
 * Latencies are written in whole microseconds, and times relative to `atBase`.
 */
export function batchSelect(fileLiteral: string, atBase: number): string {
  const columns = FILE_COLUMNS.map(([name, type]) => `${name}: '${type}'`).join(", ");
  return `SELECT request_id, row_index, version_key,
      make_timestamp(CAST(round((${atBase} + at_ms) * 1000) AS BIGINT)),
      latency_us / 1000, model_us / 1000, trace_id, cache_hit, shape_id, input,
      prediction_label, prediction_value, score, probabilities, output
    FROM read_csv(${fileLiteral}, delim = '\t', quote = '${QUOTE}', escape = '${QUOTE}',
      new_line = '\\n', header = false, auto_detect = false, nullstr = '',
      allow_quoted_nulls = false, max_line_size = ${MAX_LINE_BYTES}, columns = {${columns}})`;
}

/** One line of the batch file (with its newline). */
export function rowLine(r: RowFields, atBase: number): string {
  const line = lineOf(r, atBase);
  if (line.length * 3 < MAX_ROW_BYTES) return line;
  const bytes = Buffer.byteLength(line);
  if (bytes < MAX_ROW_BYTES) return line;
  const tooLarge = JSON.stringify({ truncated: true, bytes });
  return lineOf({ ...r, shapeId: null, input: tooLarge, output: tooLarge }, atBase);
}

function lineOf(r: RowFields, atBase: number): string {
  return `${text(r.requestId)}\t${r.row}\t${r.versionKey}\t${r.at - atBase}\t${micros(r.latencyMs)}\t${r.modelMs === null ? "" : micros(r.modelMs)}\t${r.traceId === null ? "" : text(r.traceId)}\t${r.cacheHit}\t${r.shapeId ?? ""}\t${r.input}\t${r.predictionLabel === null ? "" : text(r.predictionLabel)}\t${num(r.predictionValue)}\t${num(r.score)}\t${r.probabilities ?? ""}\t${r.output ?? ""}\n`;
}

/** Whole microseconds: small integers format far faster than fractional milliseconds. */
function micros(ms: number): string {
  return Number.isFinite(ms) ? String(Math.round(ms * 1000)) : "";
}

function num(v: number | null): string {
  return v !== null && Number.isFinite(v) ? String(v) : "";
}

/** A text field: as is, unless it is empty (else NULL) or holds a separator. */
function text(s: string): string {
  if (
    s !== "" &&
    !s.includes("\t") &&
    !s.includes("\n") &&
    !s.includes("\r") &&
    !s.includes(QUOTE)
  ) {
    return s;
  }
  return `${QUOTE}${s.replaceAll(QUOTE, QUOTE + QUOTE)}${QUOTE}`;
}

/**
 * The keys of what rows share: app versions and input shapes stored in the file. A batch being
 * written adds new ones through its own {@link CatalogBatch}; they are written in the batch's
 * transaction and become known only when it commits, so a batch that rolls back takes its
 * additions with it and no row ever refers to a key the file lacks. (Two batches open at once
 * may each add the same version under its own key: both rows are written, both work.)
 */
export class LogCatalog {
  private readonly versions = new Map<string, number>();
  private readonly shapes = new Map<string, number>();
  private nextVersion = 1;
  private nextShape = 1;

  /** Remember a version stored in the file (null: one this server cannot read, key taken). */
  loadVersion(key: number, v: LoggedVersion | null): void {
    if (v !== null) this.versions.set(versionIdentity(v), key);
    this.nextVersion = Math.max(this.nextVersion, key + 1);
  }

  /** Remember a shape stored in the file. */
  loadShape(id: number, keys: readonly string[]): void {
    this.shapes.set(JSON.stringify(keys), id);
    this.nextShape = Math.max(this.nextShape, id + 1);
  }

  /** What a new batch adds to the catalog, until it commits. */
  batch(): CatalogBatch {
    return new CatalogBatch(this);
  }

  /** The batch committed: its additions are in the file. */
  commit(batch: CatalogBatch): void {
    for (const [identity, [key]] of batch.versions) {
      if (!this.versions.has(identity)) this.versions.set(identity, key);
    }
    for (const [identity, [id]] of batch.shapes) {
      if (!this.shapes.has(identity)) this.shapes.set(identity, id);
    }
  }

  /** @internal The key of a stored version, if any. */
  knownVersion(identity: string): number | undefined {
    return this.versions.get(identity);
  }

  /** @internal The id of a stored shape, if any. */
  knownShape(identity: string): number | undefined {
    return this.shapes.get(identity);
  }

  /** @internal A new version key (never reused, even if its batch rolls back). */
  newVersionKey(): number {
    return this.nextVersion++;
  }

  /** @internal A new shape id (never reused). */
  newShapeId(): number {
    return this.nextShape++;
  }
}

/** The keys one batch uses, and the versions and shapes it adds to the file. */
export class CatalogBatch {
  /** @internal Added versions by identity: their key and row. */
  readonly versions = new Map<string, readonly [number, LoggedVersion]>();
  /** @internal Added shapes by identity: their id and field names. */
  readonly shapes = new Map<string, readonly [number, readonly string[]]>();

  constructor(private readonly catalog: LogCatalog) {}

  /** The key of this version's row, added to the batch when new. */
  versionKey(v: LoggedVersion): number {
    const identity = versionIdentity(v);
    const known = this.catalog.knownVersion(identity) ?? this.versions.get(identity)?.[0];
    if (known !== undefined) return known;
    const key = this.catalog.newVersionKey();
    this.versions.set(identity, [key, v]);
    return key;
  }

  /** The id of this list of field names (in order), added to the batch when new. */
  shapeId(keys: readonly string[]): number {
    const identity = JSON.stringify(keys);
    const known = this.catalog.knownShape(identity) ?? this.shapes.get(identity)?.[0];
    if (known !== undefined) return known;
    const id = this.catalog.newShapeId();
    this.shapes.set(identity, [id, keys]);
    return id;
  }
}

function versionIdentity(v: LoggedVersion): string {
  return JSON.stringify([
    v.workspaceId,
    v.app,
    v.appVersion,
    v.appVersionId,
    v.modelName,
    v.modelVersion,
    v.task,
    v.positiveLabel,
    v.classes,
  ]);
}
