/**
 * The selected step: its id, a form generated from its kind's settings schema, its connections
 * (each removable, and a select + button to connect without dragging), and a delete button.
 * With nothing selected it lists the steps, so the keyboard can reach every one.
 */
import { useId, useState } from "react";
import type { SpecProblem } from "../../../src/spec/app-spec.ts";
import { stepKind } from "../../../src/spec/steps/registry.ts";
import { Button, Card, Field } from "../components/ui.tsx";
import type { DesignerGraph, StepNode } from "./graph.ts";
import { describeProblem } from "./problems.ts";
import { SettingInput } from "./setting-input.tsx";
import { settingFields } from "./settings-form.ts";
import { StepIcon } from "./step-icons.tsx";

export interface SettingsPanelProps {
  readonly graph: DesignerGraph;
  readonly selected: StepNode | undefined;
  readonly problems: readonly SpecProblem[];
  onSelect(id: string): void;
  onSetting(id: string, key: string, value: unknown): void;
  onRename(from: string, to: string): boolean;
  onConnect(source: string, target: string): void;
  onDisconnect(edgeId: string): void;
  onDelete(id: string): void;
}

const STEP_ID = /^[A-Za-z][A-Za-z0-9_-]{0,62}$/;

export function SettingsPanel(props: SettingsPanelProps) {
  const { graph, selected } = props;
  if (!selected) {
    return (
      <Card title="Step settings" description="Select a step on the graph, or here, to edit it.">
        <ul className="designer-step-list">
          {graph.nodes.map((n) => {
            const kind = stepKind(n.data.kind);
            return (
              <li key={n.id}>
                <Button size="sm" variant="ghost" onClick={() => props.onSelect(n.id)}>
                  <StepIcon name={kind?.icon ?? "box"} />
                  {n.id}
                  <span className="muted small">{kind?.title ?? n.data.kind}</span>
                </Button>
              </li>
            );
          })}
        </ul>
      </Card>
    );
  }
  return <StepSettings key={selected.id} {...props} selected={selected} />;
}

function StepSettings({
  graph,
  selected,
  problems,
  onSetting,
  onRename,
  onConnect,
  onDisconnect,
  onDelete,
  onSelect,
}: SettingsPanelProps & { selected: StepNode }) {
  const kind = stepKind(selected.data.kind);
  const fields = kind ? settingFields(kind.settings) : [];
  const index = graph.nodes.findIndex((n) => n.id === selected.id);
  const settingProblem = (key: string) =>
    problems.find((p) => p.path === `/steps/${index}/with/${key}`)?.message;
  const others = problems.filter((p) => !/^\/steps\/\d+\/with\/[^/]+$/.test(p.path));
  const incoming = graph.edges.filter((e) => e.target === selected.id);
  const outgoing = graph.edges.filter((e) => e.source === selected.id);
  const candidates = graph.nodes.filter(
    (n) => n.id !== selected.id && !incoming.some((e) => e.source === n.id),
  );
  const [chosen, setFrom] = useState("");
  // The chosen step, or the first one that can still be connected.
  const from = candidates.some((c) => c.id === chosen) ? chosen : (candidates[0]?.id ?? "");
  const connectId = useId();

  return (
    <Card
      className="designer-settings"
      title={
        <span className="row designer-settings-title">
          <StepIcon name={kind?.icon ?? "box"} />
          {kind ? `${kind.title} step` : `Unknown kind "${selected.data.kind}"`}
        </span>
      }
      description={kind?.description}
      actions={
        <Button size="sm" variant="ghost" onClick={() => onSelect("")}>
          All steps
        </Button>
      }
    >
      <div className="stack designer-form">
        <StepIdField id={selected.id} onRename={onRename} />
        {fields.length === 0 ? (
          <p className="muted small">This kind of step has no settings.</p>
        ) : (
          fields.map((f) => (
            <SettingInput
              key={f.key}
              field={f}
              value={selected.data.settings[f.key]}
              error={settingProblem(f.key)}
              onChange={(value) => onSetting(selected.id, f.key, value)}
            />
          ))
        )}

        <fieldset className="designer-connections">
          <legend>Runs after</legend>
          {incoming.length === 0 && kind?.inputs !== 0 ? (
            <p className="muted small">Nothing yet: connect the step whose result it takes.</p>
          ) : null}
          {kind?.inputs === 0 ? (
            <p className="muted small">Starts the pipeline: it takes the request.</p>
          ) : null}
          <ul>
            {incoming.map((e) => (
              <li key={e.id} className="row">
                <span className="mono">{e.source}</span>
                <Button
                  size="sm"
                  variant="ghost"
                  onClick={() => onDisconnect(e.id)}
                  aria-label={`Disconnect ${e.source} from ${selected.id}`}
                >
                  Disconnect
                </Button>
              </li>
            ))}
          </ul>
          {kind?.inputs !== 0 && candidates.length > 0 ? (
            <div className="row designer-connect">
              <label htmlFor={connectId} className="visually-hidden">
                Step {selected.id} runs after
              </label>
              <select
                id={connectId}
                className="select select-sm"
                value={from}
                onChange={(e) => setFrom(e.target.value)}
              >
                {candidates.map((c) => (
                  <option key={c.id} value={c.id}>
                    {c.id}
                  </option>
                ))}
              </select>
              <Button size="sm" onClick={() => from && onConnect(from, selected.id)}>
                Connect
              </Button>
            </div>
          ) : null}
          {outgoing.length > 0 ? (
            <>
              <p className="small muted">Then runs</p>
              <ul>
                {outgoing.map((e) => (
                  <li key={e.id} className="row">
                    <span className="mono">{e.target}</span>
                    <Button
                      size="sm"
                      variant="ghost"
                      onClick={() => onDisconnect(e.id)}
                      aria-label={`Disconnect ${selected.id} from ${e.target}`}
                    >
                      Disconnect
                    </Button>
                  </li>
                ))}
              </ul>
            </>
          ) : null}
        </fieldset>

        {others.length > 0 ? (
          <ul className="designer-step-problems" aria-label={`Problems of ${selected.id}`}>
            {others.map((p) => (
              <li key={`${p.path} ${p.message}`}>{describeProblem(p)}</li>
            ))}
          </ul>
        ) : null}

        <div>
          <Button variant="danger" size="sm" onClick={() => onDelete(selected.id)}>
            Delete step {selected.id}
          </Button>
        </div>
      </div>
    </Card>
  );
}

function StepIdField({
  id,
  onRename,
}: {
  id: string;
  onRename(from: string, to: string): boolean;
}) {
  const [draft, setDraft] = useState(id);
  const [error, setError] = useState<string>();
  const commit = () => {
    const to = draft.trim();
    if (to === id) return setError(undefined);
    if (!STEP_ID.test(to)) {
      return setError("A letter, then letters, digits, '-' or '_'");
    }
    if (!onRename(id, to)) return setError(`Another step is called ${to}`);
    setError(undefined);
  };
  return (
    <Field label="Step id" hint="Other steps name it in their 'after'." error={error}>
      {(fieldId, describedBy) => (
        <input
          id={fieldId}
          className="input mono"
          value={draft}
          aria-describedby={describedBy}
          aria-invalid={error ? true : undefined}
          onChange={(e) => setDraft(e.target.value)}
          onBlur={commit}
          onKeyDown={(e) => {
            if (e.key === "Enter") commit();
          }}
        />
      )}
    </Field>
  );
}
