/**
 * Lazy doors to charts.tsx: a page imports these, and the chart library loads (once) when the
 * first chart is drawn. Each chart sits in a <figure> with a label for screen readers.
 */
import { lazy, type ReactNode, Suspense } from "react";
import type {
  DistributionProps,
  HistogramProps,
  RocProps,
  ScatterProps,
  StackedSeriesProps,
  TimeSeriesProps,
} from "./charts.tsx";

const load = () => import("./charts.tsx");

const LazyHistogram = lazy(() => load().then((m) => ({ default: m.Histogram })));
const LazyRoc = lazy(() => load().then((m) => ({ default: m.RocChart })));
const LazyScatter = lazy(() => load().then((m) => ({ default: m.ScatterPlot })));
const LazyTimeSeries = lazy(() => load().then((m) => ({ default: m.TimeSeries })));
const LazyStackedSeries = lazy(() => load().then((m) => ({ default: m.StackedSeries })));
const LazyDistribution = lazy(() => load().then((m) => ({ default: m.DistributionBars })));

/** Holds the chart's space while the chart library loads, so the page does not jump. */
function ChartSlot({ height, children }: { height: number; children: ReactNode }) {
  return (
    <Suspense fallback={<div className="chart-skeleton" style={{ height }} aria-hidden="true" />}>
      {children}
    </Suspense>
  );
}

export function Histogram(props: HistogramProps) {
  return (
    <ChartSlot height={props.height ?? 160}>
      <LazyHistogram {...props} />
    </ChartSlot>
  );
}

export function RocChart(props: RocProps) {
  return (
    <ChartSlot height={props.height ?? 260}>
      <LazyRoc {...props} />
    </ChartSlot>
  );
}

export function ScatterPlot(props: ScatterProps) {
  return (
    <ChartSlot height={props.height ?? 260}>
      <LazyScatter {...props} />
    </ChartSlot>
  );
}

export function TimeSeries(props: TimeSeriesProps) {
  return (
    <ChartSlot height={props.height ?? 220}>
      <LazyTimeSeries {...props} />
    </ChartSlot>
  );
}

export function StackedSeries(props: StackedSeriesProps) {
  return (
    <ChartSlot height={props.height ?? 220}>
      <LazyStackedSeries {...props} />
    </ChartSlot>
  );
}

export function DistributionBars(props: DistributionProps) {
  return (
    <ChartSlot height={props.height ?? 240}>
      <LazyDistribution {...props} />
    </ChartSlot>
  );
}

export function Figure({
  caption,
  label,
  children,
}: {
  caption?: ReactNode;
  /** What the chart shows, for people who cannot see it. */
  label: string;
  children: ReactNode;
}) {
  return (
    <figure className="chart" aria-label={label}>
      {children}
      {caption ? <figcaption>{caption}</figcaption> : null}
    </figure>
  );
}
