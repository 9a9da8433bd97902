/**
 * Observations (what the predict route saw) as batch-file lines (log-rows.ts): one per record,
 * personal data masked. Logging every request must cost the event loop as little as possible,
 * so a batch is made in two halves:
 *
 * - `encodeObservations`, on the event loop, does only what needs the log's catalog or the
 *   live objects: each row's app version key and input shape id (a record's field names are
 *   compared with its version's last shape without allocating) and its answer, in the typed
 *   columns when they say it all (compact). A record parsed from a request body the front door
 *   kept (`bodyText`) is not serialized: the batch carries that text, and strings and numbers
 *   are what a thread receives cheaply. Anything else (a record without its text, an answer the
 *   typed columns cannot hold) is masked and serialized here, as JSON text.
 * - `renderLines`, on the log's line thread (line-worker.ts), parses the bodies again (the same
 *   text gives the same records, fields in the same order), masks each record's values in its
 *   shape's order (a field named for personal data becomes its token), serializes them, and
 *   makes the lines.
 *
 * With every request logged, making the lines on the event loop cost the churn route ~4.3 µs of
 * its ~115 µs a request, and appending them to the spool ~1.4 µs more (`BENCH_DETAIL=30 npm run
 * bench:monitor`); see src/monitor/CONTEXT.md for what the split saves.
 */
import type { PredictObservation, ServedVersion } from "../observation.ts";
import { mayHoldPii, type PiiMasker } from "../pii-mask.ts";
import { type CatalogBatch, type LoggedVersion, rowLine } from "./log-rows.ts";
import type { LineChunk } from "./prediction-store.ts";

/**
 * A batch of observations as the line thread takes it: numbers in typed arrays (moved, not
 * copied), and all its text fields in one string (copied at once: a thread receives one long
 * string far more cheaply than a thousand short ones).
 */
export interface EncodedBatch {
  /** The time base the batch's lines count from (epoch ms). */
  readonly atBase: number;
  /** The lines it makes: one per record. */
  readonly lines: number;
  /**
   * Per observation, OBSERVATION_WIDTH numbers: received at (epoch ms), latency ms, model ms
   * (NaN: none), version key, records, flags (CACHE_HIT, FROM_TEXT, TEXT_ROWS).
   */
  readonly observations: Float64Array<ArrayBuffer>;
  /**
   * Per row, ROW_WIDTH numbers: shape id (-1: the input is written whole), score, prediction
   * value (NaN: none), flags (NO_RECORD, HAS_PROBABILITIES, HAS_OUTPUT), and the record's
   * number of fields (the line thread checks the record it parses has as many).
   */
  readonly rows: Float64Array<ArrayBuffer>;
  /**
   * The text fields, one after the other, in the order `renderLines` reads them. Per
   * observation: its request id, its trace id, and its body text when read from it (FROM_TEXT).
   * Per row with a record: its predicted label; its input as masked JSON when its observation
   * has no body text; its probabilities (HAS_PROBABILITIES) and its masked answer (HAS_OUTPUT)
   * as JSON.
   */
  readonly text: string;
  /** Each field's length in `text`, in order; -1 for null. */
  readonly lengths: Int32Array<ArrayBuffer>;
}

/** The text fields of a batch being encoded. */
class TextFields {
  text = "";
  private readonly lengths: number[] = [];

  add(s: string | null): void {
    if (s === null) this.lengths.push(-1);
    else {
      this.text += s;
      this.lengths.push(s.length);
    }
  }

  done(): { text: string; lengths: Int32Array<ArrayBuffer> } {
    return { text: this.text, lengths: Int32Array.from(this.lengths) };
  }
}

/** Reads them back in order. */
class TextReader {
  private at = 0;
  private field = 0;

  constructor(
    private readonly text: string,
    private readonly lengths: Int32Array<ArrayBuffer>,
  ) {}

  next(): string | null {
    const length = this.lengths[this.field++];
    if (length === undefined) throw new Error("An encoded batch has fewer text fields than read");
    if (length < 0) return null;
    this.at += length;
    return this.text.slice(this.at - length, this.at);
  }
}

const OBSERVATION_WIDTH = 6;
const ROW_WIDTH = 5;
/** Observation flags. */
const CACHE_HIT = 1;
/** The records are the body text's value parsed: itself (one record), or with TEXT_ROWS its `rows`. */
const FROM_TEXT = 2;
const TEXT_ROWS = 4;
/** Row flags. */
const NO_RECORD = 1;
const HAS_PROBABILITIES = 2;
const HAS_OUTPUT = 4;

/** What rows of one app version share within a batch. */
interface VersionRows {
  readonly key: number;
  readonly task: LoggedVersion["task"];
  readonly classes: readonly string[];
  readonly positiveLabel: string | null;
  /**
   * True when masking leaves the class labels alone as values and as field names (and the
   * answer's own field names): then a compact answer needs no masking at all.
   */
  readonly labelsClean: boolean;
  /** The field names of the last record seen, in order, and their shape id. */
  shapeKeys: readonly string[];
  shapeId: number;
  /** Per field of that shape, the token it is masked with by name; null when none is. */
  shapeTokens: readonly (string | undefined)[] | null;
}

/**
 * The event loop's half: a batch of observations encoded for `renderLines`; new versions and
 * shapes go to the batch's `catalog`.
 */
export function encodeObservations(
  batch: readonly PredictObservation[],
  masker: PiiMasker,
  catalog: CatalogBatch,
  atBase: number,
): EncodedBatch {
  let rowCount = 0;
  let lines = 0;
  for (const o of batch) rowCount += o.records?.length ?? 0;
  const observations = new Float64Array(batch.length * OBSERVATION_WIDTH);
  const rows = new Float64Array(rowCount * ROW_WIDTH);
  const fields = new TextFields();
  const versions = new Map<ServedVersion, VersionRows>();
  let served: ServedVersion | undefined;
  let version: VersionRows | undefined;
  let at = 0;
  let r = 0;
  for (const o of batch) {
    const records = o.records ?? [];
    const answers = o.answers ?? [];
    // Consecutive observations mostly share their version: look it up when it changes.
    if (o.served !== served || version === undefined) {
      served = o.served;
      version = versions.get(served);
      if (version === undefined) {
        version = versionRows(served, catalog, masker);
        versions.set(served, version);
      }
    }
    const text = o.bodyText;
    observations[at] = o.at;
    observations[at + 1] = o.latencyMs;
    observations[at + 2] = o.modelMs ?? Number.NaN;
    observations[at + 3] = version.key;
    observations[at + 4] = records.length;
    observations[at + 5] =
      (o.cacheHit === true ? CACHE_HIT : 0) |
      (text === undefined ? 0 : FROM_TEXT | (o.bodyRows === true ? TEXT_ROWS : 0));
    at += OBSERVATION_WIDTH;
    fields.add(o.requestId);
    fields.add(o.traceId ?? null);
    if (text !== undefined) fields.add(text);
    const { task, positiveLabel } = version;
    for (let i = 0; i < records.length; i++, r += ROW_WIDTH) {
      const record = records[i];
      if (record === undefined) {
        rows[r + 3] = NO_RECORD;
        continue;
      }
      lines++;
      const answer = answers[i];
      const prediction = answer?.prediction;
      const probabilities = answer?.probabilities;
      const positive = positiveLabel === null ? undefined : probabilities?.[positiveLabel];
      const shapeId = shapeOf(record, version, catalog, masker);
      fields.add(task !== "regression" && prediction !== undefined ? String(prediction) : null);
      if (text === undefined) {
        fields.add(
          shapeId === null
            ? JSON.stringify(masker.maskValue(record) ?? null)
            : JSON.stringify(maskedValues(record, version.shapeTokens, masker)),
        );
      }
      // A compact answer is only class labels and numbers: masking it is a no-op when the labels
      // are clean, so it is asked of the masker only when they are not.
      const compact =
        answer !== undefined &&
        isCompact(answer, version) &&
        (version.labelsClean || masker.maskValue(answer) === answer);
      let flags = 0;
      if (task !== "regression" && probabilities && !(compact && task === "binary")) {
        flags |= HAS_PROBABILITIES;
        fields.add(JSON.stringify(probabilities));
      }
      if (!compact) {
        flags |= HAS_OUTPUT;
        fields.add(JSON.stringify(masker.maskValue(answer ?? null)));
      }
      rows[r] = shapeId ?? -1;
      rows[r + 1] = typeof positive === "number" ? positive : Number.NaN;
      rows[r + 2] =
        task === "regression" && typeof prediction === "number" ? prediction : Number.NaN;
      rows[r + 3] = flags;
      rows[r + 4] = shapeId === null ? -1 : version.shapeKeys.length;
    }
  }
  return { atBase, lines, observations, rows, ...fields.done() };
}

/**
 * The line thread's half: the batch's lines, and how many there are. Throws when a body text
 * does not give back the records it was sent for (a bug, never a caller's doing).
 */
export function renderLines(
  batch: EncodedBatch,
  masker: PiiMasker,
): { readonly text: string; readonly rows: number } {
  const { atBase, observations, rows } = batch;
  const fields = new TextReader(batch.text, batch.lengths);
  /** Per shape id, its fields' tokens by name (null: none), found from the first record read. */
  const shapeTokens = new Map<number, readonly (string | undefined)[] | null>();
  let out = "";
  let lines = 0;
  let r = 0;
  for (let at = 0; at < observations.length; at += OBSERVATION_WIDTH) {
    const count = observations[at + 4] as number;
    const flags = observations[at + 5] as number;
    const requestId = fields.next() as string;
    const traceId = fields.next();
    let records: readonly unknown[] | undefined;
    if (flags & FROM_TEXT) {
      records = recordsOf(JSON.parse(fields.next() as string), (flags & TEXT_ROWS) !== 0);
      if (records?.length !== count) {
        throw new Error(`The body text of request ${requestId} does not hold its ${count} records`);
      }
    }
    const modelMs = observations[at + 2] as number;
    for (let i = 0; i < count; i++, r += ROW_WIDTH) {
      const rowFlags = rows[r + 3] as number;
      if (rowFlags & NO_RECORD) continue;
      const label = fields.next();
      const shape = rows[r] as number;
      let input: string;
      if (records === undefined) input = fields.next() as string;
      else {
        const record = records[i];
        if (shape < 0) input = JSON.stringify(masker.maskValue(record) ?? null);
        else {
          let tokens = shapeTokens.get(shape);
          if (tokens === undefined) {
            const found = Object.keys(record as object).map((name) => masker.fieldToken(name));
            tokens = found.some((t) => t !== undefined) ? found : null;
            shapeTokens.set(shape, tokens);
          }
          const values = maskedValues(record as Readonly<Record<string, unknown>>, tokens, masker);
          if (values.length !== rows[r + 4]) {
            throw new Error(`The body text of request ${requestId} does not hold its records`);
          }
          input = JSON.stringify(values);
        }
      }
      const score = rows[r + 1] as number;
      const value = rows[r + 2] as number;
      out += rowLine(
        {
          requestId,
          row: i,
          versionKey: observations[at + 3] as number,
          at: observations[at] as number,
          latencyMs: observations[at + 1] as number,
          modelMs: Number.isNaN(modelMs) ? null : modelMs,
          traceId,
          cacheHit: (flags & CACHE_HIT) !== 0,
          shapeId: shape < 0 ? null : shape,
          input,
          predictionLabel: label,
          predictionValue: Number.isNaN(value) ? null : value,
          score: Number.isNaN(score) ? null : score,
          probabilities: rowFlags & HAS_PROBABILITIES ? fields.next() : null,
          output: rowFlags & HAS_OUTPUT ? fields.next() : null,
        },
        atBase,
      );
      lines++;
    }
  }
  return { text: out, rows: lines };
}

/** The records a parsed body holds, as the predict route read them (see `bodyRows`). */
function recordsOf(body: unknown, rows: boolean): readonly unknown[] | undefined {
  if (!rows) return [body];
  const found = (body as { rows?: unknown } | null)?.rows;
  return Array.isArray(found) ? found : undefined;
}

/**
 * Both halves in one thread: a batch's lines as one chunk of bytes, counted by the rows made
 * (a quoted text field may hold a newline, so the text is not split to count them).
 */
export async function* observationLines(
  batch: readonly PredictObservation[],
  masker: PiiMasker,
  catalog: CatalogBatch,
  atBase: number,
): AsyncGenerator<LineChunk> {
  const { text, rows } = renderLines(encodeObservations(batch, masker, catalog, atBase), masker);
  yield { bytes: new TextEncoder().encode(text), lines: rows };
}

function versionRows(served: ServedVersion, catalog: CatalogBatch, masker: PiiMasker): VersionRows {
  const header = served.predictor.artifact.header;
  const task = header.task.kind;
  const classes = task === "regression" ? [] : (header.recipe.target.classes ?? []);
  const positiveLabel = task === "binary" ? (classes[1] ?? null) : null;
  const key = catalog.versionKey({
    workspaceId: served.workspaceId,
    app: served.app,
    appVersion: served.version,
    appVersionId: served.appVersionId,
    modelName: served.model.name,
    modelVersion: served.model.version,
    task,
    positiveLabel,
    classes: task === "regression" ? null : classes,
  });
  const labelsClean = [...classes, "prediction", "probabilities"].every(
    (label) => masker.maskText(label) === label && masker.fieldToken(label) === undefined,
  );
  return {
    key,
    task,
    classes,
    positiveLabel,
    labelsClean,
    shapeKeys: [],
    shapeId: -1,
    shapeTokens: null,
  };
}

/**
 * The record's values in its shape's order, masked as `maskValue` would mask the record: a
 * field named for personal data becomes its token (unless null), strings are masked as text,
 * nested values by the masker.
 */
function maskedValues(
  record: Readonly<Record<string, unknown>>,
  tokens: readonly (string | undefined)[] | null,
  masker: PiiMasker,
): unknown[] {
  const values = Object.values(record);
  for (let j = 0; j < values.length; j++) {
    const v = values[j];
    if (v === null || v === undefined) continue;
    const token = tokens === null ? undefined : tokens[j];
    if (token !== undefined && mayHoldPii(v)) values[j] = token;
    else if (typeof v === "string") values[j] = masker.maskText(v);
    else if (typeof v === "object") values[j] = masker.maskValue(v);
  }
  return values;
}

/**
 * The record's shape id: its field names in order, compared with the version's last shape
 * without allocating; a different list is looked up (or added) in the catalog. Null for a
 * value that is not a plain object (written whole).
 */
function shapeOf(
  record: Readonly<Record<string, unknown>>,
  version: VersionRows,
  catalog: CatalogBatch,
  masker: PiiMasker,
): number | null {
  const proto: unknown = Object.getPrototypeOf(record);
  if (proto !== Object.prototype && proto !== null) return null;
  const keys = version.shapeKeys;
  let i = 0;
  let same = version.shapeId !== -1;
  if (same) {
    for (const key in record) {
      if (keys[i] !== key) {
        same = false;
        break;
      }
      i++;
    }
  }
  if (same && i === keys.length) return version.shapeId;
  const names = Object.keys(record);
  const tokens = names.map((name) => masker.fieldToken(name));
  version.shapeKeys = names;
  version.shapeId = catalog.shapeId(names);
  version.shapeTokens = tokens.some((t) => t !== undefined) ? tokens : null;
  return version.shapeId;
}

/**
 * True when the typed columns give the answer back exactly and it holds nothing but class
 * labels and numbers: `{prediction, probabilities}` in that order for classification, the
 * prediction one of the classes and the probabilities numbers keyed by the classes in order
 * (binary: the first one's probability the complement of the second's); `{prediction}` with a
 * finite number for regression.
 */
function isCompact(answer: object, version: VersionRows): boolean {
  const a = answer as { readonly prediction?: unknown; readonly probabilities?: unknown };
  let n = 0;
  for (const key in answer) {
    if (key !== (n === 0 ? "prediction" : "probabilities")) return false;
    n++;
  }
  if (version.task === "regression") {
    return n === 1 && typeof a.prediction === "number" && Number.isFinite(a.prediction);
  }
  const classes = version.classes;
  if (n !== 2 || typeof a.prediction !== "string" || !classes.includes(a.prediction)) {
    return false;
  }
  const p = a.probabilities;
  if (p === null || typeof p !== "object" || Array.isArray(p)) return false;
  const probability = p as Readonly<Record<string, unknown>>;
  let k = 0;
  for (const key in probability) {
    if (key !== classes[k] || typeof probability[key] !== "number") return false;
    k++;
  }
  if (k !== classes.length) return false;
  if (version.task === "multiclass") return true;
  const [negative, positive] = classes;
  if (k !== 2 || negative === undefined || positive === undefined) return false;
  return probability[negative] === 1 - (probability[positive] as number);
}
