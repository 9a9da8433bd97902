/**
 * The release rolling out now: what it does in one sentence, the candidate's share of traffic
 * as a bar, how long until the next check, every gate with its verdict and its value against
 * its limit, each version's traffic in the step, a shadow's comparison or an A/B test's
 * results, and the buttons a person needs (approve, abort, both confirmed where they change
 * production). Refreshed by the page every 2 s while a release is active.
 */
import { useState } from "react";
import { abort, approve } from "../../api/releases.ts";
import type { GateDto, ReleaseLiveDto } from "../../api/types.ts";
import { Badge, Button, Card, ConfirmDialog, ErrorBanner } from "../../components/ui.tsx";
import { formatInteger, formatNumber, formatPercent, formatWhen } from "../../lib/format.ts";
import { useApi } from "../../session/session.tsx";
import { AbResults } from "./ab-results.tsx";
import {
  durationWords,
  eventLabel,
  eventsNewestFirst,
  eventTone,
  gateLimitWords,
  gateStatusInfo,
  gateTitle,
  gateValueWords,
  planWords,
  releaseStateInfo,
  stepPosition,
  strategySentence,
  strategyTitle,
} from "./releases-data.ts";
import { ShadowComparisonView } from "./shadow-comparison.tsx";
import { ShareBar } from "./share-bar.tsx";

export function LivePanel({
  app,
  live,
  updatedAt,
  onChanged,
}: {
  app: string;
  live: ReleaseLiveDto;
  updatedAt: Date | undefined;
  /** After approve or abort: the page reloads at once instead of at the next poll. */
  onChanged: () => void;
}) {
  const api = useApi();
  const { release } = live;
  const state = releaseStateInfo(release.state);
  const v = `v${release.candidateVersion}`;
  const stable =
    release.stableVersion !== null ? `v${release.stableVersion}` : "the current version";
  const [confirm, setConfirm] = useState<"abort" | "approve" | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();

  const act = async (what: "abort" | "approve") => {
    setBusy(true);
    setError(undefined);
    try {
      await (what === "abort" ? abort(api, app) : approve(api, app));
      setConfirm(null);
      onChanged();
    } catch (e) {
      setError(e);
      setConfirm(null);
    } finally {
      setBusy(false);
    }
  };

  const canary = release.strategy === "canary";
  const decides = release.strategy === "shadow" || release.strategy === "ab";
  const canApprove = release.state === "paused" || decides;
  const position = stepPosition(release);
  const nextStep = release.plan.steps[release.stepIndex + 1];
  const approveLabel = decides
    ? `Promote ${v} to all traffic`
    : `Approve: go on to ${nextStep ?? 100}%`;

  return (
    <Card
      id="live"
      title={
        <span className="row" style={{ gap: 8 }}>
          {v} is being released · {strategyTitle(release.strategy)}
          <Badge tone={state.tone}>{state.label}</Badge>
        </span>
      }
      description={strategySentence(release.strategy, planWords(release))}
      actions={
        updatedAt ? (
          <span
            className="muted small row nowrap"
            style={{ gap: 6, flexWrap: "nowrap" }}
            aria-live="off"
          >
            <span className="live-dot" aria-hidden="true" />
            Updated {updatedAt.toLocaleTimeString("en", { hour12: false })}
          </span>
        ) : null
      }
    >
      <div data-testid="live-release" className="stack" style={{ gap: 16 }}>
        <ShareBar
          percent={release.percent}
          candidate={release.candidateVersion}
          stable={release.stableVersion}
          steps={canary ? release.plan.steps : []}
          mirrored={release.strategy === "shadow"}
        />
        <p data-testid="live-status">
          {canary ? (
            <>
              Step {position.step} of {position.of}
              {release.state === "paused"
                ? `: its checks passed, and it waits for your approval before ${nextStep ?? 100}%.`
                : live.secondsLeft !== null
                  ? `: next check in ${durationWords(live.secondsLeft)}.`
                  : "."}
            </>
          ) : decides ? (
            `Started ${formatWhen(release.createdAt)}. ${v} reaches all traffic only when you promote it.`
          ) : (
            `Started ${formatWhen(release.createdAt)}.`
          )}
          {release.reason ? <span className="muted"> {release.reason}</span> : null}
        </p>
        <div className="row">
          {canApprove ? (
            <Button variant="primary" onClick={() => setConfirm("approve")}>
              {approveLabel}
            </Button>
          ) : null}
          <Button variant="danger" onClick={() => setConfirm("abort")}>
            Abort the release
          </Button>
        </div>
        {error ? <ErrorBanner title="The release did not change" error={error} /> : null}

        {live.gates.length > 0 ? (
          <GatesTable gates={live.gates} />
        ) : canary ? (
          <p className="muted">
            The checks of this step are judged for the first time in a moment.
          </p>
        ) : null}
        <TrafficTable live={live} />
        {live.shadow ? (
          <section className="stack" style={{ gap: 8 }}>
            <h3>Compared with {stable}</h3>
            <ShadowComparisonView
              shadow={live.shadow}
              candidate={release.candidateVersion}
              stable={release.stableVersion}
            />
          </section>
        ) : null}
        {live.ab ? (
          <section className="stack" style={{ gap: 8 }}>
            <h3>A/B results</h3>
            <AbResults
              ab={live.ab}
              candidate={release.candidateVersion}
              stable={release.stableVersion}
            />
          </section>
        ) : null}
        {release.events.length > 0 ? (
          <section className="stack" style={{ gap: 8 }}>
            <h3>What happened so far</h3>
            <EventList events={release.events} label="Events of the release in progress" />
          </section>
        ) : null}
      </div>

      <ConfirmDialog
        open={confirm === "abort"}
        title={`Abort the release of ${v}?`}
        confirmLabel="Abort the release"
        danger
        busy={busy}
        onConfirm={() => void act("abort")}
        onCancel={() => setConfirm(null)}
      >
        All traffic goes back to {stable} at once. {v} stays a version of the app: you can release
        it again later.
      </ConfirmDialog>
      <ConfirmDialog
        open={confirm === "approve"}
        title={decides ? `Promote ${v} to all traffic?` : `Go on to ${nextStep ?? 100}%?`}
        confirmLabel={decides ? `Promote ${v}` : "Approve"}
        busy={busy}
        onConfirm={() => void act("approve")}
        onCancel={() => setConfirm(null)}
      >
        {decides
          ? `Every request will be answered by ${v}; ${stable} stops answering production.`
          : `${formatNumber(nextStep ?? 100, 2)}% of traffic will go to ${v}, checked as before.`}
      </ConfirmDialog>
    </Card>
  );
}

function GatesTable({ gates }: { gates: readonly GateDto[] }) {
  return (
    <section className="stack" style={{ gap: 8 }}>
      <h3>Checks in this step</h3>
      <table className="table table-compact" aria-label="Checks in this step" data-testid="gates">
        <thead>
          <tr>
            <th scope="col">Check</th>
            <th scope="col">Verdict</th>
            <th scope="col" className="num">
              Now
            </th>
            <th scope="col">Limit</th>
            <th scope="col">Detail</th>
          </tr>
        </thead>
        <tbody>
          {gates.map((g) => {
            const s = gateStatusInfo(g.status);
            return (
              <tr key={g.gate} data-gate={g.gate}>
                <th scope="row" className="row-head">
                  {gateTitle(g.gate)}
                </th>
                <td>
                  <Badge tone={s.tone}>{s.label}</Badge>
                </td>
                <td className="num">{gateValueWords(g)}</td>
                <td>{gateLimitWords(g)}</td>
                <td className="muted small">{g.message}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </section>
  );
}

function TrafficTable({ live }: { live: ReleaseLiveDto }) {
  const canary = live.release.strategy === "canary";
  return (
    <section className="stack" style={{ gap: 8 }}>
      <h3>{canary ? "Traffic in this step" : "Traffic since the release began"}</h3>
      {live.traffic.length === 0 || live.traffic.every((t) => t.requests === 0) ? (
        <p className="muted">No request has arrived yet{canary ? " in this step" : ""}.</p>
      ) : (
        <table
          className="table table-compact"
          aria-label="Traffic per version"
          data-testid="traffic"
        >
          <thead>
            <tr>
              <th scope="col">Version</th>
              <th scope="col" className="num">
                Requests
              </th>
              <th scope="col" className="num">
                Error rate
              </th>
              <th scope="col" className="num">
                p95
              </th>
            </tr>
          </thead>
          <tbody>
            {live.traffic.map((t) => (
              <tr key={t.version}>
                <th scope="row" className="row-head">
                  v{t.version} {t.role === "candidate" ? "(new)" : "(stable)"}
                </th>
                <td className="num">{formatInteger(t.requests)}</td>
                <td className="num">
                  {t.errorRate === null ? "—" : formatPercent(t.errorRate * 100, 2)}
                </td>
                <td className="num">
                  {t.p95Ms === null ? "—" : `${formatNumber(t.p95Ms, t.p95Ms < 10 ? 1 : 0)} ms`}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** A release's events, newest first: what the controller and people did, and why. */
export function EventList({
  events,
  label,
}: {
  events: readonly { at: string; type: string; message: string }[];
  label: string;
}) {
  return (
    <ol className="rel-events" aria-label={label}>
      {eventsNewestFirst(events).map((e, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: two events may share a time and type.
        <li key={i} className="rel-event">
          <time dateTime={e.at} title={e.at} className="muted small nowrap">
            {formatWhen(e.at)}
          </time>
          <Badge tone={eventTone(e.type)}>{eventLabel(e.type)}</Badge>
          <span className="rel-event-message">{e.message}</span>
        </li>
      ))}
    </ol>
  );
}
