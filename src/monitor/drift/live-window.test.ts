import { describe, expect, it } from "vitest";
import { sketchCategorical, sketchNumeric } from "../../models/baseline.ts";
import { categoricalBins, numericBins } from "./feature-bins.ts";
import { CountWindow, MAX_SLOTS, SketchLayout, TimeWindow } from "./live-window.ts";

const layout = new SketchLayout([
  numericBins(
    sketchNumeric(
      "x",
      Array.from({ length: 1000 }, (_, i) => i),
    ),
  ),
  categoricalBins(sketchCategorical("c", [0, 1, 2, 1], 4)),
]);

function add(window: TimeWindow | CountWindow, at: number, x: number, c: number): void {
  const values = Float64Array.of(x, c);
  const cells = new Uint16Array(2);
  layout.cellsOf(values, cells);
  window.add(at, cells, values);
}

/** Total count of one feature's counters in a read. */
function rowsOf(counts: Float64Array, f: number): number {
  const start = layout.offsets[f] as number;
  const end = f + 1 < layout.offsets.length ? (layout.offsets[f + 1] as number) : layout.counters;
  let total = 0;
  for (let i = start; i < end; i++) total += counts[i] as number;
  return total;
}

describe("time window", () => {
  it("sums minute slots over the last windowMinutes and forgets older ones", () => {
    const window = new TimeWindow(layout, 10);
    expect(window.slotMs).toBe(60_000);
    const t0 = 1_700_000_000_000 - (1_700_000_000_000 % 60_000);
    for (let minute = 0; minute < 15; minute++) add(window, t0 + minute * 60_000 + 5, minute, 1);
    const now = t0 + 14 * 60_000 + 30_000;
    const read = window.read(now);
    // Slots 5..14 are within the last 10 (the current one included).
    expect(read.rows).toBe(10);
    expect(rowsOf(read.counts, 0)).toBe(10);
    expect(read.from).toBe(t0 + 5 * 60_000 + 5);
    expect(read.to).toBe(t0 + 14 * 60_000 + 5);
    // An hour later nothing is left.
    expect(window.read(now + 3_600_000).rows).toBe(0);
    // A row older than the slot that replaced its position is ignored.
    add(window, t0, 1, 1);
    expect(window.read(now).rows).toBe(10);
  });

  it("keeps at most MAX_SLOTS slots: a week has 168-minute slots", () => {
    const week = new TimeWindow(layout, 10_080);
    expect(week.slotCount).toBeLessThanOrEqual(MAX_SLOTS);
    expect(week.slotMs).toBe(168 * 60_000);
  });

  it("accumulates the tails beyond the baseline's range", () => {
    const window = new TimeWindow(layout, 60);
    add(window, 1000, -10, 0);
    add(window, 1000, 1009, 0);
    add(window, 1000, 500, 0);
    const read = window.read(2000);
    expect(read.tailBelow[0]).toBe(10);
    expect(read.tailAbove[0]).toBe(10);
  });
});

describe("count window", () => {
  it("holds the last N rows: running counts equal a recount after evictions", () => {
    const window = new CountWindow(layout, 100);
    const xs: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const x = (i * 7919) % 1200;
      xs.push(x);
      add(window, i, x, i % 5);
    }
    const read = window.read();
    expect(read.rows).toBe(100);
    const last = xs.slice(-100);
    const bins = layout.bins[0];
    if (!bins) throw new Error("no bins");
    const expected = new Float64Array(bins.cellCount + 1);
    for (const x of last) expected[bins.cellOf(x)] = (expected[bins.cellOf(x)] as number) + 1;
    expect(Array.from(read.counts.subarray(0, bins.cellCount + 1))).toEqual(Array.from(expected));
    expect(Array.from(read.sorted?.[0] ?? [])).toEqual([...last].sort((a, b) => a - b));
    expect(read.from).toBe(900);
    expect(read.to).toBe(999);
    const above = last.filter((x) => x > 999).reduce((s, x) => s + (x - 999), 0);
    expect(read.tailAbove[0]).toBeCloseTo(above, 9);
  });

  it("keeps missing values out of the sorted values but in the missing counter", () => {
    const window = new CountWindow(layout, 10);
    add(window, 1, Number.NaN, Number.NaN);
    add(window, 2, 3, 1);
    const read = window.read();
    expect(Array.from(read.sorted?.[0] ?? [])).toEqual([3]);
    const numeric = layout.bins[0];
    if (!numeric) throw new Error("no bins");
    expect(read.counts[numeric.cellCount]).toBe(1);
  });

  it("caps its rows by the byte budget", () => {
    // 2 bytes per feature, 8 per numeric value, 8 for the time: 20 bytes a row.
    const window = new CountWindow(layout, 1_000_000, 20 * 500);
    expect(window.capacity).toBe(500);
  });
});
