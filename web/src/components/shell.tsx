/**
 * The frame around every signed-in page: navigation on the left (Data, Models, Apps,
 * Settings), the workspace and sign-out at the top, the page in the middle.
 */
import { useEffect, useRef } from "react";
import { NavLink, Outlet, useLocation } from "react-router";
import { useSession, useSignedIn, workspaceName } from "../session/session.tsx";
import { AppIcon, BookIcon, DataIcon, Logo, ModelIcon, SettingsIcon } from "./icons.tsx";
import { Badge, Button } from "./ui.tsx";

const NAV = [
  { to: "/data", label: "Data", icon: <DataIcon /> },
  { to: "/models", label: "Models", icon: <ModelIcon /> },
  { to: "/apps", label: "Apps", icon: <AppIcon /> },
  { to: "/settings", label: "Settings", icon: <SettingsIcon /> },
];

export function Shell() {
  const session = useSignedIn();
  const { signOut } = useSession();
  const location = useLocation();
  const mainRef = useRef<HTMLElement>(null);
  const firstPath = useRef(location.pathname);

  // After a navigation (not the first page: Tab must still reach the skip link first), move
  // focus to the page so screen readers announce it.
  useEffect(() => {
    if (location.pathname === firstPath.current) return;
    firstPath.current = "";
    mainRef.current?.focus({ preventScroll: true });
    window.scrollTo(0, 0);
  }, [location.pathname]);

  return (
    <div className="shell">
      <a href="#main" className="skip-link">
        Skip to content
      </a>
      <aside className="sidebar">
        <NavLink to="/data" className="brand" aria-label="Ballast Studio home">
          <Logo />
          <span>
            Ballast <small>Studio</small>
          </span>
        </NavLink>
        <nav className="nav" aria-label="Main">
          {NAV.map((item) => (
            <NavLink key={item.to} to={item.to}>
              {item.icon}
              {item.label}
            </NavLink>
          ))}
        </nav>
        <div className="sidebar-footer">
          <a href="/docs" target="_blank" rel="noreferrer" className="row">
            <span style={{ width: 16, display: "inline-flex" }}>
              <BookIcon />
            </span>
            API reference
          </a>
        </div>
      </aside>
      <div className="main">
        <header className="topbar">
          <div className="workspace">
            <span className="muted">Workspace</span>
            <strong>{workspaceName(session)}</strong>
          </div>
          <div className="account">
            <span>
              {session.key.name} <Badge tone="blue">{session.key.role}</Badge>
            </span>
            <Button variant="ghost" size="sm" onClick={signOut}>
              Sign out
            </Button>
          </div>
        </header>
        <main id="main" className="content" ref={mainRef} tabIndex={-1}>
          <Outlet />
        </main>
      </div>
    </div>
  );
}
