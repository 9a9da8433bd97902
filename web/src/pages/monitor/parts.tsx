/**
 * Small pieces the monitor's sections share: one slot of the page's live snapshot (its data, or
 * why it has none), a chart legend, and the state a section shows before its data arrives.
 */
import type { ReactNode } from "react";
import { ErrorBanner, Loading } from "../../components/ui.tsx";

/** One endpoint's part of the snapshot: the last data it sent, and its last failure. */
export interface Part<T> {
  readonly data?: T;
  readonly error?: unknown;
}

export function Legend({
  items,
}: {
  items: readonly { label: string; color: string; dashed?: boolean }[];
}) {
  return (
    <span className="legend">
      {items.map((i) => (
        <span key={i.label}>
          <span
            className={`legend-swatch${i.dashed ? " legend-swatch-dashed" : ""}`}
            style={{ background: i.dashed ? undefined : i.color, borderColor: i.color }}
          />
          {i.label}
        </span>
      ))}
    </span>
  );
}

/**
 * The section's content once its data is there; before that a spinner, or the API's own words
 * when it failed. A failed refresh keeps the last data on screen with the error above it.
 */
export function PartView<T>({
  part,
  what,
  children,
}: {
  part: Part<T> | undefined;
  /** "the drift report": completes "Could not load …" and "Loading …". */
  what: string;
  children: (data: T) => ReactNode;
}) {
  const error = part?.error;
  const banner = error ? <ErrorBanner title={`Could not load ${what}`} error={error} /> : null;
  if (part?.data === undefined) {
    return banner ?? <Loading label={`Loading ${what}…`} inline />;
  }
  return (
    <>
      {banner}
      {children(part.data)}
    </>
  );
}

/** An empty state inside a section: the same look as EmptyState, one heading level lower. */
export function SectionEmpty({
  title,
  children,
  action,
}: {
  title: string;
  children?: ReactNode;
  action?: ReactNode;
}) {
  return (
    <div className="empty-state section-empty">
      <h3>{title}</h3>
      {children ? <div className="empty-text">{children}</div> : null}
      {action ? <div className="empty-action">{action}</div> : null}
    </div>
  );
}
