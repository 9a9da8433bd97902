/**
 * The app spec as a React Flow graph and back. A node is a step (its id is the step's id), an
 * edge runs from a step to one that runs after it; positions are laid out left to right and
 * never written to the spec. Conversions are pure and lossless: whatever a person typed that
 * the graph cannot draw (an `after` naming no step, a field of a step the designer does not
 * know) rides along in the node's data and comes back out in the spec. The rest of the spec
 * (name, policies, webhook) is kept beside the graph in `base` and edited in place.
 */
import type { Edge, Node, XYPosition } from "@xyflow/react";
import { AFTER_STEPS, liftIntoSteps } from "../../../src/spec/app-spec.ts";
import { STEP_KINDS, stepKind } from "../../../src/spec/steps/registry.ts";

export type StepData = {
  readonly kind: string;
  /** The step's `with`, as written (an empty object when it has none). */
  readonly settings: Readonly<Record<string, unknown>>;
  /** `after` entries naming no step of the graph, kept so they are not lost. */
  readonly missingAfter: readonly string[];
  /** Fields of the step other than id, kind, after and with. */
  readonly extra: Readonly<Record<string, unknown>>;
};

export type StepNode = Node<StepData, "step">;

export interface DesignerGraph {
  readonly nodes: readonly StepNode[];
  readonly edges: readonly Edge[];
  /** The rest of the spec: apiVersion, kind, name and any field that is not a step. */
  readonly base: Readonly<Record<string, unknown>>;
}

/** Why a document cannot be drawn, at a JSON Pointer into it. */
export interface GraphError {
  readonly path: string;
  readonly message: string;
}

export type GraphResult =
  | { readonly ok: true; readonly graph: DesignerGraph }
  | { readonly ok: false; readonly error: GraphError };

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

export const edgeId = (source: string, target: string) => `${source}->${target}`;

export const COLUMN_GAP = 250;
export const ROW_GAP = 130;

/**
 * Left-to-right layout: a step's column is the length of the longest chain of steps before it
 * (edges that close a cycle are ignored), rows are centred on the tallest column.
 */
export function layout(
  ids: readonly string[],
  edges: readonly { source: string; target: string }[],
): Map<string, XYPosition> {
  const incoming = new Map<string, string[]>(ids.map((id) => [id, []]));
  for (const e of edges) incoming.get(e.target)?.push(e.source);
  const column = new Map<string, number>();
  const visiting = new Set<string>();
  const depth = (id: string): number => {
    const known = column.get(id);
    if (known !== undefined) return known;
    if (visiting.has(id)) return -1; // a back edge: ignore it
    visiting.add(id);
    let d = 0;
    for (const from of incoming.get(id) ?? []) d = Math.max(d, depth(from) + 1);
    visiting.delete(id);
    column.set(id, d);
    return d;
  };
  const columns: string[][] = [];
  for (const id of ids) {
    const c = depth(id);
    const members = columns[c] ?? [];
    members.push(id);
    columns[c] = members;
  }
  const tallest = Math.max(1, ...columns.map((c) => c?.length ?? 0));
  const positions = new Map<string, XYPosition>();
  columns.forEach((members, c) => {
    const offset = ((tallest - members.length) * ROW_GAP) / 2;
    members.forEach((id, row) => {
      positions.set(id, { x: c * COLUMN_GAP, y: offset + row * ROW_GAP });
    });
  });
  return positions;
}

/**
 * A spec document as a graph. Top-level settings a step mirrors move into the step (and a
 * spec without steps gets the default pipeline), so the graph is the one place to edit them.
 * `positions` keeps where the person put the steps the graph already had.
 */
export function specToGraph(
  document: Readonly<Record<string, unknown>>,
  positions: ReadonlyMap<string, XYPosition> = new Map(),
): GraphResult {
  const lifted = liftIntoSteps(document);
  const { steps, ...base } = lifted;
  if (!Array.isArray(steps)) {
    return { ok: false, error: { path: "/steps", message: "must be a list of steps" } };
  }
  const ids = new Set<string>();
  const parsed: { id: string; kind: string; after: string[]; step: Record<string, unknown> }[] = [];
  for (const [i, step] of steps.entries()) {
    const at = `/steps/${i}`;
    if (!isRecord(step)) {
      return {
        ok: false,
        error: { path: at, message: "must be a step: { id, kind, after, with }" },
      };
    }
    if (typeof step.id !== "string" || step.id === "") {
      return { ok: false, error: { path: `${at}/id`, message: "must be a text id" } };
    }
    if (ids.has(step.id)) {
      return {
        ok: false,
        error: { path: `${at}/id`, message: `"${step.id}" is the id of another step` },
      };
    }
    ids.add(step.id);
    if (typeof step.kind !== "string") {
      return {
        ok: false,
        error: {
          path: `${at}/kind`,
          message: `must be a step kind: ${STEP_KINDS.map((k) => k.type).join(", ")}`,
        },
      };
    }
    const after = step.after ?? [];
    if (!Array.isArray(after) || !after.every((a) => typeof a === "string")) {
      return { ok: false, error: { path: `${at}/after`, message: "must be a list of step ids" } };
    }
    if (new Set(after).size !== after.length) {
      return { ok: false, error: { path: `${at}/after`, message: "names a step twice" } };
    }
    if (step.with !== undefined && !isRecord(step.with)) {
      return { ok: false, error: { path: `${at}/with`, message: "must be a map of settings" } };
    }
    parsed.push({ id: step.id, kind: step.kind, after, step });
  }
  const edges: Edge[] = [];
  for (const p of parsed) {
    for (const source of p.after) {
      if (ids.has(source)) edges.push({ id: edgeId(source, p.id), source, target: p.id });
    }
  }
  const auto = layout(
    parsed.map((p) => p.id),
    edges,
  );
  const nodes: StepNode[] = parsed.map(({ id, kind, after, step }) => {
    const { id: _id, kind: _kind, after: _after, with: settings, ...extra } = step;
    return {
      id,
      type: "step",
      position: positions.get(id) ?? auto.get(id) ?? { x: 0, y: 0 },
      data: {
        kind,
        settings: isRecord(settings) ? settings : {},
        missingAfter: after.filter((a) => !ids.has(a)),
        extra,
      },
    };
  });
  return { ok: true, graph: { nodes, edges, base } };
}

/** Top-level keys in the order the designer writes them; others follow in their own order. */
const TOP_ORDER = ["apiVersion", "kind", "name"];

/** A step's settings in its kind's order (the form's order), unknown ones after. */
function orderedSettings(kind: string, settings: Readonly<Record<string, unknown>>) {
  const known = Object.keys(stepKind(kind)?.settings.properties ?? {});
  const keys = [
    ...known.filter((k) => k in settings),
    ...Object.keys(settings).filter((k) => !known.includes(k)),
  ];
  const out: Record<string, unknown> = {};
  for (const k of keys) if (settings[k] !== undefined) out[k] = settings[k];
  return out;
}

/**
 * The graph as a spec document: the base fields, then the steps in the nodes' order, then the
 * sections written after the steps (policies, webhook).
 */
export function graphToSpec(graph: DesignerGraph): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of TOP_ORDER) if (key in graph.base) out[key] = graph.base[key];
  for (const [key, value] of Object.entries(graph.base)) {
    if (!TOP_ORDER.includes(key) && key !== "steps" && !AFTER_STEPS.includes(key)) {
      out[key] = value;
    }
  }
  out.steps = graph.nodes.map((node) => {
    const after = [
      ...graph.edges.filter((e) => e.target === node.id).map((e) => e.source),
      ...node.data.missingAfter,
    ];
    const settings = orderedSettings(node.data.kind, node.data.settings);
    return {
      id: node.id,
      kind: node.data.kind,
      ...(after.length > 0 ? { after } : {}),
      ...(Object.keys(settings).length > 0 ? { with: settings } : {}),
      ...node.data.extra,
    };
  });
  for (const key of AFTER_STEPS) if (key in graph.base) out[key] = graph.base[key];
  return out;
}

/** Where node positions are kept between edits. */
export function positionsOf(nodes: readonly StepNode[]): Map<string, XYPosition> {
  return new Map(nodes.map((n) => [n.id, n.position]));
}

/** A free id for a new step of `kind`: the kind's name, then `model2`, `model3`... */
export function freeId(kind: string, taken: Iterable<string>): string {
  const used = new Set(taken);
  if (!used.has(kind)) return kind;
  for (let n = 2; ; n++) if (!used.has(`${kind}${n}`)) return `${kind}${n}`;
}

/**
 * Whether a step of `kind` can go between `from` and the steps after it: it may run after
 * `from`, and each of them may run after it. Then adding it after `from` inserts it into the
 * chain (model → output becomes model → fallback → output) instead of starting a branch.
 */
function insertsBetween(graph: DesignerGraph, from: StepNode, kind: string): string[] {
  const definition = stepKind(kind);
  if (!definition || definition.inputs === 0 || definition.outputs === 0) return [];
  if (definition.runsAfter && !definition.runsAfter.includes(from.data.kind)) return [];
  const next = graph.edges.filter((e) => e.source === from.id).map((e) => e.target);
  const fits = next.every((id) => {
    const runsAfter = stepKind(graph.nodes.find((n) => n.id === id)?.data.kind ?? "")?.runsAfter;
    return runsAfter === undefined || runsAfter.includes(kind);
  });
  return fits ? next : [];
}

/** The steps reachable from `ids` along the edges, `ids` included. */
function downstream(graph: DesignerGraph, ids: readonly string[]): Set<string> {
  const seen = new Set(ids);
  const queue = [...ids];
  for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
    for (const e of graph.edges) {
      if (e.source === id && !seen.has(e.target)) {
        seen.add(e.target);
        queue.push(e.target);
      }
    }
  }
  return seen;
}

/**
 * Add a step of `kind` (its settings' defaults filled in). With `after`, it runs after that
 * step and sits to its right; when the kind fits between that step and the ones after it, it
 * is inserted there (`between` names them) and the steps after it move right to make room.
 * Otherwise it goes where it was dropped, or below the graph.
 */
export function addStep(
  graph: DesignerGraph,
  kind: string,
  options: { after?: string; position?: XYPosition } = {},
): { graph: DesignerGraph; id: string; between: readonly string[] } {
  const id = freeId(
    kind,
    graph.nodes.map((n) => n.id),
  );
  const definition = stepKind(kind);
  const settings: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(definition?.settings.properties ?? {})) {
    if ("default" in schema) settings[key] = schema.default;
  }
  const from = options.after ? graph.nodes.find((n) => n.id === options.after) : undefined;
  const between = from ? insertsBetween(graph, from, kind) : [];
  const lowest = Math.max(0, ...graph.nodes.map((n) => n.position.y));
  const position =
    options.position ??
    (from
      ? {
          x: from.position.x + COLUMN_GAP,
          y: between.length > 0 ? from.position.y : from.position.y + ROW_GAP,
        }
      : { x: 0, y: graph.nodes.length > 0 ? lowest + ROW_GAP : 0 });
  const node: StepNode = {
    id,
    type: "step",
    position,
    data: { kind, settings, missingAfter: [], extra: {} },
  };
  if (from && between.length > 0) {
    const moved = downstream(graph, between);
    const nodes = graph.nodes.map((n) =>
      moved.has(n.id) ? { ...n, position: { ...n.position, x: n.position.x + COLUMN_GAP } } : n,
    );
    const edges = [
      ...graph.edges.filter((e) => e.source !== from.id),
      { id: edgeId(from.id, id), source: from.id, target: id },
      ...between.map((target) => ({ id: edgeId(id, target), source: id, target })),
    ];
    return { graph: { ...graph, nodes: [...nodes, node], edges }, id, between };
  }
  const edges =
    from && (definition?.inputs ?? 1) > 0
      ? [...graph.edges, { id: edgeId(from.id, id), source: from.id, target: id }]
      : graph.edges;
  return { graph: { ...graph, nodes: [...graph.nodes, node], edges }, id, between: [] };
}

/** Remove steps and every connection to them. */
export function removeSteps(graph: DesignerGraph, ids: Iterable<string>): DesignerGraph {
  const gone = new Set(ids);
  return {
    ...graph,
    nodes: graph.nodes.filter((n) => !gone.has(n.id)),
    edges: graph.edges.filter((e) => !gone.has(e.source) && !gone.has(e.target)),
  };
}

/** Make `target` run after `source` (nothing changes if it already does, or they are one). */
export function connect(graph: DesignerGraph, source: string, target: string): DesignerGraph {
  const id = edgeId(source, target);
  if (source === target || graph.edges.some((e) => e.id === id)) return graph;
  const known = new Set(graph.nodes.map((n) => n.id));
  if (!known.has(source) || !known.has(target)) return graph;
  return { ...graph, edges: [...graph.edges, { id, source, target }] };
}

export function disconnect(graph: DesignerGraph, ids: Iterable<string>): DesignerGraph {
  const gone = new Set(ids);
  return { ...graph, edges: graph.edges.filter((e) => !gone.has(e.id)) };
}

/** Set one setting of a step; `undefined` removes it (the kind's default or a problem). */
export function setSetting(
  graph: DesignerGraph,
  id: string,
  key: string,
  value: unknown,
): DesignerGraph {
  return {
    ...graph,
    nodes: graph.nodes.map((n) => {
      if (n.id !== id) return n;
      const settings: Record<string, unknown> = { ...n.data.settings };
      if (value === undefined) delete settings[key];
      else settings[key] = value;
      return { ...n, data: { ...n.data, settings } };
    }),
  };
}

/** Rename a step, keeping its connections. Refused (graph unchanged) if the id is taken. */
export function renameStep(graph: DesignerGraph, from: string, to: string): DesignerGraph {
  if (from === to || to === "" || graph.nodes.some((n) => n.id === to)) return graph;
  const rename = (id: string) => (id === from ? to : id);
  return {
    ...graph,
    nodes: graph.nodes.map((n) => ({
      ...n,
      id: rename(n.id),
      data: { ...n.data, missingAfter: n.data.missingAfter.map(rename) },
    })),
    edges: graph.edges.map((e) => {
      const source = rename(e.source);
      const target = rename(e.target);
      return { ...e, id: edgeId(source, target), source, target };
    }),
  };
}

/**
 * Set one field of a section of the spec kept beside the graph: `["policies", "cache",
 * "enabled"]` or `["webhook", "callbackUrl"]`. `undefined` removes it (the default applies),
 * and a section left empty is removed too. What stood in the way (a section typed as
 * something other than a map in the YAML) is replaced.
 */
export function setSpecField(
  graph: DesignerGraph,
  path: readonly [string, string] | readonly [string, string, string],
  value: unknown,
): DesignerGraph {
  const set = (parent: unknown, keys: readonly string[]): Record<string, unknown> | undefined => {
    const [key, ...rest] = keys;
    const out: Record<string, unknown> = isRecord(parent) ? { ...parent } : {};
    if (key === undefined) return out;
    const next = rest.length === 0 ? value : set(out[key], rest);
    if (next === undefined) delete out[key];
    else out[key] = next;
    return Object.keys(out).length > 0 ? out : undefined;
  };
  const base = set(graph.base, path) ?? {};
  return { ...graph, base };
}

/** Set one policy (`policies.<group>.<field>`); `undefined` goes back to the default. */
export function setPolicy(
  graph: DesignerGraph,
  group: string,
  field: string,
  value: unknown,
): DesignerGraph {
  return setSpecField(graph, ["policies", group, field], value);
}

/** Set one monitoring setting (`monitoring.<group>.<field>`); `undefined`: the default. */
export function setMonitoring(
  graph: DesignerGraph,
  group: string,
  field: string,
  value: unknown,
): DesignerGraph {
  return setSpecField(graph, ["monitoring", group, field], value);
}

/** Set one release setting (`release.<group>.<field>`); `undefined`: the default. */
export function setReleaseSetting(
  graph: DesignerGraph,
  group: string,
  field: string,
  value: unknown,
): DesignerGraph {
  return setSpecField(graph, ["release", group, field], value);
}

/** Set one webhook setting (`webhook.<field>`); `undefined` goes back to the default. */
export function setWebhookSetting(
  graph: DesignerGraph,
  field: string,
  value: unknown,
): DesignerGraph {
  return setSpecField(graph, ["webhook", field], value);
}
