/**
 * The pipeline graph's rules: each step well formed, of a known kind, with valid settings,
 * running after steps that exist, without cycles, every input connected, a path from the
 * input to the output, and no more than the runtime runs today. Every problem is keyed by
 * the step it is on, so the designer can outline the node and the API can name the path.
 */
import { pointerSegment, problemsFromAjv, type SpecProblem, specAjv } from "./spec-problems.ts";
import { STEP_KINDS, stepKind } from "./steps/registry.ts";
import { defaultsOf, type StepKind } from "./steps/step-kind.ts";

/** One step of the pipeline as written in a spec. */
export interface AppStep {
  /** Unique within the spec; other steps name it in their `after`. */
  readonly id: string;
  /** A step kind from the registry (`input`, `validate`, `model`, `output` today). */
  readonly kind: string;
  /** The steps whose result this one takes. */
  readonly after?: readonly string[];
  /** The kind's settings. */
  readonly with?: Readonly<Record<string, unknown>>;
}

export const STEP_ID_PATTERN = "^[A-Za-z][A-Za-z0-9_-]{0,62}$";

/** The shape every step has, whatever its kind (the published schema adds per-kind rules). */
export const stepEnvelopeSchema = {
  type: "object",
  additionalProperties: false,
  required: ["id", "kind"],
  properties: {
    id: {
      type: "string",
      pattern: STEP_ID_PATTERN,
      description: "Unique within the spec: a letter, then letters, digits, '-' or '_'",
    },
    kind: { type: "string", description: "The step kind" },
    after: {
      type: "array",
      items: { type: "string" },
      uniqueItems: true,
      description: "The ids of the steps whose result this step takes",
    },
    with: { type: "object", description: "The step kind's settings" },
  },
} as const;

const validateEnvelope = specAjv.compile(stepEnvelopeSchema);
const settingsValidators = new Map(STEP_KINDS.map((k) => [k.type, specAjv.compile(k.settings)]));

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

const COUNT_WORDS = ["no", "one", "two", "three", "four", "five"];
const countWord = (n: number) => COUNT_WORDS[n] ?? String(n);
/** "an input", "an http" (said "aitch"), "a model". */
const article = (word: string) => (/^([aeiou]|http)/i.test(word) ? "an" : "a");

/** The value of a top-level field a binding mirrors, or undefined. */
export function boundValue(document: unknown, field: readonly [string, string]): unknown {
  if (!isRecord(document)) return undefined;
  const parent = document[field[0]];
  return isRecord(parent) ? parent[field[1]] : undefined;
}

/** The default of each setting of a kind, as its settings schema declares. */
export function settingDefaults(kind: StepKind): Record<string, unknown> {
  return defaultsOf(kind.settings);
}

interface Node {
  readonly index: number;
  readonly id: string;
  readonly kind: StepKind | undefined;
  /** Undefined when `after` is malformed (already reported). */
  readonly after: readonly string[] | undefined;
}

/**
 * Check a spec's `steps` (anything: this is the first thing to look at a user's document).
 * `document` is the whole spec, for settings mirrored at its top (`model`, `limits`, ...): a
 * setting may be given in either place, so a required one is missing only when both lack it.
 */
export function checkSteps(steps: unknown, document: unknown = {}): SpecProblem[] {
  if (!Array.isArray(steps)) {
    return [{ path: "/steps", message: "must be a list of steps" }];
  }
  const problems: SpecProblem[] = [];
  const nodes: Node[] = [];
  const firstIndex = new Map<string, number>();
  const at = (i: number, ...rest: (string | number)[]) =>
    `/steps/${i}${rest.map((s) => `/${pointerSegment(s)}`).join("")}`;

  steps.forEach((step: unknown, index) => {
    const id = isRecord(step) && typeof step.id === "string" ? step.id : undefined;
    const stepId = id !== undefined ? { stepId: id } : {};
    if (!validateEnvelope(step)) {
      for (const p of problemsFromAjv(validateEnvelope.errors, at(index))) {
        problems.push({ ...p, ...stepId });
      }
    }
    if (!isRecord(step) || id === undefined || typeof step.kind !== "string") return;
    if (firstIndex.has(id)) {
      problems.push({
        path: at(index, "id"),
        message: `"${id}" is the id of another step`,
        stepId: id,
      });
      return;
    }
    firstIndex.set(id, index);
    const kind = stepKind(step.kind);
    if (!kind) {
      problems.push({
        path: at(index, "kind"),
        message: `"${step.kind}" is not a step kind; the runtime runs ${STEP_KINDS.map((k) => k.type).join(", ")}`,
        stepId: id,
      });
    } else {
      problems.push(...checkSettings(kind, step.with, document, index, id));
    }
    const after =
      step.after === undefined
        ? []
        : Array.isArray(step.after) && step.after.every((a) => typeof a === "string")
          ? (step.after as string[])
          : undefined;
    nodes.push({ index, id, kind, after });
  });

  problems.push(...checkCounts(nodes));
  problems.push(...checkEdges(nodes, firstIndex, at));
  // In the order of the document: graph-wide problems first, then step by step.
  const order = (p: SpecProblem) => Number(/^\/steps\/(\d+)/.exec(p.path)?.[1] ?? -1);
  return problems
    .map((p, i) => ({ p, i }))
    .sort((a, b) => order(a.p) - order(b.p) || a.i - b.i)
    .map(({ p }) => p);
}

function checkSettings(
  kind: StepKind,
  settings: unknown,
  document: unknown,
  index: number,
  stepId: string,
): SpecProblem[] {
  if (settings !== undefined && !isRecord(settings)) return []; // the envelope said so
  const given = settings ?? {};
  const effective: Record<string, unknown> = { ...given };
  const fromTop = new Map<string, string>();
  for (const b of kind.bindings ?? []) {
    const top = boundValue(document, b.field);
    if (given[b.setting] === undefined && top !== undefined) {
      effective[b.setting] = top;
      fromTop.set(b.setting, `/${b.field.join("/")}`);
    }
  }
  const validate = settingsValidators.get(kind.type);
  if (!validate || validate(effective)) return [];
  const base = `/steps/${index}/with`;
  return problemsFromAjv(validate.errors, base).flatMap((p) => {
    const key = p.path.slice(base.length + 1).split("/")[0] ?? "";
    // A mirrored value at the top is checked by the top-level schema, where it is written.
    if (fromTop.has(key)) return [];
    const binding = kind.bindings?.find((b) => b.setting === key);
    const message =
      p.message === "is required"
        ? binding
          ? `is missing: set the ${kind.title.toLowerCase()} step's ${key} (or /${binding.field.join("/")})`
          : `is missing: set the ${kind.title.toLowerCase()} step's ${key}`
        : p.message;
    return [{ path: p.path, message, stepId }];
  });
}

function checkCounts(nodes: readonly Node[]): SpecProblem[] {
  const problems: SpecProblem[] = [];
  for (const kind of STEP_KINDS) {
    const ofKind = nodes.filter((n) => n.kind === kind);
    for (const extra of ofKind.slice(kind.count.max)) {
      problems.push({
        path: `/steps/${extra.index}/kind`,
        message: `the runtime runs ${countWord(kind.count.max)} ${kind.type} step${kind.count.max === 1 ? "" : "s"} today`,
        stepId: extra.id,
      });
    }
    if (ofKind.length < kind.count.min) {
      problems.push({
        path: "/steps",
        message:
          kind.count.min === 1
            ? `needs ${article(kind.type)} ${kind.type} step`
            : `needs at least ${kind.count.min} ${kind.type} steps`,
      });
    }
  }
  return problems;
}

function checkEdges(
  nodes: readonly Node[],
  firstIndex: ReadonlyMap<string, number>,
  at: (i: number, ...rest: (string | number)[]) => string,
): SpecProblem[] {
  const problems: SpecProblem[] = [];
  const byId = new Map(nodes.map((n) => [n.id, n]));
  /** Edges that exist: ref → the steps that run after it. */
  const next = new Map<string, string[]>(nodes.map((n) => [n.id, []]));

  for (const node of nodes) {
    if (!node.after) continue;
    const { kind, id } = node;
    node.after.forEach((ref, j) => {
      const from = byId.get(ref);
      if (!from) {
        const duplicate = firstIndex.has(ref);
        problems.push({
          path: at(node.index, "after", j),
          message: duplicate
            ? `names "${ref}", an id two steps share`
            : `names "${ref}", which is not a step`,
          stepId: id,
        });
        return;
      }
      next.get(ref)?.push(id);
      if (from.kind && from.kind.outputs === 0) {
        problems.push({
          path: at(node.index, "after", j),
          message: `${article(from.kind.type)} ${from.kind.type} step ends the pipeline: nothing runs after "${ref}"`,
          stepId: id,
        });
      } else if (kind?.runsAfter && from.kind && !kind.runsAfter.includes(from.kind.type)) {
        const kinds = kind.runsAfter;
        const allowed =
          kinds.length > 1 ? `${kinds.slice(0, -1).join(", ")} or ${kinds.at(-1)}` : kinds.join("");
        problems.push({
          path: at(node.index, "after", j),
          message: `the runtime runs ${article(kind.type)} ${kind.type} step only right after ${article(kinds[0] ?? "")} ${allowed} step today`,
          stepId: id,
        });
      }
    });
    if (!kind) continue;
    if (kind.inputs === 0 && node.after.length > 0) {
      problems.push({
        path: at(node.index, "after"),
        message: `${article(kind.type)} ${kind.type} step starts the pipeline and runs after nothing`,
        stepId: id,
      });
    } else if (kind.inputs > 0 && node.after.length === 0) {
      problems.push({
        path: at(node.index, "after"),
        message: "is not connected: connect a step to its input",
        stepId: id,
      });
    } else if (node.after.length > kind.inputs) {
      problems.push({
        path: at(node.index, "after"),
        message: `runs after ${node.after.length} steps; ${article(kind.type)} ${kind.type} step takes ${countWord(kind.inputs)}`,
        stepId: id,
      });
    }
  }

  const inCycle = cycles(nodes, next, at, problems);

  // Reachability from the steps that start the pipeline.
  const reached = new Set<string>();
  const queue = nodes.filter((n) => n.kind?.inputs === 0).map((n) => n.id);
  for (const id of queue) reached.add(id);
  while (queue.length > 0) {
    const id = queue.shift() as string;
    for (const to of next.get(id) ?? []) {
      if (!reached.has(to)) {
        reached.add(to);
        queue.push(to);
      }
    }
  }
  const hasSource = nodes.some((n) => n.kind?.inputs === 0);
  for (const node of nodes) {
    if (!node.kind || inCycle.has(node.id)) continue;
    const connected = (node.after?.length ?? 0) > 0;
    if (hasSource && connected && !reached.has(node.id)) {
      problems.push({
        path: at(node.index, "after"),
        message:
          node.kind.outputs === 0
            ? "no path leads here from the input step"
            : "is not on a path from the input step",
        stepId: node.id,
      });
    }
    if (node.kind.outputs > 0 && (next.get(node.id)?.length ?? 0) === 0) {
      problems.push({
        path: at(node.index),
        message: "nothing runs after this step: connect its output to the next step",
        stepId: node.id,
      });
    }
  }
  return problems;
}

/** Report every cycle once per step in it (Tarjan's strongly connected components). */
function cycles(
  nodes: readonly Node[],
  next: ReadonlyMap<string, readonly string[]>,
  at: (i: number, ...rest: (string | number)[]) => string,
  problems: SpecProblem[],
): Set<string> {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const members = new Set<string>();
  let counter = 0;
  const byId = new Map(nodes.map((n) => [n.id, n]));

  const visit = (v: string) => {
    index.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) ?? 0, low.get(w) ?? 0));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) ?? 0, index.get(w) ?? 0));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string | undefined;
      do {
        w = stack.pop();
        if (w === undefined) break;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      const selfLoop = component.length === 1 && (next.get(v) ?? []).includes(v);
      if (component.length > 1 || selfLoop) {
        const order = nodes.filter((n) => component.includes(n.id)).map((n) => n.id);
        // Walk the loop from the step written first, so the message reads in running order.
        const walk = order.slice(0, 1);
        for (let cur = walk[0]; cur !== undefined; ) {
          const to: string | undefined = (next.get(cur) ?? []).find(
            (t) => component.includes(t) && !walk.includes(t),
          );
          if (to !== undefined) walk.push(to);
          cur = to;
        }
        const loop = [...walk, walk[0]].map((id) => `"${id}"`).join(" → ");
        for (const id of order) {
          members.add(id);
          const node = byId.get(id);
          if (node) {
            problems.push({
              path: at(node.index, "after"),
              message: `is in a cycle: ${loop}`,
              stepId: id,
            });
          }
        }
      }
    }
  };
  for (const n of nodes) if (!index.has(n.id)) visit(n.id);
  return members;
}

/** The settings schema with defaults filled in: what a step of this kind runs with. */
export function withDefaults(
  kind: StepKind,
  settings: Readonly<Record<string, unknown>> | undefined,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const defaults = settingDefaults(kind);
  for (const key of Object.keys(kind.settings.properties)) {
    const value = settings?.[key] !== undefined ? settings[key] : defaults[key];
    if (value !== undefined) out[key] = value;
  }
  return out;
}
