/**
 * What an app's pages show before the app is there: loading, "there is no app named …" (a
 * 404), or the error with a retry. One place, so every page of an app says the same.
 */
import type { ReactElement } from "react";
import { ApiRequestError } from "../api/client.ts";
import { ButtonLink, EmptyState, ErrorBanner, Loading } from "../components/ui.tsx";
import type { Resource } from "../lib/use-resource.ts";

/** The page to show instead of the app's, or null once the app has loaded. */
export function appLoadState<T>(name: string, app: Resource<T>): ReactElement | null {
  if (app.loading && !app.data) return <Loading label="Loading the app…" />;
  if (!app.error && app.data) return null;
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
