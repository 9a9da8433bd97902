/**
 * Releases: how a new version of an app reaches production, on one page. Which version each
 * environment runs, a promote button (staging, or production by canary, shadow, A/B or all at
 * once) and a rollback that takes seconds; the release rolling out now, live (refreshed every
 * 2 s while one is active, every 10 s otherwise so a release started from the CLI shows up);
 * the golden cases every candidate is checked against; and the history of every release. A lazy
 * chunk of its own, like the monitor.
 */
import { type ReactNode, useRef, useState } from "react";
import { useParams } from "react-router";
import { type ApiClient, seg, unwrap } from "../api/client.ts";
import { getEnvironments, getReleases, listGoldenCases, rollback } from "../api/releases.ts";
import type {
  AppDetailDto,
  AppVersionDto,
  EnvironmentsDto,
  PromoteResponse,
  ReleasesDto,
} from "../api/types.ts";
import { Button, Card, ConfirmDialog, ErrorBanner, Loading, Notice } from "../components/ui.tsx";
import { formatWhen } from "../lib/format.ts";
import { usePolling } from "../lib/use-polling.ts";
import { useResource } from "../lib/use-resource.ts";
import { useApi } from "../session/session.tsx";
import { appLoadState } from "./app-load-state.tsx";
import { AppHeader } from "./app-nav.tsx";
import { type Part, PartView } from "./monitor/parts.tsx";
import { GoldenCases } from "./releases/golden-cases.tsx";
import { LivePanel } from "./releases/live-panel.tsx";
import { PromoteDialog } from "./releases/promote-dialog.tsx";
import { ReleaseHistory } from "./releases/release-history.tsx";
import { previousProduction, strategyTitle } from "./releases/releases-data.ts";
import "./releases/releases.css";

/** While a release is active the panel follows it closely; otherwise a slow look for new ones. */
const ACTIVE_MS = 2000;
const IDLE_MS = 10_000;

interface Snapshot {
  readonly environments: Part<EnvironmentsDto>;
  readonly releases: Part<ReleasesDto>;
}

async function part<T>(
  load: () => Promise<T>,
  signal: AbortSignal,
  previous: Part<T> | undefined,
): Promise<Part<T>> {
  try {
    return { data: await load() };
  } catch (error) {
    if (signal.aborted) throw error;
    return { ...(previous?.data !== undefined ? { data: previous.data } : {}), error };
  }
}

export function ReleasesPage() {
  const { app: name = "" } = useParams();
  const api = useApi();
  const app = useResource(
    async (signal) => unwrap<AppDetailDto>(await api.get(`/v1/apps/${seg(name)}`, signal), "app"),
    [api, name],
  );
  const waiting = appLoadState(name, app);
  if (waiting || !app.data) return waiting;
  return <Releases app={app.data} onAppChanged={app.reload} />;
}

function loadSnapshot(api: ApiClient, name: string) {
  return async (signal: AbortSignal, previous: Snapshot | undefined): Promise<Snapshot> => {
    const [environments, releases] = await Promise.all([
      part(() => getEnvironments(api, name, signal), signal, previous?.environments),
      part(() => getReleases(api, name, signal), signal, previous?.releases),
    ]);
    return { environments, releases };
  };
}

function Releases({ app, onAppChanged }: { app: AppDetailDto; onAppChanged: () => void }) {
  const api = useApi();
  const name = app.name;
  // Bumped after a change the page made, so the snapshot reloads at once, not at the next tick.
  const [nonce, setNonce] = useState(0);
  const [active, setActive] = useState(false);
  const polled = usePolling<Snapshot>(loadSnapshot(api, name), [api, name, nonce], {
    intervalMs: active ? ACTIVE_MS : IDLE_MS,
    live: true,
  });
  // A reload after a change starts empty (use-polling drops data of other deps): keep showing
  // the last snapshot of this app until the new one arrives.
  const last = useRef<{ name: string; data: Snapshot } | undefined>(undefined);
  if (polled.data) last.current = { name, data: polled.data };
  const snapshot = polled.data ?? (last.current?.name === name ? last.current.data : undefined);
  const live = snapshot?.releases.data?.active ?? null;
  if ((live !== null) !== active) setActive(live !== null);

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
  const golden = useResource((signal) => listGoldenCases(api, name, signal), [api, name]);

  const [promoting, setPromoting] = useState<"production" | "staging" | null>(null);
  const [promoted, setPromoted] = useState<PromoteResponse>();
  const [confirmRollback, setConfirmRollback] = useState(false);
  const [rollingBack, setRollingBack] = useState(false);
  const [rollbackError, setRollbackError] = useState<unknown>();
  const [rolledBack, setRolledBack] = useState<string>();

  const refresh = () => setNonce((n) => n + 1);
  const env = snapshot?.environments.data;
  const previous = env ? previousProduction(env) : null;
  const canRollback = live !== null || previous !== null;

  const doRollback = async () => {
    setRollingBack(true);
    setRollbackError(undefined);
    try {
      const r = await rollback(api, name);
      setRolledBack(
        r.deployment
          ? `Production runs v${r.deployment.version} again.`
          : "Production was rolled back.",
      );
      setPromoted(undefined);
      setConfirmRollback(false);
      refresh();
      onAppChanged();
    } catch (error) {
      setRollbackError(error);
      setConfirmRollback(false);
    } finally {
      setRollingBack(false);
    }
  };

  const stableName =
    live && live.release.stableVersion !== null ? `v${live.release.stableVersion}` : null;
  const rollbackWords = live
    ? `The release of v${live.release.candidateVersion} stops and all traffic goes back to ${stableName ?? "the stable version"} at once. The rollback is recorded in the history and raises an alert.`
    : `Production goes back to v${previous ?? "?"} at once; v${env?.production?.version ?? "?"} stays a version of the app you can release again.`;

  return (
    <>
      <AppHeader app={app} />
      <Card
        id="environments"
        title="Environments"
        description="Every change is a new version. It goes to staging first, where it is tried and checked, then to production by a release you can watch and stop."
        actions={
          <>
            <Button onClick={() => setPromoting("staging")} disabled={!versions.data}>
              Put a version in staging
            </Button>
            <Button
              variant="primary"
              onClick={() => setPromoting("production")}
              disabled={!versions.data}
            >
              Promote to production…
            </Button>
          </>
        }
      >
        <PartView part={snapshot?.environments} what="the environments">
          {(e) => (
            <div className="envs">
              <Environment
                title="Production"
                version={e.production?.version ?? null}
                since={e.production?.since}
                hint="Answers every caller"
                testId="env-production"
              />
              <Environment
                title="Staging"
                version={e.staging?.version ?? null}
                since={e.staging?.since}
                hint={
                  <>
                    Answers at <code>/v1/apps/{name}/staging/predict</code>
                  </>
                }
                testId="env-staging"
              />
              <div className="env env-actions">
                <span className="muted small">
                  {live
                    ? `v${live.release.candidateVersion} is being released`
                    : previous !== null
                      ? `Before v${e.production?.version}, production ran v${previous}`
                      : "Production has run no other version"}
                </span>
                <Button
                  variant="danger"
                  onClick={() => setConfirmRollback(true)}
                  disabled={!canRollback}
                >
                  Roll back production
                </Button>
              </div>
            </div>
          )}
        </PartView>
        {versions.error ? (
          <ErrorBanner title="Could not load the versions" error={versions.error} />
        ) : null}
        {rollbackError ? (
          <ErrorBanner title="Production was not rolled back" error={rollbackError} />
        ) : null}
        {rolledBack ? (
          <Notice tone="success" title="Rolled back">
            {rolledBack}
          </Notice>
        ) : null}
        {promoted && !stale(promoted, live?.release.id) ? (
          <PromotedNotice response={promoted} app={name} />
        ) : null}
      </Card>

      {snapshot?.releases.error ? (
        <ErrorBanner title="Could not load the releases" error={snapshot.releases.error} />
      ) : null}
      {live ? (
        <LivePanel
          app={name}
          live={live}
          updatedAt={polled.updatedAt}
          onChanged={() => {
            setPromoted(undefined);
            refresh();
            onAppChanged();
          }}
        />
      ) : null}

      <GoldenCases app={name} cases={golden} versions={versions.data ?? []} environments={env} />

      {snapshot?.releases.data ? (
        <ReleaseHistory
          releases={snapshot.releases.data.releases}
          deployments={env?.history ?? []}
        />
      ) : !snapshot ? (
        <Loading label="Loading the releases…" inline />
      ) : null}

      <PromoteDialog
        app={name}
        open={promoting !== null}
        versions={versions.data ?? []}
        environments={env}
        initialTarget={promoting ?? "production"}
        onClose={() => setPromoting(null)}
        onPromoted={(response) => {
          setPromoting(null);
          setPromoted(response);
          setRolledBack(undefined);
          refresh();
          onAppChanged();
        }}
      />
      <ConfirmDialog
        open={confirmRollback}
        title="Roll back production?"
        confirmLabel="Roll back"
        danger
        busy={rollingBack}
        onConfirm={() => void doRollback()}
        onCancel={() => setConfirmRollback(false)}
      >
        {rollbackWords}
      </ConfirmDialog>
    </>
  );
}

function Environment({
  title,
  version,
  since,
  hint,
  testId,
}: {
  title: string;
  version: number | null;
  since: string | undefined;
  hint: ReactNode;
  testId: string;
}) {
  return (
    <div className="env" data-testid={testId}>
      <div className="muted small">{title}</div>
      <div className="env-version">{version === null ? "Nothing yet" : `v${version}`}</div>
      <div className="muted small">
        {since ? `since ${formatWhen(since)} · ` : ""}
        {hint}
      </div>
    </div>
  );
}

/** A "release started" notice outlives its release once that release is no longer active. */
function stale(response: PromoteResponse, activeId: string | undefined): boolean {
  const r = response.release;
  return r !== null && r.strategy !== "direct" && r.id !== activeId;
}

function PromotedNotice({ response, app }: { response: PromoteResponse; app: string }) {
  const golden = response.golden
    ? ` Golden cases: ${response.golden.passed} of ${response.golden.total} passed.`
    : "";
  if (response.environment === "staging") {
    return (
      <Notice tone="success" title={`v${response.deployment?.version ?? "?"} is in staging`}>
        It answers at <code>/v1/apps/{app}/staging/predict</code>.{golden}
      </Notice>
    );
  }
  const r = response.release;
  if (!r || r.strategy === "direct") {
    return (
      <Notice
        tone="success"
        title={`v${response.deployment?.version ?? r?.candidateVersion ?? "?"} is live in production`}
      >
        Every request is answered by it now.{golden}
      </Notice>
    );
  }
  return (
    <Notice
      tone="success"
      title={`The ${strategyTitle(r.strategy).toLowerCase()} of v${r.candidateVersion} has started`}
    >
      Follow it below; you can abort it at any time.{golden}
    </Notice>
  );
}
