/**
 * Horizontal bars drawn with CSS: readable labels, exact values, and a list a screen reader
 * reads in order. Used for feature importance, top values and per-prediction contributions.
 */
import { formatNumber } from "../lib/format.ts";

export interface BarItem {
  readonly label: string;
  readonly value: number;
  /** Shown instead of the number. */
  readonly display?: string;
}

export function Bars({
  items,
  label,
  mini = false,
  max,
}: {
  items: readonly BarItem[];
  label: string;
  mini?: boolean;
  max?: number;
}) {
  const top = max ?? Math.max(1e-12, ...items.map((i) => Math.abs(i.value)));
  return (
    <ul className={`bars${mini ? " mini-bars" : ""}`} aria-label={label}>
      {items.map((item) => (
        <li key={item.label} className="bar-row">
          <span className="bar-label" title={item.label}>
            {item.label}
          </span>
          <span className="bar-track" aria-hidden="true">
            <span
              className="bar-fill"
              style={{ left: 0, width: `${(Math.abs(item.value) / top) * 100}%` }}
            />
          </span>
          <span className="bar-value">{item.display ?? formatNumber(item.value, 3)}</span>
        </li>
      ))}
    </ul>
  );
}

/** Bars around a zero line: what pushed a prediction up (blue) or down (red). */
export function DivergingBars({ items, label }: { items: readonly BarItem[]; label: string }) {
  const top = Math.max(1e-12, ...items.map((i) => Math.abs(i.value)));
  return (
    <ul className="bars" aria-label={label}>
      {items.map((item) => {
        const width = (Math.abs(item.value) / top) * 50;
        return (
          <li key={item.label} className="bar-row">
            <span className="bar-label" title={item.label}>
              {item.label}
            </span>
            <span className="bar-track" aria-hidden="true">
              <span className="bar-axis" style={{ left: "50%" }} />
              <span
                className={`bar-fill${item.value < 0 ? " bar-fill-neg" : ""}`}
                style={
                  item.value < 0
                    ? { left: `${50 - width}%`, width: `${width}%` }
                    : { left: "50%", width: `${width}%` }
                }
              />
            </span>
            <span className="bar-value">
              {item.value > 0 ? "+" : ""}
              {formatNumber(item.value, 3)}
            </span>
          </li>
        );
      })}
    </ul>
  );
}
