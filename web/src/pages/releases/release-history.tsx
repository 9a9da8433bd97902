/**
 * Every release of the app, newest first, as a timeline: which version replaced which, how,
 * how it ended (released, rolled back by a failed check, aborted by a person) and why, with
 * its events folded under it. Also what each environment ran, so "what was live on Tuesday"
 * has an answer.
 */
import type { DeploymentDto, ReleaseDto } from "../../api/types.ts";
import { Badge, Card } from "../../components/ui.tsx";
import { formatDuration, formatWhen } from "../../lib/format.ts";
import { EventList } from "./live-panel.tsx";
import { releaseStateInfo, strategyTitle } from "./releases-data.ts";

export function ReleaseHistory({
  releases,
  deployments,
}: {
  releases: readonly ReleaseDto[];
  deployments: readonly DeploymentDto[];
}) {
  return (
    <Card
      id="history"
      title="History"
      description="Every release, newest first: how it went, and why it ended."
    >
      {releases.length === 0 ? (
        <p className="muted">
          No release yet. Promote a version to production and its rollout is recorded here, step by
          step.
        </p>
      ) : (
        <ol className="timeline" aria-label="Releases" data-testid="release-history">
          {releases.map((r) => (
            <HistoryItem key={r.id} release={r} />
          ))}
        </ol>
      )}
      {deployments.length > 0 ? (
        <details className="fold">
          <summary>What each environment ran</summary>
          <table className="table table-compact" aria-label="Deployments">
            <thead>
              <tr>
                <th scope="col">Environment</th>
                <th scope="col">Version</th>
                <th scope="col">From</th>
                <th scope="col">Until</th>
              </tr>
            </thead>
            <tbody>
              {deployments.map((d) => (
                <tr key={`${d.environment}-${d.version}-${d.since}`}>
                  <td>{d.environment === "production" ? "Production" : "Staging"}</td>
                  <td>v{d.version}</td>
                  <td>
                    <time dateTime={d.since} title={d.since}>
                      {formatWhen(d.since)}
                    </time>
                  </td>
                  <td>
                    {d.until ? (
                      <time dateTime={d.until} title={d.until}>
                        {formatWhen(d.until)}
                      </time>
                    ) : (
                      <Badge tone="green">Live</Badge>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      ) : null}
    </Card>
  );
}

function HistoryItem({ release: r }: { release: ReleaseDto }) {
  const state = releaseStateInfo(r.state);
  const took =
    r.endedAt !== null ? formatDuration(Date.parse(r.endedAt) - Date.parse(r.createdAt)) : null;
  return (
    <li className={`timeline-item timeline-${r.state}`} data-release={r.id}>
      <div className="row" style={{ gap: 8 }}>
        <Badge tone={state.tone}>{state.label}</Badge>
        <strong>
          {r.stableVersion !== null ? `v${r.stableVersion} → ` : ""}v{r.candidateVersion}
        </strong>
        <span className="muted">{strategyTitle(r.strategy)}</span>
        <span className="spacer" />
        <time dateTime={r.createdAt} title={r.createdAt} className="muted small">
          {formatWhen(r.createdAt)}
        </time>
        {took ? <span className="muted small">· took {took}</span> : null}
      </div>
      {r.reason ? <p className="small">{r.reason}</p> : null}
      {r.events.length > 0 ? (
        <details className="fold">
          <summary>
            {r.events.length} event{r.events.length === 1 ? "" : "s"}
          </summary>
          <EventList events={r.events} label={`Events of the release of v${r.candidateVersion}`} />
        </details>
      ) : null}
    </li>
  );
}
