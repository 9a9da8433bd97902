/**
 * The prediction log's storage: one DuckDB file per server process (`<dataDir>/monitor/
 * predictions.duckdb`), with the logged predictions, the outcomes callers report, and each app's
 * retention settings. DuckDB because the reads are analytical (a window of millions of rows
 * grouped by version and time step, joined with outcomes) and the writes are batches: a columnar
 * file answers both without a server. A DuckDB file has one writer process, so each replica
 * keeps its own log in its own data dir; a report covers the predictions this replica logged.
 *
 * Rows are stored slim (log-rows.ts): `prediction_rows` refers to `log_versions` and
 * `log_shapes` for what rows share, and the `predictions` view puts them back together for
 * readers. All writes go through one connection, one at a time (a batch of predictions is one
 * transaction, so a crash loses a whole batch or nothing); reads use a second connection, each
 * report inside one read transaction so its queries see the same snapshot.
 */
import { type FileHandle, mkdir, open, rm } from "node:fs/promises";
import path from "node:path";
import { setImmediate as nextTurn } from "node:timers/promises";
import {
  DOUBLE,
  type DuckDBConnection,
  DuckDBInstance,
  DuckDBListType,
  DuckDBListValue,
  type DuckDBType,
  type DuckDBValue,
  INTEGER,
  listValue,
  timestampValue,
  VARCHAR,
} from "@duckdb/node-api";
import { quoteLiteral, toNumber } from "../../data/duckdb-sql.ts";
import {
  batchSelect,
  type CatalogBatch,
  LogCatalog,
  type LoggedVersion,
  rowLine,
} from "./log-rows.ts";
import type { ParsedOutcome } from "./outcome-input.ts";

/** Where a server keeps its prediction log, under its data dir. */
export function predictionLogPath(dataDir: string): string {
  return path.join(dataDir, "monitor", "predictions.duckdb");
}

/**
 * One logged row, whole: one record of a sampled request and the answer it got. The log writes
 * observations compactly (observation-rows.ts); this form is for tools and tests that write
 * rows directly (`insertPredictions`), and is what the `predictions` view reads back.
 */
export interface LoggedPrediction {
  readonly requestId: string;
  /** The record's index in the request (`rows[i]`); 0 for a single record. */
  readonly row: number;
  readonly workspaceId: string;
  readonly app: string;
  readonly appVersion: number;
  readonly appVersionId: string;
  readonly modelName: string;
  readonly modelVersion: number;
  readonly task: "binary" | "multiclass" | "regression";
  /** When the request was received, epoch ms. */
  readonly at: number;
  /** Kept to the microsecond, as `modelMs`. */
  readonly latencyMs: number;
  readonly modelMs: number | null;
  readonly traceId: string | null;
  readonly cacheHit: boolean;
  /** The record, personal data masked (a JSON value: written as JSON). */
  readonly input: unknown;
  /** The answer, masked likewise (prediction, probabilities, explanation, fallback). */
  readonly output: unknown;
  /** Classification: the predicted class. */
  readonly predictionLabel: string | null;
  /** Regression: the predicted value. */
  readonly predictionValue: number | null;
  /** Binary: the class whose probability `score` is (the model's second, "positive" class). */
  readonly positiveLabel: string | null;
  readonly score: number | null;
  /** Classification: `{ label: probability }`. */
  readonly probabilities: Readonly<Record<string, number>> | null;
}

/** The settings the retention job applies to an app's rows (the latest its versions served with). */
export interface RetentionSettings {
  readonly maxRows: number;
  readonly retentionDays: number;
}

const SCHEMA_VERSION = 2;

/**
 * The log shares the machine with the requests it describes, and logging every request must
 * cost each little CPU. DuckDB gets one thread (a second one costs more CPU per row than it
 * saves: measured 2.9 against 4.4-5.3 µs a row to store a large batch; reports run on one core)
 * and 512 MB (a large report spills to `<file>.tmp` beyond it) instead of every core and 80% of
 * the memory, its defaults. Checkpoints wait for 64 MB of write-ahead log instead of 16: each
 * one compresses again the row group that batches of a few thousand rows keep appending to,
 * which at 16 MB cost as much as storing the rows (4.6 against 2.8 µs a row).
 */
const DUCKDB_SETTINGS: Record<string, string> = {
  threads: "1",
  memory_limit: "512MB",
  checkpoint_threshold: "64MB",
};

/**
 * The tables. `prediction_rows` has no key: request ids are unique unless a caller reuses its
 * own `X-Request-Id`, and an index over millions of rows would cost more than the scans it
 * saves. Its JSON is stored as VARCHAR (the log writes it with JSON.stringify, so it is valid;
 * the JSON type would parse every value again on insert). `log_versions` and `log_shapes` are
 * what rows share (log-rows.ts); they are never deleted (a few rows per app version).
 * `outcomes` is keyed, so the latest report of an outcome replaces the earlier one.
 */
const TABLES = [
  `CREATE TABLE IF NOT EXISTS log_versions (
    version_key INTEGER PRIMARY KEY,
    workspace_id VARCHAR NOT NULL,
    app VARCHAR NOT NULL,
    app_version INTEGER NOT NULL,
    app_version_id VARCHAR NOT NULL,
    model_name VARCHAR NOT NULL,
    model_version INTEGER NOT NULL,
    task VARCHAR NOT NULL,
    positive_label VARCHAR,
    classes VARCHAR[]
  )`,
  `CREATE TABLE IF NOT EXISTS log_shapes (shape_id INTEGER PRIMARY KEY, keys VARCHAR[] NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS prediction_rows (
    request_id VARCHAR NOT NULL,
    row_index INTEGER NOT NULL,
    version_key INTEGER NOT NULL,
    predicted_at TIMESTAMP NOT NULL,
    latency_ms DOUBLE NOT NULL,
    model_ms DOUBLE,
    trace_id VARCHAR,
    cache_hit BOOLEAN NOT NULL,
    shape_id INTEGER,
    input VARCHAR NOT NULL,
    prediction_label VARCHAR,
    prediction_value DOUBLE,
    score DOUBLE,
    probabilities VARCHAR,
    output VARCHAR
  )`,
  `CREATE TABLE IF NOT EXISTS outcomes (
    workspace_id VARCHAR NOT NULL,
    app VARCHAR NOT NULL,
    request_id VARCHAR NOT NULL,
    row_index INTEGER NOT NULL,
    kind VARCHAR NOT NULL,
    event VARCHAR NOT NULL,
    actual_label VARCHAR,
    actual_value DOUBLE,
    value DOUBLE,
    reported_at TIMESTAMP NOT NULL,
    PRIMARY KEY (workspace_id, app, request_id, row_index, kind, event)
  )`,
  `CREATE TABLE IF NOT EXISTS log_settings (
    workspace_id VARCHAR NOT NULL,
    app VARCHAR NOT NULL,
    max_rows BIGINT NOT NULL,
    retention_days INTEGER NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (workspace_id, app)
  )`,
];

/** Probabilities as logged: stored, or (compact binary rows) rebuilt from the score. */
const PROBABILITIES = `coalesce(CAST(r.probabilities AS JSON),
  CASE WHEN v.task = 'binary' AND r.output IS NULL AND r.score IS NOT NULL
    THEN json_object(v.classes[1], 1 - r.score, v.classes[2], r.score) END)`;

/**
 * Every logged row whole, as `LoggedPrediction` describes it (input, output and probabilities as
 * JSON): what tools and tests read. Reports read the tables, which is cheaper.
 */
const PREDICTIONS_VIEW = `CREATE OR REPLACE VIEW predictions AS
  SELECT r.request_id, r.row_index, v.workspace_id, v.app, v.app_version, v.app_version_id,
    v.model_name, v.model_version, v.task, r.predicted_at, r.latency_ms, r.model_ms, r.trace_id,
    r.cache_hit,
    CASE WHEN r.shape_id IS NULL THEN CAST(r.input AS JSON)
      ELSE to_json(map_from_entries(list_zip(s.keys, json_extract(r.input, '$[*]')))) END AS input,
    coalesce(CAST(r.output AS JSON), CASE WHEN v.task = 'regression'
      THEN json_object('prediction', r.prediction_value)
      ELSE json_object('prediction', r.prediction_label, 'probabilities', ${PROBABILITIES}) END)
      AS output,
    r.prediction_label, r.prediction_value, v.positive_label, r.score,
    ${PROBABILITIES} AS probabilities
  FROM prediction_rows r JOIN log_versions v USING (version_key)
    LEFT JOIN log_shapes s USING (shape_id)`;

/**
 * From schema 1 (one wide `predictions` table): its rows move into `prediction_rows`, with a
 * `log_versions` row per distinct set of shared values; inputs stay JSON objects.
 */
const FROM_VERSION_1 = [
  "ALTER TABLE predictions RENAME TO predictions_v1",
  ...TABLES.slice(0, 3),
  `INSERT INTO log_versions
    SELECT row_number() OVER (), workspace_id, app, app_version, app_version_id, model_name,
      model_version, task, positive_label, NULL
    FROM (SELECT DISTINCT workspace_id, app, app_version, app_version_id, model_name,
      model_version, task, positive_label FROM predictions_v1)`,
  `INSERT INTO prediction_rows
    SELECT p.request_id, p.row_index, v.version_key, p.predicted_at, p.latency_ms, p.model_ms,
      p.trace_id, p.cache_hit, NULL, CAST(p.input AS VARCHAR), p.prediction_label,
      p.prediction_value, p.score, CAST(p.probabilities AS VARCHAR), CAST(p.output AS VARCHAR)
    FROM predictions_v1 p JOIN log_versions v
      ON v.workspace_id = p.workspace_id AND v.app = p.app AND v.app_version = p.app_version
      AND v.app_version_id = p.app_version_id AND v.model_name = p.model_name
      AND v.model_version = p.model_version AND v.task = p.task
      AND v.positive_label IS NOT DISTINCT FROM p.positive_label`,
  "DROP TABLE predictions_v1",
  "UPDATE log_schema SET version = 2",
];

/** Rows written between yields to the event loop, so a large flush never blocks requests long. */
const WRITE_SLICE = 500;

/**
 * A batch's lines, made as they are written; new versions and shapes go to `catalog`. Either
 * lines one by one, or (made on another thread) chunks of whole lines as UTF-8 bytes.
 */
export type BatchLines = (
  catalog: CatalogBatch,
  atBase: number,
) => Iterable<string> | AsyncIterable<LineChunk>;

/** Whole lines, as the bytes written, and how many they are. */
export interface LineChunk {
  readonly bytes: Uint8Array;
  readonly lines: number;
}

/**
 * Lines written to a batch file, in slices with a turn of the event loop between them; how many,
 * and their bytes.
 */
async function writeLines(
  handle: FileHandle,
  lines: Iterable<string> | AsyncIterable<LineChunk>,
): Promise<{ lines: number; bytes: number }> {
  let count = 0;
  let bytes = 0;
  if (Symbol.asyncIterator in lines) {
    for await (const chunk of lines) {
      if (chunk.lines > 0) bytes += (await handle.write(chunk.bytes)).bytesWritten;
      count += chunk.lines;
    }
    return { lines: count, bytes };
  }
  let text = "";
  // Rows are made (masked) as they are written, so a batch never sits in memory whole.
  for (const line of lines) {
    text += line;
    if (++count % WRITE_SLICE === 0) {
      bytes += (await handle.write(text)).bytesWritten;
      text = "";
      await nextTurn();
    }
  }
  if (text !== "") bytes += (await handle.write(text)).bytesWritten;
  return { lines: count, bytes };
}

/** The versions and shapes a batch adds, inside its transaction. */
async function insertCatalogAdditions(c: DuckDBConnection, batch: CatalogBatch): Promise<void> {
  for (const [key, v] of batch.versions.values()) {
    await c.run(
      "INSERT INTO log_versions VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
      [
        key,
        v.workspaceId,
        v.app,
        v.appVersion,
        v.appVersionId,
        v.modelName,
        v.modelVersion,
        v.task,
        v.positiveLabel,
        v.classes === null ? null : listValue([...v.classes]),
      ],
      [INTEGER, VARCHAR, VARCHAR, INTEGER, VARCHAR, VARCHAR, INTEGER, VARCHAR, VARCHAR, VARCHARS],
    );
  }
  for (const [id, keys] of batch.shapes.values()) {
    await c.run(
      "INSERT INTO log_shapes VALUES ($1, $2)",
      [id, listValue([...keys])],
      [INTEGER, VARCHARS],
    );
  }
}

/** The version keys of the app given as $1 (workspace) and $2 (app). */
const APP_VERSIONS = "SELECT version_key FROM log_versions WHERE workspace_id = $1 AND app = $2";

/** The catalog of versions and shapes stored in the file. */
async function loadCatalog(c: DuckDBConnection): Promise<LogCatalog> {
  const catalog = new LogCatalog();
  const versions = await c.runAndReadAll(
    `SELECT version_key, workspace_id, app, app_version, app_version_id, model_name,
            model_version, task, positive_label, classes FROM log_versions`,
  );
  for (const r of versions.getRows()) {
    const task = r[7];
    const classes = r[9];
    if (task !== "binary" && task !== "multiclass" && task !== "regression") {
      catalog.loadVersion(toNumber(r[0]), null);
      continue;
    }
    catalog.loadVersion(toNumber(r[0]), {
      workspaceId: String(r[1]),
      app: String(r[2]),
      appVersion: toNumber(r[3]),
      appVersionId: String(r[4]),
      modelName: String(r[5]),
      modelVersion: toNumber(r[6]),
      task,
      positiveLabel: r[8] === null ? null : String(r[8]),
      classes: classes instanceof DuckDBListValue ? classes.items.map(String) : null,
    } satisfies LoggedVersion);
  }
  const shapes = await c.runAndReadAll("SELECT shape_id, keys FROM log_shapes");
  for (const [id, keys] of shapes.getRows()) {
    if (keys instanceof DuckDBListValue) catalog.loadShape(toNumber(id), keys.items.map(String));
  }
  return catalog;
}

const micros = (ms: number) => timestampValue(BigInt(Math.round(ms * 1000)));
const VARCHARS = new DuckDBListType(VARCHAR);
const INTEGERS = new DuckDBListType(INTEGER);
const DOUBLES = new DuckDBListType(DOUBLE);

/** What a report reads of a window: counts per version and step, labelled rows, events. */
export interface WindowData {
  readonly counts: readonly {
    readonly version: number;
    readonly bucket: number;
    readonly predictions: number;
    /** Predictions followed by at least one business event. */
    readonly eventful: number;
  }[];
  readonly labelled: readonly LabelledRow[];
  readonly events: readonly {
    readonly version: number;
    readonly bucket: number;
    readonly event: string;
    /** Predictions followed by this event. */
    readonly count: number;
    readonly value: number;
  }[];
}

/** A logged prediction joined with its reported actual. */
export interface LabelledRow {
  readonly version: number;
  readonly bucket: number;
  readonly predictionLabel: string | null;
  readonly predictionValue: number | null;
  readonly positiveLabel: string | null;
  readonly score: number | null;
  readonly probabilities: string | null;
  readonly actualLabel: string | null;
  readonly actualValue: number | null;
}

/** One version's predictions and one business event that followed them (`eventStats`). */
export interface EventStats {
  readonly version: number;
  readonly predictions: number;
  /** Predictions followed by the event at least once. */
  readonly conversions: number;
  /** The event's value summed per prediction, 0 without it: mean and sample variance. */
  readonly valueMean: number;
  readonly valueVariance: number;
}

export interface WindowQuery {
  readonly workspaceId: string;
  readonly app: string;
  /** Epoch ms, inclusive. */
  readonly from: number;
  /** Epoch ms, exclusive. */
  readonly to: number;
  readonly stepMs: number;
}

export class PredictionStore {
  private writes: Promise<unknown> = Promise.resolve();
  private reads: Promise<unknown> = Promise.resolve();
  private closed = false;
  /**
   * The open spool (see appendToSpool): what it adds to the catalog, its time base, rows and
   * bytes, and its file, kept open until it is stored (a batch is appended every few tens of
   * milliseconds under load; opening, sizing and closing the file each time cost the event loop
   * ~0.5 µs a logged request).
   */
  private spool:
    | {
        readonly added: CatalogBatch;
        readonly atBase: number;
        rows: number;
        bytes: number;
        readonly since: number;
        file: FileHandle | undefined;
      }
    | undefined;

  private constructor(
    readonly path: string,
    private readonly instance: DuckDBInstance,
    private readonly writer: DuckDBConnection,
    private readonly reader: DuckDBConnection,
    /** What rows share, as stored; only the write chain uses it. */
    private readonly catalog: LogCatalog,
  ) {}

  /** Open (or create) the log file and its tables, bringing an older schema up to date. */
  static async open(file: string): Promise<PredictionStore> {
    await mkdir(path.dirname(file), { recursive: true });
    // Batch and spool files a stopped process left were never committed: like its open
    // transaction (their new versions and shapes were only in its memory).
    await rm(`${file}.batch.tsv`, { force: true });
    await rm(`${file}.spool.tsv`, { force: true });
    const instance = await DuckDBInstance.create(file, DUCKDB_SETTINGS);
    try {
      const writer = await instance.connect();
      const reader = await instance.connect();
      await writer.run("CREATE TABLE IF NOT EXISTS log_schema (version INTEGER NOT NULL)");
      const found = (
        await writer.runAndReadAll("SELECT max(version) FROM log_schema")
      ).getRows()[0]?.[0];
      if (found === null || found === undefined) {
        await PredictionStore.transaction(writer, async () => {
          for (const statement of TABLES) await writer.run(statement);
          await writer.run("INSERT INTO log_schema VALUES ($1)", [SCHEMA_VERSION], [INTEGER]);
        });
      } else if (toNumber(found) === 1) {
        await PredictionStore.transaction(writer, async () => {
          for (const statement of FROM_VERSION_1) await writer.run(statement);
        });
      } else if (toNumber(found) !== SCHEMA_VERSION) {
        throw new Error(`The prediction log ${file} has schema ${found}, newer than this server`);
      }
      for (const statement of TABLES) await writer.run(statement);
      await writer.run(PREDICTIONS_VIEW);
      const catalog = await loadCatalog(writer);
      return new PredictionStore(file, instance, writer, reader, catalog);
    } catch (error) {
      instance.closeSync();
      throw error;
    }
  }

  /** Run `work` on the writer connection once the writes before it are done. */
  private write<T>(work: (c: DuckDBConnection) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error("The prediction log is closed"));
    const run = this.writes.then(() => work(this.writer));
    this.writes = run.catch(() => {});
    return run;
  }

  private read<T>(work: (c: DuckDBConnection) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error("The prediction log is closed"));
    const run = this.reads.then(() => work(this.reader));
    this.reads = run.catch(() => {});
    return run;
  }

  /** Work inside one transaction: committed whole, or rolled back whole on any error. */
  private static async transaction<T>(c: DuckDBConnection, work: () => Promise<T>): Promise<T> {
    await c.run("BEGIN TRANSACTION");
    try {
      const result = await work();
      await c.run("COMMIT");
      return result;
    } catch (error) {
      await c.run("ROLLBACK").catch(() => {});
      throw error;
    }
  }

  /**
   * Write a batch in one transaction: its new versions and shapes, and its rows. The lines are
   * written to a file beside the log as they are made, in slices with a turn of the event loop
   * between them, and DuckDB reads that file in one INSERT on its own thread: per row the
   * event loop builds one short line (an appender would cost a native call per value).
   */
  insertBatch(lines: BatchLines): Promise<number> {
    return this.write(async (c) => {
      const file = `${this.path}.batch.tsv`;
      const atBase = Date.now();
      // What the batch adds to the catalog becomes known only once it is committed.
      const added = this.catalog.batch();
      try {
        const handle = await open(file, "w");
        let count: number;
        try {
          count = (await writeLines(handle, lines(added, atBase))).lines;
        } finally {
          await handle.close();
        }
        return count === 0 ? 0 : await this.storeFile(c, file, added, atBase);
      } finally {
        await rm(file, { force: true });
      }
    });
  }

  /**
   * Append lines to the spool, a batch file that grows until {@link ingestSpool} stores it
   * whole: one large INSERT costs DuckDB far less per row than many small ones (from a row
   * group up it writes compressed row groups straight to the file instead of through its
   * write-ahead log, and each statement's fixed cost is paid once). The lines of one call are
   * all appended or, when making them fails, none are. Resolves to the lines appended.
   */
  appendToSpool(lines: BatchLines): Promise<number> {
    return this.write(async () => {
      const now = Date.now();
      // One catalog batch and time base for the whole spool: it is stored as one batch.
      this.spool ??= {
        added: this.catalog.batch(),
        atBase: now,
        rows: 0,
        bytes: 0,
        since: now,
        file: undefined,
      };
      const spool = this.spool;
      spool.file ??= await open(this.spoolFile, "a");
      try {
        const written = await writeLines(spool.file, lines(spool.added, spool.atBase));
        spool.rows += written.lines;
        spool.bytes += written.bytes;
        return written.lines;
      } catch (error) {
        await spool.file.truncate(spool.bytes);
        throw error;
      }
    });
  }

  /** The spool's rows, and since when it has been open (epoch ms); zero rows when none is. */
  spooled(): { readonly rows: number; readonly since: number } {
    return this.spool ?? { rows: 0, since: Date.now() };
  }

  /**
   * Store the spooled rows, and the versions and shapes they add, in one transaction, and start
   * a new spool. Resolves to the rows stored; when it fails none of them are, and the spool is
   * gone all the same (a batch is stored whole or not at all).
   */
  ingestSpool(): Promise<number> {
    return this.write(async (c) => {
      const spool = this.spool;
      if (!spool) return 0;
      this.spool = undefined;
      try {
        await spool.file?.close();
        return spool.rows === 0
          ? 0
          : await this.storeFile(c, this.spoolFile, spool.added, spool.atBase);
      } finally {
        await rm(this.spoolFile, { force: true });
      }
    });
  }

  /** A written batch file stored with its catalog additions in one transaction. */
  private async storeFile(
    c: DuckDBConnection,
    file: string,
    added: CatalogBatch,
    atBase: number,
  ): Promise<number> {
    const insert = `INSERT INTO prediction_rows ${batchSelect(quoteLiteral(file), atBase)}`;
    // One statement is one transaction; new versions and shapes need one around them all.
    const inserted =
      added.versions.size === 0 && added.shapes.size === 0
        ? (await c.run(insert)).rowsChanged
        : await PredictionStore.transaction(c, async () => {
            await insertCatalogAdditions(c, added);
            return (await c.run(insert)).rowsChanged;
          });
    this.catalog.commit(added);
    return inserted;
  }

  /** Write whole rows (tools, tests) in one transaction; they are stored as given. */
  insertPredictions(rows: Iterable<LoggedPrediction>): Promise<number> {
    return this.insertBatch(predictionLines(rows));
  }

  /** Remember the retention settings an app's rows are kept under (latest wins). */
  saveSettings(
    workspaceId: string,
    app: string,
    settings: RetentionSettings,
    at: number,
  ): Promise<void> {
    return this.write(async (c) => {
      await c.run("INSERT OR REPLACE INTO log_settings VALUES ($1, $2, $3, $4, $5)", [
        workspaceId,
        app,
        BigInt(settings.maxRows),
        settings.retentionDays,
        micros(at),
      ]);
    });
  }

  /**
   * Store a batch of checked outcomes in one transaction; an outcome reported again for the
   * same (request, row, actual | event name) replaces the earlier one.
   */
  putOutcomes(
    workspaceId: string,
    app: string,
    outcomes: readonly ParsedOutcome[],
    at: number,
  ): Promise<void> {
    // Later duplicates in the batch win, as later requests do.
    const latest = new Map<string, ParsedOutcome>();
    for (const o of outcomes) latest.set(JSON.stringify([o.requestId, o.row, o.kind, o.event]), o);
    const rows = [...latest.values()];
    if (rows.length === 0) return Promise.resolve();
    const column = <T extends DuckDBValue>(pick: (o: ParsedOutcome) => T) =>
      listValue(rows.map(pick));
    return this.write((c) =>
      PredictionStore.transaction(c, async () => {
        await c.run(
          `INSERT OR REPLACE INTO outcomes
           SELECT $1, $2, unnest($3), unnest($4), unnest($5), unnest($6), unnest($7), unnest($8), unnest($9), $10`,
          [
            workspaceId,
            app,
            column((o) => o.requestId),
            column((o) => o.row),
            column((o) => o.kind),
            column((o) => o.event),
            column((o) => o.actualLabel),
            column((o) => o.actualValue),
            column((o) => o.value),
            micros(at),
          ],
          [VARCHAR, VARCHAR, VARCHARS, INTEGERS, VARCHARS, VARCHARS, VARCHARS, DOUBLES, DOUBLES],
        );
      }),
    );
  }

  /** Which of these (request id, row) pairs have a logged prediction, as `id\nrow` keys. */
  loggedKeys(
    workspaceId: string,
    app: string,
    keys: readonly { readonly requestId: string; readonly row: number }[],
  ): Promise<Set<string>> {
    if (keys.length === 0) return Promise.resolve(new Set());
    return this.read(async (c) => {
      const result = await c.runAndReadAll(
        `SELECT DISTINCT p.request_id, p.row_index FROM prediction_rows p
         JOIN (SELECT unnest($3) AS request_id, unnest($4) AS row_index) k
           ON p.request_id = k.request_id AND p.row_index = k.row_index
         WHERE p.version_key IN (${APP_VERSIONS})`,
        [
          workspaceId,
          app,
          listValue(keys.map((k) => k.requestId)),
          listValue(keys.map((k) => k.row)),
        ],
        [VARCHAR, VARCHAR, VARCHARS, INTEGERS],
      );
      return new Set(result.getRows().map((r) => `${String(r[0])}\n${toNumber(r[1])}`));
    });
  }

  /** The task of the app's latest logged prediction, when there is one. */
  latestTask(workspaceId: string, app: string): Promise<LoggedPrediction["task"] | undefined> {
    return this.read(async (c) => {
      const result = await c.runAndReadAll(
        `SELECT v.task FROM prediction_rows p JOIN log_versions v USING (version_key)
         WHERE v.workspace_id = $1 AND v.app = $2 ORDER BY p.predicted_at DESC LIMIT 1`,
        [workspaceId, app],
      );
      const task = result.getRows()[0]?.[0];
      return task === "binary" || task === "multiclass" || task === "regression" ? task : undefined;
    });
  }

  /**
   * Per version, from `from` to `to`: logged predictions, those followed by `event`, and the
   * event's value per prediction (0 without the event): what an A/B test and a canary's
   * outcome gate compare.
   */
  eventStats(q: {
    readonly workspaceId: string;
    readonly app: string;
    readonly from: number;
    readonly to: number;
    readonly event: string;
  }): Promise<EventStats[]> {
    return this.read(async (c) => {
      const result = await c.runAndReadAll(
        `WITH p AS (
           SELECT r.request_id, r.row_index, v.app_version
           FROM prediction_rows r JOIN log_versions v USING (version_key)
           WHERE v.workspace_id = $1 AND v.app = $2 AND r.predicted_at >= $3 AND r.predicted_at < $4
         ), e AS (
           SELECT request_id, row_index, sum(value) AS value FROM outcomes
           WHERE workspace_id = $1 AND app = $2 AND kind = 'event' AND event = $5
           GROUP BY ALL
         )
         SELECT p.app_version, count(*), count(e.request_id), avg(coalesce(e.value, 0)),
                coalesce(var_samp(coalesce(e.value, 0)), 0)
         FROM p LEFT JOIN e ON e.request_id = p.request_id AND e.row_index = p.row_index
         GROUP BY p.app_version ORDER BY p.app_version`,
        [q.workspaceId, q.app, micros(q.from), micros(q.to), q.event],
        [VARCHAR, VARCHAR],
      );
      return result.getRows().map((r) => ({
        version: toNumber(r[0]),
        predictions: toNumber(r[1]),
        conversions: toNumber(r[2]),
        valueMean: r[3] === null ? 0 : Number(r[3]),
        valueVariance: r[4] === null ? 0 : Number(r[4]),
      }));
    });
  }

  /** One logged row, its input and answer as JSON objects: a golden case captured from live traffic. */
  loggedPrediction(
    workspaceId: string,
    app: string,
    requestId: string,
    row = 0,
  ): Promise<{ version: number; input: unknown; output: unknown } | undefined> {
    return this.read(async (c) => {
      const result = await c.runAndReadAll(
        `SELECT app_version, CAST(input AS VARCHAR), CAST(output AS VARCHAR) FROM predictions
         WHERE workspace_id = $1 AND app = $2 AND request_id = $3 AND row_index = $4 LIMIT 1`,
        [workspaceId, app, requestId, row],
        [VARCHAR, VARCHAR, VARCHAR, INTEGER],
      );
      const r = result.getRows()[0];
      if (!r) return undefined;
      return {
        version: toNumber(r[0]),
        input: JSON.parse(String(r[1])) as unknown,
        output: JSON.parse(String(r[2])) as unknown,
      };
    });
  }

  /** A window of an app's log for its report, from one snapshot. */
  window(q: WindowQuery): Promise<WindowData> {
    const values = [q.workspaceId, q.app, micros(q.from), micros(q.to), q.from, q.stepMs];
    const types: DuckDBType[] = [VARCHAR, VARCHAR];
    // Compact binary rows have no stored probabilities: the report reads their score.
    const windowed = `WITH p AS (
      SELECT r.request_id, r.row_index, v.app_version, r.prediction_label, r.prediction_value,
             v.positive_label, r.score, r.probabilities,
             CAST(floor((epoch_ms(r.predicted_at) - $5) / $6) AS INTEGER) AS bucket
      FROM prediction_rows r JOIN log_versions v USING (version_key)
      WHERE v.workspace_id = $1 AND v.app = $2 AND r.predicted_at >= $3 AND r.predicted_at < $4
    ), o AS (SELECT * FROM outcomes WHERE workspace_id = $1 AND app = $2)`;
    return this.read((c) =>
      PredictionStore.transaction(c, async () => {
        const counts = await c.runAndReadAll(
          `${windowed}, e AS (SELECT DISTINCT request_id, row_index FROM o WHERE kind = 'event')
           SELECT p.app_version, p.bucket, count(*), count(e.request_id)
           FROM p LEFT JOIN e ON e.request_id = p.request_id AND e.row_index = p.row_index
           GROUP BY ALL`,
          values,
          types,
        );
        const labelled = await c.runAndReadAll(
          `${windowed}
           SELECT p.app_version, p.bucket, p.prediction_label, p.prediction_value, p.positive_label,
                  p.score, p.probabilities, o.actual_label, o.actual_value
           FROM p JOIN o ON o.request_id = p.request_id AND o.row_index = p.row_index
                         AND o.kind = 'actual'
           WHERE (p.prediction_label IS NOT NULL AND o.actual_label IS NOT NULL)
              OR (p.prediction_value IS NOT NULL AND o.actual_value IS NOT NULL)`,
          values,
          types,
        );
        const events = await c.runAndReadAll(
          `${windowed}
           SELECT p.app_version, p.bucket, o.event, count(*), coalesce(sum(o.value), 0)
           FROM p JOIN o ON o.request_id = p.request_id AND o.row_index = p.row_index
                         AND o.kind = 'event'
           GROUP BY ALL`,
          values,
          types,
        );
        const num = (v: unknown) => (v === null ? null : toNumber(v));
        const str = (v: unknown) => (v === null ? null : String(v));
        return {
          counts: counts.getRows().map((r) => ({
            version: toNumber(r[0]),
            bucket: toNumber(r[1]),
            predictions: toNumber(r[2]),
            eventful: toNumber(r[3]),
          })),
          labelled: labelled.getRows().map((r) => ({
            version: toNumber(r[0]),
            bucket: toNumber(r[1]),
            predictionLabel: str(r[2]),
            predictionValue: num(r[3]),
            positiveLabel: str(r[4]),
            score: num(r[5]),
            probabilities: str(r[6]),
            actualLabel: str(r[7]),
            actualValue: num(r[8]),
          })),
          events: events.getRows().map((r) => ({
            version: toNumber(r[0]),
            bucket: toNumber(r[1]),
            event: String(r[2]),
            count: toNumber(r[3]),
            value: toNumber(r[4]),
          })),
        };
      }),
    );
  }

  /**
   * The retention job: per app with saved settings, delete predictions and outcomes older than
   * its `retentionDays`, then all but the newest `maxRows` predictions (and outcomes). Returns
   * how many rows were deleted.
   */
  enforceRetention(now: number): Promise<{ predictions: number; outcomes: number }> {
    return this.write(async (c) => {
      const apps = (
        await c.runAndReadAll(
          "SELECT workspace_id, app, max_rows, retention_days FROM log_settings",
        )
      ).getRows();
      let predictions = 0;
      let outcomes = 0;
      for (const [ws, app, maxRows, days] of apps) {
        const key = [String(ws), String(app)];
        const cutoff = micros(now - toNumber(days) * 86_400_000);
        const limit = toNumber(maxRows);
        predictions += (
          await c.run(
            `DELETE FROM prediction_rows
             WHERE version_key IN (${APP_VERSIONS}) AND predicted_at < $3`,
            [...key, cutoff],
          )
        ).rowsChanged;
        outcomes += (
          await c.run(
            "DELETE FROM outcomes WHERE workspace_id = $1 AND app = $2 AND reported_at < $3",
            [...key, cutoff],
          )
        ).rowsChanged;
        predictions += await deleteBeyond(c, "prediction_rows", "predicted_at", key, limit);
        outcomes += await deleteBeyond(c, "outcomes", "reported_at", key, limit);
      }
      return { predictions, outcomes };
    });
  }

  /**
   * A read-only query on the log, for tools and tests (`SELECT ... FROM predictions`); rows as
   * DuckDB's JS values (counts are bigint).
   */
  query(sql: string, values: DuckDBValue[] = []): Promise<readonly (readonly DuckDBValue[])[]> {
    return this.read(async (c) => (await c.runAndReadAll(sql, values)).getRows());
  }

  private get spoolFile(): string {
    return `${this.path}.spool.tsv`;
  }

  /** Wait for the writes under way, then close the file (a spool not ingested is dropped). */
  async close(): Promise<void> {
    if (this.closed) return;
    const pending = Promise.all([this.writes, this.reads]);
    this.closed = true;
    await pending;
    await this.spool?.file?.close();
    this.writer.closeSync();
    this.reader.closeSync();
    this.instance.closeSync();
  }
}

/** Delete an app's rows beyond the newest `limit` (by `column`), when there are more. */
async function deleteBeyond(
  c: DuckDBConnection,
  table: "prediction_rows" | "outcomes",
  column: "predicted_at" | "reported_at",
  key: readonly string[],
  limit: number,
): Promise<number> {
  const ofApp =
    table === "outcomes" ? "workspace_id = $1 AND app = $2" : `version_key IN (${APP_VERSIONS})`;
  const count = await c.runAndReadAll(`SELECT count(*) FROM ${table} WHERE ${ofApp}`, [...key]);
  if (toNumber(count.getRows()[0]?.[0]) <= limit) return 0;
  const deleted = await c.run(
    `DELETE FROM ${table} WHERE rowid IN (
       SELECT rowid FROM ${table} WHERE ${ofApp}
       ORDER BY ${column} DESC, rowid DESC OFFSET $3)`,
    [...key, BigInt(limit)],
  );
  return deleted.rowsChanged;
}

/** Whole rows (tools, tests) as batch lines, stored as given. */
export function predictionLines(rows: Iterable<LoggedPrediction>): BatchLines {
  return function* (catalog, atBase) {
    for (const r of rows) {
      const versionKey = catalog.versionKey({
        workspaceId: r.workspaceId,
        app: r.app,
        appVersion: r.appVersion,
        appVersionId: r.appVersionId,
        modelName: r.modelName,
        modelVersion: r.modelVersion,
        task: r.task,
        positiveLabel: r.positiveLabel,
        classes: null,
      });
      yield rowLine(
        {
          requestId: r.requestId,
          row: r.row,
          versionKey,
          at: r.at,
          latencyMs: r.latencyMs,
          modelMs: r.modelMs,
          traceId: r.traceId,
          cacheHit: r.cacheHit,
          shapeId: null,
          input: JSON.stringify(r.input ?? null),
          predictionLabel: r.predictionLabel,
          predictionValue: r.predictionValue,
          score: r.score,
          probabilities: r.probabilities === null ? null : JSON.stringify(r.probabilities),
          output: JSON.stringify(r.output ?? null),
        },
        atBase,
      );
    }
  };
}
