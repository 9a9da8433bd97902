/**
 * The prediction log's storage: one DuckDB file per server process (`<dataDir>/monitor/
 * predictions.duckdb`), with the logged predictions, the outcomes callers report, and each app's
 * retention settings. DuckDB because the reads are analytical (a window of millions of rows
 * grouped by version and time step, joined with outcomes) and the writes are batches: a columnar
 * file answers both without a server. A DuckDB file has one writer process, so each replica
 * keeps its own log in its own data dir; a report covers the predictions this replica logged.
 *
 * All writes go through one connection, one at a time (a batch of predictions is one
 * transaction, so a crash loses a whole batch or nothing); reads use a second connection, each
 * report inside one read transaction so its queries see the same snapshot.
 */
import { mkdir, open, rm } from "node:fs/promises";
import path from "node:path";
import { setImmediate as nextTurn } from "node:timers/promises";
import {
  DOUBLE,
  type DuckDBConnection,
  DuckDBInstance,
  DuckDBListType,
  type DuckDBType,
  type DuckDBValue,
  INTEGER,
  listValue,
  timestampValue,
  VARCHAR,
} from "@duckdb/node-api";
import { quoteLiteral, toNumber } from "../../data/duckdb-sql.ts";
import type { ParsedOutcome } from "./outcome-input.ts";

/** Where a server keeps its prediction log, under its data dir. */
export function predictionLogPath(dataDir: string): string {
  return path.join(dataDir, "monitor", "predictions.duckdb");
}

/** One logged row: one record of a sampled request and the answer it got. */
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

const SCHEMA_VERSION = 1;

/**
 * The log shares the machine with the requests it describes: DuckDB gets two threads and
 * 512 MB (a large report spills to `<file>.tmp` beyond it) instead of every core and 80% of
 * the memory, its defaults.
 */
const DUCKDB_SETTINGS: Record<string, string> = { threads: "2", memory_limit: "512MB" };

/**
 * The tables. `predictions` has no key: request ids are unique unless a caller reuses its own
 * `X-Request-Id`, and an index over millions of rows would cost more than the scans it saves.
 * `outcomes` is keyed, so the latest report of an outcome replaces the earlier one.
 */
const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS log_schema (version INTEGER NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS predictions (
    request_id VARCHAR NOT NULL,
    row_index INTEGER NOT NULL,
    workspace_id VARCHAR NOT NULL,
    app VARCHAR NOT NULL,
    app_version INTEGER NOT NULL,
    app_version_id VARCHAR NOT NULL,
    model_name VARCHAR NOT NULL,
    model_version INTEGER NOT NULL,
    task VARCHAR NOT NULL,
    predicted_at TIMESTAMP NOT NULL,
    latency_ms DOUBLE NOT NULL,
    model_ms DOUBLE,
    trace_id VARCHAR,
    cache_hit BOOLEAN NOT NULL,
    input JSON NOT NULL,
    output JSON NOT NULL,
    prediction_label VARCHAR,
    prediction_value DOUBLE,
    positive_label VARCHAR,
    score DOUBLE,
    probabilities JSON
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

/** Rows serialized between yields to the event loop, so a large flush never blocks requests long. */
const WRITE_SLICE = 500;
/**
 * Largest row DuckDB reads from a batch file (its reader's default), far above the request
 * bodies the server takes by default; a larger row is logged with its input and output replaced
 * by their size, rather than failing its batch.
 */
const MAX_ROW_BYTES = 16 * 1024 * 1024;

/** A batch file's columns: the table's, with the time as epoch microseconds. */
const NDJSON_FIELDS: readonly (readonly [string, string])[] = [
  ["request_id", "VARCHAR"],
  ["row_index", "INTEGER"],
  ["workspace_id", "VARCHAR"],
  ["app", "VARCHAR"],
  ["app_version", "INTEGER"],
  ["app_version_id", "VARCHAR"],
  ["model_name", "VARCHAR"],
  ["model_version", "INTEGER"],
  ["task", "VARCHAR"],
  ["at_us", "BIGINT"],
  ["latency_ms", "DOUBLE"],
  ["model_ms", "DOUBLE"],
  ["trace_id", "VARCHAR"],
  ["cache_hit", "BOOLEAN"],
  ["input", "JSON"],
  ["output", "JSON"],
  ["prediction_label", "VARCHAR"],
  ["prediction_value", "DOUBLE"],
  ["positive_label", "VARCHAR"],
  ["score", "DOUBLE"],
  ["probabilities", "JSON"],
];
const NDJSON_COLUMNS = `{${NDJSON_FIELDS.map(([name, type]) => `${name}: '${type}'`).join(", ")}}`;
const NDJSON_SELECT = NDJSON_FIELDS.map(([name]) =>
  name === "at_us" ? "make_timestamp(at_us)" : name,
).join(", ");

/** One row of a batch file, its fields in NDJSON_FIELDS order. */
function ndjsonLine(r: LoggedPrediction): string {
  const line = ndjsonObject(r);
  if (line.length * 3 < MAX_ROW_BYTES) return line;
  const bytes = Buffer.byteLength(line);
  if (bytes < MAX_ROW_BYTES) return line;
  const tooLarge = { truncated: true, bytes };
  return ndjsonObject({ ...r, input: tooLarge, output: tooLarge });
}

function ndjsonObject(r: LoggedPrediction): string {
  return JSON.stringify({
    request_id: r.requestId,
    row_index: r.row,
    workspace_id: r.workspaceId,
    app: r.app,
    app_version: r.appVersion,
    app_version_id: r.appVersionId,
    model_name: r.modelName,
    model_version: r.modelVersion,
    task: r.task,
    at_us: Math.round(r.at * 1000),
    latency_ms: r.latencyMs,
    model_ms: r.modelMs,
    trace_id: r.traceId,
    cache_hit: r.cacheHit,
    input: r.input ?? null,
    output: r.output ?? null,
    prediction_label: r.predictionLabel,
    prediction_value: r.predictionValue,
    positive_label: r.positiveLabel,
    score: r.score,
    probabilities: r.probabilities,
  });
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

  private constructor(
    readonly path: string,
    private readonly instance: DuckDBInstance,
    private readonly writer: DuckDBConnection,
    private readonly reader: DuckDBConnection,
  ) {}

  /** Open (or create) the log file and its tables. */
  static async open(file: string): Promise<PredictionStore> {
    await mkdir(path.dirname(file), { recursive: true });
    const instance = await DuckDBInstance.create(file, DUCKDB_SETTINGS);
    try {
      const writer = await instance.connect();
      const reader = await instance.connect();
      for (const statement of SCHEMA) await writer.run(statement);
      const version = await writer.runAndReadAll("SELECT max(version) FROM log_schema");
      if (version.getRows()[0]?.[0] === null) {
        await writer.run("INSERT INTO log_schema VALUES ($1)", [SCHEMA_VERSION], [INTEGER]);
      }
      return new PredictionStore(file, instance, writer, reader);
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
   * Write a batch of predictions in one transaction. The rows are written as NDJSON to a file
   * beside the log, in slices with a turn of the event loop between them, and DuckDB reads that
   * file in one INSERT on its own threads: per row this costs the main thread one
   * JSON.stringify, where an appender costs a native call per value (measured: 4 µs against 14
   * µs a row for churn's 19 columns).
   */
  insertPredictions(rows: Iterable<LoggedPrediction>): Promise<number> {
    return this.write(async (c) => {
      const file = `${this.path}.batch.ndjson`;
      const handle = await open(file, "w");
      let count = 0;
      try {
        // Rows are made (masked) as they are written, so a batch never sits in memory whole.
        let text = "";
        for (const row of rows) {
          text += `${ndjsonLine(row)}\n`;
          if (++count % WRITE_SLICE === 0) {
            await handle.write(text);
            text = "";
            await nextTurn();
          }
        }
        if (text !== "") await handle.write(text);
      } finally {
        await handle.close();
      }
      try {
        if (count === 0) return 0;
        return await PredictionStore.transaction(c, async () => {
          const result = await c.run(
            `INSERT INTO predictions SELECT ${NDJSON_SELECT} FROM read_json(${quoteLiteral(file)},
               format = 'newline_delimited', maximum_object_size = ${MAX_ROW_BYTES},
               columns = ${NDJSON_COLUMNS})`,
          );
          return result.rowsChanged;
        });
      } finally {
        await rm(file, { force: true });
      }
    });
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
        `SELECT DISTINCT p.request_id, p.row_index FROM predictions p
         JOIN (SELECT unnest($3) AS request_id, unnest($4) AS row_index) k
           ON p.request_id = k.request_id AND p.row_index = k.row_index
         WHERE p.workspace_id = $1 AND p.app = $2`,
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
        "SELECT task FROM predictions WHERE workspace_id = $1 AND app = $2 ORDER BY predicted_at DESC LIMIT 1",
        [workspaceId, app],
      );
      const task = result.getRows()[0]?.[0];
      return task === "binary" || task === "multiclass" || task === "regression" ? task : undefined;
    });
  }

  /** A window of an app's log for its report, from one snapshot. */
  window(q: WindowQuery): Promise<WindowData> {
    const values = [q.workspaceId, q.app, micros(q.from), micros(q.to), q.from, q.stepMs];
    const types: DuckDBType[] = [VARCHAR, VARCHAR];
    const windowed = `WITH p AS (
      SELECT request_id, row_index, app_version, prediction_label, prediction_value, positive_label,
             score, probabilities,
             CAST(floor((epoch_ms(predicted_at) - $5) / $6) AS INTEGER) AS bucket
      FROM predictions
      WHERE workspace_id = $1 AND app = $2 AND predicted_at >= $3 AND predicted_at < $4
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
            "DELETE FROM predictions WHERE workspace_id = $1 AND app = $2 AND predicted_at < $3",
            [...key, cutoff],
          )
        ).rowsChanged;
        outcomes += (
          await c.run(
            "DELETE FROM outcomes WHERE workspace_id = $1 AND app = $2 AND reported_at < $3",
            [...key, cutoff],
          )
        ).rowsChanged;
        predictions += await deleteBeyond(c, "predictions", "predicted_at", key, limit);
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

  /** Wait for the writes under way, then close the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    const pending = Promise.all([this.writes, this.reads]);
    this.closed = true;
    await pending;
    this.writer.closeSync();
    this.reader.closeSync();
    this.instance.closeSync();
  }
}

/** Delete an app's rows beyond the newest `limit` (by `column`), when there are more. */
async function deleteBeyond(
  c: DuckDBConnection,
  table: "predictions" | "outcomes",
  column: "predicted_at" | "reported_at",
  key: readonly string[],
  limit: number,
): Promise<number> {
  const count = await c.runAndReadAll(
    `SELECT count(*) FROM ${table} WHERE workspace_id = $1 AND app = $2`,
    [...key],
  );
  if (toNumber(count.getRows()[0]?.[0]) <= limit) return 0;
  const deleted = await c.run(
    `DELETE FROM ${table} WHERE rowid IN (
       SELECT rowid FROM ${table} WHERE workspace_id = $1 AND app = $2
       ORDER BY ${column} DESC, rowid DESC OFFSET $3)`,
    [...key, BigInt(limit)],
  );
  return deleted.rowsChanged;
}
