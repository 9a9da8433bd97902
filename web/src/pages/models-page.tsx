/** Models: every trained version, newest first, with its headline score. */
import { Link } from "react-router";
import { seg } from "../api/client.ts";
import type { ModelVersionDto } from "../api/types.ts";
import { ModelIcon } from "../components/icons.tsx";
import {
  Badge,
  ButtonLink,
  Card,
  EmptyState,
  ErrorBanner,
  Loading,
  PageHeader,
} from "../components/ui.tsx";
import { formatMetric, formatWhen, learnerLabel, metricInfo, taskLabel } from "../lib/format.ts";
import { useResource } from "../lib/use-resource.ts";
import { useApi } from "../session/session.tsx";

export function ModelsPage() {
  const api = useApi();
  const models = useResource(
    (signal) => api.get<{ models: ModelVersionDto[] }>("/v1/models", signal),
    [api],
  );
  const list = models.data?.models ?? [];
  return (
    <>
      <PageHeader
        title="Models"
        subtitle="Every model version Ballast trained, with its score on rows it never saw during training."
      />
      <Card className="card-flush" title="Model versions">
        {models.loading && !models.data ? (
          <Loading label="Loading models…" />
        ) : models.error ? (
          <div style={{ padding: 24 }}>
            <ErrorBanner
              title="Could not load the models"
              error={models.error}
              onRetry={models.reload}
            />
          </div>
        ) : list.length === 0 ? (
          <EmptyState
            title="No models yet"
            icon={<ModelIcon />}
            action={
              <ButtonLink to="/data" variant="primary">
                Go to your data
              </ButtonLink>
            }
          >
            Open a dataset, pick the column to predict and press Train: the model appears here.
          </EmptyState>
        ) : (
          <div className="table-wrap">
            <table className="table">
              <thead>
                <tr>
                  <th scope="col">Model</th>
                  <th scope="col">Predicts</th>
                  <th scope="col">Task</th>
                  <th scope="col">Learner</th>
                  <th scope="col" className="num">
                    Score (hold-out)
                  </th>
                  <th scope="col">Trained</th>
                </tr>
              </thead>
              <tbody>
                {list.map((m) => {
                  const metric = m.metrics.metric;
                  return (
                    <tr key={m.id}>
                      <td>
                        <Link to={`/models/${seg(`${m.name}@${m.version}`)}`}>{m.name}</Link>{" "}
                        <Badge>v{m.version}</Badge>
                      </td>
                      <td>{m.target}</td>
                      <td>{taskLabel(m.task)}</td>
                      <td>{learnerLabel(m.learner)}</td>
                      <td className="num">
                        {formatMetric(metric, m.metrics.holdout[metric])}{" "}
                        <span className="muted small">{metricInfo(metric).label}</span>
                      </td>
                      <td className="nowrap">{formatWhen(m.createdAt)}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </Card>
    </>
  );
}
