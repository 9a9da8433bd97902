/**
 * Resources of the server process answering: CPU, memory, event-loop delay and garbage
 * collection. A slow app is often a busy process rather than a slow model; these say which.
 */
import type { ReactNode } from "react";
import type { ProcessSeriesDto, SeriesWindow } from "../../api/types.ts";
import { Figure, TimeSeries } from "../../charts/lazy.tsx";
import { Card } from "../../components/ui.tsx";
import { formatNumber } from "../../lib/format.ts";
import { formatMs, latestProcess, processRows, windowPhrase } from "./monitor-data.ts";
import { Legend, type Part, PartView, SectionEmpty } from "./parts.tsx";

const mb = (v: number) => `${formatNumber(v, v < 10 ? 1 : 0)} MB`;
const pct = (v: number) => `${formatNumber(v, v < 10 ? 1 : 0)}%`;

function Chart({
  title,
  now,
  label,
  children,
}: {
  title: string;
  now: string;
  label: string;
  children: ReactNode;
}) {
  return (
    <div className="stack" style={{ gap: 6 }}>
      <div className="row" style={{ justifyContent: "space-between" }}>
        <h3>{title}</h3>
        <span className="resource-now" title={`${title} now`}>
          {now}
        </span>
      </div>
      <Figure label={label}>{children}</Figure>
    </div>
  );
}

function Resources({ series, asked }: { series: ProcessSeriesDto; asked: SeriesWindow }) {
  const rows = processRows(series);
  const last = latestProcess(series);
  const phrase = windowPhrase(series.window);
  if (!last) {
    return (
      <SectionEmpty title="No measurements yet">
        The server measures itself every few seconds; the first figures appear shortly.
      </SectionEmpty>
    );
  }
  return (
    <>
      {asked !== series.window ? (
        <p className="muted small">
          The server keeps its own measurements for an hour, so these cover the {phrase}.
        </p>
      ) : null}
      <div className="grid-2 resources">
        <Chart title="CPU" now={pct(last.cpuPercent)} label={`CPU use over the ${phrase}`}>
          <TimeSeries
            height={150}
            data={rows}
            lines={[{ key: "cpu", label: "CPU", color: "#2453d6" }]}
            format={pct}
          />
        </Chart>
        <Chart
          title="Memory"
          now={mb(last.rssMb)}
          label={`Memory over the ${phrase}: resident and JavaScript heap`}
        >
          <TimeSeries
            height={150}
            data={rows}
            lines={[
              { key: "rss", label: "Resident", color: "#2453d6" },
              { key: "heap", label: "Heap used", color: "#12a594" },
            ]}
            format={mb}
          />
          <Legend
            items={[
              { label: "Resident (RSS)", color: "#2453d6" },
              { label: "JavaScript heap", color: "#12a594" },
            ]}
          />
        </Chart>
        <Chart
          title="Event-loop delay (p99)"
          now={formatMs(last.eventLoopP99Ms)}
          label={`Event-loop delay, 99th percentile, over the ${phrase}`}
        >
          <TimeSeries
            height={150}
            data={rows}
            lines={[{ key: "loop", label: "p99 delay", color: "#e5891b" }]}
            format={formatMs}
          />
        </Chart>
        <Chart
          title="Garbage collection"
          now={formatMs(last.gcPauseMs)}
          label={`Time paused for garbage collection per interval over the ${phrase}`}
        >
          <TimeSeries
            height={150}
            data={rows}
            lines={[{ key: "gc", label: "GC pause", color: "#6941c6" }]}
            format={formatMs}
          />
        </Chart>
      </div>
    </>
  );
}

export function ResourcesSection({
  part,
  asked,
}: {
  part: Part<ProcessSeriesDto> | undefined;
  asked: SeriesWindow;
}) {
  return (
    <Card
      id="resources"
      title="Resources"
      description="This server process (each replica has its own): CPU, memory, event-loop delay and garbage collection."
    >
      <PartView part={part} what="the server's resources">
        {(series) => <Resources series={series} asked={asked} />}
      </PartView>
    </Card>
  );
}
