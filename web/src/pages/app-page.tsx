/**
 * An app: its endpoint, a "try it" form generated from its input schema with the answer beside
 * it (and one click to keep that answer as a golden case), code to call it (curl, JavaScript,
 * Python) and an invoker key to call it with.
 */
import { type FormEvent, useMemo, useState } from "react";
import { Link, useParams, useSearchParams } from "react-router";
import { ApiRequestError, seg, unwrap } from "../api/client.ts";
import { addGoldenCase } from "../api/releases.ts";
import type { AppDetailDto, KeyDto, ModelReportDto, PredictResponseDto } from "../api/types.ts";
import { Bars, DivergingBars } from "../components/bars.tsx";
import { KeyIcon } from "../components/icons.tsx";
import {
  Button,
  Card,
  CodeBlock,
  CopyButton,
  ErrorBanner,
  Field,
  Notice,
  TabPanel,
  Tabs,
} from "../components/ui.tsx";
import { formatNumber, formatPercent } from "../lib/format.ts";
import {
  type FormField,
  type FormValues,
  fieldsFromSchema,
  initialValues,
  recordFromValues,
} from "../lib/schema-form.ts";
import { curlSnippet, fetchSnippet, pythonSnippet } from "../lib/snippets.ts";
import { useResource } from "../lib/use-resource.ts";
import { useApi, useSignedIn } from "../session/session.tsx";
import { appLoadState } from "./app-load-state.tsx";
import { AppHeader } from "./app-nav.tsx";

interface Loaded {
  readonly app: AppDetailDto;
  /** A held-out row from the model's report, to fill the form with something real. */
  readonly example: Readonly<Record<string, unknown>>;
}

export function AppPage() {
  const { app: name = "" } = useParams();
  const [params] = useSearchParams();
  const api = useApi();
  const loaded = useResource<Loaded>(
    async (signal) => {
      const app = unwrap<AppDetailDto>(await api.get(`/v1/apps/${seg(name)}`, signal), "app");
      let example: Record<string, unknown> = {};
      try {
        const report = unwrap<ModelReportDto>(
          await api.get(
            `/v1/models/${seg(`${app.model.name}@${app.model.version}`)}/report`,
            signal,
          ),
          "report",
        );
        example = { ...(report.samples[0]?.record ?? {}) };
      } catch {
        // No report: the form starts blank.
      }
      return { app, example };
    },
    [api, name],
  );

  const waiting = appLoadState(name, loaded);
  if (waiting || !loaded.data) return waiting;
  const { app, example } = loaded.data;
  const published = params.get("published");
  return <AppOverview key={app.version} app={app} example={example} published={published} />;
}

function AppOverview({
  app,
  example,
  published,
}: {
  app: AppDetailDto;
  example: Readonly<Record<string, unknown>>;
  published: string | null;
}) {
  const api = useApi();
  const session = useSignedIn();
  const url = `${window.location.origin}${app.endpoint}`;
  const fields = useMemo(() => fieldsFromSchema(app.inputSchema), [app.inputSchema]);
  const [values, setValues] = useState<FormValues>(() => initialValues(fields, example));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [answer, setAnswer] = useState<PredictResponseDto>();
  // The record that was answered: the form may change after, the golden case must not.
  const [answered, setAnswered] = useState<Record<string, unknown>>();
  const [savingGolden, setSavingGolden] = useState(false);
  const [goldenSaved, setGoldenSaved] = useState<{ readonly name: string | null }>();
  const [goldenError, setGoldenError] = useState<unknown>();
  const [predictError, setPredictError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const [lang, setLang] = useState("curl");
  const [secret, setSecret] = useState<string>();
  const [keyBusy, setKeyBusy] = useState(false);
  const [keyError, setKeyError] = useState<unknown>();

  const current = recordFromValues(fields, values);

  const predict = async (event: FormEvent) => {
    event.preventDefault();
    setPredictError(undefined);
    setGoldenSaved(undefined);
    setGoldenError(undefined);
    setErrors(current.errors);
    if (Object.keys(current.errors).length > 0) return;
    setBusy(true);
    try {
      const body = await api.post<PredictResponseDto>(
        `${app.endpoint}?explain=true`,
        current.record,
      );
      setAnswer(body);
      setAnswered(current.record);
    } catch (error) {
      setAnswer(undefined);
      setAnswered(undefined);
      setPredictError(error);
      if (error instanceof ApiRequestError) {
        const byField: Record<string, string> = {};
        for (const d of error.details) {
          const field = d.path?.replace(/^\//, "").split("/")[0];
          if (field && fields.some((f) => f.name === field)) byField[field] = d.message;
        }
        setErrors(byField);
      }
    } finally {
      setBusy(false);
    }
  };

  /** The answered input becomes a case expecting what production answers now (the server's default). */
  const saveGolden = async () => {
    if (!answered) return;
    setSavingGolden(true);
    setGoldenError(undefined);
    try {
      const saved = await addGoldenCase(api, app.name, { input: answered, source: "studio" });
      setGoldenSaved({ name: saved[0]?.name ?? null });
    } catch (error) {
      setGoldenError(error);
    } finally {
      setSavingGolden(false);
    }
  };

  const createKey = async () => {
    setKeyBusy(true);
    setKeyError(undefined);
    try {
      const body = await api.post<{ key?: unknown; secret?: unknown; record?: KeyDto }>(
        "/v1/keys",
        { role: "invoker", name: `${app.name} invoker` },
      );
      const value =
        typeof body.secret === "string"
          ? body.secret
          : typeof body.key === "string"
            ? body.key
            : undefined;
      if (!value) throw new Error("The server did not return the new key");
      setSecret(value);
    } catch (error) {
      setKeyError(error);
    } finally {
      setKeyBusy(false);
    }
  };

  const snippetInput = { url, record: current.record, ...(secret ? { key: secret } : {}) };
  const snippets: Record<string, { label: string; code: string }> = {
    curl: { label: "curl", code: curlSnippet(snippetInput) },
    js: { label: "JavaScript (fetch)", code: fetchSnippet(snippetInput) },
    python: { label: "Python (requests)", code: pythonSnippet(snippetInput) },
  };
  const isAdmin = session.key.role === "admin";

  return (
    <>
      <AppHeader app={app} />
      {published ? (
        <Notice tone="success" title={`${app.name} v${published} is live`}>
          It answers at the endpoint below. Try it with the form, then call it from your code.
        </Notice>
      ) : null}
      <Card
        title="Endpoint"
        description="Send one record as JSON (or up to many in {&quot;rows&quot;: [...]}); the answer comes back as JSON."
      >
        <div className="copy-field">
          <code data-testid="endpoint">POST {url}</code>
          <CopyButton text={url} label="Copy endpoint URL" />
        </div>
        <p className="muted small">
          Every request is checked against the app's input contract: wrong types, unknown fields and
          missing required fields are refused with a message naming the field.{" "}
          <a href="/docs" target="_blank" rel="noreferrer">
            OpenAPI documentation
          </a>
        </p>
      </Card>

      <Card
        title="Try it"
        description={
          Object.keys(example).length > 0
            ? "Filled in with a row the model never saw in training. Change any value and predict."
            : "Fill in the inputs and predict."
        }
      >
        <div className="try-grid">
          <form onSubmit={predict} className="stack" noValidate aria-label="Try the app">
            <div className="form-grid">
              {fields.map((f) => (
                <InputField
                  key={f.name}
                  field={f}
                  value={values[f.name] ?? ""}
                  error={errors[f.name]}
                  onChange={(v) => setValues((prev) => ({ ...prev, [f.name]: v }))}
                />
              ))}
            </div>
            <div className="form-actions">
              <Button type="submit" variant="primary" loading={busy}>
                Predict
              </Button>
              <Button
                variant="ghost"
                onClick={() => {
                  setValues(initialValues(fields, example));
                  setErrors({});
                }}
              >
                Reset
              </Button>
            </div>
          </form>
          <section className="answer" aria-live="polite" aria-label="Answer">
            {predictError ? (
              <ErrorBanner title="The app refused the request" error={predictError} />
            ) : answer ? (
              <>
                <Answer answer={answer} />
                <div className="stack" style={{ gap: 8 }} data-testid="save-golden">
                  {goldenSaved ? (
                    <Notice
                      tone="success"
                      title={
                        goldenSaved.name
                          ? `Saved as the golden case ${goldenSaved.name}`
                          : "Saved as a golden case"
                      }
                    >
                      Every new version must keep giving this answer before it reaches production.{" "}
                      <Link to={`/apps/${seg(app.name)}/releases#golden`}>See golden cases</Link>
                    </Notice>
                  ) : (
                    <div className="row">
                      <Button
                        size="sm"
                        onClick={() => void saveGolden()}
                        loading={savingGolden}
                        disabled={!answered}
                      >
                        Save as golden case
                      </Button>
                      <span className="muted small">
                        New versions must then give this answer to reach production.
                      </span>
                    </div>
                  )}
                  {goldenError ? (
                    <ErrorBanner title="The golden case was not saved" error={goldenError} />
                  ) : null}
                </div>
              </>
            ) : (
              <p className="muted">The answer appears here.</p>
            )}
          </section>
        </div>
      </Card>

      <Card
        title="Call it from code"
        description="Copy a snippet; it sends the record currently in the form."
        actions={<KeyIconBadge />}
      >
        <div className="secret-area stack" style={{ gap: 12 }}>
          {secret ? (
            <div className="secret" data-testid="new-key">
              <strong>Your new invoker key (shown only once: store it now)</strong>
              <div className="copy-field">
                <code>{secret}</code>
                <CopyButton text={secret} label="Copy key" />
              </div>
              <span className="small">The snippets below now use it.</span>
            </div>
          ) : (
            <div className="row">
              <span className="muted" style={{ flex: 1, minWidth: 280 }}>
                Calls need an API key. An <strong>invoker</strong> key can call apps and nothing
                else, so it is the one to put in other programs.
              </span>
              <Button onClick={() => void createKey()} loading={keyBusy} disabled={!isAdmin}>
                Create an invoker key
              </Button>
            </div>
          )}
          {!isAdmin ? (
            <p className="muted small">
              Only an admin can create keys; ask one for an invoker key.
            </p>
          ) : null}
          {keyError ? <ErrorBanner title="The key was not created" error={keyError} /> : null}
        </div>
        <div>
          <Tabs
            tabs={Object.entries(snippets).map(([id, s]) => ({ id, label: s.label }))}
            current={lang}
            onChange={setLang}
            label="Language"
            idPrefix="snippet"
          />
          <TabPanel id={lang} idPrefix="snippet">
            <CodeBlock label={snippets[lang]?.label ?? ""} code={snippets[lang]?.code ?? ""} />
          </TabPanel>
        </div>
      </Card>
    </>
  );
}

function KeyIconBadge() {
  return (
    <span className="muted" style={{ width: 20, display: "inline-flex" }} aria-hidden="true">
      <KeyIcon />
    </span>
  );
}

function InputField({
  field: f,
  value,
  error,
  onChange,
}: {
  field: FormField;
  value: string | boolean;
  error?: string;
  onChange: (v: string | boolean) => void;
}) {
  const label = (
    <>
      {f.name}
      {f.required ? null : <span className="muted"> (optional)</span>}
    </>
  );
  if (f.kind === "boolean") {
    return (
      <div className={`field${error ? " field-invalid" : ""}`}>
        <span className="field-label" aria-hidden="true">
          {f.name}
        </span>
        <label className="checkbox" style={{ height: 36 }}>
          <input
            type="checkbox"
            checked={value === true}
            aria-label={f.name}
            onChange={(e) => onChange(e.target.checked)}
          />
          {f.labels ? (value === true ? f.labels[1] : f.labels[0]) : value === true ? "Yes" : "No"}
        </label>
        {error ? <p className="field-error">{error}</p> : null}
      </div>
    );
  }
  return (
    <Field label={label} error={error}>
      {(id, describedBy) =>
        f.kind === "enum" ? (
          <select
            id={id}
            className="select"
            value={String(value)}
            aria-describedby={describedBy}
            aria-invalid={error ? true : undefined}
            onChange={(e) => onChange(e.target.value)}
          >
            {f.nullable || !f.required ? <option value="">(missing)</option> : null}
            {f.options?.map((o) => (
              <option key={o} value={o}>
                {o}
              </option>
            ))}
          </select>
        ) : (
          <input
            id={id}
            className="input"
            type={f.kind === "number" ? "number" : f.kind === "date" ? "date" : "text"}
            step={f.kind === "number" ? "any" : undefined}
            inputMode={f.kind === "number" ? "decimal" : undefined}
            value={String(value)}
            aria-describedby={describedBy}
            aria-invalid={error ? true : undefined}
            required={f.required}
            onChange={(e) => onChange(e.target.value)}
          />
        )
      }
    </Field>
  );
}

function Answer({ answer }: { answer: PredictResponseDto }) {
  const probs = answer.probabilities
    ? Object.entries(answer.probabilities).sort(([, a], [, b]) => b - a)
    : [];
  const contributions = answer.explanation
    ? Object.entries(answer.explanation.contributions)
        .sort(([, a], [, b]) => Math.abs(b) - Math.abs(a))
        .slice(0, 8)
    : [];
  return (
    <div className="stack" style={{ gap: 16 }} data-testid="answer">
      <div>
        <div className="muted small">Prediction</div>
        <div className="answer-value">
          {typeof answer.prediction === "number"
            ? formatNumber(answer.prediction, 4)
            : String(answer.prediction ?? "—")}
        </div>
        {probs[0] ? (
          <div className="muted">{formatPercent(probs[0][1] * 100)} probability</div>
        ) : null}
      </div>
      {probs.length > 0 ? (
        <div className="stack" style={{ gap: 6 }}>
          <h3>Probabilities</h3>
          <Bars
            label="Probability of each class"
            max={1}
            items={probs.map(([label, p]) => ({
              label,
              value: p,
              display: formatPercent(p * 100),
            }))}
          />
        </div>
      ) : null}
      {contributions.length > 0 ? (
        <div className="stack" style={{ gap: 6 }}>
          <h3>Why</h3>
          <p className="muted small">
            What pushed this answer up (blue) or down (red)
            {answer.explanation?.class ? `, for ${answer.explanation.class}` : ""}.
          </p>
          <DivergingBars
            label="Contribution of each input"
            items={contributions.map(([label, value]) => ({ label, value }))}
          />
        </div>
      ) : null}
      <p className="muted small">
        Answered by {answer.app} v{answer.app_version} · request {answer.request_id.slice(0, 8)}
      </p>
    </div>
  );
}
