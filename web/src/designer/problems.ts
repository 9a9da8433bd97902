/**
 * The designer's problems: the same checks the server runs (src/spec/app-spec.ts), on the
 * spec the graph stands for, grouped by step so each node can show its own; and the server's
 * 400 details (`/spec/steps/2/with/version`, `/spec/model`) put back on the steps they name.
 */
import { checkAppSpec, type SpecProblem, stepIdAt } from "../../../src/spec/app-spec.ts";

export interface Problems {
  readonly all: readonly SpecProblem[];
  /** Problems on a step, by step id. */
  readonly byStep: ReadonlyMap<string, readonly SpecProblem[]>;
  /** Problems of the whole spec (its name, a missing kind of step). */
  readonly general: readonly SpecProblem[];
}

/** What the runtime cannot run at all first, then wiring, then the step as a whole, then settings. */
function weight(path: string): number {
  if (/^\/steps\/\d+\/kind$/.test(path)) return 0;
  if (/^\/steps\/\d+\/after(\/\d+)?$/.test(path)) return 1;
  if (/^\/steps\/\d+\/with\//.test(path)) return 3;
  return 2;
}

const stepIndex = (path: string) => Number(/^\/steps\/(\d+)/.exec(path)?.[1] ?? -1);

/** Problems in the order a person should read them: spec-wide, then step by step. */
export function groupProblems(unsorted: readonly SpecProblem[]): Problems {
  const all = unsorted
    .map((p, i) => ({ p, i }))
    .sort(
      (a, b) =>
        stepIndex(a.p.path) - stepIndex(b.p.path) ||
        weight(a.p.path) - weight(b.p.path) ||
        a.i - b.i,
    )
    .map(({ p }) => p);
  const byStep = new Map<string, SpecProblem[]>();
  const general: SpecProblem[] = [];
  for (const p of all) {
    if (p.stepId === undefined) general.push(p);
    else byStep.set(p.stepId, [...(byStep.get(p.stepId) ?? []), p]);
  }
  return { all, byStep, general };
}

export function checkSpec(document: Record<string, unknown>): Problems {
  const checked = checkAppSpec(document);
  return groupProblems(checked.ok ? [] : checked.problems);
}

/** The server's error details on the steps of the spec that was sent. */
export function serverProblems(
  sent: Record<string, unknown>,
  details: readonly { readonly path?: string; readonly message: string }[],
): SpecProblem[] {
  return details.map((d) => {
    const path = (d.path ?? "/").replace(/^\/spec(?=\/|$)/, "") || "/";
    const stepId = stepIdAt(sent, path);
    return { path, message: d.message, ...(stepId !== undefined ? { stepId } : {}) };
  });
}

/** "maxRows must be >= 1": a problem as one sentence, naming the setting when it is one. */
export function describeProblem(p: SpecProblem): string {
  const setting = /^\/steps\/\d+\/with\/([^/]+)/.exec(p.path)?.[1];
  if (setting) return `${setting} ${p.message}`;
  if (/^\/steps\/\d+(\/(id|kind|after)(\/\d+)?)?$/.test(p.path)) {
    return p.message.startsWith("is ") ? `This step ${p.message}` : capitalize(p.message);
  }
  if (/^\/steps\/\d+\//.test(p.path))
    return `${p.path.replace(/^\/steps\/\d+\//, "")} ${p.message}`;
  if (p.path === "/steps") return `The pipeline ${p.message}`;
  return `${p.path === "/" ? "The spec" : p.path} ${p.message}`;
}

const capitalize = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** Is `path` the one at `prefix` or inside it (`/webhook/defaults/x` is in `/webhook/defaults`)? */
export const within = (path: string, prefix: string) =>
  path === prefix || path.startsWith(`${prefix}/`);

/** A problem of the policies or the webhook: shown in the policies panel, on its field. */
export function isPolicyProblem(p: SpecProblem): boolean {
  return (
    within(p.path, "/policies") ||
    within(p.path, "/webhook") ||
    within(p.path, "/monitoring") ||
    within(p.path, "/release")
  );
}
