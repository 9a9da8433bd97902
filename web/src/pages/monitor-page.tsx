/**
 * Monitor: an app's traffic as the server records it (requests per second, latency percentiles,
 * error rate) over a chosen window, refreshed every few seconds while the page is open. Built to
 * grow: each series is one chart card, and the totals strip takes whatever totals the API sends.
 */
import { useEffect, useState } from "react";
import { useParams } from "react-router";
import { ApiRequestError, seg, unwrap } from "../api/client.ts";
import type { AppDto, AppMetricsDto, MetricsWindow } from "../api/types.ts";
import { Figure, TimeSeries } from "../charts/lazy.tsx";
import { PulseIcon } from "../components/icons.tsx";
import {
  ButtonLink,
  Card,
  EmptyState,
  ErrorBanner,
  Field,
  Loading,
  Stat,
} from "../components/ui.tsx";
import { formatInteger, formatNumber, formatPercent } from "../lib/format.ts";
import { useResource } from "../lib/use-resource.ts";
import { useApi } from "../session/session.tsx";
import { AppHeader } from "./app-nav.tsx";

const WINDOWS: readonly { id: MetricsWindow; label: string }[] = [
  { id: "5m", label: "Last 5 minutes" },
  { id: "15m", label: "Last 15 minutes" },
  { id: "1h", label: "Last hour" },
  { id: "6h", label: "Last 6 hours" },
  { id: "24h", label: "Last 24 hours" },
];

const REFRESH_MS = 5000;

const ms = (v: number) => `${formatNumber(v, v < 10 ? 2 : 0)} ms`;

function timeLabel(t: string | number, windowId: MetricsWindow): string {
  const d = new Date(typeof t === "number" && t < 1e12 ? t * 1000 : t);
  if (Number.isNaN(d.getTime())) return String(t);
  return d.toLocaleTimeString("en", {
    hour: "2-digit",
    minute: "2-digit",
    ...(windowId === "5m" ? { second: "2-digit" } : {}),
    hour12: false,
  });
}

export function MonitorPage() {
  const { app: name = "" } = useParams();
  const api = useApi();
  const [windowId, setWindowId] = useState<MetricsWindow>("15m");
  const [live, setLive] = useState(true);
  const [metrics, setMetrics] = useState<AppMetricsDto>();
  const [error, setError] = useState<unknown>();
  const [updatedAt, setUpdatedAt] = useState<Date>();
  const app = useResource(
    async (signal) => unwrap<AppDto>(await api.get(`/v1/apps/${seg(name)}`, signal), "app"),
    [api, name],
  );

  useEffect(() => {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = async () => {
      try {
        const body = await api.get<AppMetricsDto>(
          `/v1/apps/${seg(name)}/metrics?window=${windowId}`,
          controller.signal,
        );
        setMetrics(body);
        setError(undefined);
        setUpdatedAt(new Date());
      } catch (err) {
        if (controller.signal.aborted) return;
        setError(err);
      }
      if (live && !controller.signal.aborted) timer = setTimeout(tick, REFRESH_MS);
    };
    void tick();
    return () => {
      controller.abort();
      if (timer) clearTimeout(timer);
    };
  }, [api, name, windowId, live]);

  if (app.loading && !app.data) return <Loading label="Loading the app…" />;
  if (app.error || !app.data) {
    return app.error instanceof ApiRequestError && app.error.status === 404 ? (
      <EmptyState
        title={`There is no app named ${name}`}
        action={
          <ButtonLink to="/apps" variant="primary">
            All apps
          </ButtonLink>
        }
      />
    ) : (
      <ErrorBanner title="Could not load the app" error={app.error} onRetry={app.reload} />
    );
  }

  const series = (metrics?.series ?? []).map((p) => ({
    ...p,
    label: timeLabel(p.t, windowId),
    errorPct: p.errorRate * 100,
  }));
  const totals = metrics?.totals;
  const requests = totals?.requests ?? 0;
  const windowLabel = WINDOWS.find((w) => w.id === windowId)?.label.toLowerCase() ?? windowId;

  return (
    <>
      <AppHeader app={app.data} />
      <div className="row" style={{ alignItems: "flex-end" }}>
        <Field label="Time window">
          {(id) => (
            <select
              id={id}
              className="select"
              style={{ width: 200 }}
              value={windowId}
              onChange={(e) => setWindowId(e.target.value as MetricsWindow)}
            >
              {WINDOWS.map((w) => (
                <option key={w.id} value={w.id}>
                  {w.label}
                </option>
              ))}
            </select>
          )}
        </Field>
        <label className="checkbox" style={{ height: 36 }}>
          <input type="checkbox" checked={live} onChange={(e) => setLive(e.target.checked)} />
          Update every {REFRESH_MS / 1000} s
        </label>
        <span className="spacer" />
        {updatedAt ? (
          <span className="muted small row" style={{ gap: 6 }} aria-live="off">
            {live ? <span className="live-dot" aria-hidden="true" /> : null}
            Updated {updatedAt.toLocaleTimeString("en", { hour12: false })}
          </span>
        ) : null}
      </div>
      {error ? <ErrorBanner title="Could not load the app's metrics" error={error} /> : null}
      {!metrics && !error ? <Loading label="Loading metrics…" /> : null}
      {metrics ? (
        <>
          <div className="stats" data-testid="totals">
            <Stat label="Requests" value={formatInteger(requests)} hint={windowLabel} />
            <Stat
              label="Requests per second"
              value={formatNumber(totals?.rps ?? 0, 2)}
              hint="average"
            />
            <Stat
              label="Error rate"
              value={formatPercent((totals?.errorRate ?? 0) * 100, 2)}
              tone={(totals?.errorRate ?? 0) > 0.01 ? "bad" : undefined}
              hint={`${formatInteger(totals?.errors ?? 0)} refused or failed, ${formatInteger(totals?.serverErrors ?? 0)} by the server`}
            />
            <Stat label="p50 latency" value={totals?.p50 != null ? ms(totals.p50) : "—"} />
            <Stat label="p95 latency" value={totals?.p95 != null ? ms(totals.p95) : "—"} />
            <Stat label="p99 latency" value={totals?.p99 != null ? ms(totals.p99) : "—"} />
          </div>
          {requests === 0 ? (
            <Card>
              <EmptyState
                title={`No requests in the ${windowLabel}`}
                icon={<PulseIcon />}
                action={
                  <ButtonLink to={`/apps/${seg(name)}`} variant="primary">
                    Try the app
                  </ButtonLink>
                }
              >
                Charts fill in as soon as the app answers requests: use the form on its overview, or
                call the endpoint from your code.
              </EmptyState>
            </Card>
          ) : (
            <div className="grid-2">
              <Card title="Requests per second">
                <Figure label={`Requests per second over the ${windowLabel}`}>
                  <TimeSeries
                    data={series}
                    lines={[{ key: "rps", label: "Requests/s", color: "#2453d6" }]}
                    format={(v) => formatNumber(v, 2)}
                  />
                </Figure>
              </Card>
              <Card title="Latency">
                <Figure
                  label={`Latency percentiles over the ${windowLabel}`}
                  caption={
                    <span className="legend">
                      <span>
                        <span className="legend-swatch" style={{ background: "var(--chart-2)" }} />
                        p50
                      </span>
                      <span>
                        <span className="legend-swatch" style={{ background: "var(--chart-1)" }} />
                        p95
                      </span>
                      <span>
                        <span className="legend-swatch" style={{ background: "var(--chart-3)" }} />
                        p99
                      </span>
                    </span>
                  }
                >
                  <TimeSeries
                    data={series}
                    lines={[
                      { key: "p50", label: "p50", color: "#12a594" },
                      { key: "p95", label: "p95", color: "#2453d6" },
                      { key: "p99", label: "p99", color: "#e5891b" },
                    ]}
                    format={ms}
                  />
                </Figure>
              </Card>
              <Card title="Error rate">
                <Figure label={`Error rate over the ${windowLabel}`}>
                  <TimeSeries
                    data={series}
                    lines={[{ key: "errorPct", label: "Errors", color: "#c2303c" }]}
                    format={(v) => `${formatNumber(v, 2)}%`}
                  />
                </Figure>
              </Card>
              <Card title="Requests">
                <Figure label={`Requests per interval over the ${windowLabel}`}>
                  <TimeSeries
                    data={series}
                    lines={[{ key: "requests", label: "Requests", color: "#2453d6" }]}
                    format={(v) => formatInteger(v)}
                  />
                </Figure>
              </Card>
            </div>
          )}
        </>
      ) : null}
    </>
  );
}
