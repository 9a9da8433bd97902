/**
 * Traffic as the server counted it: totals for the window, requests per second stacked by how
 * they ended, latency percentiles (with the model's own share), and what went wrong by kind.
 */
import { seg } from "../../api/client.ts";
import type { AppSeriesDto } from "../../api/types.ts";
import { Figure, StackedSeries, TimeSeries } from "../../charts/lazy.tsx";
import { PulseIcon } from "../../components/icons.tsx";
import { ButtonLink, Card, EmptyState, Stat } from "../../components/ui.tsx";
import { formatInteger, formatNumber, formatPercent } from "../../lib/format.ts";
import {
  ERROR_KINDS,
  errorRows,
  errorTotals,
  formatMs,
  latencyRows,
  OUTCOME_KINDS,
  trafficRows,
  windowPhrase,
} from "./monitor-data.ts";
import { Legend, SectionEmpty } from "./parts.tsx";

const LATENCY_LINES = [
  { key: "p50", label: "p50", color: "#12a594" },
  { key: "p95", label: "p95", color: "#2453d6" },
  { key: "p99", label: "p99", color: "#e5891b" },
  { key: "modelP95", label: "Model only, p95", color: "#6941c6", dashed: true },
] as const;

/** The window's totals: what a person reads first. */
export function TrafficTotals({ series }: { series: AppSeriesDto }) {
  const t = series.totals;
  const failed = t.requests - t.outcomes.ok;
  const serverSide = t.outcomes.error + t.outcomes.timeout + t.outcomes.shed;
  return (
    <div className="stats" data-testid="totals">
      <Stat
        label="Requests"
        value={formatInteger(t.requests)}
        hint={`${windowPhrase(series.window)} · ${formatInteger(t.cacheHits)} from the cache`}
      />
      <Stat label="Requests per second" value={formatNumber(t.rps, 2)} hint="average" />
      <Stat
        label="Error rate"
        value={formatPercent(t.errorRate * 100, 2)}
        tone={t.errorRate > 0.01 ? "bad" : undefined}
        hint={`${formatInteger(failed)} refused or failed, ${formatInteger(serverSide)} by the server`}
      />
      <Stat label="p50 latency" value={formatMs(t.p50)} />
      <Stat
        label="p95 latency"
        value={formatMs(t.p95)}
        hint={`model only: ${formatMs(t.modelP95)}`}
      />
      <Stat label="p99 latency" value={formatMs(t.p99)} />
    </div>
  );
}

export function NoTraffic({ app, series }: { app: string; series: AppSeriesDto }) {
  return (
    <Card>
      <EmptyState
        title={`No requests in the ${windowPhrase(series.window)}${series.version !== null ? ` for version ${series.version}` : ""}`}
        icon={<PulseIcon />}
        action={
          <ButtonLink to={`/apps/${seg(app)}`} variant="primary">
            Try the app
          </ButtonLink>
        }
      >
        The charts fill in as soon as the app answers requests: use the form on its overview, or
        call the endpoint from your code. A longer time window may show older traffic.
      </EmptyState>
    </Card>
  );
}

export function TrafficCard({ series }: { series: AppSeriesDto }) {
  const phrase = windowPhrase(series.window);
  return (
    <Card
      id="traffic"
      title="Traffic"
      description="Requests per second, coloured by how each request ended."
    >
      <Figure
        label={`Requests per second by outcome over the ${phrase}`}
        caption={<Legend items={OUTCOME_KINDS} />}
      >
        <StackedSeries
          variant="area"
          data={trafficRows(series)}
          series={OUTCOME_KINDS.map((o) => ({ key: o.kind, label: o.label, color: o.color }))}
          format={(v) => formatNumber(v, 2)}
        />
      </Figure>
    </Card>
  );
}

export function LatencyCard({ series }: { series: AppSeriesDto }) {
  return (
    <Card
      id="latency"
      title="Latency"
      description="How long answers took, received to sent; the dashed line is the model's own time."
    >
      <Figure
        label={`Latency percentiles over the ${windowPhrase(series.window)}`}
        caption={<Legend items={LATENCY_LINES} />}
      >
        <TimeSeries data={latencyRows(series)} lines={LATENCY_LINES} format={formatMs} />
      </Figure>
    </Card>
  );
}

export function ErrorsCard({ series }: { series: AppSeriesDto }) {
  const totals = errorTotals(series);
  return (
    <Card
      id="errors"
      title="Errors by kind"
      description="Requests refused or failed in each interval, by why."
    >
      {totals.length === 0 ? (
        <SectionEmpty title="No errors in this window">
          Every request in the {windowPhrase(series.window)} was answered with a prediction.
        </SectionEmpty>
      ) : (
        <>
          <Figure
            label={`Refused or failed requests by kind over the ${windowPhrase(series.window)}`}
            caption={
              <Legend
                items={ERROR_KINDS.filter((k) => totals.some((t) => t.info.kind === k.kind))}
              />
            }
          >
            <StackedSeries
              variant="bar"
              integer
              data={errorRows(series)}
              series={ERROR_KINDS.map((o) => ({ key: o.kind, label: o.label, color: o.color }))}
              format={(v) => formatInteger(v)}
            />
          </Figure>
          <table className="table table-compact" aria-label="Errors by kind in the window">
            <thead>
              <tr>
                <th scope="col">Kind</th>
                <th scope="col">Meaning</th>
                <th scope="col" className="num">
                  Requests
                </th>
              </tr>
            </thead>
            <tbody>
              {totals.map(({ info, count }) => (
                <tr key={info.kind}>
                  <th scope="row" className="row-head">
                    <span className="legend-swatch" style={{ background: info.color }} />
                    {info.label}
                  </th>
                  <td className="muted">{info.meaning}</td>
                  <td className="num">{formatInteger(count)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </Card>
  );
}
