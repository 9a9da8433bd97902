/** The header and sub-navigation shared by an app's pages (overview, monitor, design). */
import type { ReactNode } from "react";
import { NavLink } from "react-router";
import { seg } from "../api/client.ts";
import type { AppDto } from "../api/types.ts";
import { FlowIcon, PulseIcon } from "../components/icons.tsx";
import { Badge, PageHeader } from "../components/ui.tsx";
import { formatWhen } from "../lib/format.ts";

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
