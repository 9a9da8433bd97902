/**
 * Drift: is the app being asked about the same kind of cases it was trained on? The dataset's
 * verdict, every feature ranked by how far its live values moved (PSI, Kolmogorov-Smirnov, the
 * test that decides), one feature's distribution against the training data, and the same for
 * the model's own predictions.
 */
import { useId, useState } from "react";
import type { DriftReportDto, FeatureDriftDto } from "../../api/types.ts";
import { DistributionBars, Figure } from "../../charts/lazy.tsx";
import { Badge, Card, Field } from "../../components/ui.tsx";
import { formatInteger, formatNumber, formatPercent } from "../../lib/format.ts";
import {
  type DriftSettingsView,
  psiTone,
  psiWords,
  rankFeatures,
  testLabel,
} from "./monitor-data.ts";
import { Legend, type Part, PartView, SectionEmpty } from "./parts.tsx";

export type DriftWindow = "time" | "count";

const DISTRIBUTION_LEGEND = [
  { label: "Training data", color: "#9aa3b2" },
  { label: "Live traffic", color: "#2453d6" },
];

function formatP(p: number | null): string {
  if (p === null) return "—";
  if (p < 0.0001) return "< 0.0001";
  return formatNumber(p, 4);
}

function Verdict({ feature, judged }: { feature: FeatureDriftDto; judged: boolean }) {
  if (!judged) return <Badge tone="neutral">Not judged</Badge>;
  return feature.drifted ? <Badge tone="red">Drifted</Badge> : <Badge tone="green">Stable</Badge>;
}

/** A feature's (or the prediction's) bins: the chart, and the numbers for those who want them. */
function Distribution({ feature, title }: { feature: FeatureDriftDto; title: string }) {
  return (
    <div className="stack" style={{ gap: 8 }}>
      <Figure
        label={`${title}: share of rows per bin, training data against live traffic`}
        caption={<Legend items={DISTRIBUTION_LEGEND} />}
      >
        <DistributionBars bins={feature.bins} />
      </Figure>
      <details className="numbers">
        <summary>Show the numbers</summary>
        <table className="table table-compact" aria-label={`${title}: bins`}>
          <thead>
            <tr>
              <th scope="col">{feature.kind === "numeric" ? "Range" : "Value"}</th>
              <th scope="col" className="num">
                Training data
              </th>
              <th scope="col" className="num">
                Live traffic
              </th>
            </tr>
          </thead>
          <tbody>
            {feature.bins.map((b) => (
              <tr key={b.label}>
                <th scope="row" className="row-head">
                  {b.label}
                </th>
                <td className="num">{formatPercent(b.baseline * 100)}</td>
                <td className="num">{formatPercent(b.live * 100)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </div>
  );
}

function FeatureTable({
  features,
  judged,
  selected,
  onSelect,
  detailId,
}: {
  features: readonly FeatureDriftDto[];
  judged: boolean;
  selected: string | undefined;
  onSelect: (feature: string) => void;
  detailId: string;
}) {
  return (
    <div className="table-wrap drift-table">
      <table className="table table-compact">
        <caption className="visually-hidden">
          Features ranked by drift, the most drifted first. Choose a feature to see its
          distribution.
        </caption>
        <thead>
          <tr>
            <th scope="col">Feature</th>
            <th scope="col" className="num">
              PSI
            </th>
            <th scope="col" className="num">
              KS statistic
            </th>
            <th scope="col" className="num">
              KS p-value
            </th>
            <th scope="col">Deciding test</th>
            <th scope="col">Verdict</th>
            <th scope="col" className="num">
              Rows
            </th>
          </tr>
        </thead>
        <tbody>
          {features.map((f) => (
            <tr key={f.feature} className={f.feature === selected ? "row-selected" : undefined}>
              <th scope="row" className="row-head">
                <button
                  type="button"
                  className="link-button"
                  aria-pressed={f.feature === selected}
                  aria-controls={detailId}
                  onClick={() => onSelect(f.feature)}
                >
                  {f.feature}
                </button>
                <span className="muted small"> {f.kind === "numeric" ? "number" : "category"}</span>
              </th>
              <td className="num">
                <Badge tone={psiTone(f.psiLevel)} title={psiWords(f.psiLevel)}>
                  {formatNumber(f.psi, 3)}
                </Badge>
              </td>
              <td className="num">{f.ks ? formatNumber(f.ks.statistic, 3) : "—"}</td>
              <td className="num">{f.ks ? formatP(f.ks.pValue) : "—"}</td>
              <td className="nowrap">
                {testLabel(f.test.name)}{" "}
                <span
                  className="muted small"
                  title={
                    f.test.pValue !== null
                      ? `Drifted when p is below ${formatNumber(f.test.threshold)}`
                      : `Drifted from ${formatNumber(f.test.threshold)}`
                  }
                >
                  {f.test.pValue !== null
                    ? `p ${formatP(f.test.pValue)}`
                    : formatNumber(f.test.statistic, 3)}
                </span>
              </td>
              <td>
                <Verdict feature={f} judged={judged} />
              </td>
              <td className="num">{formatInteger(f.rows)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function DatasetVerdict({ report }: { report: DriftReportDto }) {
  const d = report.dataset;
  return (
    <div className="row drift-verdict" data-testid="drift-verdict">
      {!report.enoughData ? (
        <Badge tone="neutral">Too little data to judge</Badge>
      ) : d.drifted ? (
        <Badge tone="red">The data has drifted</Badge>
      ) : (
        <Badge tone="green">No drift</Badge>
      )}
      <span>
        {formatInteger(d.driftedFeatures)} of {formatInteger(d.features)} features drifted
        <span className="muted">
          {" "}
          · the data counts as drifted from {formatPercent(d.threshold * 100, 0)} of its features ·
          version {report.version} · {formatInteger(report.window.rows)} live predictions compared
        </span>
      </span>
    </div>
  );
}

function DriftBody({
  report,
  settings,
}: {
  report: DriftReportDto;
  settings: Partial<DriftSettingsView>;
}) {
  const ranked = rankFeatures(report);
  const [chosen, setChosen] = useState<string>();
  const detailId = useId();
  const selected = ranked.find((f) => f.feature === chosen) ?? ranked[0];
  if (report.window.rows === 0) {
    return (
      <SectionEmpty title="No predictions to compare yet">
        Drift compares what the app is asked with the data it was trained on. Once the app has
        answered some requests{report.window.kind === "time" ? " in this time window" : ""}, each
        feature is compared here.
      </SectionEmpty>
    );
  }
  return (
    <>
      <DatasetVerdict report={report} />
      {!report.enoughData ? (
        <p className="notice-text" data-testid="drift-too-little">
          <strong>Too little data for a verdict yet.</strong> Only{" "}
          {formatInteger(report.window.rows)} predictions so far
          {settings.minRows !== undefined
            ? `; the comparison needs at least ${formatInteger(settings.minRows)}`
            : ""}
          . The figures below are early and nothing is flagged until there are enough.
        </p>
      ) : null}
      <FeatureTable
        features={ranked}
        judged={report.enoughData}
        selected={selected?.feature}
        onSelect={setChosen}
        detailId={detailId}
      />
      <div className="grid-2">
        <section id={detailId} aria-live="polite" className="stack" style={{ gap: 8 }}>
          {selected ? (
            <>
              <h3>
                {selected.feature}: training data against live traffic{" "}
                <Badge tone={psiTone(selected.psiLevel)}>{psiWords(selected.psiLevel)}</Badge>
              </h3>
              <Distribution feature={selected} title={selected.feature} />
            </>
          ) : (
            <p className="muted">The model has no input features to compare.</p>
          )}
        </section>
        <section className="stack" style={{ gap: 8 }} data-testid="prediction-distribution">
          <h3>
            Prediction distribution{" "}
            {report.prediction ? (
              <Verdict feature={report.prediction} judged={report.enoughData} />
            ) : null}
          </h3>
          {report.prediction ? (
            <>
              <p className="muted small">
                What the model answers now, against what it answered on held-out training rows (PSI{" "}
                {formatNumber(report.prediction.psi, 3)}).
              </p>
              <Distribution feature={report.prediction} title="Prediction" />
            </>
          ) : (
            <p className="muted">
              This model was trained without a record of its own predictions, so they cannot be
              compared. Training it again adds one.
            </p>
          )}
        </section>
      </div>
    </>
  );
}

export function DriftSection({
  part,
  window,
  onWindow,
  settings,
}: {
  part: Part<DriftReportDto> | undefined;
  window: DriftWindow;
  onWindow: (w: DriftWindow) => void;
  settings: Partial<DriftSettingsView>;
}) {
  const minutes = settings.windowMinutes;
  const rows = settings.windowRows;
  return (
    <Card
      id="drift"
      title="Drift"
      description="Whether the app is asked about the same kind of cases it was trained on."
      actions={
        <Field label="Compare">
          {(id) => (
            <select
              id={id}
              className="select select-sm"
              value={window}
              onChange={(e) => onWindow(e.target.value === "count" ? "count" : "time")}
            >
              <option value="time">
                {minutes !== undefined
                  ? `The last ${formatInteger(minutes)} minutes`
                  : "Recent traffic (time window)"}
              </option>
              <option value="count">
                {rows !== undefined
                  ? `The last ${formatInteger(rows)} predictions`
                  : "The latest predictions (count window)"}
              </option>
            </select>
          )}
        </Field>
      }
    >
      <PartView part={part} what="the drift report">
        {(report) => <DriftBody key={`${report.version}`} report={report} settings={settings} />}
      </PartView>
    </Card>
  );
}
