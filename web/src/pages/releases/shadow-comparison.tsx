/**
 * A shadow release's comparison, what a person reads before promoting: how often the new
 * version gave the same label (or how far its numbers were), how fast it was next to the
 * current one on the same requests, and how many copies it failed or skipped.
 */
import type { ShadowSummary } from "../../api/types.ts";
import { Stat } from "../../components/ui.tsx";
import { formatInteger, formatNumber, formatPercent } from "../../lib/format.ts";

const ms = (v: number | null) => (v === null ? "—" : `${formatNumber(v, v < 10 ? 1 : 0)} ms`);

export function ShadowComparisonView({
  shadow,
  candidate,
  stable,
}: {
  shadow: ShadowSummary;
  candidate: number;
  stable: number | null;
}) {
  const stableName = stable !== null ? `v${stable}` : "production";
  if (shadow.requests === 0) {
    return (
      <p className="muted" data-testid="shadow-comparison">
        No request has been copied to v{candidate} yet. The comparison appears here as production
        traffic arrives.
      </p>
    );
  }
  return (
    <div className="stack" style={{ gap: 12 }} data-testid="shadow-comparison">
      <div className="stats">
        <Stat
          label="Requests compared"
          value={formatInteger(shadow.requests)}
          hint={`${formatInteger(shadow.rows)} rows`}
        />
        {shadow.labelRows > 0 ? (
          <Stat
            label="Same answer"
            value={shadow.agreement === null ? "—" : formatPercent(shadow.agreement * 100)}
            hint={`of ${formatInteger(shadow.labelRows)} labels`}
          />
        ) : null}
        {shadow.numericRows > 0 ? (
          <Stat
            label="Average difference"
            value={formatNumber(shadow.meanAbsDiff)}
            hint={`over ${formatInteger(shadow.numericRows)} numbers`}
          />
        ) : null}
        <Stat
          label="Failed copies"
          value={formatInteger(shadow.candidateErrors)}
          tone={shadow.candidateErrors > 0 ? "bad" : undefined}
          hint={`${formatInteger(shadow.skipped)} skipped (too busy)`}
        />
      </div>
      <table className="table table-compact" aria-label="Model time on the same requests">
        <thead>
          <tr>
            <th scope="col">Version</th>
            <th scope="col" className="num">
              Typical (p50)
            </th>
            <th scope="col" className="num">
              Slowest 5% (p95)
            </th>
          </tr>
        </thead>
        <tbody>
          <tr>
            <th scope="row" className="row-head">
              {stableName} (answering)
            </th>
            <td className="num">{ms(shadow.stableModelMs.p50)}</td>
            <td className="num">{ms(shadow.stableModelMs.p95)}</td>
          </tr>
          <tr>
            <th scope="row" className="row-head">
              v{candidate} (shadow)
            </th>
            <td className="num">{ms(shadow.candidateModelMs.p50)}</td>
            <td className="num">{ms(shadow.candidateModelMs.p95)}</td>
          </tr>
        </tbody>
      </table>
    </div>
  );
}
