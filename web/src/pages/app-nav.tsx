/** The header and sub-navigation shared by an app's pages (overview, monitor, releases, design). */
import type { ReactNode } from "react";
import { NavLink } from "react-router";
import { seg } from "../api/client.ts";
import type { AppDto } from "../api/types.ts";
import { FlowIcon, PulseIcon } from "../components/icons.tsx";
import { Badge, PageHeader } from "../components/ui.tsx";
import { formatWhen } from "../lib/format.ts";

/** Versions stepping up: the releases tab (kept here until icons.tsx gains one). */
const ReleaseIcon = () => (
  <svg
    viewBox="0 0 24 24"
    fill="none"
    stroke="currentColor"
    strokeWidth="1.8"
    strokeLinecap="round"
    strokeLinejoin="round"
    aria-hidden="true"
    focusable="false"
  >
    <path d="M4 20h4v-5h4v-5h4V5h4" />
    <path d="M16 5h4v4" />
  </svg>
);

export function AppHeader({ app, actions }: { app: AppDto; actions?: ReactNode }) {
  const base = `/apps/${seg(app.name)}`;
  return (
    <>
      <PageHeader
        crumbs={[{ label: "Apps", to: "/apps" }]}
        title={
          <span className="row" style={{ gap: 10 }}>
            {app.name} <Badge tone="green">Live · v{app.version}</Badge>
          </span>
        }
        subtitle={`Serving ${app.model.name} v${app.model.version} · deployed ${formatWhen(app.deployedAt)}`}
        actions={actions}
      />
      <nav className="subnav" aria-label={`${app.name} pages`}>
        <NavLink end to={base} className="tab">
          Overview
        </NavLink>
        <NavLink to={`${base}/monitor`} className="tab">
          <span style={{ width: 16, display: "inline-flex" }}>
            <PulseIcon />
          </span>
          Monitor
        </NavLink>
        <NavLink to={`${base}/releases`} className="tab">
          <span style={{ width: 16, display: "inline-flex" }}>
            <ReleaseIcon />
          </span>
          Releases
        </NavLink>
        <NavLink to={`${base}/design`} className="tab">
          <span style={{ width: 16, display: "inline-flex" }}>
            <FlowIcon />
          </span>
          Design
        </NavLink>
      </nav>
    </>
  );
}
