/**
 * Design: the app's pipeline as a graph, a step palette, settings forms and the spec as YAML
 * (web/src/designer/). This page, React Flow and the designer load as one lazy chunk.
 */
import { useParams } from "react-router";
import { ApiRequestError, seg, unwrap } from "../api/client.ts";
import type { AppDetailDto } from "../api/types.ts";
import { ButtonLink, EmptyState, ErrorBanner, Loading } from "../components/ui.tsx";
import { Designer } from "../designer/designer.tsx";
import { useResource } from "../lib/use-resource.ts";
import { useApi } from "../session/session.tsx";

export function DesignerPage() {
  const { app: name = "" } = useParams();
  const api = useApi();
  const app = useResource(
    async (signal) => unwrap<AppDetailDto>(await api.get(`/v1/apps/${seg(name)}`, signal), "app"),
    [api, name],
  );
  if (app.loading && !app.data) return <Loading label="Loading the app…" />;
  if (app.error || !app.data) {
    return app.error instanceof ApiRequestError && app.error.status === 404 ? (
      <EmptyState
        title={`There is no app named ${name}`}
        action={
          <ButtonLink to="/apps" variant="primary">
            All apps
          </ButtonLink>
        }
      >
        It may have been renamed, or the link is old.
      </EmptyState>
    ) : (
      <ErrorBanner title="Could not load the app" error={app.error} onRetry={app.reload} />
    );
  }
  const detail = app.data;
  return (
    <Designer
      // A different app (or a reload) starts a fresh editor; saving keeps the graph as it is.
      key={detail.name}
      app={detail}
      onSaved={(saved) => app.setData({ ...detail, ...saved })}
    />
  );
}
