/**
 * The spec as YAML beside the graph: a textarea with line numbers. What the person types
 * updates the graph as soon as it reads as a spec; until then the error and its line show and
 * the graph stays as it was.
 */
import { useId, useRef } from "react";
import { Card, CopyButton } from "../components/ui.tsx";

export interface YamlError {
  readonly message: string;
  readonly line: number | undefined;
}

export function YamlPanel({
  text,
  error,
  problemLines,
  onChange,
}: {
  text: string;
  error: YamlError | undefined;
  /** Lines the graph's problems are on, marked in the gutter. */
  problemLines: ReadonlySet<number>;
  onChange(text: string): void;
}) {
  const gutter = useRef<HTMLDivElement>(null);
  const id = useId();
  const errorId = `${id}-error`;
  const count = text.split("\n").length;
  const numbers = Array.from({ length: count }, (_, i) => i + 1);
  return (
    <Card
      className="designer-yaml"
      title="Spec (YAML)"
      description="Edit either side: the graph and this text stay in step."
      actions={<CopyButton text={text} label="Copy YAML" />}
    >
      <div className={`yaml-editor${error ? " has-error" : ""}`}>
        <div className="yaml-gutter" ref={gutter} aria-hidden="true">
          {numbers.map((n) => (
            <div
              key={n}
              className={
                error?.line === n ? "is-error" : problemLines.has(n) ? "is-problem" : undefined
              }
            >
              {n}
            </div>
          ))}
        </div>
        <label htmlFor={id} className="visually-hidden">
          App spec as YAML
        </label>
        <textarea
          id={id}
          className="yaml-text"
          value={text}
          spellCheck={false}
          autoCapitalize="off"
          autoComplete="off"
          wrap="off"
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? errorId : undefined}
          onChange={(e) => onChange(e.target.value)}
          onScroll={(e) => {
            if (gutter.current) gutter.current.scrollTop = e.currentTarget.scrollTop;
          }}
        />
      </div>
      {error ? (
        <p className="yaml-error" id={errorId} role="alert">
          {error.line !== undefined ? <strong>Line {error.line}: </strong> : null}
          {error.message}. The graph shows the last valid spec.
        </p>
      ) : null}
    </Card>
  );
}
