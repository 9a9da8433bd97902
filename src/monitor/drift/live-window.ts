/**
 * The live windows of one app version, in cells of its {@link SketchLayout}: a time window
 * (the last `windowMinutes`, in slots summed on read) and a count window (the last `windowRows`
 * rows, a ring of each row's cells so that evicting the oldest row is O(features), plus the raw
 * numeric values for an exact KS statistic). Adding a row is constant work either way; memory is
 * bounded by the slot count and the count window's byte budget, whatever the traffic.
 */
import { CellFinder, type FeatureBins } from "./feature-bins.ts";

/** Every counter of an app version's features, laid end to end. */
export class SketchLayout {
  /** Start of each feature's counters (its cells, then missing). */
  readonly offsets: Int32Array;
  readonly counters: number;
  /** Per feature: its index among the numeric features, or −1. */
  readonly numericIndex: Int32Array;
  readonly numericCount: number;
  /** Per numeric feature: its first and last point (tails are measured from them). */
  readonly low: Float64Array;
  readonly high: Float64Array;
  private readonly finder: CellFinder;

  constructor(readonly bins: readonly FeatureBins[]) {
    this.finder = new CellFinder(bins);
    this.offsets = new Int32Array(bins.length);
    this.numericIndex = new Int32Array(bins.length).fill(-1);
    let counters = 0;
    let numeric = 0;
    const low: number[] = [];
    const high: number[] = [];
    bins.forEach((b, f) => {
      this.offsets[f] = counters;
      counters += b.cellCount + 1;
      if (b.kind === "numeric") {
        this.numericIndex[f] = numeric++;
        low.push(b.points[0] ?? 0);
        high.push(b.points[b.points.length - 1] ?? 0);
      }
    });
    this.counters = counters;
    this.numericCount = numeric;
    this.low = Float64Array.from(low);
    this.high = Float64Array.from(high);
  }

  /** The cell of each feature's value (NaN: missing), into `cells`. */
  cellsOf(values: Float64Array, cells: Uint16Array): void {
    this.finder.cellsOf(values, cells);
  }
}

/** What a window holds now. */
export interface WindowRead {
  readonly rows: number;
  /** Summed counters (layout order). */
  readonly counts: Float64Array;
  /** Per numeric feature: Σ (low − x) below its first point, Σ (x − high) above its last. */
  readonly tailBelow: Float64Array;
  readonly tailAbove: Float64Array;
  /** Per numeric feature: its present values, ascending (count window only). */
  readonly sorted?: readonly Float64Array[];
  /** Oldest and newest row in the window (epoch ms), null when empty. */
  readonly from: number | null;
  readonly to: number | null;
}

/** At most this many slots: a 60-minute window has minute slots, a week 168-minute ones. */
export const MAX_SLOTS = 60;

interface Slot {
  index: number;
  rows: number;
  first: number;
  last: number;
  readonly counts: Uint32Array;
  readonly tails: Float64Array;
}

/**
 * The last `minutes`: slots of ⌈minutes / 60⌉ minutes (one minute up to an hour), the current one
 * included, so the window covers between minutes − slot and minutes of traffic.
 */
export class TimeWindow {
  readonly slotMs: number;
  readonly slotCount: number;
  private readonly slots: (Slot | undefined)[];

  constructor(
    private readonly layout: SketchLayout,
    minutes: number,
  ) {
    const slotMinutes = Math.max(1, Math.ceil(minutes / MAX_SLOTS));
    this.slotMs = slotMinutes * 60_000;
    this.slotCount = Math.max(1, Math.ceil(minutes / slotMinutes));
    this.slots = new Array<Slot | undefined>(this.slotCount).fill(undefined);
  }

  add(at: number, cells: Uint16Array, values: Float64Array): void {
    const index = Math.floor(at / this.slotMs);
    const position = index % this.slotCount;
    let slot = this.slots[position];
    if (slot && slot.index > index) return; // older than the window already
    if (!slot || slot.index !== index) {
      if (slot) {
        slot.counts.fill(0);
        slot.tails.fill(0);
        slot.index = index;
        slot.rows = 0;
        slot.first = at;
        slot.last = at;
      } else {
        slot = {
          index,
          rows: 0,
          first: at,
          last: at,
          counts: new Uint32Array(this.layout.counters),
          tails: new Float64Array(2 * this.layout.numericCount),
        };
        this.slots[position] = slot;
      }
    }
    slot.rows++;
    if (at < slot.first) slot.first = at;
    if (at > slot.last) slot.last = at;
    const { offsets, numericIndex, low, high } = this.layout;
    const counts = slot.counts;
    const tails = slot.tails;
    for (let f = 0; f < offsets.length; f++) {
      const c = (offsets[f] as number) + (cells[f] as number);
      counts[c] = (counts[c] as number) + 1;
      const k = numericIndex[f] as number;
      if (k < 0) continue;
      const v = values[f] as number;
      if (v < (low[k] as number))
        tails[2 * k] = (tails[2 * k] as number) + ((low[k] as number) - v);
      else if (v > (high[k] as number))
        tails[2 * k + 1] = (tails[2 * k + 1] as number) + (v - (high[k] as number));
    }
  }

  read(now: number): WindowRead {
    const current = Math.floor(now / this.slotMs);
    const counts = new Float64Array(this.layout.counters);
    const n = this.layout.numericCount;
    const tailBelow = new Float64Array(n);
    const tailAbove = new Float64Array(n);
    let rows = 0;
    let from: number | null = null;
    let to: number | null = null;
    for (const slot of this.slots) {
      if (!slot || slot.rows === 0) continue;
      if (slot.index > current || slot.index <= current - this.slotCount) continue;
      rows += slot.rows;
      for (let c = 0; c < counts.length; c++)
        counts[c] = (counts[c] as number) + (slot.counts[c] as number);
      for (let k = 0; k < n; k++) {
        tailBelow[k] = (tailBelow[k] as number) + (slot.tails[2 * k] as number);
        tailAbove[k] = (tailAbove[k] as number) + (slot.tails[2 * k + 1] as number);
      }
      if (from === null || slot.first < from) from = slot.first;
      if (to === null || slot.last > to) to = slot.last;
    }
    return { rows, counts, tailBelow, tailAbove, from, to };
  }
}

/**
 * Default budget of one app version's count window: the ring holds min(windowRows, budget /
 * bytes per row) rows; bytes per row are 2 per feature (its cell), 8 per numeric feature (its
 * value) and 8 (its time). 20 features fit ~500,000 rows, 100 numeric ones ~45,000.
 */
export const COUNT_WINDOW_BYTES = 32 * 1024 * 1024;

/** The last `capacity` rows: a ring of cells, values and times, with running counts. */
export class CountWindow {
  readonly capacity: number;
  private readonly width: number;
  private readonly cells: Uint16Array;
  /** Row-major, so a row's writes are adjacent: values[row · numericCount + k]. */
  private readonly values: Float64Array;
  private readonly times: Float64Array;
  private readonly counts: Uint32Array;
  private head = 0;
  private size = 0;

  constructor(
    private readonly layout: SketchLayout,
    rows: number,
    budgetBytes = COUNT_WINDOW_BYTES,
  ) {
    this.width = layout.bins.length;
    const perRow = 2 * this.width + 8 * layout.numericCount + 8;
    this.capacity = Math.max(1, Math.min(rows, Math.floor(budgetBytes / perRow)));
    this.cells = new Uint16Array(this.capacity * this.width);
    this.values = new Float64Array(this.capacity * layout.numericCount);
    this.times = new Float64Array(this.capacity);
    this.counts = new Uint32Array(layout.counters);
  }

  add(at: number, cells: Uint16Array, values: Float64Array): void {
    const { offsets, numericIndex, numericCount } = this.layout;
    const width = this.width;
    const row = this.head;
    const base = row * width;
    const valueBase = row * numericCount;
    const { counts, cells: ring, values: ringValues } = this;
    // A full ring takes its oldest row's counts back as the new row replaces it.
    const evict = this.size === this.capacity ? 1 : 0;
    this.size += 1 - evict;
    for (let f = 0; f < width; f++) {
      const offset = offsets[f] as number;
      const old = offset + (ring[base + f] as number);
      counts[old] = (counts[old] as number) - evict;
      const cell = cells[f] as number;
      ring[base + f] = cell;
      counts[offset + cell] = (counts[offset + cell] as number) + 1;
      const k = numericIndex[f] as number;
      if (k >= 0) ringValues[valueBase + k] = values[f] as number;
    }
    this.times[row] = at;
    this.head = row + 1 === this.capacity ? 0 : row + 1;
  }

  read(): WindowRead {
    const n = this.layout.numericCount;
    const tailBelow = new Float64Array(n);
    const tailAbove = new Float64Array(n);
    const sorted: Float64Array[] = [];
    for (let k = 0; k < n; k++) {
      const present = new Float64Array(this.size);
      let m = 0;
      const low = this.layout.low[k] as number;
      const high = this.layout.high[k] as number;
      let below = 0;
      let above = 0;
      for (let i = 0; i < this.size; i++) {
        const v = this.values[i * n + k] as number;
        if (Number.isNaN(v)) continue;
        present[m++] = v;
        if (v < low) below += low - v;
        else if (v > high) above += v - high;
      }
      tailBelow[k] = below;
      tailAbove[k] = above;
      sorted.push(present.subarray(0, m).sort());
    }
    let from: number | null = null;
    let to: number | null = null;
    for (let i = 0; i < this.size; i++) {
      const t = this.times[i] as number;
      if (from === null || t < from) from = t;
      if (to === null || t > to) to = t;
    }
    return {
      rows: this.size,
      counts: Float64Array.from(this.counts),
      tailBelow,
      tailAbove,
      sorted,
      from,
      to,
    };
  }
}
