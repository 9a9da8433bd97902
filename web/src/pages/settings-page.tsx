/**
 * Settings: the current session, and the workspace's API keys (create with a role, revoke).
 * A new key's secret is shown once, as the server returns it only once.
 */
import { type FormEvent, useState } from "react";
import { seg } from "../api/client.ts";
import type { KeyDto, Role } from "../api/types.ts";
import { KeyIcon } from "../components/icons.tsx";
import {
  Badge,
  Button,
  Card,
  ConfirmDialog,
  CopyButton,
  EmptyState,
  ErrorBanner,
  Field,
  Loading,
  Notice,
  PageHeader,
} from "../components/ui.tsx";
import { formatWhen } from "../lib/format.ts";
import { useResource } from "../lib/use-resource.ts";
import { useApi, useSession, useSignedIn, workspaceName } from "../session/session.tsx";

const ROLES: readonly { id: Role; label: string; meaning: string }[] = [
  { id: "invoker", label: "Invoker", meaning: "calls published apps, nothing else" },
  { id: "viewer", label: "Viewer", meaning: "reads data, models and apps" },
  { id: "builder", label: "Builder", meaning: "imports data, trains and publishes" },
  { id: "admin", label: "Admin", meaning: "everything, including keys" },
];

const ROLE_TONES: Record<Role, "neutral" | "blue" | "green" | "violet"> = {
  admin: "violet",
  builder: "blue",
  viewer: "neutral",
  invoker: "green",
};

export function SettingsPage() {
  const session = useSignedIn();
  const { signOut } = useSession();
  return (
    <>
      <PageHeader title="Settings" subtitle="Your session and the workspace's API keys." />
      <Card
        title="Session"
        actions={
          <Button variant="secondary" onClick={signOut}>
            Sign out
          </Button>
        }
      >
        <dl className="facts">
          <dt>Workspace</dt>
          <dd>{workspaceName(session)}</dd>
          <dt>Signed in with</dt>
          <dd>
            {session.key.name} <code className="inline-code">{session.key.prefix}…</code>
          </dd>
          <dt>Role</dt>
          <dd>
            <Badge tone={ROLE_TONES[session.key.role]}>{session.key.role}</Badge>{" "}
            <span className="muted">{ROLES.find((r) => r.id === session.key.role)?.meaning}</span>
          </dd>
        </dl>
        <p className="muted small">
          The Studio keeps your key for this browser tab only; closing the tab signs you out.
        </p>
      </Card>
      {session.key.role === "admin" ? (
        <KeysCard currentKeyId={session.key.id} />
      ) : (
        <Card title="API keys">
          <Notice>Only an admin can see and manage the workspace's keys.</Notice>
        </Card>
      )}
    </>
  );
}

function KeysCard({ currentKeyId }: { currentKeyId: string }) {
  const api = useApi();
  const keys = useResource((signal) => api.get<{ keys: KeyDto[] }>("/v1/keys", signal), [api]);
  const [name, setName] = useState("");
  const [role, setRole] = useState<Role>("invoker");
  const [nameError, setNameError] = useState<string>();
  const [creating, setCreating] = useState(false);
  const [createError, setCreateError] = useState<unknown>();
  const [created, setCreated] = useState<{ name: string; secret: string }>();
  const [revoking, setRevoking] = useState<KeyDto>();
  const [revokeBusy, setRevokeBusy] = useState(false);
  const [revokeError, setRevokeError] = useState<unknown>();

  const create = async (event: FormEvent) => {
    event.preventDefault();
    const trimmed = name.trim();
    if (trimmed.length > 100) {
      setNameError("At most 100 characters");
      return;
    }
    setNameError(undefined);
    setCreating(true);
    setCreateError(undefined);
    try {
      const body = await api.post<{ key?: unknown; secret?: unknown }>("/v1/keys", {
        role,
        ...(trimmed ? { name: trimmed } : {}),
      });
      const secret =
        typeof body.secret === "string"
          ? body.secret
          : typeof body.key === "string"
            ? body.key
            : "";
      setCreated({ name: trimmed || `${role} key`, secret });
      setName("");
      keys.reload();
    } catch (error) {
      setCreateError(error);
    } finally {
      setCreating(false);
    }
  };

  const revoke = async () => {
    if (!revoking) return;
    setRevokeBusy(true);
    setRevokeError(undefined);
    try {
      await api.delete(`/v1/keys/${seg(revoking.id)}`);
      setRevoking(undefined);
      keys.reload();
    } catch (error) {
      setRevokeError(error);
      setRevoking(undefined);
    } finally {
      setRevokeBusy(false);
    }
  };

  const list = keys.data?.keys ?? [];
  return (
    <>
      <Card
        title="Create an API key"
        description="Give each program or person its own key, with the least role it needs, so one can be revoked without touching the others."
      >
        <form className="row" style={{ alignItems: "flex-start" }} onSubmit={create}>
          <Field label="Name" hint="Who or what will use it" error={nameError}>
            {(id, describedBy) => (
              <input
                id={id}
                className="input"
                style={{ width: 260 }}
                value={name}
                placeholder="e.g. billing service"
                aria-describedby={describedBy}
                onChange={(e) => setName(e.target.value)}
              />
            )}
          </Field>
          <Field label="Role" hint={ROLES.find((r) => r.id === role)?.meaning}>
            {(id, describedBy) => (
              <select
                id={id}
                className="select"
                style={{ width: 200 }}
                value={role}
                aria-describedby={describedBy}
                onChange={(e) => setRole(e.target.value as Role)}
              >
                {ROLES.map((r) => (
                  <option key={r.id} value={r.id}>
                    {r.label}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Button type="submit" variant="primary" loading={creating} style={{ marginTop: 25 }}>
            Create key
          </Button>
        </form>
        {createError ? <ErrorBanner title="The key was not created" error={createError} /> : null}
        {created ? (
          <div className="secret" data-testid="created-key">
            <strong>{created.name}: copy the key now, it will not be shown again</strong>
            <div className="copy-field">
              <code>{created.secret}</code>
              <CopyButton text={created.secret} label="Copy key" />
            </div>
          </div>
        ) : null}
      </Card>
      <Card title="API keys" className="card-flush">
        {revokeError ? (
          <div style={{ padding: "0 24px" }}>
            <ErrorBanner title="The key was not revoked" error={revokeError} />
          </div>
        ) : null}
        {keys.loading && !keys.data ? (
          <Loading label="Loading keys…" />
        ) : keys.error ? (
          <div style={{ padding: 24 }}>
            <ErrorBanner title="Could not load the keys" error={keys.error} onRetry={keys.reload} />
          </div>
        ) : list.length === 0 ? (
          <EmptyState title="No keys" icon={<KeyIcon />} />
        ) : (
          <div className="table-wrap">
            <table className="table" aria-label="API keys">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Role</th>
                  <th scope="col">Key</th>
                  <th scope="col">Created</th>
                  <th scope="col">Last used</th>
                  <th scope="col">Status</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {list.map((k) => (
                  <tr key={k.id} data-key={k.name}>
                    <td>
                      {k.name}
                      {k.id === currentKeyId ? (
                        <span className="muted small"> (this session)</span>
                      ) : null}
                    </td>
                    <td>
                      <Badge tone={ROLE_TONES[k.role]}>{k.role}</Badge>
                    </td>
                    <td>
                      <code className="inline-code">{k.prefix}…</code>
                    </td>
                    <td className="nowrap">{formatWhen(k.createdAt)}</td>
                    <td className="nowrap">{k.lastUsedAt ? formatWhen(k.lastUsedAt) : "never"}</td>
                    <td>
                      {k.revokedAt ? (
                        <Badge tone="red">Revoked</Badge>
                      ) : (
                        <Badge tone="green">Active</Badge>
                      )}
                    </td>
                    <td className="num">
                      {k.revokedAt || k.id === currentKeyId ? null : (
                        <Button
                          size="sm"
                          variant="ghost"
                          onClick={() => setRevoking(k)}
                          aria-label={`Revoke ${k.name}`}
                        >
                          Revoke
                        </Button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>
      <ConfirmDialog
        open={revoking !== undefined}
        title={`Revoke ${revoking?.name ?? "this key"}?`}
        confirmLabel="Revoke key"
        danger
        busy={revokeBusy}
        onConfirm={() => void revoke()}
        onCancel={() => setRevoking(undefined)}
      >
        Programs using this key stop working within seconds. This cannot be undone.
      </ConfirmDialog>
    </>
  );
}
