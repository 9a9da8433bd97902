/**
 * A model's report: what it predicts and how well, in words first, then the charts that back
 * the words (ROC and confusion matrix, or predicted-vs-actual and residuals), which inputs
 * matter, sample predictions with their explanations, the candidates the search tried; and the
 * button that publishes it as an app.
 */
import { type FormEvent, useState } from "react";
import { useNavigate, useParams } from "react-router";
import { ApiRequestError, seg, unwrap } from "../api/client.ts";
import type { AppDto, ModelDetailDto, ModelReportDto, SamplePrediction } from "../api/types.ts";
import { Figure, RocChart, ScatterPlot } from "../charts/lazy.tsx";
import { Bars, DivergingBars } from "../components/bars.tsx";
import {
  Badge,
  Button,
  ButtonLink,
  Card,
  EmptyState,
  ErrorBanner,
  Field,
  Loading,
  Notice,
  PageHeader,
  Stat,
} from "../components/ui.tsx";
import {
  formatDuration,
  formatMetric,
  formatNumber,
  formatPercent,
  formatWhen,
  learnerLabel,
  metricInfo,
  taskLabel,
} from "../lib/format.ts";
import { useResource } from "../lib/use-resource.ts";
import { useApi } from "../session/session.tsx";

interface Loaded {
  readonly model: ModelDetailDto;
  /** Undefined when the server has no report for this model (code no_report). */
  readonly report: ModelReportDto | undefined;
  readonly reportError?: unknown;
}

export function appNameFor(model: string): string {
  return model
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "");
}

export function ModelPage() {
  const { ref = "" } = useParams();
  const api = useApi();
  const loaded = useResource<Loaded>(
    async (signal) => {
      const [model, report] = await Promise.all([
        api
          .get<unknown>(`/v1/models/${seg(ref)}`, signal)
          .then((b) => unwrap<ModelDetailDto>(b, "model")),
        api.get<unknown>(`/v1/models/${seg(ref)}/report`, signal).then(
          (b) => ({ report: unwrap<ModelReportDto>(b, "report") }),
          (error: unknown) => ({ error }),
        ),
      ]);
      if ("error" in report) {
        const noReport = report.error instanceof ApiRequestError && report.error.status === 404;
        return { model, report: undefined, ...(noReport ? {} : { reportError: report.error }) };
      }
      return { model, report: report.report };
    },
    [api, ref],
  );

  if (loaded.loading && !loaded.data) return <Loading label="Loading the model report…" />;
  if (loaded.error || !loaded.data) {
    return loaded.error instanceof ApiRequestError && loaded.error.status === 404 ? (
      <EmptyState
        title={`There is no model ${ref}`}
        action={
          <ButtonLink to="/models" variant="primary">
            All models
          </ButtonLink>
        }
      />
    ) : (
      <ErrorBanner title="Could not load the model" error={loaded.error} onRetry={loaded.reload} />
    );
  }
  const { model, report, reportError } = loaded.data;
  const metric = report?.metric ?? model.metrics.metric;
  const holdout = report?.holdout ?? model.metrics.holdout;
  const cv = report?.cv ?? model.metrics.cv;
  const classification = model.task !== "regression";
  const info = (name: string) => {
    const server = report?.metricNames[name];
    return server
      ? { label: server.label, meaning: server.description }
      : { label: metricInfo(name).label, meaning: metricInfo(name).meaning };
  };

  return (
    <>
      <PageHeader
        crumbs={[{ label: "Models", to: "/models" }]}
        title={
          <span className="row" style={{ gap: 10 }}>
            {model.name} <Badge tone="blue">v{model.version}</Badge>
          </span>
        }
        subtitle={`${taskLabel(model.task)} of ${model.target} · ${learnerLabel(model.learner)} · trained ${formatWhen(model.createdAt)}`}
        actions={<PublishButton model={model} />}
      />
      <Card title="How good is it?">
        {report ? (
          <p className="lead" data-testid="summary">
            {report.summary}
          </p>
        ) : reportError ? (
          <ErrorBanner title="The report could not be loaded" error={reportError} />
        ) : (
          <Notice>
            This model has no report (it was trained before reports existed, or imported). Its
            scores and the candidates are below.
          </Notice>
        )}
        <div className="stats">
          {Object.entries(holdout)
            .sort(([a], [b]) => (a === metric ? -1 : b === metric ? 1 : 0))
            .map(([name, value]) => (
              <Stat
                key={name}
                label={
                  <span title={info(name).meaning}>
                    {info(name).label}
                    {name === metric ? " (optimised)" : ""}
                  </span>
                }
                value={formatMetric(name, value)}
                hint={
                  cv[name] !== undefined
                    ? `${formatMetric(name, cv[name])} in cross-validation`
                    : undefined
                }
              />
            ))}
        </div>
        <p className="muted small">
          {info(metric).label}: {info(metric).meaning} Scores are measured on{" "}
          {report ? `${formatNumber(report.holdoutRows)} rows` : "rows"} held out from training.
        </p>
      </Card>

      {report ? <ReportCharts report={report} /> : null}

      <div className="grid-2">
        <ImportanceCard model={model} report={report} />
        {report && report.samples.length > 0 ? (
          <SamplesCard samples={report.samples} classification={classification} />
        ) : (
          <InputsCard model={model} />
        )}
      </div>
      <PublishCard model={model} />
      <CandidatesCard
        model={model}
        metric={metric}
        higherIsBetter={
          report?.metricNames[metric]
            ? report.metricNames[metric].better === "higher"
            : metricInfo(metric).higherIsBetter
        }
      />
    </>
  );
}

function ReportCharts({ report }: { report: ModelReportDto }) {
  const c = report.classification;
  const r = report.regression;
  const [rocClass, setRocClass] = useState(0);
  if (c) {
    const curves = c.roc ? [{ ...c.roc, class: c.positive ?? "" }] : (c.rocByClass ?? []);
    const curve = curves[Math.min(rocClass, curves.length - 1)];
    return (
      <div className="grid-2">
        {curve ? (
          <Card
            title="ROC curve"
            description={`How many ${curve.class ? `“${curve.class}” rows` : "positives"} the model catches (up) for each false alarm (right). The larger the area under the curve, the better: ${formatNumber(curve.auc, 3)}.`}
            actions={
              curves.length > 1 ? (
                <select
                  className="select select-sm"
                  aria-label="Class of the ROC curve"
                  value={rocClass}
                  onChange={(e) => setRocClass(Number(e.target.value))}
                >
                  {curves.map((cv, i) => (
                    <option key={cv.class} value={i}>
                      {cv.class}
                    </option>
                  ))}
                </select>
              ) : undefined
            }
          >
            <Figure
              label={`ROC curve${curve.class ? ` for ${curve.class}` : ""}, AUC ${formatNumber(curve.auc, 3)}`}
            >
              <RocChart points={curve.points} />
            </Figure>
          </Card>
        ) : null}
        <Card
          title="Confusion matrix"
          description="Rows are the true values, columns what the model predicted: the diagonal is right."
        >
          <ConfusionMatrix labels={c.confusion.labels} counts={c.confusion.counts} />
          <p className="muted small">
            Right {formatPercent(c.accuracy * 100)} of the time; always answering “
            {c.mostCommonClass}” would be right {formatPercent(c.baselineAccuracy * 100)}.
          </p>
        </Card>
      </div>
    );
  }
  if (r) {
    return (
      <div className="grid-2">
        <Card
          title="Predicted vs actual"
          description="Each dot is a held-out row; the closer to the dashed line, the better."
        >
          <Figure label="Scatter plot of predicted against actual values">
            <ScatterPlot
              points={r.points.map((p) => ({ x: p.actual, y: p.predicted }))}
              xLabel="Actual"
              yLabel="Predicted"
              diagonal
            />
          </Figure>
        </Card>
        <Card
          title="Residuals"
          description={`Actual minus predicted: a band around zero with no pattern is what you want. Typical error ${formatNumber(r.mae)} against an average of ${formatNumber(r.meanActual)}.`}
        >
          <Figure label="Scatter plot of residuals against predicted values">
            <ScatterPlot
              points={r.residuals.map((p) => ({ x: p.predicted, y: p.residual }))}
              xLabel="Predicted"
              yLabel="Residual"
              zeroLine
            />
          </Figure>
        </Card>
      </div>
    );
  }
  return null;
}

/** Publish a model version as an app; resolves to the app page's address. */
function usePublish(model: ModelDetailDto) {
  const api = useApi();
  const navigate = useNavigate();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const publish = async (app: string) => {
    setBusy(true);
    setError(undefined);
    try {
      const body = await api.post<unknown>("/v1/apps", {
        model: `${model.name}@${model.version}`,
        app,
      });
      const published = unwrap<AppDto>(body, "app");
      navigate(`/apps/${seg(published.name)}?published=${published.version}`);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return { busy, error, publish };
}

/** One click: publish under the model's own name. */
function PublishButton({ model }: { model: ModelDetailDto }) {
  const { busy, error, publish } = usePublish(model);
  const name = appNameFor(model.name);
  return (
    <div className="stack" style={{ gap: 8, alignItems: "flex-end" }}>
      <Button variant="primary" loading={busy} onClick={() => void publish(name)}>
        Publish as app
      </Button>
      {error ? <ErrorBanner title={`${name} was not published`} error={error} /> : null}
    </div>
  );
}

function PublishCard({ model }: { model: ModelDetailDto }) {
  const { busy, error, publish } = usePublish(model);
  const [name, setName] = useState(`${appNameFor(model.name)}-v${model.version}`);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void publish(name.trim());
  };
  return (
    <Card
      title="Publish under another name"
      description="“Publish as app” above uses the model's name; publishing under an existing app's name releases a new version of that app."
    >
      <form className="row" style={{ alignItems: "flex-end" }} onSubmit={submit}>
        <Field label="App name" hint="Lowercase letters, digits and dashes.">
          {(id, describedBy) => (
            <input
              id={id}
              className="input"
              style={{ width: 280 }}
              value={name}
              aria-describedby={describedBy}
              onChange={(e) => setName(e.target.value)}
            />
          )}
        </Field>
        <Button type="submit" loading={busy} style={{ marginBottom: 22 }}>
          Publish
        </Button>
      </form>
      {error ? <ErrorBanner title="The model was not published" error={error} /> : null}
    </Card>
  );
}

function ConfusionMatrix({
  labels,
  counts,
}: {
  labels: readonly string[];
  counts: readonly (readonly number[])[];
}) {
  const max = Math.max(1, ...counts.flat());
  const total = Math.max(
    1,
    counts.flat().reduce((s, v) => s + v, 0),
  );
  return (
    <div style={{ overflowX: "auto" }}>
      <table className="confusion" aria-label="Confusion matrix">
        <thead>
          <tr>
            <td />
            <th scope="colgroup" colSpan={labels.length} style={{ textAlign: "center" }}>
              Predicted
            </th>
          </tr>
          <tr>
            <th scope="col">Actual</th>
            {labels.map((l) => (
              <th scope="col" key={l}>
                {l}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {labels.map((actual, i) => (
            <tr key={actual}>
              <th scope="row">{actual}</th>
              {labels.map((predicted, j) => {
                const v = counts[i]?.[j] ?? 0;
                const shade = v / max;
                const right = i === j;
                const bg = right
                  ? `rgba(36, 83, 214, ${0.08 + shade * 0.85})`
                  : `rgba(194, 48, 60, ${0.06 + shade * 0.6})`;
                return (
                  <td
                    key={predicted}
                    style={{ background: bg, color: shade > 0.55 ? "#fff" : "var(--text)" }}
                    aria-label={`Actual ${actual}, predicted ${predicted}: ${v} rows`}
                  >
                    {formatNumber(v)}
                    <small>{formatPercent((v / total) * 100)}</small>
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

function ImportanceCard({ model, report }: { model: ModelDetailDto; report?: ModelReportDto }) {
  const shap = report?.shapImportance ?? model.shapImportance;
  const source = shap?.features ?? report?.importance ?? model.importance;
  const items = [...source]
    .sort((a, b) => b.importance - a.importance)
    .slice(0, 12)
    .map((f) => ({ label: f.feature, value: f.importance }));
  return (
    <Card
      title="What drives the predictions"
      description={
        shap
          ? "Average impact of each input on a prediction (mean absolute SHAP value)."
          : "How much the model relies on each input."
      }
    >
      {items.length === 0 ? (
        <p className="muted">This model does not report feature importance.</p>
      ) : (
        <Bars items={items} label="Feature importance" />
      )}
    </Card>
  );
}

function InputsCard({ model }: { model: ModelDetailDto }) {
  return (
    <Card title="Inputs" description="The columns a request must carry.">
      <p>
        {model.inputs.length} inputs: {model.inputs.map((i) => i.name).join(", ")}.
      </p>
      {model.excluded.length > 0 ? (
        <p className="muted small">
          Left out: {model.excluded.map((e) => `${e.column} (${e.reason})`).join("; ")}.
        </p>
      ) : null}
    </Card>
  );
}

function formatValue(v: unknown): string {
  if (v === null || v === undefined) return "missing";
  if (typeof v === "number") return formatNumber(v, 4);
  return String(v);
}

function SamplesCard({
  samples,
  classification,
}: {
  samples: readonly SamplePrediction[];
  classification: boolean;
}) {
  const [open, setOpen] = useState<number | undefined>(0);
  return (
    <Card
      title="Sample predictions"
      description="Held-out rows, what the model said, and what pushed each answer up or down."
    >
      <ul className="stack" style={{ listStyle: "none", padding: 0, margin: 0, gap: 8 }}>
        {samples.slice(0, 6).map((s, i) => {
          const right = classification ? String(s.actual) === String(s.prediction) : undefined;
          const prob = s.probabilities ? s.probabilities[String(s.prediction)] : undefined;
          const contributions = s.explanation
            ? Object.entries(s.explanation.contributions)
                .sort(([, a], [, b]) => Math.abs(b) - Math.abs(a))
                .slice(0, 6)
            : [];
          const isOpen = open === i;
          return (
            // biome-ignore lint/suspicious/noArrayIndexKey: samples are positional.
            <li key={i} className="column-item" style={{ padding: 12 }}>
              <div className="row">
                <span>
                  Predicted <strong>{formatValue(s.prediction)}</strong>
                  {prob !== undefined ? (
                    <span className="muted"> ({formatPercent(prob * 100, 0)} sure)</span>
                  ) : null}
                  , actual <strong>{formatValue(s.actual)}</strong>
                </span>
                {right !== undefined ? (
                  <Badge tone={right ? "green" : "red"}>{right ? "Right" : "Wrong"}</Badge>
                ) : null}
                <span className="spacer" />
                {contributions.length > 0 ? (
                  <Button
                    size="sm"
                    variant="ghost"
                    aria-expanded={isOpen}
                    onClick={() => setOpen(isOpen ? undefined : i)}
                  >
                    {isOpen ? "Hide why" : "Why?"}
                  </Button>
                ) : null}
              </div>
              {isOpen && contributions.length > 0 ? (
                <div style={{ marginTop: 8 }}>
                  <DivergingBars
                    label={`What pushed prediction ${i + 1}`}
                    items={contributions.map(([col, value]) => ({
                      label: `${col} = ${formatValue(s.record[col])}`,
                      value,
                    }))}
                  />
                </div>
              ) : null}
            </li>
          );
        })}
      </ul>
    </Card>
  );
}

function paramSummary(params: Record<string, unknown>): string {
  return Object.entries(params)
    .slice(0, 4)
    .map(([k, v]) => `${k} ${typeof v === "number" ? formatNumber(v, 4) : String(v)}`)
    .join(", ");
}

function CandidatesCard({
  model,
  metric,
  higherIsBetter,
}: {
  model: ModelDetailDto;
  metric: string;
  higherIsBetter: boolean;
}) {
  const info = metricInfo(metric);
  const sorted = [...model.candidates].sort((a, b) =>
    higherIsBetter ? b.cvScore - a.cvScore : a.cvScore - b.cvScore,
  );
  // The search keeps the best cross-validated candidate (then refits it on every row, which can
  // change settings such as the number of trees): the top of this ranking is the chosen one.
  const chosenIndex = sorted[0]?.learner === model.chosen.learner ? 0 : -1;
  return (
    <Card
      title={`Candidates tried (${model.candidates.length})`}
      description={`The search compared these by cross-validated ${info.label}; the best one became the model.`}
      className="card-flush"
    >
      <div className="table-wrap" style={{ maxHeight: 420 }}>
        <table className="table table-compact">
          <thead>
            <tr>
              <th scope="col" className="num">
                Rank
              </th>
              <th scope="col">Learner</th>
              <th scope="col">Settings</th>
              <th scope="col" className="num">
                {info.label} (CV)
              </th>
              <th scope="col" className="num">
                Fit time
              </th>
            </tr>
          </thead>
          <tbody>
            {sorted.map((c, i) => {
              const isChosen = i === chosenIndex;
              return (
                // biome-ignore lint/suspicious/noArrayIndexKey: candidates have no id.
                <tr key={i}>
                  <td className="num">{i + 1}</td>
                  <td className="nowrap">
                    {learnerLabel(c.learner)} {isChosen ? <Badge tone="green">Chosen</Badge> : null}
                  </td>
                  <td className="small muted">{paramSummary(c.params)}</td>
                  <td className="num">{formatNumber(c.cvScore, 4)}</td>
                  <td className="num">{formatDuration(c.fitMs)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </Card>
  );
}
