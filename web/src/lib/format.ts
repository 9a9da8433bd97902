/**
 * Numbers, sizes, times and ML terms as a person reads them. One place, so every page says
 * "AUC" and "2.4 MB" the same way.
 */
const nf = new Intl.NumberFormat("en", { maximumFractionDigits: 2 });
const compact = new Intl.NumberFormat("en", { notation: "compact", maximumFractionDigits: 1 });

export function formatNumber(n: number | null | undefined, digits?: number): string {
  if (n === null || n === undefined || Number.isNaN(n)) return "—";
  if (!Number.isFinite(n)) return n > 0 ? "∞" : "−∞";
  if (digits !== undefined)
    return new Intl.NumberFormat("en", { maximumFractionDigits: digits }).format(n);
  const abs = Math.abs(n);
  if (abs >= 100_000) return compact.format(n);
  if (abs !== 0 && abs < 0.01) return n.toPrecision(2);
  return nf.format(n);
}

export function formatInteger(n: number): string {
  return new Intl.NumberFormat("en").format(Math.round(n));
}

/** `pct` is 0..100. */
export function formatPercent(pct: number, digits = 1): string {
  if (Number.isNaN(pct)) return "—";
  if (pct > 0 && pct < 0.1) return "<0.1%";
  return `${pct.toFixed(pct === 0 || pct === 100 ? 0 : digits)}%`;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  const rest = s % 60;
  if (m < 60) return rest ? `${m} min ${rest} s` : `${m} min`;
  const h = Math.floor(m / 60);
  return `${h} h ${m % 60} min`;
}

/** "3 minutes ago", or the date for anything older than a week. */
export function formatWhen(iso: string, now = Date.now()): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const diff = Math.max(0, now - t);
  const minute = 60_000;
  if (diff < minute) return "just now";
  if (diff < 60 * minute) {
    const m = Math.floor(diff / minute);
    return `${m} minute${m === 1 ? "" : "s"} ago`;
  }
  if (diff < 24 * 60 * minute) {
    const h = Math.floor(diff / (60 * minute));
    return `${h} hour${h === 1 ? "" : "s"} ago`;
  }
  if (diff < 7 * 24 * 60 * minute) {
    const d = Math.floor(diff / (24 * 60 * minute));
    return `${d} day${d === 1 ? "" : "s"} ago`;
  }
  return new Date(t).toLocaleDateString("en", { year: "numeric", month: "short", day: "numeric" });
}

export interface MetricInfo {
  readonly label: string;
  /** What the number means, in a sentence. */
  readonly meaning: string;
  readonly higherIsBetter: boolean;
  readonly percent?: boolean;
}

const METRICS: Record<string, MetricInfo> = {
  auc: {
    label: "AUC",
    meaning:
      "How well the model ranks positive cases above negative ones: 0.5 is chance, 1 is perfect.",
    higherIsBetter: true,
  },
  logloss: {
    label: "Log loss",
    meaning: "How confident and correct the probabilities are; lower is better.",
    higherIsBetter: false,
  },
  accuracy: {
    label: "Accuracy",
    meaning: "The share of predictions that are right.",
    higherIsBetter: true,
    percent: true,
  },
  f1: {
    label: "F1",
    meaning: "The balance of precision and recall on the positive class.",
    higherIsBetter: true,
  },
  macroF1: {
    label: "Macro F1",
    meaning: "F1 averaged over every class, so rare classes count as much as common ones.",
    higherIsBetter: true,
  },
  rmse: {
    label: "RMSE",
    meaning: "The typical size of an error, in the target's own units; lower is better.",
    higherIsBetter: false,
  },
  mae: {
    label: "MAE",
    meaning: "The average absolute error, in the target's own units; lower is better.",
    higherIsBetter: false,
  },
  r2: {
    label: "R²",
    meaning:
      "The share of the target's variation the model explains: 1 is perfect, 0 is no better than the average.",
    higherIsBetter: true,
  },
};

export function metricInfo(name: string): MetricInfo {
  return METRICS[name] ?? { label: name, meaning: "", higherIsBetter: true };
}

export function formatMetric(name: string, value: number | undefined): string {
  if (value === undefined) return "—";
  const info = metricInfo(name);
  if (info.percent) return formatPercent(value * 100);
  // Errors in the target's units can be large: no more digits than a person reads.
  const abs = Math.abs(value);
  return formatNumber(value, abs >= 100 ? 0 : abs >= 10 ? 1 : 3);
}

export function taskLabel(task: string): string {
  switch (task) {
    case "binary":
      return "Binary classification";
    case "multiclass":
      return "Multi-class classification";
    case "regression":
      return "Regression";
    default:
      return task;
  }
}

export function learnerLabel(learner: string): string {
  switch (learner) {
    case "gbdt":
      return "Gradient-boosted trees";
    case "linear":
      return "Linear model";
    default:
      return learner;
  }
}

export const TYPE_LABELS: Record<string, string> = {
  number: "Number",
  category: "Category",
  boolean: "Yes/no",
  datetime: "Date/time",
  text: "Text",
  id: "Identifier",
};

export function typeLabel(type: string): string {
  return TYPE_LABELS[type] ?? type;
}

/** A name not in `taken`: `base`, else `base-2`, `base-3`, … */
export function uniqueName(base: string, taken: ReadonlySet<string>): string {
  if (!taken.has(base)) return base;
  for (let i = 2; ; i++) {
    const candidate = `${base}-${i}`;
    if (!taken.has(candidate)) return candidate;
  }
}

/** The dataset name the server would derive from a file name (mirrors datasetNameFromFile). */
export function datasetNameFromFile(fileName: string): string {
  const base = (fileName.split(/[\\/]/).pop() ?? fileName).replace(/\.[^.]*$/, "");
  const safe = base
    .replace(/[^A-Za-z0-9._-]+/g, "-")
    .replace(/^[^A-Za-z0-9]+/, "")
    .slice(0, 100);
  return safe || "dataset";
}

/** The format the upload route should be told, from a file name; undefined if unsupported. */
export function formatFromFileName(fileName: string): string | undefined {
  const ext = /\.([A-Za-z0-9]+)$/.exec(fileName)?.[1]?.toLowerCase();
  switch (ext) {
    case "csv":
    case "tsv":
    case "parquet":
    case "json":
    case "ndjson":
      return ext;
    case "jsonl":
      return "ndjson";
    case "txt":
      return "csv";
    default:
      return undefined;
  }
}
