/**
 * How one feature's live values are counted so that every drift statistic can be read off the
 * counts: each value falls in one "cell", and cells are fine enough for KS and Wasserstein yet
 * coarse enough to be a few hundred counters.
 *
 * Numbers, with the fine quantile grid of the baseline (points p_0 < … < p_{K−1}, the training
 * percentiles): 2K + 1 cells, alternating open intervals and the grid points themselves,
 * `(−∞, p_0), {p_0}, (p_0, p_1), {p_1}, …, {p_{K−1}}, (p_{K−1}, ∞)`, so a lump of equal values on a
 * grid point is counted apart from its neighbours and the live CDF is known exactly at every
 * point, just below it and at it. The decile edges are grid points, so the PSI bins (deciles) are
 * unions of cells.
 *
 * Numbers from older artifacts (deciles only): the points are min, the decile edges and max, and
 * the K + 1 cells are right-closed intervals `(p_{j−1}, p_j]`; the baseline CDF is exactly known
 * at the decile edges only, so KS is read there (a coarser, conservative statistic).
 *
 * Categories: one cell per code (the last is the recipe's unknown bucket). Every layout has one
 * more counter after its cells for missing values.
 *
 * The PSI bins are what people see and what the category tests (chi-squared, Jensen-Shannon)
 * count over: codes for categories; for numbers the deciles, or one bin per value when a number
 * has at most {@link LOW_CARDINALITY} values and the grid shows them.
 */
import type { RecipeInput } from "../../features/recipe.ts";
import { featureWidth } from "../../features/recipe.ts";
import type { ArtifactHeader } from "../../models/artifact.ts";
import type { CategoricalSketch, FeatureSketch, NumericSketch } from "../../models/baseline.ts";
import { binOf } from "../../models/baseline.ts";

/** Numbers with at most this many distinct training values are judged like categories (Evidently). */
export const LOW_CARDINALITY = 5;

/** A numeric feature's cells. */
export interface NumericBins {
  readonly kind: "numeric";
  readonly feature: string;
  readonly sketch: NumericSketch;
  /** True with the fine grid: 2K + 1 cells with the points as cells of their own. */
  readonly atoms: boolean;
  readonly points: Float64Array;
  readonly cellCount: number;
  /** Baseline CDF at each point, G(p_j), and just below it, G(p_j⁻) (equal without atoms). */
  readonly baseAt: Float64Array;
  readonly baseBefore: Float64Array;
  /** Whether G is known exactly at p_j (always with the grid; decile edges only without). */
  readonly exactAt: Uint8Array;
  /** Baseline share of non-missing values per cell. */
  readonly baseCells: Float64Array;
  /** The PSI bin (decile) of each cell. */
  readonly psiOfCell: Uint16Array;
  /** Baseline share of non-missing values per PSI bin (the sketch's deciles). */
  readonly psiBase: readonly number[];
  readonly psiLabels: readonly string[];
  /** At most {@link LOW_CARDINALITY} distinct values (or a yes/no input): tested as categories. */
  readonly lowCardinality: boolean;
  /** Non-missing training rows behind the shares. */
  readonly baselineRows: number;
  /** Where the value is in a cell layout; NaN is missing (index cellCount). */
  cellOf(value: number): number;
  /** Count a column into `counts` (cells, then missing), adding the tails beyond the points. */
  countColumn(values: ArrayLike<number>, counts: Float64Array): Tails;
}

/** Σ (p_0 − x) over values below the first point, Σ (x − p_last) over values above the last. */
export interface Tails {
  readonly tailBelow: number;
  readonly tailAbove: number;
}

export interface CategoricalBins {
  readonly kind: "categorical";
  readonly feature: string;
  readonly sketch: CategoricalSketch;
  readonly cellCount: number;
  readonly baseCells: Float64Array;
  readonly psiLabels: readonly string[];
  readonly baselineRows: number;
  cellOf(value: number): number;
  countColumn(values: ArrayLike<number>, counts: Float64Array): Tails;
}

export type FeatureBins = NumericBins | CategoricalBins;

/** The unknown bucket's label: rare training levels and values never seen in training. */
export const OTHER_LABEL = "(other)";
export const MISSING_LABEL = "missing";

/** How a feature's labels read: yes/no inputs name their two values, categories their levels. */
export type LabelHint =
  | { readonly kind: "boolean"; readonly labels: readonly [string, string] }
  | { readonly kind: "category"; readonly levels: readonly string[] }
  | { readonly kind: "none" };

export function numericBins(
  sketch: NumericSketch,
  hint: LabelHint = { kind: "none" },
): NumericBins {
  const edges = sketch.edges;
  const present = Math.round(sketch.count * (1 - sketch.missingRate));
  const grid = sketch.grid;
  let points: Float64Array;
  let baseAt: Float64Array;
  let baseBefore: Float64Array;
  let exactAt: Uint8Array;
  let baseCells: Float64Array;
  let psiOfCell: Uint16Array;
  const atoms = grid !== undefined && grid.values.length > 0;
  if (grid && atoms) {
    const K = grid.values.length;
    points = Float64Array.from(grid.values);
    baseAt = Float64Array.from(grid.atOrBelow);
    baseBefore = Float64Array.from(grid.below);
    exactAt = new Uint8Array(K).fill(1);
    baseCells = new Float64Array(2 * K + 1);
    psiOfCell = new Uint16Array(2 * K + 1);
    for (let j = 0; j < K; j++) {
      const prevAt = j === 0 ? 0 : (baseAt[j - 1] as number);
      baseCells[2 * j] = Math.max(0, (baseBefore[j] as number) - prevAt);
      baseCells[2 * j + 1] = Math.max(0, (baseAt[j] as number) - (baseBefore[j] as number));
      const bin = binOf(edges, points[j] as number);
      psiOfCell[2 * j] = bin;
      psiOfCell[2 * j + 1] = bin;
    }
    baseCells[2 * K] = Math.max(0, 1 - (baseAt[K - 1] as number));
    psiOfCell[2 * K] = edges.length;
  } else {
    // Deciles only: points min, edges, max; G known at the edges (cumulated deciles).
    const knots: number[] = [];
    const at: number[] = [];
    const exact: number[] = [];
    const push = (v: number, g: number, isEdge: boolean) => {
      const last = knots.length - 1;
      if (last >= 0 && v <= (knots[last] as number)) {
        if (isEdge) {
          at[last] = g;
          exact[last] = 1;
        }
        return;
      }
      knots.push(v);
      at.push(g);
      exact.push(isEdge ? 1 : 0);
    };
    push(sketch.min, 0, false);
    let cumulative = 0;
    for (let i = 0; i < edges.length; i++) {
      cumulative += sketch.proportions[i] ?? 0;
      push(edges[i] as number, cumulative, true);
    }
    push(sketch.max, 1, false);
    const K = knots.length;
    points = Float64Array.from(knots);
    baseAt = Float64Array.from(at);
    baseBefore = Float64Array.from(at);
    exactAt = Uint8Array.from(exact);
    baseCells = new Float64Array(K + 1);
    psiOfCell = new Uint16Array(K + 1);
    for (let j = 0; j < K; j++) {
      baseCells[j] = Math.max(0, (baseAt[j] as number) - (j === 0 ? 0 : (baseAt[j - 1] as number)));
      psiOfCell[j] = binOf(edges, points[j] as number);
    }
    baseCells[K] = Math.max(0, 1 - (baseAt[K - 1] as number));
    psiOfCell[K] = edges.length;
  }
  const K = points.length;
  const cellCount = atoms ? 2 * K + 1 : K + 1;
  const index = new PointIndex(points);
  const cellOf = atoms
    ? (value: number): number => {
        if (Number.isNaN(value)) return cellCount;
        const j = index.search(value);
        return j < K && points[j] === value ? 2 * j + 1 : 2 * j;
      }
    : (value: number): number => (Number.isNaN(value) ? cellCount : index.search(value));
  const first = points[0] as number;
  const last = points[K - 1] as number;
  const countColumn = (values: ArrayLike<number>, counts: Float64Array): Tails => {
    let tailBelow = 0;
    let tailAbove = 0;
    for (let i = 0; i < values.length; i++) {
      const v = values[i] as number;
      let cell: number;
      if (Number.isNaN(v)) cell = cellCount;
      else {
        const j = index.search(v);
        cell = atoms ? (j < K && points[j] === v ? 2 * j + 1 : 2 * j) : j;
        if (v < first) tailBelow += first - v;
        else if (v > last) tailAbove += v - last;
      }
      counts[cell] = (counts[cell] as number) + 1;
    }
    return { tailBelow, tailAbove };
  };
  const lowCardinality = hint.kind === "boolean" || (sketch.distinct ?? K) <= LOW_CARDINALITY;
  let psiBase: readonly number[] = sketch.proportions;
  let psiLabels = numericLabels(edges, hint);
  if (lowCardinality && atoms) {
    // A handful of values: one PSI bin per value (deciles could put 0 and 1 in one bin when
    // one of them is under 10%). Bin j holds the point p_j and the open interval before it.
    const shares = new Array<number>(K + 1).fill(0);
    for (let c = 0; c < cellCount; c++) {
      const bin = Math.min(K, c >> 1);
      psiOfCell[c] = bin;
      shares[bin] = (shares[bin] ?? 0) + (baseCells[c] as number);
    }
    psiBase = shares;
    psiLabels = valueLabels(points, baseCells, hint);
  }
  return {
    kind: "numeric",
    feature: sketch.feature,
    sketch,
    atoms,
    points,
    cellCount,
    baseAt,
    baseBefore,
    exactAt,
    baseCells,
    psiOfCell,
    psiBase,
    psiLabels,
    lowCardinality,
    baselineRows: present,
    cellOf,
    countColumn,
  };
}

/** Labels of per-value bins: the value (a yes/no input's names for 0 and 1), then "> max". */
function valueLabels(points: Float64Array, baseCells: Float64Array, hint: LabelHint): string[] {
  const values = Array.from(points);
  const fmt = formatterFor(values);
  const labels = values.map((v, j) => {
    const name = hint.kind === "boolean" && (v === 0 || v === 1) ? hint.labels[v] : fmt(v);
    // Training values between two grid points (rare ones) share the next point's bin.
    return j > 0 && (baseCells[2 * j] as number) > 0
      ? `(${fmt(values[j - 1] as number)}, ${fmt(v)}]`
      : name;
  });
  labels.push(`> ${fmt(values[values.length - 1] as number)}`);
  return labels;
}

export function categoricalBins(
  sketch: CategoricalSketch,
  hint: LabelHint = { kind: "none" },
): CategoricalBins {
  const cellCount = sketch.proportions.length;
  const levels = hint.kind === "category" ? hint.levels : [];
  const psiLabels = Array.from({ length: cellCount }, (_, code) =>
    code < levels.length
      ? (levels[code] as string)
      : code === cellCount - 1 && hint.kind === "category"
        ? OTHER_LABEL
        : String(code),
  );
  const cellOf = (value: number): number => {
    if (Number.isNaN(value)) return cellCount;
    const code = Math.trunc(value);
    return code < 0 ? 0 : code >= cellCount ? cellCount - 1 : code;
  };
  return {
    kind: "categorical",
    feature: sketch.feature,
    sketch,
    cellCount,
    baseCells: Float64Array.from(sketch.proportions),
    psiLabels,
    baselineRows: Math.round(sketch.count * (1 - sketch.missingRate)),
    cellOf,
    countColumn: (values: ArrayLike<number>, counts: Float64Array): Tails => {
      for (let i = 0; i < values.length; i++) {
        const cell = cellOf(values[i] as number);
        counts[cell] = (counts[cell] as number) + 1;
      }
      return { tailBelow: 0, tailAbove: 0 };
    },
  };
}

export function binsOf(sketch: FeatureSketch, hint?: LabelHint): FeatureBins {
  return sketch.kind === "numeric" ? numericBins(sketch, hint) : categoricalBins(sketch, hint);
}

/** Buckets of the point index: enough that most hold at most one of ~100 points. */
const INDEX_BUCKETS = 1024;

/**
 * "First point ≥ v" in a step or two instead of a 7-step binary search: the range of the points
 * is cut into equal buckets, each remembering the first point at or after its start; a value
 * starts there and walks the few points in its bucket. Rounding at a bucket's edge is corrected
 * by the walk back, so the answer is exact. Values outside the range answer at once.
 */
export class PointIndex {
  readonly first: number;
  readonly last: number;
  /** Buckets per unit of value (0 when all points are equal or the span is not finite). */
  readonly scale: number;
  /** Per bucket (and one past the last): the first point at or after its start. */
  readonly start: Uint16Array;

  constructor(private readonly points: Float64Array) {
    const K = points.length;
    this.first = K ? (points[0] as number) : 0;
    this.last = K ? (points[K - 1] as number) : 0;
    const span = this.last - this.first;
    this.scale = span > 0 && Number.isFinite(span) ? INDEX_BUCKETS / span : 0;
    this.start = new Uint16Array(INDEX_BUCKETS + 1);
    let j = 0;
    for (let b = 0; b <= INDEX_BUCKETS; b++) {
      const from = this.first + (this.scale > 0 ? b / this.scale : 0);
      while (j < K && (points[j] as number) < from) j++;
      this.start[b] = j;
    }
  }

  /** Index of the first point ≥ value (K when none); value is not NaN. */
  search(value: number): number {
    const points = this.points;
    const K = points.length;
    if (K === 0 || value <= this.first) return 0;
    if (value > this.last) return K;
    let b = ((value - this.first) * this.scale) | 0;
    if (b > INDEX_BUCKETS) b = INDEX_BUCKETS;
    let j = this.start[b] as number;
    while (j > 0 && (points[j - 1] as number) >= value) j--;
    while (j < K && (points[j] as number) < value) j++;
    return j;
  }
}

const NUMERIC_ATOMS = 0;
const NUMERIC_INTERVALS = 1;
const CATEGORICAL = 2;

/**
 * Every feature's `cellOf` for a whole row, from flat typed arrays: the live windows bin each
 * served row, and one loop over lookups laid end to end costs a fraction of a closure call per
 * feature (the call sites see three kinds of closure). Answers exactly as each feature's
 * `cellOf` does (a property test checks it).
 */
export class CellFinder {
  private readonly kind: Uint8Array;
  private readonly cellCount: Int32Array;
  /** Per feature: its first point in `points` and its first bucket in `starts` (numbers). */
  private readonly pointFrom: Int32Array;
  private readonly pointCount: Int32Array;
  private readonly startFrom: Int32Array;
  private readonly first: Float64Array;
  private readonly last: Float64Array;
  private readonly scale: Float64Array;
  private readonly points: Float64Array;
  private readonly starts: Uint16Array;

  constructor(bins: readonly FeatureBins[]) {
    const n = bins.length;
    this.kind = new Uint8Array(n);
    this.cellCount = new Int32Array(n);
    this.pointFrom = new Int32Array(n);
    this.pointCount = new Int32Array(n);
    this.startFrom = new Int32Array(n);
    this.first = new Float64Array(n);
    this.last = new Float64Array(n);
    this.scale = new Float64Array(n);
    let points = 0;
    let numeric = 0;
    for (const b of bins) {
      if (b.kind !== "numeric") continue;
      points += b.points.length;
      numeric++;
    }
    this.points = new Float64Array(points);
    this.starts = new Uint16Array(numeric * (INDEX_BUCKETS + 1));
    points = 0;
    numeric = 0;
    for (let f = 0; f < n; f++) {
      const b = bins[f] as FeatureBins;
      this.cellCount[f] = b.cellCount;
      if (b.kind !== "numeric") {
        this.kind[f] = CATEGORICAL;
        continue;
      }
      this.kind[f] = b.atoms ? NUMERIC_ATOMS : NUMERIC_INTERVALS;
      const index = new PointIndex(b.points);
      this.pointFrom[f] = points;
      this.pointCount[f] = b.points.length;
      this.points.set(b.points, points);
      points += b.points.length;
      this.startFrom[f] = numeric * (INDEX_BUCKETS + 1);
      this.starts.set(index.start, numeric * (INDEX_BUCKETS + 1));
      numeric++;
      this.first[f] = index.first;
      this.last[f] = index.last;
      this.scale[f] = index.scale;
    }
  }

  /** The cell of each feature's value (NaN: missing) into `cells`. */
  cellsOf(values: Float64Array, cells: Uint16Array): void {
    const {
      kind,
      cellCount,
      points,
      pointFrom,
      pointCount,
      first,
      last,
      scale,
      starts,
      startFrom,
    } = this;
    for (let f = 0; f < kind.length; f++) {
      const v = values[f] as number;
      const count = cellCount[f] as number;
      if (Number.isNaN(v)) {
        cells[f] = count; // missing
        continue;
      }
      const k = kind[f] as number;
      if (k === CATEGORICAL) {
        const code = Math.trunc(v);
        cells[f] = code < 0 ? 0 : code >= count ? count - 1 : code;
        continue;
      }
      // PointIndex.search, inline: the first point ≥ v.
      const from = pointFrom[f] as number;
      const K = pointCount[f] as number;
      const low = first[f] as number;
      let j: number;
      if (K === 0 || v <= low) j = 0;
      else if (v > (last[f] as number)) j = K;
      else {
        let b = ((v - low) * (scale[f] as number)) | 0;
        if (b > INDEX_BUCKETS) b = INDEX_BUCKETS;
        j = starts[(startFrom[f] as number) + b] as number;
        while (j > 0 && (points[from + j - 1] as number) >= v) j--;
        while (j < K && (points[from + j] as number) < v) j++;
      }
      cells[f] = k === NUMERIC_INTERVALS ? j : j < K && points[from + j] === v ? 2 * j + 1 : 2 * j;
    }
  }
}

/** The bins of an artifact: one per matrix feature, in the recipe's order, and the prediction's. */
export interface ArtifactBins {
  readonly features: readonly FeatureBins[];
  readonly prediction: FeatureBins | undefined;
  /** Class labels of a classifier (binary: [negative, positive]). */
  readonly classes: readonly string[];
  readonly task: ArtifactHeader["task"]["kind"];
}

/** Bins for every sketched feature of an artifact, labelled with the recipe's names and levels. */
export function artifactBins(header: ArtifactHeader): ArtifactBins {
  const hints = new Map<string, LabelHint>();
  for (const input of header.recipe.inputs) {
    if (featureWidth(input) !== 1) continue;
    hints.set(input.column, hintOf(input));
  }
  const classes = header.recipe.target.classes ?? [];
  const features = header.baseline.features.map((sketch) =>
    binsOf(sketch, hints.get(sketch.feature)),
  );
  const sketch = header.baseline.prediction;
  const prediction = sketch
    ? binsOf(
        sketch,
        header.task.kind === "multiclass" ? { kind: "category", levels: classes } : undefined,
      )
    : undefined;
  return { features, prediction, classes, task: header.task.kind };
}

function hintOf(input: RecipeInput): LabelHint {
  if (input.kind === "boolean")
    return { kind: "boolean", labels: input.labels ?? ["false", "true"] };
  if (input.kind === "category") return { kind: "category", levels: input.levels };
  return { kind: "none" };
}

/**
 * Labels of the decile bins: "≤ a", "(a, b]", "> z", with as few significant digits as keep
 * neighbouring edges apart. A yes/no input's bins ≤ 0 and (0, 1] are its two values' names.
 */
export function numericLabels(
  edges: readonly number[],
  hint: LabelHint = { kind: "none" },
): string[] {
  if (edges.length === 0) return ["all values"];
  const fmt = formatterFor(edges);
  const labels: string[] = [];
  for (let i = 0; i <= edges.length; i++) {
    if (i === 0) labels.push(`≤ ${fmt(edges[0] as number)}`);
    else if (i === edges.length) labels.push(`> ${fmt(edges[i - 1] as number)}`);
    else labels.push(`(${fmt(edges[i - 1] as number)}, ${fmt(edges[i] as number)}]`);
  }
  if (hint.kind === "boolean") {
    for (let i = 0; i <= edges.length; i++) {
      const lo = i === 0 ? Number.NEGATIVE_INFINITY : (edges[i - 1] as number);
      const hi = i === edges.length ? Number.POSITIVE_INFINITY : (edges[i] as number);
      // The bin holds 0 only, or 1 only (encoded yes/no values are 0 or 1).
      if (lo < 0 && hi >= 0 && hi < 1) labels[i] = hint.labels[0];
      else if (lo >= 0 && lo < 1 && hi >= 1 && hi < Number.POSITIVE_INFINITY)
        labels[i] = hint.labels[1];
      else if (lo >= 0 && lo < 1 && hi === Number.POSITIVE_INFINITY) labels[i] = hint.labels[1];
    }
  }
  return labels;
}

function formatterFor(edges: readonly number[]): (v: number) => string {
  for (let digits = 4; digits < 17; digits++) {
    const fmt = (v: number) => String(Number(v.toPrecision(digits)));
    let distinct = true;
    for (let i = 1; i < edges.length && distinct; i++)
      if (fmt(edges[i] as number) === fmt(edges[i - 1] as number)) distinct = false;
    if (distinct) return fmt;
  }
  return String;
}
