/**
 * The promote dialog: which version, where to (staging, or production), and for production how
 * (canary, shadow, A/B or all at once), each strategy explained in one line and the chosen one
 * spelled out with this release's numbers. The settings start from the candidate's own spec, so
 * "Start" alone does what the app's release settings say; the checks a canary applies sit in a
 * fold for those who want to change them. A refusal (golden cases failing, a release already
 * running) is shown in the dialog with the cases the server names.
 */
import { type FormEvent, useEffect, useId, useMemo, useRef, useState } from "react";
import { promote } from "../../api/releases.ts";
import type {
  AppVersionDto,
  EnvironmentName,
  EnvironmentsDto,
  PromoteResponse,
  RolloutStrategy,
} from "../../api/types.ts";
import { Button, ErrorBanner, Field } from "../../components/ui.tsx";
import { formatWhen } from "../../lib/format.ts";
import { useApi } from "../../session/session.tsx";
import {
  formPlanWords,
  type PromoteField,
  type PromoteForm,
  percentFor,
  promoteFormDefaults,
  promoteRequestOf,
  releaseSettings,
  STRATEGIES,
  strategyHint,
  strategySentence,
  strategyTitle,
} from "./releases-data.ts";

/** The version each target starts with: staging's for production, the newest for staging. */
function defaultVersion(
  to: EnvironmentName,
  versions: readonly AppVersionDto[],
  env: EnvironmentsDto | undefined,
): number | null {
  const newest = versions[0]?.version ?? null;
  if (to === "staging") return newest;
  const staged = env?.staging?.version;
  if (staged !== undefined && staged !== env?.production?.version) return staged;
  const notLive = versions.find((v) => v.version !== env?.production?.version);
  return notLive?.version ?? newest;
}

export function PromoteDialog({
  app,
  open,
  versions,
  environments,
  initialTarget = "production",
  onClose,
  onPromoted,
}: {
  app: string;
  open: boolean;
  versions: readonly AppVersionDto[];
  environments: EnvironmentsDto | undefined;
  initialTarget?: EnvironmentName;
  onClose: () => void;
  onPromoted: (response: PromoteResponse) => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);
  return (
    <dialog
      ref={ref}
      className="dialog dialog-wide"
      aria-labelledby={titleId}
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
    >
      {open ? (
        <PromoteFormView
          app={app}
          titleId={titleId}
          versions={versions}
          environments={environments}
          initialTarget={initialTarget}
          onClose={onClose}
          onPromoted={onPromoted}
        />
      ) : null}
    </dialog>
  );
}

function PromoteFormView({
  app,
  titleId,
  versions,
  environments,
  initialTarget,
  onClose,
  onPromoted,
}: {
  app: string;
  titleId: string;
  versions: readonly AppVersionDto[];
  environments: EnvironmentsDto | undefined;
  initialTarget: EnvironmentName;
  onClose: () => void;
  onPromoted: (response: PromoteResponse) => void;
}) {
  const api = useApi();
  const settingsOf = (version: string) =>
    releaseSettings(versions.find((v) => String(v.version) === version)?.spec);
  const [form, setForm] = useState<PromoteForm>(() => {
    const version = defaultVersion(initialTarget, versions, environments);
    return promoteFormDefaults(
      initialTarget,
      version,
      releaseSettings(versions.find((v) => v.version === version)?.spec),
    );
  });
  const [errors, setErrors] = useState<Partial<Record<PromoteField, string>>>({});
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<unknown>();

  const stable = environments?.production?.version ?? null;
  const sentence = useMemo(
    () => strategySentence(form.strategy, formPlanWords(form, stable)),
    [form, stable],
  );

  const set = <K extends PromoteField>(key: K, value: PromoteForm[K]) =>
    setForm((f) => ({ ...f, [key]: value }));

  /** A new version or target: the settings of that version's spec, the strategy kept. */
  const reset = (to: EnvironmentName, version: string) => {
    const next = promoteFormDefaults(
      to,
      version === "" ? null : Number(version),
      settingsOf(version),
      form.strategy,
    );
    setForm(next);
    setErrors({});
  };

  const chooseStrategy = (strategy: RolloutStrategy) => {
    setForm((f) => ({ ...f, strategy, percent: percentFor(strategy, settingsOf(f.version)) }));
    setErrors({});
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setFailure(undefined);
    const checked = promoteRequestOf(form);
    setErrors(checked.errors);
    if (!checked.request) return;
    setBusy(true);
    try {
      onPromoted(await promote(api, app, checked.request));
    } catch (error) {
      setFailure(error);
    } finally {
      setBusy(false);
    }
  };

  const toProduction = form.to === "production";
  const action = !toProduction
    ? `Put v${form.version || "?"} in staging`
    : form.strategy === "direct"
      ? `Release v${form.version || "?"} now`
      : `Start the ${strategyTitle(form.strategy).toLowerCase()}`;

  return (
    <form onSubmit={submit} noValidate aria-label="Promote a version">
      <h2 id={titleId}>Promote a version of {app}</h2>
      <div className="dialog-body stack">
        <div className="form-grid">
          <Field label="Version" error={errors.version}>
            {(id, describedBy) => (
              <select
                id={id}
                className="select"
                value={form.version}
                aria-describedby={describedBy}
                onChange={(e) => reset(form.to, e.target.value)}
              >
                {form.version === "" ? <option value="">Choose a version</option> : null}
                {versions.map((v) => (
                  <option key={v.version} value={String(v.version)}>
                    {versionLabel(v, environments)}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <fieldset className="choice-inline">
            <legend className="field-label">Where to</legend>
            {(["production", "staging"] as const).map((to) => (
              <label key={to} className="checkbox">
                <input
                  type="radio"
                  name="promote-to"
                  value={to}
                  checked={form.to === to}
                  onChange={() =>
                    reset(to, String(defaultVersion(to, versions, environments) ?? ""))
                  }
                />
                {to === "production" ? "Production" : "Staging"}
              </label>
            ))}
          </fieldset>
        </div>

        {toProduction ? (
          <>
            <fieldset className="choices">
              <legend className="field-label">How</legend>
              {STRATEGIES.map((s) => (
                <label key={s} className={`choice${form.strategy === s ? " choice-on" : ""}`}>
                  <input
                    type="radio"
                    name="promote-strategy"
                    value={s}
                    checked={form.strategy === s}
                    onChange={() => chooseStrategy(s)}
                  />
                  <span className="choice-text">
                    <strong>{strategyTitle(s)}</strong>
                    <span className="muted small">{strategyHint(s)}</span>
                  </span>
                </label>
              ))}
            </fieldset>
            <p className="plan-sentence" data-testid="plan-sentence">
              {sentence}
            </p>
            <StrategySettings form={form} errors={errors} set={set} />
          </>
        ) : (
          <p className="plan-sentence">
            Staging answers at <code>/v1/apps/{app}/staging/predict</code>; production is not
            touched. Promote from staging to production when its golden cases pass.
          </p>
        )}
        {failure ? <ErrorBanner title="The promotion was refused" error={failure} /> : null}
      </div>
      <div className="dialog-actions">
        <Button onClick={onClose} disabled={busy}>
          Cancel
        </Button>
        <Button type="submit" variant="primary" loading={busy}>
          {action}
        </Button>
      </div>
    </form>
  );
}

function versionLabel(v: AppVersionDto, env: EnvironmentsDto | undefined): string {
  const where: string[] = [];
  if (env?.production?.version === v.version) where.push("production");
  if (env?.staging?.version === v.version) where.push("staging");
  const model = v.model ? ` · ${v.model.name} v${v.model.version}` : "";
  const tag = where.length > 0 ? ` (in ${where.join(" and ")})` : "";
  return `v${v.version}${model} · ${formatWhen(v.createdAt)}${tag}`;
}

/** The settings typed as text (everything but the target, the strategy and the golden flag). */
type TextField = Exclude<PromoteField, "to" | "strategy" | "requireGolden">;

function StrategySettings({
  form,
  errors,
  set,
}: {
  form: PromoteForm;
  errors: Partial<Record<PromoteField, string>>;
  set: <K extends PromoteField>(key: K, value: PromoteForm[K]) => void;
}) {
  const text = (key: TextField, label: string, hint?: string, inputMode?: "decimal") => (
    <Field label={label} hint={hint} error={errors[key]}>
      {(id, describedBy) => (
        <input
          id={id}
          className="input"
          value={form[key]}
          inputMode={inputMode}
          aria-describedby={describedBy}
          aria-invalid={errors[key] ? true : undefined}
          onChange={(e) => set(key, e.target.value)}
        />
      )}
    </Field>
  );
  const golden = (
    <label className="checkbox">
      <input
        type="checkbox"
        checked={form.requireGolden}
        onChange={(e) => set("requireGolden", e.target.checked)}
      />
      The golden cases must pass before any traffic moves
    </label>
  );
  if (form.strategy === "canary") {
    return (
      <div className="stack" style={{ gap: 12 }}>
        <div className="form-grid">
          {text("steps", "Traffic steps (%)", "In order, ending at 100, e.g. 5, 25, 50, 100")}
          {text(
            "intervalSeconds",
            "Seconds at each step",
            "How long each step is watched before the next",
            "decimal",
          )}
        </div>
        {golden}
        <details className="fold">
          <summary>Checks at each step</summary>
          <div className="form-grid">
            {text(
              "maxErrorRatePercent",
              "Highest error rate (%)",
              "Share of the new version's requests the server fails",
              "decimal",
            )}
            {text(
              "maxP95Ratio",
              "Slowest vs the current version (×)",
              "Its p95 response time as a multiple of the current one's; 0: not compared",
              "decimal",
            )}
            {text("maxP95Ms", "Slowest response (p95, ms)", "0: no fixed limit", "decimal")}
            {text(
              "minRequests",
              "Fewest requests to judge a step",
              "With fewer, a step never passes: too little data is not a pass",
              "decimal",
            )}
            {text(
              "manualSteps",
              "Steps that wait for your approval (%)",
              "e.g. 50: the rollout stops there until someone approves; empty: none",
            )}
          </div>
        </details>
      </div>
    );
  }
  if (form.strategy === "shadow") {
    return (
      <div className="form-grid">
        {text(
          "percent",
          "Requests copied to the new version (%)",
          "Its answers are compared, never sent",
          "decimal",
        )}
      </div>
    );
  }
  if (form.strategy === "ab") {
    return (
      <div className="form-grid">
        {text("percent", "Callers who get the new version (%)", undefined, "decimal")}
        {text(
          "splitHeader",
          "Header that identifies a caller",
          "The same caller always gets the same version; without it, each request is split",
        )}
        {text(
          "conversionEvent",
          "Conversion event (optional)",
          "Compared as a rate between the two versions",
        )}
        {text("valueEvent", "Value event (optional)", "Compared as an average value")}
      </div>
    );
  }
  return golden;
}
