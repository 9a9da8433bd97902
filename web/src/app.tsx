/**
 * The Studio's pages. Nothing but the sign-in page is shown until the session is known; the
 * designer (React Flow), the monitor and the releases page are lazy chunks, and so are the
 * charts inside the pages.
 */
import { lazy, Suspense } from "react";
import { Navigate, Route, Routes } from "react-router";
import { Shell } from "./components/shell.tsx";
import { ButtonLink, EmptyState, Loading } from "./components/ui.tsx";
import { AppPage } from "./pages/app-page.tsx";
import { AppsPage } from "./pages/apps-page.tsx";
import { DataPage } from "./pages/data-page.tsx";
import { DatasetPage } from "./pages/dataset-page.tsx";
import { JobPage } from "./pages/job-page.tsx";
import { ModelPage } from "./pages/model-page.tsx";
import { ModelsPage } from "./pages/models-page.tsx";
import { SettingsPage } from "./pages/settings-page.tsx";
import { SignInPage } from "./pages/sign-in-page.tsx";
import { useSession } from "./session/session.tsx";

const DesignerPage = lazy(() =>
  import("./pages/designer-page.tsx").then((m) => ({ default: m.DesignerPage })),
);
const MonitorPage = lazy(() =>
  import("./pages/monitor-page.tsx").then((m) => ({ default: m.MonitorPage })),
);
const ReleasesPage = lazy(() =>
  import("./pages/releases-page.tsx").then((m) => ({ default: m.ReleasesPage })),
);

function NotFound() {
  return (
    <EmptyState
      title="There is nothing at this address"
      action={
        <ButtonLink to="/data" variant="primary">
          Go to your data
        </ButtonLink>
      }
    >
      The link may be old, or the thing it pointed to was deleted.
    </EmptyState>
  );
}

export function App() {
  const { state } = useSession();
  if (state.status === "loading") {
    return (
      <div className="full-page">
        <Loading label="Opening Ballast Studio…" />
      </div>
    );
  }
  if (state.status === "signed-out") return <SignInPage />;
  return (
    <Routes>
      <Route element={<Shell />}>
        <Route index element={<Navigate to="/data" replace />} />
        <Route path="data" element={<DataPage />} />
        <Route path="data/:name" element={<DatasetPage />} />
        <Route path="jobs/:id" element={<JobPage />} />
        <Route path="models" element={<ModelsPage />} />
        <Route path="models/:ref" element={<ModelPage />} />
        <Route path="apps" element={<AppsPage />} />
        <Route path="apps/:app" element={<AppPage />} />
        <Route
          path="apps/:app/monitor"
          element={
            <Suspense fallback={<Loading label="Loading the monitor…" />}>
              <MonitorPage />
            </Suspense>
          }
        />
        <Route
          path="apps/:app/releases"
          element={
            <Suspense fallback={<Loading label="Loading the releases…" />}>
              <ReleasesPage />
            </Suspense>
          }
        />
        <Route
          path="apps/:app/design"
          element={
            <Suspense fallback={<Loading label="Loading the designer…" />}>
              <DesignerPage />
            </Suspense>
          }
        />
        <Route path="settings" element={<SettingsPage />} />
        <Route path="*" element={<NotFound />} />
      </Route>
    </Routes>
  );
}
