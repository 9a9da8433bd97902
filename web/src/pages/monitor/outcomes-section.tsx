/**
 * Outcomes per version: how right the app is in real life, once callers report what actually
 * happened (POST /v1/apps/{app}/outcomes): AUC, accuracy or RMSE per version over time, and
 * business events (conversions) per version. Empty, it explains how to send outcomes.
 */
import { useState } from "react";
import { seg } from "../../api/client.ts";
import type {
  AppDetailDto,
  OutcomeMetricsDto,
  OutcomeReportDto,
  SeriesWindow,
} from "../../api/types.ts";
import { Figure, TimeSeries } from "../../charts/lazy.tsx";
import { Card, CodeBlock, Field } from "../../components/ui.tsx";
import { formatInteger, formatMetric, formatPercent, metricInfo } from "../../lib/format.ts";
import { curlSnippet } from "../../lib/snippets.ts";
import {
  eventNames,
  hasOutcomes,
  predictionClasses,
  type QualityMetric,
  qualityMetric,
  versionLines,
  windowPhrase,
} from "./monitor-data.ts";
import { Legend, type Part, PartView, SectionEmpty } from "./parts.tsx";

function HowToSend({ app, task }: { app: AppDetailDto; task: OutcomeReportDto["task"] }) {
  const url = `${window.location.origin}/v1/apps/${seg(app.name)}/outcomes`;
  const classes = predictionClasses(app.outputSchema);
  const actual = task === "regression" ? 1 : (classes?.at(-1) ?? "the real class");
  return (
    <SectionEmpty title="No outcomes yet">
      <p>
        Send back what really happened after a prediction (did the customer leave, what did the
        house sell for?) and this section shows how right each version of the app is in real life,
        not only on the training data. Each answer of the app carries a <code>request_id</code>:
        post it with the actual value
        {task === "regression" ? " (replace 1 with the real number)" : ""}, or with a business event
        such as a purchase.
      </p>
      <CodeBlock
        label="curl"
        code={curlSnippet({ url, record: { request_id: "REQUEST_ID_FROM_THE_ANSWER", actual } })}
      />
      <CodeBlock
        label="curl (a business event)"
        code={curlSnippet({
          url,
          record: { request_id: "REQUEST_ID_FROM_THE_ANSWER", event: "purchase", value: 49.9 },
        })}
      />
    </SectionEmpty>
  );
}

function metricValue(metric: QualityMetric) {
  return (m: OutcomeMetricsDto) => m[metric];
}

function VersionTable({ report, events }: { report: OutcomeReportDto; events: string[] }) {
  const classification = report.task !== "regression";
  const metrics: (keyof OutcomeMetricsDto & ("auc" | "accuracy" | "rmse" | "mae"))[] =
    report.task === "binary"
      ? ["auc", "accuracy"]
      : classification
        ? ["accuracy"]
        : ["rmse", "mae"];
  const versions = [...report.versions].sort((a, b) => b.version - a.version);
  return (
    <div className="table-wrap">
      <table className="table table-compact" data-testid="outcomes-table">
        <caption className="visually-hidden">
          Live quality per version over the {windowPhrase(report.window)}
        </caption>
        <thead>
          <tr>
            <th scope="col">Version</th>
            <th scope="col" className="num">
              Predictions
            </th>
            <th scope="col" className="num">
              With an outcome
            </th>
            {metrics.map((m) => (
              <th key={m} scope="col" className="num" title={metricInfo(m).meaning}>
                {metricInfo(m).label}
              </th>
            ))}
            {events.map((e) => (
              <th key={e} scope="col" className="num">
                {e} rate
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {versions.map((v) => (
            <tr key={v.version}>
              <th scope="row" className="row-head">
                Version {v.version}
              </th>
              <td className="num">{formatInteger(v.predictions)}</td>
              <td className="num">{formatInteger(v.metrics.labelled)}</td>
              {metrics.map((m) => (
                <td key={m} className="num">
                  {formatMetric(m, v.metrics[m] ?? undefined)}
                </td>
              ))}
              {events.map((e) => {
                const rate = v.metrics.conversionRate[e];
                return (
                  <td key={e} className="num">
                    {rate === undefined ? "—" : formatPercent(rate * 100)}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Outcomes({ report }: { report: OutcomeReportDto }) {
  const metric = qualityMetric(report.task);
  const info = metricInfo(metric);
  const events = eventNames(report);
  const [event, setEvent] = useState<string>();
  const shownEvent = event !== undefined && events.includes(event) ? event : events[0];
  const quality = versionLines(report, metricValue(metric));
  const conversion =
    shownEvent === undefined
      ? undefined
      : versionLines(report, (m) => m.conversionRate[shownEvent] ?? null);
  const labelled = report.versions.some((v) => v.metrics.labelled > 0);
  const phrase = windowPhrase(report.window);
  return (
    <>
      <VersionTable report={report} events={events} />
      <div className="grid-2">
        <section className="stack" style={{ gap: 8 }}>
          <h3>{info.label} per version</h3>
          <p className="muted small">{info.meaning}</p>
          {labelled ? (
            <Figure
              label={`${info.label} per version over the ${phrase}`}
              caption={<Legend items={quality.lines} />}
            >
              <TimeSeries
                data={quality.rows}
                lines={quality.lines}
                format={(v) => formatMetric(metric, v)}
              />
            </Figure>
          ) : (
            <p className="muted">
              Only business events have arrived; send actual values to see {info.label} here.
            </p>
          )}
        </section>
        {conversion && shownEvent !== undefined ? (
          <section className="stack" style={{ gap: 8 }}>
            <div className="row" style={{ justifyContent: "space-between" }}>
              <h3>Conversion per version</h3>
              {events.length > 1 ? (
                <Field label="Event">
                  {(id) => (
                    <select
                      id={id}
                      className="select select-sm"
                      value={shownEvent}
                      onChange={(e) => setEvent(e.target.value)}
                    >
                      {events.map((e) => (
                        <option key={e} value={e}>
                          {e}
                        </option>
                      ))}
                    </select>
                  )}
                </Field>
              ) : null}
            </div>
            <p className="muted small">
              The share of predictions followed by a “{shownEvent}” event.
            </p>
            <Figure
              label={`Conversion rate of ${shownEvent} per version over the ${phrase}`}
              caption={<Legend items={conversion.lines} />}
            >
              <TimeSeries
                data={conversion.rows}
                lines={conversion.lines}
                format={(v) => formatPercent(v * 100)}
              />
            </Figure>
          </section>
        ) : null}
      </div>
    </>
  );
}

export function OutcomesSection({
  part,
  app,
  asked,
}: {
  part: Part<OutcomeReportDto> | undefined;
  app: AppDetailDto;
  /** The page's window; outcomes are read by the hour at least. */
  asked: SeriesWindow;
}) {
  return (
    <Card
      id="outcomes"
      title="Outcomes per version"
      description="How right each version is in real life, from the outcomes callers report."
    >
      <PartView part={part} what="the outcomes">
        {(report) =>
          hasOutcomes(report) ? (
            <>
              {asked !== report.window ? (
                <p className="muted small">
                  Outcomes often arrive long after their predictions, so they are shown for the{" "}
                  {windowPhrase(report.window)}.
                </p>
              ) : null}
              <Outcomes report={report} />
            </>
          ) : (
            <HowToSend app={app} task={report.task} />
          )
        }
      </PartView>
    </Card>
  );
}
