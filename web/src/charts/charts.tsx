/**
 * The Studio's charts (recharts). This module is only reached through charts/lazy.tsx, so the
 * chart library is a chunk of its own that loads when a page first draws a chart.
 */
import {
  Area,
  AreaChart,
  Bar,
  BarChart,
  CartesianGrid,
  Line,
  LineChart,
  ReferenceLine,
  ResponsiveContainer,
  Scatter,
  ScatterChart,
  Tooltip,
  XAxis,
  YAxis,
} from "recharts";
import { formatNumber } from "../lib/format.ts";

const AXIS = { fontSize: 11, fill: "#6b7484" };
const GRID = "#edf0f3";

export interface HistogramProps {
  readonly edges: readonly number[];
  readonly counts: readonly number[];
  readonly height?: number;
  /** A sparkline-sized chart without axes. */
  readonly mini?: boolean;
  /** Format bin edges (dates are epoch milliseconds). */
  readonly datetime?: boolean;
}

function formatEdge(v: number | undefined, datetime: boolean): string {
  if (v === undefined) return "";
  if (datetime) return new Date(v).toISOString().slice(0, 10);
  return formatNumber(v);
}

export function Histogram({
  edges,
  counts,
  height = 160,
  mini = false,
  datetime = false,
}: HistogramProps) {
  const data = counts.map((count, i) => ({
    bin: `${formatEdge(edges[i], datetime)} – ${formatEdge(edges[i + 1], datetime)}`,
    count,
  }));
  return (
    <ResponsiveContainer width="100%" height={height}>
      <BarChart
        data={data}
        margin={
          mini ? { top: 2, right: 0, bottom: 0, left: 0 } : { top: 8, right: 8, bottom: 0, left: 0 }
        }
        barCategoryGap={1}
      >
        {mini ? null : <CartesianGrid vertical={false} stroke={GRID} />}
        <XAxis dataKey="bin" hide={mini} tick={AXIS} interval="preserveStartEnd" minTickGap={24} />
        <YAxis hide={mini} tick={AXIS} width={40} allowDecimals={false} />
        <Tooltip
          cursor={{ fill: "rgba(36,83,214,0.08)" }}
          formatter={(v) => [formatNumber(Number(v)), "rows"]}
          wrapperStyle={{ zIndex: 20 }}
        />
        <Bar dataKey="count" fill="#2453d6" radius={[2, 2, 0, 0]} isAnimationActive={false} />
      </BarChart>
    </ResponsiveContainer>
  );
}

export interface RocProps {
  readonly points: readonly { readonly fpr: number; readonly tpr: number }[];
  readonly height?: number;
}

export function RocChart({ points, height = 260 }: RocProps) {
  const data = [...points].sort((a, b) => a.fpr - b.fpr || a.tpr - b.tpr);
  return (
    <ResponsiveContainer width="100%" height={height}>
      <LineChart data={data} margin={{ top: 8, right: 16, bottom: 20, left: 0 }}>
        <CartesianGrid stroke={GRID} />
        <XAxis
          dataKey="fpr"
          type="number"
          domain={[0, 1]}
          tick={AXIS}
          tickFormatter={(v: number) => formatNumber(v, 1)}
          label={{ value: "False positive rate", position: "insideBottom", offset: -12, ...AXIS }}
        />
        <YAxis
          type="number"
          domain={[0, 1]}
          tick={AXIS}
          width={44}
          tickFormatter={(v: number) => formatNumber(v, 1)}
          label={{
            value: "True positive rate",
            angle: -90,
            position: "insideLeft",
            offset: 12,
            ...AXIS,
          }}
        />
        <ReferenceLine
          segment={[
            { x: 0, y: 0 },
            { x: 1, y: 1 },
          ]}
          stroke="#9aa3b2"
          strokeDasharray="4 4"
        />
        <Tooltip
          formatter={(v, name) => [
            formatNumber(Number(v), 3),
            name === "tpr" ? "True positive rate" : name,
          ]}
          labelFormatter={(v) => `False positive rate ${formatNumber(Number(v), 3)}`}
        />
        <Line
          type="linear"
          dataKey="tpr"
          stroke="#2453d6"
          strokeWidth={2}
          dot={false}
          isAnimationActive={false}
        />
      </LineChart>
    </ResponsiveContainer>
  );
}

export interface ScatterProps {
  readonly points: readonly { readonly x: number; readonly y: number }[];
  readonly xLabel: string;
  readonly yLabel: string;
  /** Draw y = x (predicted vs actual). */
  readonly diagonal?: boolean;
  /** Draw y = 0 (residuals). */
  readonly zeroLine?: boolean;
  readonly height?: number;
}

export function ScatterPlot({
  points,
  xLabel,
  yLabel,
  diagonal,
  zeroLine,
  height = 260,
}: ScatterProps) {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const p of points) {
    lo = Math.min(lo, p.x, diagonal ? p.y : p.x);
    hi = Math.max(hi, p.x, diagonal ? p.y : p.x);
  }
  const data = points.map((p) => ({ x: p.x, y: p.y }));
  return (
    <ResponsiveContainer width="100%" height={height}>
      <ScatterChart margin={{ top: 8, right: 16, bottom: 20, left: 0 }}>
        <CartesianGrid stroke={GRID} />
        <XAxis
          dataKey="x"
          type="number"
          name={xLabel}
          tick={AXIS}
          domain={["auto", "auto"]}
          tickFormatter={(v: number) => formatNumber(v)}
          label={{ value: xLabel, position: "insideBottom", offset: -12, ...AXIS }}
        />
        <YAxis
          dataKey="y"
          type="number"
          name={yLabel}
          tick={AXIS}
          width={52}
          domain={["auto", "auto"]}
          tickFormatter={(v: number) => formatNumber(v)}
          label={{ value: yLabel, angle: -90, position: "insideLeft", offset: 8, ...AXIS }}
        />
        {diagonal && Number.isFinite(lo) ? (
          <ReferenceLine
            segment={[
              { x: lo, y: lo },
              { x: hi, y: hi },
            ]}
            stroke="#9aa3b2"
            strokeDasharray="4 4"
          />
        ) : null}
        {zeroLine ? <ReferenceLine y={0} stroke="#9aa3b2" strokeDasharray="4 4" /> : null}
        <Tooltip
          formatter={(v) => formatNumber(Number(v), 3)}
          cursor={{ strokeDasharray: "3 3" }}
        />
        <Scatter data={data} fill="#2453d6" fillOpacity={0.55} isAnimationActive={false} />
      </ScatterChart>
    </ResponsiveContainer>
  );
}

export interface SeriesLine {
  readonly key: string;
  readonly label: string;
  readonly color: string;
  /** Drawn dashed: a line that reads as secondary (model-only latency beside the total). */
  readonly dashed?: boolean;
}

export interface TimeSeriesProps {
  readonly data: readonly Record<string, number | string | null>[];
  readonly lines: readonly SeriesLine[];
  readonly format: (v: number) => string;
  readonly height?: number;
}

export function TimeSeries({ data, lines, format, height = 220 }: TimeSeriesProps) {
  return (
    <ResponsiveContainer width="100%" height={height}>
      <LineChart data={[...data]} margin={{ top: 8, right: 16, bottom: 0, left: 0 }}>
        <CartesianGrid vertical={false} stroke={GRID} />
        <XAxis dataKey="label" tick={AXIS} minTickGap={40} />
        <YAxis tick={AXIS} width={56} tickFormatter={(v: number) => format(v)} />
        <Tooltip formatter={(v, name) => [format(Number(v)), name]} />
        {lines.map((l) => {
          // Few points (traffic in bursts) make no visible line: draw them as dots too.
          const points = data.filter((d) => typeof d[l.key] === "number").length;
          return (
            <Line
              key={l.key}
              type="monotone"
              dataKey={l.key}
              name={l.label}
              stroke={l.color}
              strokeWidth={2}
              {...(l.dashed ? { strokeDasharray: "5 4" } : {})}
              dot={points < 20 ? { r: 3, fill: l.color } : false}
              connectNulls
              isAnimationActive={false}
            />
          );
        })}
      </LineChart>
    </ResponsiveContainer>
  );
}

export interface StackedSeriesProps {
  readonly data: readonly Record<string, number | string | null>[];
  /** Bottom of the stack first. */
  readonly series: readonly SeriesLine[];
  readonly format: (v: number) => string;
  /** Areas for rates that flow (requests/s), bars for counts per interval (errors). */
  readonly variant: "area" | "bar";
  /** Whole numbers only on the axis (counts). */
  readonly integer?: boolean;
  readonly height?: number;
}

/** Parts of a whole over time, stacked: requests per second by how they ended, errors by kind. */
export function StackedSeries({
  data,
  series,
  format,
  variant,
  integer = false,
  height = 220,
}: StackedSeriesProps) {
  const rows = [...data];
  // A part that is zero throughout draws nothing, not a stroke along the top of the stack.
  const drawn = series.filter((s) =>
    rows.some((r) => typeof r[s.key] === "number" && r[s.key] !== 0),
  );
  const margin = { top: 8, right: 16, bottom: 0, left: 0 };
  const axes = (
    <>
      <CartesianGrid vertical={false} stroke={GRID} />
      <XAxis dataKey="label" tick={AXIS} minTickGap={40} />
      <YAxis
        tick={AXIS}
        width={56}
        allowDecimals={!integer}
        tickFormatter={(v: number) => format(v)}
      />
      <Tooltip formatter={(v, name) => [format(Number(v)), name]} wrapperStyle={{ zIndex: 20 }} />
    </>
  );
  return (
    <ResponsiveContainer width="100%" height={height}>
      {variant === "area" ? (
        <AreaChart data={rows} margin={margin}>
          {axes}
          {drawn.map((s) => (
            <Area
              key={s.key}
              type="monotone"
              dataKey={s.key}
              name={s.label}
              stackId="stack"
              stroke={s.color}
              fill={s.color}
              fillOpacity={0.35}
              strokeWidth={1.5}
              isAnimationActive={false}
            />
          ))}
        </AreaChart>
      ) : (
        <BarChart data={rows} margin={margin} barCategoryGap={1}>
          {axes}
          {drawn.map((s) => (
            <Bar
              key={s.key}
              dataKey={s.key}
              name={s.label}
              stackId="stack"
              fill={s.color}
              isAnimationActive={false}
            />
          ))}
        </BarChart>
      )}
    </ResponsiveContainer>
  );
}

export interface DistributionProps {
  /** Shares (0-1) of the rows in each bin, in the training data and live. */
  readonly bins: readonly {
    readonly label: string;
    readonly baseline: number;
    readonly live: number;
  }[];
  readonly height?: number;
}

/** Training (baseline) against live traffic, bin by bin: where a feature's values have moved. */
export function DistributionBars({ bins, height = 240 }: DistributionProps) {
  const data = bins.map((b) => ({ label: b.label, baseline: b.baseline, live: b.live }));
  const pct = (v: number) => `${formatNumber(v * 100, v < 0.1 ? 1 : 0)}%`;
  return (
    <ResponsiveContainer width="100%" height={height}>
      <BarChart data={data} margin={{ top: 8, right: 16, bottom: 0, left: 0 }} barGap={1}>
        <CartesianGrid vertical={false} stroke={GRID} />
        <XAxis dataKey="label" tick={AXIS} interval="preserveStartEnd" minTickGap={8} />
        <YAxis tick={AXIS} width={44} tickFormatter={pct} />
        <Tooltip
          cursor={{ fill: "rgba(36,83,214,0.08)" }}
          formatter={(v, name) => [pct(Number(v)), name]}
          wrapperStyle={{ zIndex: 20 }}
        />
        <Bar
          dataKey="baseline"
          name="Training data"
          fill="#9aa3b2"
          radius={[2, 2, 0, 0]}
          isAnimationActive={false}
        />
        <Bar
          dataKey="live"
          name="Live traffic"
          fill="#2453d6"
          radius={[2, 2, 0, 0]}
          isAnimationActive={false}
        />
      </BarChart>
    </ResponsiveContainer>
  );
}
