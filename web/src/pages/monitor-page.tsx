/**
 * Monitor: everything the server watches of one app, on one page: service levels and the alerts
 * firing now, traffic by outcome, latency, errors by kind, the server's resources, drift per
 * feature, live quality per version (outcomes) and the runtime's protections. The window and
 * version live in the address (so a link shows the same view); the page refreshes every few
 * seconds while visible. A lazy chunk of its own: the first page never loads it (nor recharts).
 */
import { useMemo, useState } from "react";
import { useParams, useSearchParams } from "react-router";
import { type ApiClient, seg, unwrap } from "../api/client.ts";
import type {
  AppDetailDto,
  AppSeriesDto,
  AppSloDto,
  AppVersionDto,
  DriftReportDto,
  OutcomeReportDto,
  ProcessSeriesDto,
  SeriesWindow,
} from "../api/types.ts";
import { ErrorBanner, Field, Loading } from "../components/ui.tsx";
import { usePolling } from "../lib/use-polling.ts";
import { useResource } from "../lib/use-resource.ts";
import { useApi } from "../session/session.tsx";
import { appLoadState } from "./app-load-state.tsx";
import { AppHeader } from "./app-nav.tsx";
import { DriftSection, type DriftWindow } from "./monitor/drift-section.tsx";
import {
  driftSettings,
  isSeriesWindow,
  outcomeWindow,
  processWindow,
  SERIES_WINDOWS,
} from "./monitor/monitor-data.ts";
import { OutcomesSection } from "./monitor/outcomes-section.tsx";
import { type Part, PartView } from "./monitor/parts.tsx";
import { ResourcesSection } from "./monitor/resources-section.tsx";
import { RuntimeSection, type RuntimeStateDto } from "./monitor/runtime-section.tsx";
import { FiringAlerts, SloSection } from "./monitor/slo-section.tsx";
import {
  ErrorsCard,
  LatencyCard,
  NoTraffic,
  TrafficCard,
  TrafficTotals,
} from "./monitor/traffic-section.tsx";
import "./monitor/monitor.css";

const REFRESH_MS = 5000;
const DEFAULT_WINDOW: SeriesWindow = "15m";

/** Everything the page shows, loaded together each refresh; each part fails on its own. */
interface Snapshot {
  readonly series: Part<AppSeriesDto>;
  readonly system: Part<ProcessSeriesDto>;
  readonly drift: Part<DriftReportDto>;
  readonly outcomes: Part<OutcomeReportDto>;
  readonly slo: Part<AppSloDto>;
  readonly runtime: Part<RuntimeStateDto>;
}

async function part<T>(
  api: ApiClient,
  path: string,
  signal: AbortSignal,
  previous: Part<T> | undefined,
): Promise<Part<T>> {
  try {
    return { data: await api.get<T>(path, signal) };
  } catch (error) {
    // A cancelled load is nobody's failure: let the poller drop it.
    if (signal.aborted) throw error;
    return { ...(previous?.data !== undefined ? { data: previous.data } : {}), error };
  }
}

const SECTIONS = [
  ["service-levels", "Service levels"],
  ["traffic", "Traffic"],
  ["latency", "Latency"],
  ["errors", "Errors"],
  ["runtime", "Runtime"],
  ["resources", "Resources"],
  ["drift", "Drift"],
  ["outcomes", "Outcomes"],
] as const;

export function MonitorPage() {
  const { app: name = "" } = useParams();
  const api = useApi();
  const app = useResource(
    async (signal) => unwrap<AppDetailDto>(await api.get(`/v1/apps/${seg(name)}`, signal), "app"),
    [api, name],
  );
  const waiting = appLoadState(name, app);
  if (waiting || !app.data) return waiting;
  return <Monitor app={app.data} />;
}

function Monitor({ app }: { app: AppDetailDto }) {
  const api = useApi();
  const [params, setParams] = useSearchParams();
  const [live, setLive] = useState(true);
  const [driftWindow, setDriftWindow] = useState<DriftWindow>("time");
  const rawWindow = params.get("window") ?? "";
  const windowId: SeriesWindow = isSeriesWindow(rawWindow) ? rawWindow : DEFAULT_WINDOW;
  const rawVersion = Number(params.get("version"));
  const version = Number.isInteger(rawVersion) && rawVersion > 0 ? rawVersion : null;
  const name = app.name;

  const versions = useResource(
    async (signal) =>
      (
        await api.get<{ versions: readonly AppVersionDto[] }>(
          `/v1/apps/${seg(name)}/versions`,
          signal,
        )
      ).versions,
    [api, name],
  );

  const snapshot = usePolling<Snapshot>(
    async (signal, previous) => {
      const base = `/v1/apps/${seg(name)}`;
      const v = version !== null ? `&version=${version}` : "";
      const [series, system, drift, outcomes, slo, runtime] = await Promise.all([
        part<AppSeriesDto>(api, `${base}/series?window=${windowId}${v}`, signal, previous?.series),
        part<ProcessSeriesDto>(
          api,
          `/v1/system/series?window=${processWindow(windowId)}`,
          signal,
          previous?.system,
        ),
        part<DriftReportDto>(
          api,
          `${base}/drift?window=${driftWindow}${v}`,
          signal,
          previous?.drift,
        ),
        part<OutcomeReportDto>(
          api,
          `${base}/outcomes?window=${outcomeWindow(windowId)}`,
          signal,
          previous?.outcomes,
        ),
        part<AppSloDto>(api, `${base}/slo`, signal, previous?.slo),
        part<RuntimeStateDto>(api, `${base}/runtime`, signal, previous?.runtime),
      ]);
      return { series, system, drift, outcomes, slo, runtime };
    },
    [api, name, windowId, version, driftWindow],
    { intervalMs: REFRESH_MS, live },
  );

  const versionChoices = useMemo(() => {
    const all = new Set<number>(versions.data?.map((v) => v.version) ?? [app.version]);
    for (const v of snapshot.data?.series.data?.versions ?? []) all.add(v);
    if (version !== null) all.add(version);
    return [...all].sort((a, b) => b - a);
  }, [versions.data, snapshot.data?.series.data?.versions, app.version, version]);

  const setParam = (key: string, value: string | null) => {
    setParams(
      (p) => {
        const next = new URLSearchParams(p);
        if (value === null) next.delete(key);
        else next.set(key, value);
        return next;
      },
      { replace: true },
    );
  };

  const data = snapshot.data;
  const traffic =
    data?.series.data && data.series.data.totals.requests > 0 ? data.series.data : undefined;
  const settings = driftSettings(app.spec);
  return (
    <>
      <AppHeader app={app} />
      <div className="row monitor-controls" style={{ alignItems: "flex-end" }}>
        <Field label="Time window">
          {(id) => (
            <select
              id={id}
              className="select"
              style={{ width: 190 }}
              value={windowId}
              onChange={(e) =>
                setParam("window", e.target.value === DEFAULT_WINDOW ? null : e.target.value)
              }
            >
              {SERIES_WINDOWS.map((w) => (
                <option key={w.id} value={w.id}>
                  {w.label}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Version">
          {(id) => (
            <select
              id={id}
              className="select"
              style={{ width: 190 }}
              value={version === null ? "all" : String(version)}
              onChange={(e) =>
                setParam("version", e.target.value === "all" ? null : e.target.value)
              }
            >
              <option value="all">All versions</option>
              {versionChoices.map((v) => (
                <option key={v} value={String(v)}>
                  Version {v}
                  {v === app.version ? " (live)" : ""}
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
        {snapshot.updatedAt ? (
          <span className="muted small row" style={{ gap: 6 }} aria-live="off">
            {live ? <span className="live-dot" aria-hidden="true" /> : null}
            Updated {snapshot.updatedAt.toLocaleTimeString("en", { hour12: false })}
          </span>
        ) : null}
      </div>
      <nav className="monitor-toc" aria-label="Monitor sections">
        {SECTIONS.map(([id, label]) => (
          <a key={id} href={`#${id}`}>
            {label}
          </a>
        ))}
      </nav>
      {snapshot.error ? (
        <ErrorBanner title="Could not refresh the monitor" error={snapshot.error} />
      ) : null}
      {!data ? (
        <Loading label="Loading the monitor…" />
      ) : (
        <>
          <FiringAlerts slo={data.slo.data} />
          <SloSection part={data.slo} app={name} />
          <PartView part={data.series} what="the app's traffic">
            {(series) =>
              series.totals.requests === 0 ? (
                <div id="traffic">
                  <NoTraffic app={name} series={series} />
                </div>
              ) : (
                <>
                  <TrafficTotals series={series} />
                  <div className="grid-2">
                    <TrafficCard series={series} />
                    <LatencyCard series={series} />
                  </div>
                </>
              )
            }
          </PartView>
          <div className={traffic ? "grid-2" : "stack"}>
            {traffic ? <ErrorsCard series={traffic} /> : null}
            <RuntimeSection part={data.runtime} />
          </div>
          <ResourcesSection part={data.system} asked={windowId} />
          <DriftSection
            part={data.drift}
            window={driftWindow}
            onWindow={setDriftWindow}
            settings={settings}
          />
          <OutcomesSection part={data.outcomes} app={app} asked={windowId} />
        </>
      )}
    </>
  );
}
