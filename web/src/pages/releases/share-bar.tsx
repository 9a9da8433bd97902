/**
 * The candidate's share of traffic as a bar: the stable version's part and the candidate's,
 * with a tick at each planned canary step so a person sees how far the rollout has come and
 * where it goes next. A progressbar to assistive technology, its value the candidate's share.
 */
import { formatNumber } from "../../lib/format.ts";

export function ShareBar({
  percent,
  candidate,
  stable,
  steps,
  mirrored = false,
}: {
  /** 0..100 */
  percent: number;
  candidate: number;
  stable: number | null;
  /** Canary steps to mark; empty for none. */
  steps: readonly number[];
  /** Shadow: the share is a copy of traffic, not answers the candidate sends. */
  mirrored?: boolean;
}) {
  const p = Math.min(100, Math.max(0, percent));
  const share = `${formatNumber(p, 2)}%`;
  const label = mirrored
    ? `Share of requests copied to v${candidate}`
    : `Share of traffic answered by v${candidate}`;
  const stableLabel = stable !== null ? `v${stable}` : "current version";
  return (
    <div className="share">
      <div
        className="share-track"
        role="progressbar"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={p}
        aria-valuetext={`${share} ${mirrored ? "copied to" : "to"} v${candidate}`}
        data-testid="candidate-share-bar"
      >
        <div
          className={`share-fill${mirrored ? " share-fill-mirrored" : ""}`}
          style={{ width: `${p}%` }}
        />
        {steps
          .filter((s) => s < 100)
          .map((s) => (
            <span
              key={s}
              className={`share-tick${s <= p ? " share-tick-done" : ""}`}
              style={{ left: `${s}%` }}
              aria-hidden="true"
            />
          ))}
      </div>
      <div className="share-legend">
        <span>
          <span className="legend-swatch share-swatch-stable" aria-hidden="true" />
          {mirrored
            ? `${stableLabel} answers every request`
            : `${stableLabel} (stable): ${formatNumber(100 - p, 2)}%`}
        </span>
        <span data-testid="candidate-share">
          <span className="legend-swatch share-swatch-candidate" aria-hidden="true" />
          {mirrored ? `v${candidate} sees a copy of ${share}` : `v${candidate} (new): ${share}`}
        </span>
      </div>
      {steps.length > 1 ? (
        <div className="share-steps muted small">
          Steps: {steps.map((s) => `${formatNumber(s, 2)}%`).join(" → ")}
        </div>
      ) : null}
    </div>
  );
}
