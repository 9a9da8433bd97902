/**
 * An A/B test's results, live: per outcome (a conversion rate, an average value) each
 * version's samples and figure, the difference with its confidence interval, the p-value, a
 * verdict in words, and the samples each version still needs before the test can tell. Why a
 * test has no result yet (no event configured, too few samples) is said, not left blank.
 */
import type { AbTestResult, ReleaseLiveDto } from "../../api/types.ts";
import { Badge } from "../../components/ui.tsx";
import { formatInteger, formatNumber, formatPercent } from "../../lib/format.ts";
import { abVerdict, formatPValue } from "./releases-data.ts";

type Ab = NonNullable<ReleaseLiveDto["ab"]>;

export function AbResults({
  ab,
  candidate,
  stable,
}: {
  ab: Ab;
  candidate: number;
  stable: number | null;
}) {
  return (
    <div className="stack" style={{ gap: 12 }} data-testid="ab-results">
      {ab.conversion ? (
        <AbTest
          title="Conversion rate"
          result={ab.conversion}
          kind="conversion"
          candidate={candidate}
          stable={stable}
        />
      ) : null}
      {ab.value ? (
        <AbTest
          title="Average value"
          result={ab.value}
          kind="value"
          candidate={candidate}
          stable={stable}
        />
      ) : null}
      {ab.notes.length > 0 ? (
        <ul className="notes-list muted">
          {ab.notes.map((n) => (
            <li key={n}>{n}</li>
          ))}
        </ul>
      ) : null}
      {!ab.conversion && !ab.value && ab.notes.length === 0 ? (
        <p className="muted">No outcome is compared yet.</p>
      ) : null}
    </div>
  );
}

function AbTest({
  title,
  result: r,
  kind,
  candidate,
  stable,
}: {
  title: string;
  result: AbTestResult;
  kind: "conversion" | "value";
  candidate: number;
  stable: number | null;
}) {
  const figure = (v: number) =>
    kind === "conversion" ? formatPercent(v * 100, 2) : formatNumber(v, 3);
  const diff = (v: number) =>
    kind === "conversion"
      ? `${v > 0 ? "+" : ""}${formatNumber(v * 100, 2)} pts`
      : `${v > 0 ? "+" : ""}${formatNumber(v, 3)}`;
  const verdict = abVerdict(r, candidate, stable, kind);
  return (
    <article className="ab-test" aria-label={title}>
      <div className="row" style={{ gap: 8 }}>
        <h4>{title}</h4>
        <Badge tone={verdict.tone}>
          {r.significant ? "Significant" : r.pValue === null ? "Too few samples" : "Not yet"}
        </Badge>
        <span className="muted small">
          {r.test === "two-proportion-z" ? "two-proportion z-test" : "Welch's t-test"}
        </span>
      </div>
      <table className="table table-compact" aria-label={`${title} per version`}>
        <thead>
          <tr>
            <th scope="col">Version</th>
            <th scope="col" className="num">
              Samples
            </th>
            <th scope="col" className="num">
              {kind === "conversion" ? "Rate" : "Mean"}
            </th>
          </tr>
        </thead>
        <tbody>
          <tr>
            <th scope="row" className="row-head">
              {stable !== null ? `v${stable}` : "Current"} (control)
            </th>
            <td className="num">{formatInteger(r.control.n)}</td>
            <td className="num">{figure(r.control.value)}</td>
          </tr>
          <tr>
            <th scope="row" className="row-head">
              v{candidate} (new)
            </th>
            <td className="num">{formatInteger(r.treatment.n)}</td>
            <td className="num">{figure(r.treatment.value)}</td>
          </tr>
        </tbody>
      </table>
      <dl className="facts">
        <dt>Difference</dt>
        <dd>
          {diff(r.difference)}
          {r.relativeLift !== null ? ` (${formatPercent(r.relativeLift * 100, 1)} relative)` : ""}
          {r.ci95 ? (
            <span className="muted">
              {" "}
              · likely between {diff(r.ci95[0])} and {diff(r.ci95[1])}
            </span>
          ) : null}
        </dd>
        <dt>p-value</dt>
        <dd data-testid={`ab-${kind}-p`}>{formatPValue(r.pValue)}</dd>
        <dt>Samples still needed</dt>
        <dd data-testid={`ab-${kind}-remaining`}>
          {r.remainingPerArm === null
            ? "— (no difference to detect yet)"
            : r.remainingPerArm === 0
              ? "None: enough samples"
              : `${formatInteger(r.remainingPerArm)} per version (of ${formatInteger(r.requiredPerArm ?? 0)})`}
        </dd>
      </dl>
      <p>{verdict.text}</p>
    </article>
  );
}
