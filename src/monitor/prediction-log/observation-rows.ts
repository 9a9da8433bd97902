/**
 * Observations (what the predict route saw) as batch-file lines (log-rows.ts): one per record,
 * personal data masked. This runs on the event loop for every logged row, so it does per row
 * only what the row needs: a record's field names are compared with its version's last shape
 * without allocating, and which of them are masked by name is decided once per shape; the
 * record's values are masked into the array that is written (strings through the masker's
 * memory of short texts), so the record is never copied; an answer the masker leaves as it is
 * and the typed columns already hold is not serialized.
 */
import type { PredictObservation, ServedVersion } from "../observation.ts";
import { mayHoldPii, type PiiMasker } from "../pii-mask.ts";
import { type CatalogBatch, type LoggedVersion, rowLine } from "./log-rows.ts";

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

/** The lines of a batch of observations; new versions and shapes go to the batch's `catalog`. */
export function* observationLines(
  batch: readonly PredictObservation[],
  masker: PiiMasker,
  catalog: CatalogBatch,
  atBase: number,
): Generator<string> {
  const versions = new Map<ServedVersion, VersionRows>();
  let served: ServedVersion | undefined;
  let version: VersionRows | undefined;
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
    const { task, positiveLabel } = version;
    for (let i = 0; i < records.length; i++) {
      const record = records[i];
      if (record === undefined) continue;
      const answer = answers[i];
      const prediction = answer?.prediction;
      const probabilities = answer?.probabilities;
      const positive = positiveLabel === null ? undefined : probabilities?.[positiveLabel];
      const score = typeof positive === "number" ? positive : null;
      const shapeId = shapeOf(record, version, catalog, masker);
      const inputJson =
        shapeId === null
          ? JSON.stringify(masker.maskValue(record) ?? null)
          : JSON.stringify(maskedValues(record, version.shapeTokens, masker));
      // A compact answer is only class labels and numbers: masking it is a no-op when the labels
      // are clean, so it is asked of the masker only when they are not.
      const compact =
        answer !== undefined &&
        isCompact(answer, version) &&
        (version.labelsClean || masker.maskValue(answer) === answer);
      const binaryCompact = compact && task === "binary";
      yield rowLine(
        {
          requestId: o.requestId,
          row: i,
          versionKey: version.key,
          at: o.at,
          latencyMs: o.latencyMs,
          modelMs: o.modelMs ?? null,
          traceId: o.traceId ?? null,
          cacheHit: o.cacheHit === true,
          shapeId,
          input: inputJson,
          predictionLabel:
            task !== "regression" && prediction !== undefined ? String(prediction) : null,
          predictionValue:
            task === "regression" && typeof prediction === "number" ? prediction : null,
          score,
          probabilities:
            task !== "regression" && probabilities && !binaryCompact
              ? JSON.stringify(probabilities)
              : null,
          output: compact ? null : JSON.stringify(masker.maskValue(answer ?? null)),
        },
        atBase,
      );
    }
  }
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
