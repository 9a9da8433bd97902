/** Apps: the published web services, each a link to its page. */
import { Link } from "react-router";
import { seg } from "../api/client.ts";
import type { AppDto } from "../api/types.ts";
import { AppIcon } from "../components/icons.tsx";
import {
  Badge,
  ButtonLink,
  Card,
  EmptyState,
  ErrorBanner,
  Loading,
  PageHeader,
} from "../components/ui.tsx";
import { formatWhen, taskLabel } from "../lib/format.ts";
import { useResource } from "../lib/use-resource.ts";
import { useApi } from "../session/session.tsx";

export function AppsPage() {
  const api = useApi();
  const apps = useResource((signal) => api.get<{ apps: AppDto[] }>("/v1/apps", signal), [api]);
  const list = apps.data?.apps ?? [];
  return (
    <>
      <PageHeader
        title="Apps"
        subtitle="Published models, each a validated web service with its own endpoint."
      />
      <Card className="card-flush" title="Published apps">
        {apps.loading && !apps.data ? (
          <Loading label="Loading apps…" />
        ) : apps.error ? (
          <div style={{ padding: 24 }}>
            <ErrorBanner title="Could not load the apps" error={apps.error} onRetry={apps.reload} />
          </div>
        ) : list.length === 0 ? (
          <EmptyState
            title="No apps yet"
            icon={<AppIcon />}
            action={
              <ButtonLink to="/models" variant="primary">
                See your models
              </ButtonLink>
            }
          >
            Open a model's report and press “Publish as app”: its endpoint, a form to try it and
            code to call it appear here.
          </EmptyState>
        ) : (
          <div className="table-wrap">
            <table className="table">
              <thead>
                <tr>
                  <th scope="col">App</th>
                  <th scope="col">Serving</th>
                  <th scope="col">Task</th>
                  <th scope="col">Endpoint</th>
                  <th scope="col">Deployed</th>
                </tr>
              </thead>
              <tbody>
                {list.map((a) => (
                  <tr key={a.name}>
                    <td>
                      <Link to={`/apps/${seg(a.name)}`}>{a.name}</Link> <Badge>v{a.version}</Badge>
                    </td>
                    <td>
                      <Link to={`/models/${seg(`${a.model.name}@${a.model.version}`)}`}>
                        {a.model.name} v{a.model.version}
                      </Link>
                    </td>
                    <td>{taskLabel(a.task)}</td>
                    <td>
                      <code className="inline-code">POST {a.endpoint}</code>
                    </td>
                    <td className="nowrap">{formatWhen(a.deployedAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>
    </>
  );
}
