/**
 * A deliberately simple CSV → FeatureMatrix loader for the learners' quality tests and
 * benchmarks, independent of the Recipe (another module's work) so the learners are measured
 * on their own. It assumes no quoted commas: fields split on ",", surrounding quotes dropped.
 * Columns whose non-missing values all parse as numbers are numeric (blank or NA = NaN); the others
 * are categorical with codes in order of first appearance plus an unknown bucket at the end.
 */
import { readFileSync } from "node:fs";
import type { FeatureInfo, FeatureMatrix, Labels, Task } from "../types.ts";

export interface CsvDataset {
  readonly X: FeatureMatrix;
  readonly y: Labels;
  readonly task: Task;
  /** Class names by index, for classification. */
  readonly classes?: readonly string[];
}

export interface CsvTarget {
  readonly column: string;
  readonly task: Task["kind"];
  /** binary: the label of class 1. */
  readonly positive?: string;
}

/** Spellings of a missing value (R writes NA). */
const MISSING = new Set(["", "NA"]);

function unquote(field: string): string {
  const f = field.trim();
  return f.length >= 2 && f.startsWith('"') && f.endsWith('"') ? f.slice(1, -1) : f;
}

/** Parse CSV text into a matrix and labels for `target`. */
export function csvToDataset(text: string, target: CsvTarget): CsvDataset {
  const lines = text.split(/\r?\n/).filter((l) => l.length > 0);
  const header = (lines[0] ?? "").split(",").map(unquote);
  const rows = lines.slice(1).map((l) => l.split(",").map(unquote));
  const n = rows.length;
  const targetIndex = header.indexOf(target.column);
  if (targetIndex < 0) throw new Error(`no column "${target.column}"`);
  const columns = header.map((_, j) => rows.map((r) => r[j] ?? ""));
  const featureIndexes = header.map((_, j) => j).filter((j) => j !== targetIndex);
  const features: FeatureInfo[] = [];
  const data = new Float64Array(featureIndexes.length * n);
  featureIndexes.forEach((j, f) => {
    const values = columns[j] ?? [];
    const numeric = values.every((v) => MISSING.has(v) || Number.isFinite(Number(v)));
    if (numeric) {
      features.push({ name: header[j] ?? `c${j}`, kind: "numeric" });
      values.forEach((v, r) => {
        data[f * n + r] = MISSING.has(v) ? Number.NaN : Number(v);
      });
    } else {
      const codes = new Map<string, number>();
      values.forEach((v, r) => {
        if (MISSING.has(v)) {
          data[f * n + r] = Number.NaN;
          return;
        }
        let code = codes.get(v);
        if (code === undefined) {
          code = codes.size;
          codes.set(v, code);
        }
        data[f * n + r] = code;
      });
      features.push({
        name: header[j] ?? `c${j}`,
        kind: "categorical",
        cardinality: codes.size + 1,
      });
    }
  });
  const raw = columns[targetIndex] ?? [];
  const y = new Float64Array(n);
  if (target.task === "regression") {
    raw.forEach((v, r) => {
      y[r] = Number(v);
    });
    return { X: { rowCount: n, features, data }, y, task: { kind: "regression", classCount: 0 } };
  }
  if (target.task === "binary") {
    const positive = target.positive ?? "1";
    raw.forEach((v, r) => {
      y[r] = v === positive ? 1 : 0;
    });
    return {
      X: { rowCount: n, features, data },
      y,
      task: { kind: "binary", classCount: 2 },
      classes: [`not ${positive}`, positive],
    };
  }
  const classes = [...new Set(raw)].sort();
  const index = new Map(classes.map((c, i) => [c, i]));
  raw.forEach((v, r) => {
    y[r] = index.get(v) ?? 0;
  });
  return {
    X: { rowCount: n, features, data },
    y,
    task: { kind: "multiclass", classCount: classes.length },
    classes,
  };
}

/** Read and parse a CSV file (see csvToDataset). */
export function loadCsvDataset(path: string, target: CsvTarget): CsvDataset {
  return csvToDataset(readFileSync(path, "utf8"), target);
}
