/**
 * A step on the canvas: its kind's icon and title, its id, a line per setting, and its
 * problems (red outline and the messages) so a person sees what is wrong where it is.
 */
import { Handle, type NodeProps, Position } from "@xyflow/react";
import { createContext, useContext } from "react";
import { stepKind } from "../../../src/spec/steps/registry.ts";
import type { StepNode } from "./graph.ts";
import { describeProblem, groupProblems, type Problems } from "./problems.ts";
import { inputValue, settingFields } from "./settings-form.ts";
import { StepIcon } from "./step-icons.tsx";

/** What the nodes need from the designer without it being part of the graph. */
export const ProblemsContext = createContext<Problems>(groupProblems([]));

/** One short line per setting that has a value: "Most rows per request: 50". */
export function settingsSummary(data: StepNode["data"]): string[] {
  const kind = stepKind(data.kind);
  const fields = kind ? settingFields(kind.settings) : [];
  const lines = fields
    .filter((f) => data.settings[f.key] !== undefined)
    .map((f) => `${f.label}: ${inputValue(data.settings[f.key])}`);
  const unknown = Object.keys(data.settings).filter((k) => !fields.some((f) => f.key === k));
  return [...lines, ...unknown.map((k) => `${k}: ${inputValue(data.settings[k])}`)];
}

export function StepNodeView({ id, data, selected }: NodeProps<StepNode>) {
  const problems = useContext(ProblemsContext).byStep.get(id) ?? [];
  const kind = stepKind(data.kind);
  const lines = settingsSummary(data);
  return (
    <div
      className={`step-node${selected ? " is-selected" : ""}${problems.length > 0 ? " has-problems" : ""}`}
      data-step-id={id}
    >
      {kind?.inputs === 0 ? null : (
        <Handle type="target" position={Position.Left} aria-label={`Input of ${id}`} />
      )}
      <div className="step-node-head">
        <span className="step-node-icon">
          <StepIcon name={kind?.icon ?? "box"} />
        </span>
        <span className="step-node-title">
          <strong>{kind?.title ?? data.kind}</strong>
          {id !== data.kind ? <span className="step-node-id">{id}</span> : null}
        </span>
      </div>
      {lines.length > 0 ? (
        <ul className="step-node-settings">
          {lines.map((l) => (
            <li key={l}>{l}</li>
          ))}
        </ul>
      ) : null}
      {problems.length > 0 ? (
        <ul className="step-node-problems" aria-label={`Problems of ${id}`}>
          {problems.slice(0, 2).map((p) => (
            <li key={`${p.path} ${p.message}`}>{describeProblem(p)}</li>
          ))}
          {problems.length > 2 ? <li>and {problems.length - 2} more</li> : null}
        </ul>
      ) : null}
      {kind?.outputs === 0 ? null : (
        <Handle type="source" position={Position.Right} aria-label={`Output of ${id}`} />
      )}
    </div>
  );
}
