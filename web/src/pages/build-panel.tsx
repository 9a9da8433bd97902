/**
 * Build: pick the column to predict; the server says what kind of task that is and which
 * columns it would learn from (and why it leaves the others out); each column can be switched
 * off, a suspected leak back on; Train starts a job and opens its live progress.
 */
import { type FormEvent, useMemo, useState } from "react";
import { useNavigate } from "react-router";
import { seg, unwrap } from "../api/client.ts";
import type { DatasetDto, ExclusionKind, JobDto, TargetAnalysisDto } from "../api/types.ts";
import { TargetIcon } from "../components/icons.tsx";
import { Badge, Button, Card, ErrorBanner, Field, Loading, Notice } from "../components/ui.tsx";
import { formatNumber, taskLabel, typeLabel } from "../lib/format.ts";
import { useResource } from "../lib/use-resource.ts";
import { useApi } from "../session/session.tsx";

/** Column types a model can predict. */
const PREDICTABLE = new Set(["number", "category", "boolean"]);

const BUDGETS = [
  { seconds: 10, label: "10 seconds (a quick first look)" },
  { seconds: 30, label: "30 seconds" },
  { seconds: 60, label: "1 minute (recommended)" },
  { seconds: 180, label: "3 minutes" },
  { seconds: 600, label: "10 minutes (most thorough)" },
];

const KIND_LABELS: Record<
  ExclusionKind,
  { label: string; tone: "neutral" | "amber" | "red" | "violet" }
> = {
  id: { label: "ID-like", tone: "violet" },
  constant: { label: "Constant", tone: "neutral" },
  leak: { label: "Possible leak", tone: "red" },
  user: { label: "Excluded by you", tone: "neutral" },
  unsupported: { label: "Not usable", tone: "amber" },
};

/** Left-out columns a person can bring back: flagged ones (with `include`) and their own. */
const REINCLUDABLE: ReadonlySet<ExclusionKind> = new Set(["leak", "id", "user"]);

export function describeTask(a: TargetAnalysisDto): string {
  if (a.task === "binary" && a.classes && a.classes.length === 2) {
    const positive = a.positive ?? a.classes[1];
    return `Ballast will predict whether ${a.target} is ${positive} or not (${a.classes.join(" / ")}), with a probability for each.`;
  }
  if (a.task === "multiclass" && a.classes) {
    const shown = a.classes.slice(0, 6).join(", ");
    return `Ballast will predict which of ${a.classes.length} values ${a.target} takes (${shown}${a.classes.length > 6 ? ", …" : ""}), with a probability for each.`;
  }
  if (a.task === "regression") return `Ballast will predict the number ${a.target}.`;
  return `Ballast will predict ${a.target}.`;
}

export function BuildPanel({
  dataset,
  initialTarget,
}: {
  dataset: DatasetDto;
  initialTarget?: string;
}) {
  const api = useApi();
  const navigate = useNavigate();
  const profiles = useMemo(
    () => new Map((dataset.profile?.columns ?? []).map((p) => [p.name, p])),
    [dataset],
  );
  const candidates = dataset.columns.filter(
    (c) => PREDICTABLE.has(c.type) && (profiles.get(c.name)?.distinct ?? 2) >= 2,
  );
  const [target, setTarget] = useState(
    initialTarget && candidates.some((c) => c.name === initialTarget) ? initialTarget : "",
  );
  /** Columns the person left out, and flagged columns they chose to keep. */
  const [exclude, setExclude] = useState<ReadonlySet<string>>(new Set());
  const [include, setInclude] = useState<ReadonlySet<string>>(new Set());
  const analysis = useResource(
    async (signal) =>
      target
        ? await api.request<TargetAnalysisDto>(
            "POST",
            `/v1/datasets/${seg(dataset.name)}/analyze`,
            { target, exclude: [...exclude], include: [...include] },
            signal,
          )
        : undefined,
    [api, dataset.name, target, exclude, include],
  );
  const [modelName, setModelName] = useState(dataset.name);
  const [budget, setBudget] = useState(60);
  const [training, setTraining] = useState(false);
  const [trainError, setTrainError] = useState<unknown>();

  const pickTarget = (next: string) => {
    setExclude(new Set());
    setInclude(new Set());
    setTrainError(undefined);
    setTarget(next);
  };

  // While a toggle is re-analysed, keep showing the previous analysis of the same target.
  const a = analysis.data?.target === target ? analysis.data : undefined;
  const without = (set: ReadonlySet<string>, name: string) => {
    const next = new Set(set);
    next.delete(name);
    return next;
  };
  const withName = (set: ReadonlySet<string>, name: string) => new Set([...set, name]);
  /** Switch an input off: a kept flagged column goes back to flagged, anything else is excluded. */
  const switchOff = (name: string) => {
    if (include.has(name)) setInclude(without(include, name));
    else setExclude(withName(exclude, name));
  };
  /** Switch a left-out column on: the person's own exclusion is undone, a flagged one kept. */
  const switchOn = (name: string, kind: ExclusionKind) => {
    if (kind === "user") setExclude(without(exclude, name));
    else setInclude(withName(include, name));
  };
  const used = a?.inputs.length ?? 0;

  const train = async (event: FormEvent) => {
    event.preventDefault();
    if (!a) return;
    setTraining(true);
    setTrainError(undefined);
    try {
      const body = await api.post<unknown>("/v1/train", {
        dataset: dataset.name,
        target: a.target,
        name: modelName.trim() || dataset.name,
        timeBudgetSeconds: budget,
        ...(exclude.size > 0 ? { exclude: [...exclude] } : {}),
        ...(include.size > 0 ? { include: [...include] } : {}),
      });
      const job = unwrap<JobDto>(body, "job");
      navigate(`/jobs/${seg(job.id)}`);
    } catch (error) {
      setTrainError(error);
      setTraining(false);
    }
  };

  return (
    <div className="stack" style={{ gap: 24 }}>
      <Card
        title="What do you want to predict?"
        description="Pick the column whose value you want Ballast to guess for new rows. Everything else can serve as a clue."
      >
        <Field
          label="Column to predict"
          hint={
            candidates.length < dataset.columns.length
              ? "Only number, category and yes/no columns with at least two values can be predicted."
              : undefined
          }
        >
          {(id, describedBy) => (
            <select
              id={id}
              className="select"
              style={{ maxWidth: 420 }}
              value={target}
              aria-describedby={describedBy}
              onChange={(e) => pickTarget(e.target.value)}
            >
              <option value="">Choose a column…</option>
              {candidates.map((c) => (
                <option key={c.name} value={c.name}>
                  {c.name} ({typeLabel(c.type).toLowerCase()},{" "}
                  {formatNumber(profiles.get(c.name)?.distinct ?? 0)} values)
                </option>
              ))}
            </select>
          )}
        </Field>
      </Card>

      {!target ? null : analysis.error ? (
        <ErrorBanner
          title={`Cannot predict ${target}`}
          error={analysis.error}
          onRetry={analysis.reload}
        />
      ) : !a ? (
        <Loading label={`Looking at what predicts ${target}…`} />
      ) : (
        <form className="stack" style={{ gap: 24 }} onSubmit={train}>
          <div className="task-card" data-testid="task">
            <span className="task-icon">
              <TargetIcon />
            </span>
            <div>
              <strong>{taskLabel(a.task)}</strong>
              <p>{describeTask(a)}</p>
            </div>
          </div>
          {a.warnings.map((w) => (
            <Notice key={w} tone="warning">
              {w}
            </Notice>
          ))}
          <Card
            title={`Columns Ballast will learn from (${used})`}
            description="Switch a column off if it would not be known when you make a prediction, or if it must not influence the answer."
          >
            <ul className="column-list" aria-label="Columns used">
              {a.inputs.map((i) => {
                return (
                  <li key={i.name} className="column-item">
                    <label className="checkbox">
                      <span className="row" style={{ gap: 8, minWidth: 0, flexWrap: "nowrap" }}>
                        <input
                          type="checkbox"
                          checked
                          disabled={analysis.loading}
                          onChange={() => switchOff(i.name)}
                        />
                        <span className="column-name">{i.name}</span>
                      </span>
                      <Badge>{typeLabel(i.type)}</Badge>
                    </label>
                  </li>
                );
              })}
            </ul>
          </Card>
          {a.excluded.length > 0 ? (
            <Card
              title={`Columns left out (${a.excluded.length})`}
              description="Ballast leaves these out and says why. Switch a suspected leak or ID-like column back on only if you know better: it must be known when you predict."
            >
              <ul className="column-list" aria-label="Columns left out">
                {a.excluded.map((e) => {
                  // A flagged column kept with include but still left out is out by its type.
                  const canInclude = REINCLUDABLE.has(e.kind) && !include.has(e.column);
                  const kind = KIND_LABELS[e.kind] ?? { label: e.kind, tone: "neutral" as const };
                  return (
                    <li key={e.column} className="column-item column-item-off">
                      <label className="checkbox">
                        <span className="row" style={{ gap: 8, minWidth: 0, flexWrap: "nowrap" }}>
                          <input
                            type="checkbox"
                            checked={false}
                            disabled={!canInclude || analysis.loading}
                            aria-describedby={`why-${e.column}`}
                            onChange={() => switchOn(e.column, e.kind)}
                          />
                          <span className="column-name">{e.column}</span>
                        </span>
                        <Badge tone={kind.tone}>{kind.label}</Badge>
                      </label>
                      <span className="column-reason" id={`why-${e.column}`}>
                        {e.reason}
                        {include.has(e.column) ? " Change its type under Columns to use it." : ""}
                      </span>
                    </li>
                  );
                })}
              </ul>
            </Card>
          ) : null}
          <Card title="Train">
            <div className="form-grid">
              <Field
                label="Model name"
                hint="Training again under the same name adds a new version."
              >
                {(id, describedBy) => (
                  <input
                    id={id}
                    className="input"
                    value={modelName}
                    aria-describedby={describedBy}
                    onChange={(e) => setModelName(e.target.value)}
                  />
                )}
              </Field>
              <Field
                label="Time to search"
                hint="Ballast tries several models and keeps the best one."
              >
                {(id, describedBy) => (
                  <select
                    id={id}
                    className="select"
                    value={budget}
                    aria-describedby={describedBy}
                    onChange={(e) => setBudget(Number(e.target.value))}
                  >
                    {BUDGETS.map((b) => (
                      <option key={b.seconds} value={b.seconds}>
                        {b.label}
                      </option>
                    ))}
                  </select>
                )}
              </Field>
            </div>
            {trainError ? <ErrorBanner title="Training did not start" error={trainError} /> : null}
            <div className="form-actions">
              <Button type="submit" variant="primary" loading={training} disabled={used === 0}>
                Train model
              </Button>
              {used === 0 ? (
                <span className="muted">Switch on at least one column to learn from.</span>
              ) : (
                <span className="muted">
                  Predicting {a.target} from {used} column{used === 1 ? "" : "s"}.
                </span>
              )}
            </div>
          </Card>
        </form>
      )}
    </div>
  );
}
