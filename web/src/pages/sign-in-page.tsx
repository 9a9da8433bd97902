/** Sign in with an API key (kept for this tab only), or as the local admin on loopback. */
import { type FormEvent, useState } from "react";
import { ApiRequestError } from "../api/client.ts";
import { Logo } from "../components/icons.tsx";
import { Button, ErrorBanner, Field, Notice } from "../components/ui.tsx";
import { useSession } from "../session/session.tsx";

export function SignInPage() {
  const { state, signIn, signInLocal } = useSession();
  const [key, setKey] = useState("");
  const [busy, setBusy] = useState<"key" | "local" | undefined>();
  const [error, setError] = useState<unknown>();
  const [fieldError, setFieldError] = useState<string>();
  const notice = state.status === "signed-out" ? state.notice : undefined;
  const localAvailable = state.status === "signed-out" && state.localAvailable;

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(undefined);
    if (!key.trim()) {
      setFieldError("Paste an API key");
      return;
    }
    setFieldError(undefined);
    setBusy("key");
    try {
      await signIn(key);
    } catch (err) {
      setError(
        err instanceof ApiRequestError && err.status === 401
          ? new ApiRequestError(
              401,
              err.code,
              "This key was not accepted. Check that it was copied whole and has not been revoked.",
            )
          : err,
      );
      setBusy(undefined);
    }
  };

  const local = async () => {
    setError(undefined);
    setBusy("local");
    try {
      await signInLocal();
    } catch (err) {
      setError(err);
      setBusy(undefined);
    }
  };

  return (
    <main className="signin">
      <div className="signin-card">
        <div className="signin-brand">
          <Logo />
          Ballast Studio
        </div>
        <div className="stack" style={{ gap: 4 }}>
          <h1>Sign in</h1>
          <p className="muted">Use an API key of this Ballast server.</p>
        </div>
        {notice ? <Notice>{notice}</Notice> : null}
        {error ? <ErrorBanner error={error} title="Could not sign in" /> : null}
        <form className="stack" onSubmit={submit} noValidate>
          <Field
            label="API key"
            hint={
              <>
                The first start saved an admin key in <code>.ballast/admin.key</code>; an admin can
                create more under Settings. The Studio keeps it for this browser tab only.
              </>
            }
            error={fieldError}
          >
            {(id, describedBy) => (
              <input
                id={id}
                className="input mono"
                type="password"
                autoComplete="off"
                spellCheck={false}
                placeholder="blst_…"
                value={key}
                onChange={(e) => setKey(e.target.value)}
                aria-describedby={describedBy}
                aria-invalid={fieldError ? true : undefined}
              />
            )}
          </Field>
          <Button type="submit" variant="primary" loading={busy === "key"} disabled={!!busy}>
            Sign in
          </Button>
        </form>
        {localAvailable ? (
          <>
            <div className="divider">or, on this machine</div>
            <Button onClick={local} loading={busy === "local"} disabled={!!busy}>
              Continue as the local admin
            </Button>
          </>
        ) : null}
      </div>
    </main>
  );
}
