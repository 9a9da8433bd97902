/**
 * The pipeline designer: the app's spec as a graph (React Flow), a palette of the step kinds
 * the runtime supports, the selected step's settings or the app's policies (a tab each), and
 * the spec as YAML; every edit on one side shows on the others. The graph is the state; the spec, its YAML and its problems are
 * derived from it, with the same checks the server runs. Saving posts the spec as the app's
 * next version, refused here first when the graph has problems.
 */
import {
  applyEdgeChanges,
  applyNodeChanges,
  Background,
  type Connection,
  Controls,
  type Edge,
  type EdgeChange,
  MarkerType,
  type NodeChange,
  Panel,
  ReactFlow,
  ReactFlowProvider,
  useReactFlow,
} from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import {
  type DragEvent,
  type RefObject,
  useCallback,
  useEffect,
  useId,
  useMemo,
  useRef,
  useState,
} from "react";
import { parseAppSpec, type SpecProblem, toStepsForm } from "../../../src/spec/app-spec.ts";
import { STEP_KINDS, stepKind } from "../../../src/spec/steps/registry.ts";
import { ApiRequestError, seg } from "../api/client.ts";
import type { AppDetailDto, AppDto } from "../api/types.ts";
import { Button, ErrorBanner, Notice } from "../components/ui.tsx";
import { AppHeader } from "../pages/app-nav.tsx";
import { useApi } from "../session/session.tsx";
import "./designer.css";
import {
  addStep,
  connect,
  type DesignerGraph,
  disconnect,
  graphToSpec,
  layout,
  positionsOf,
  removeSteps,
  renameStep,
  type StepNode,
  setMonitoring,
  setPolicy,
  setReleaseSetting,
  setSetting,
  setWebhookSetting,
  specToGraph,
} from "./graph.ts";
import { PoliciesPanel } from "./policies-panel.tsx";
import {
  checkSpec,
  describeProblem,
  groupProblems,
  isPolicyProblem,
  serverProblems,
} from "./problems.ts";
import { SettingsPanel } from "./settings-panel.tsx";
import { StepIcon } from "./step-icons.tsx";
import { ProblemsContext, StepNodeView } from "./step-node.tsx";
import { lineOfPath, specToYaml, yamlToSpec } from "./yaml.ts";
import { type YamlError, YamlPanel } from "./yaml-panel.tsx";

const STEP_MIME = "application/x-ballast-step";
const FIT = { padding: 0.12, maxZoom: 1 } as const;
const nodeTypes = { step: StepNodeView };

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** The app's spec as the designer edits it, whatever shape it was stored in. */
export function initialGraph(app: AppDetailDto): DesignerGraph {
  let document: Record<string, unknown>;
  try {
    document = toStepsForm(parseAppSpec(app.spec));
  } catch {
    // A stored spec this Studio cannot read: start from what the app serves.
    document = isRecord(app.spec)
      ? app.spec
      : { apiVersion: "ballast/v1", kind: "App", name: app.name, model: app.model };
  }
  const result = specToGraph(document);
  if (result.ok) return result.graph;
  const fallback = specToGraph({
    apiVersion: "ballast/v1",
    kind: "App",
    name: app.name,
    model: app.model,
  });
  if (!fallback.ok) throw new Error("the default pipeline cannot be drawn");
  return fallback.graph;
}

/** React Flow's bookkeeping (selection, measured size) kept across a rebuild from YAML. */
function carryOver(previous: DesignerGraph, next: DesignerGraph): DesignerGraph {
  const old = new Map(previous.nodes.map((n) => [n.id, n]));
  return {
    ...next,
    nodes: next.nodes.map((n) => {
      const before = old.get(n.id);
      if (!before) return n;
      return {
        ...n,
        ...(before.selected ? { selected: true } : {}),
        ...(before.measured ? { measured: before.measured } : {}),
      };
    }),
  };
}

type SaveState =
  | { readonly kind: "idle" }
  | { readonly kind: "refused"; readonly count: number }
  | { readonly kind: "saved"; readonly version: number }
  | { readonly kind: "failed"; readonly error: unknown };

export function Designer(props: { app: AppDetailDto; onSaved(app: AppDto): void }) {
  return (
    <ReactFlowProvider>
      <DesignerInner {...props} />
    </ReactFlowProvider>
  );
}

function DesignerInner({ app, onSaved }: { app: AppDetailDto; onSaved(app: AppDto): void }) {
  const api = useApi();
  const flow = useReactFlow();
  const [initial] = useState(() => initialGraph(app));
  const [graph, setGraphState] = useState<DesignerGraph>(initial);
  const [yamlDraft, setYamlDraft] = useState<{ text: string; error?: YamlError }>();
  const [baseline, setBaseline] = useState(() => JSON.stringify(graphToSpec(initial)));
  const [server, setServer] = useState<{ forSpec: string; problems: SpecProblem[] }>();
  const [save, setSave] = useState<SaveState>({ kind: "idle" });
  const [saving, setSaving] = useState(false);
  const [announcement, setAnnouncement] = useState("");
  const [panel, setPanel] = useState<"step" | "policies">("step");
  const problemsRef = useRef<HTMLElement>(null);
  const tabsId = useId();

  // Moving or selecting a step changes the graph but not the spec: derive from its text, so
  // the checks, the YAML and the nodes' problems are recomputed only when the spec changes.
  const specJson = JSON.stringify(graphToSpec(graph));
  const spec = useMemo(() => JSON.parse(specJson) as Record<string, unknown>, [specJson]);
  const generatedYaml = useMemo(() => specToYaml(spec), [spec]);
  const yamlText = yamlDraft?.text ?? generatedYaml;
  const problems = useMemo(() => {
    const local = checkSpec(spec).all;
    const fromServer = server?.forSpec === specJson ? server.problems : [];
    return groupProblems([...local, ...fromServer]);
  }, [spec, server, specJson]);
  const problemLines = useMemo(() => {
    const lines = new Map<SpecProblem, number>();
    for (const p of problems.all) {
      const line = lineOfPath(yamlText, p.path);
      if (line !== undefined) lines.set(p, line);
    }
    return lines;
  }, [problems, yamlText]);
  const dirty = specJson !== baseline;

  // Keep every step in view when steps come or go (added, deleted, typed in the YAML).
  const stepCount = graph.nodes.length;
  const shownCount = useRef(stepCount);
  useEffect(() => {
    if (shownCount.current === stepCount) return;
    shownCount.current = stepCount;
    const frame = window.requestAnimationFrame(() => flow.fitView({ ...FIT, duration: 200 }));
    return () => window.cancelAnimationFrame(frame);
  }, [stepCount, flow]);
  const selected = graph.nodes.find((n) => n.selected);
  const policyProblems = useMemo(() => problems.general.filter(isPolicyProblem), [problems]);

  /** A change made on the graph (or the form): the YAML is written from it again. */
  const edit = useCallback((change: (g: DesignerGraph) => DesignerGraph, say?: string) => {
    setGraphState((g) => change(g));
    setYamlDraft(undefined);
    setSave((s) => (s.kind === "idle" ? s : { kind: "idle" }));
    if (say) setAnnouncement(say);
  }, []);

  // Picking a step anywhere (canvas, lists, palette) shows its settings, even when it was
  // already the selected one and the policies were showing.
  const select = useCallback((id: string) => {
    setPanel("step");
    setGraphState((g) => ({
      ...g,
      nodes: g.nodes.map((n) =>
        n.id === id ? { ...n, selected: true } : n.selected ? { ...n, selected: false } : n,
      ),
      edges: g.edges.map((e) => (e.selected ? { ...e, selected: false } : e)),
    }));
  }, []);

  const deselect = useCallback(
    () =>
      setGraphState((g) => ({
        ...g,
        nodes: g.nodes.map((n) => (n.selected ? { ...n, selected: false } : n)),
      })),
    [],
  );

  const add = useCallback(
    (kind: string, position?: { x: number; y: number }) => {
      const after = position ? undefined : selected?.id;
      // Said as it will happen: after the selected step, or between it and the next.
      const between = after ? addStep(graph, kind, { after }).between : [];
      const where = after
        ? between.length > 0
          ? ` between ${after} and ${between.join(", ")}`
          : ` after ${after}`
        : "";
      edit(
        (g) => {
          const { graph: next, id } = addStep(g, kind, {
            ...(after ? { after } : {}),
            ...(position ? { position } : {}),
          });
          return {
            ...next,
            nodes: next.nodes.map((n) =>
              n.id === id ? { ...n, selected: true } : n.selected ? { ...n, selected: false } : n,
            ),
          };
        },
        `Added a ${stepKind(kind)?.title ?? kind} step${where}`,
      );
      setPanel("step");
    },
    [edit, selected?.id, graph],
  );

  const onNodesChange = useCallback(
    (changes: NodeChange<StepNode>[]) => {
      const removed = changes.flatMap((c) => (c.type === "remove" ? [c.id] : []));
      const rest = changes.filter((c) => c.type !== "remove");
      if (removed.length > 0) {
        edit((g) => removeSteps(g, removed), `Deleted ${removed.join(", ")}`);
      }
      if (rest.length === 0) return;
      if (rest.some((c) => c.type === "select" && c.selected)) setPanel("step");
      // Selecting, measuring and moving a step are not edits of the spec.
      setGraphState((g) => ({ ...g, nodes: applyNodeChanges(rest, [...g.nodes]) }));
    },
    [edit],
  );

  const onEdgesChange = useCallback(
    (changes: EdgeChange<Edge>[]) => {
      const removed = changes.flatMap((c) => (c.type === "remove" ? [c.id] : []));
      const rest = changes.filter((c) => c.type !== "remove");
      if (removed.length > 0) edit((g) => disconnect(g, removed), "Connection removed");
      if (rest.length > 0) {
        setGraphState((g) => ({ ...g, edges: applyEdgeChanges(rest, [...g.edges]) }));
      }
    },
    [edit],
  );

  const onConnect = useCallback(
    (c: Connection) => {
      if (c.source && c.target) {
        edit((g) => connect(g, c.source, c.target), `${c.target} now runs after ${c.source}`);
      }
    },
    [edit],
  );

  const onYamlChange = (text: string) => {
    const read = yamlToSpec(text);
    if (!read.ok) {
      setYamlDraft({ text, error: { message: read.message, line: read.line } });
      return;
    }
    const drawn = specToGraph(read.document, positionsOf(graph.nodes));
    if (!drawn.ok) {
      setYamlDraft({
        text,
        error: {
          message: `${drawn.error.path} ${drawn.error.message}`,
          line: lineOfPath(text, drawn.error.path),
        },
      });
      return;
    }
    setGraphState((g) => carryOver(g, drawn.graph));
    setYamlDraft({ text });
    setSave((s) => (s.kind === "idle" ? s : { kind: "idle" }));
  };

  const onDrop = (event: DragEvent) => {
    const kind = event.dataTransfer.getData(STEP_MIME);
    if (!kind) return;
    event.preventDefault();
    add(kind, flow.screenToFlowPosition({ x: event.clientX, y: event.clientY }));
  };

  const tidy = () => {
    const positions = layout(
      graph.nodes.map((n) => n.id),
      graph.edges,
    );
    setGraphState((g) => ({
      ...g,
      nodes: g.nodes.map((n) => ({ ...n, position: positions.get(n.id) ?? n.position })),
    }));
    window.requestAnimationFrame(() => flow.fitView({ ...FIT, duration: 200 }));
  };

  const revert = () => {
    const parsed = specToGraph(JSON.parse(baseline) as Record<string, unknown>);
    if (parsed.ok) {
      edit(() => parsed.graph, "Changes undone");
    }
  };

  const onSave = async () => {
    if (problems.all.length > 0) {
      setSave({ kind: "refused", count: problems.all.length });
      problemsRef.current?.focus();
      return;
    }
    setSaving(true);
    try {
      const response = await api.post<{ version: { version: number }; app: AppDto }>(
        `/v1/apps/${seg(app.name)}/versions`,
        { spec },
      );
      setBaseline(specJson);
      setServer(undefined);
      setSave({ kind: "saved", version: response.version.version });
      setAnnouncement(`Saved as version ${response.version.version}`);
      onSaved(response.app);
    } catch (error) {
      if (error instanceof ApiRequestError && error.status === 400) {
        setServer({ forSpec: specJson, problems: serverProblems(spec, error.details) });
      }
      setSave({ kind: "failed", error });
    } finally {
      setSaving(false);
    }
  };

  const nodes = graph.nodes.map((n) => {
    const kind = stepKind(n.data.kind);
    const count = problems.byStep.get(n.id)?.length ?? 0;
    return {
      ...n,
      ariaLabel: `${kind?.title ?? n.data.kind} step ${n.id}${count > 0 ? `, ${count} problem${count === 1 ? "" : "s"}` : ""}`,
      className: count > 0 ? "has-problems" : undefined,
    } satisfies StepNode;
  });
  const edges = graph.edges.map((e) => ({
    ...e,
    ariaLabel: `${e.target} runs after ${e.source}`,
    markerEnd: { type: MarkerType.ArrowClosed, width: 18, height: 18 },
  }));

  return (
    <>
      <AppHeader
        app={app}
        actions={
          <>
            <Button onClick={revert} disabled={!dirty || saving}>
              Undo changes
            </Button>
            <Button variant="primary" onClick={onSave} loading={saving} disabled={!dirty}>
              Save as new version
            </Button>
          </>
        }
      />
      <SaveStatus state={save} dirty={dirty} />
      <div className="visually-hidden" aria-live="polite">
        {announcement}
      </div>
      <div className="designer">
        <div className="designer-toolbar">
          <div className="palette" role="toolbar" aria-label="Add a step">
            <span className="palette-label">Add a step</span>
            {STEP_KINDS.map((k) => (
              <button
                key={k.type}
                type="button"
                className="palette-item"
                draggable
                onDragStart={(e) => {
                  e.dataTransfer.setData(STEP_MIME, k.type);
                  e.dataTransfer.effectAllowed = "copy";
                }}
                onClick={() => add(k.type)}
                aria-label={`Add ${k.title} step`}
                title={`${k.description} Click to add${selected ? ` after ${selected.id}` : ""}, or drag onto the graph.`}
              >
                <StepIcon name={k.icon} />
                {k.title}
              </button>
            ))}
          </div>
          <span className="muted small">
            {selected
              ? `Click adds after ${selected.id}; or drag onto the graph.`
              : "Click to add, or drag onto the graph."}
          </span>
        </div>
        <section
          className="designer-canvas"
          aria-label="Pipeline graph. Tab to a step, Enter to select it; Delete removes it."
          onDragOver={(e) => {
            if (e.dataTransfer.types.includes(STEP_MIME)) {
              e.preventDefault();
              e.dataTransfer.dropEffect = "copy";
            }
          }}
          onDrop={onDrop}
        >
          <ProblemsContext.Provider value={problems}>
            <ReactFlow<StepNode, Edge>
              nodes={nodes}
              edges={edges}
              nodeTypes={nodeTypes}
              onNodesChange={onNodesChange}
              onEdgesChange={onEdgesChange}
              onConnect={onConnect}
              onNodeClick={() => setPanel("step")}
              isValidConnection={(c) => c.source !== c.target}
              deleteKeyCode={["Delete", "Backspace"]}
              fitView
              fitViewOptions={FIT}
              minZoom={0.3}
              maxZoom={1.25}
              proOptions={{ hideAttribution: true }}
            >
              <Background gap={16} color="#e2e5ea" />
              <Controls showInteractive={false} />
              <Panel position="bottom-right">
                <Button size="sm" onClick={tidy}>
                  Tidy layout
                </Button>
              </Panel>
            </ReactFlow>
          </ProblemsContext.Provider>
        </section>
        <ProblemList
          refEl={problemsRef}
          problems={problems.all}
          lines={problemLines}
          onSelect={select}
          onPolicies={() => setPanel("policies")}
        />
        <div className="designer-panels">
          <div className="designer-side">
            <div className="designer-tabs" role="tablist" aria-label="Edit">
              <button
                type="button"
                role="tab"
                id={`${tabsId}-step`}
                aria-controls={`${tabsId}-panel`}
                aria-selected={panel === "step"}
                className="designer-tab"
                onClick={() => setPanel("step")}
              >
                Steps
              </button>
              <button
                type="button"
                role="tab"
                id={`${tabsId}-policies`}
                aria-controls={`${tabsId}-panel`}
                aria-selected={panel === "policies"}
                className={`designer-tab${policyProblems.length > 0 ? " has-problems" : ""}`}
                onClick={() => setPanel("policies")}
              >
                Policies
                {policyProblems.length > 0 ? (
                  <span className="designer-tab-count">
                    {policyProblems.length}
                    <span className="visually-hidden">
                      {` problem${policyProblems.length === 1 ? "" : "s"}`}
                    </span>
                  </span>
                ) : null}
              </button>
            </div>
            <div
              role="tabpanel"
              id={`${tabsId}-panel`}
              aria-labelledby={`${tabsId}-${panel}`}
              className="designer-tabpanel"
            >
              {panel === "policies" ? (
                <PoliciesPanel
                  policies={graph.base.policies}
                  webhook={graph.base.webhook}
                  monitoring={graph.base.monitoring}
                  release={graph.base.release}
                  problems={policyProblems}
                  onPolicy={(group, field, value) => edit((g) => setPolicy(g, group, field, value))}
                  onWebhook={(field, value) => edit((g) => setWebhookSetting(g, field, value))}
                  onMonitoring={(group, field, value) =>
                    edit((g) => setMonitoring(g, group, field, value))
                  }
                  onRelease={(group, field, value) =>
                    edit((g) => setReleaseSetting(g, group, field, value))
                  }
                />
              ) : (
                <SettingsPanel
                  graph={graph}
                  selected={selected}
                  problems={selected ? (problems.byStep.get(selected.id) ?? []) : []}
                  onSelect={(id) => (id ? select(id) : deselect())}
                  onSetting={(id, key, value) => edit((g) => setSetting(g, id, key, value))}
                  onRename={(from, to) => {
                    if (graph.nodes.some((n) => n.id === to)) return false;
                    edit((g) => renameStep(g, from, to), `Renamed ${from} to ${to}`);
                    return true;
                  }}
                  onConnect={(source, target) =>
                    edit((g) => connect(g, source, target), `${target} now runs after ${source}`)
                  }
                  onDisconnect={(id) => edit((g) => disconnect(g, [id]), "Connection removed")}
                  onDelete={(id) => edit((g) => removeSteps(g, [id]), `Deleted ${id}`)}
                />
              )}
            </div>
          </div>
          <YamlPanel
            text={yamlText}
            error={yamlDraft?.error}
            problemLines={new Set(problemLines.values())}
            onChange={onYamlChange}
          />
        </div>
      </div>
    </>
  );
}

function SaveStatus({ state, dirty }: { state: SaveState; dirty: boolean }) {
  if (state.kind === "saved") {
    return (
      <Notice tone="success" title={`Saved as version ${state.version}`}>
        Version {state.version} is live: every request now runs through this pipeline.
      </Notice>
    );
  }
  if (state.kind === "refused") {
    return (
      <div className="banner banner-error" role="alert">
        <div className="banner-body">
          <strong className="banner-title">Not saved</strong>
          <p className="banner-message">
            The graph has {state.count} problem{state.count === 1 ? "" : "s"} (listed under the
            graph and outlined in red). Fix {state.count === 1 ? "it" : "them"}, then save.
          </p>
        </div>
      </div>
    );
  }
  if (state.kind === "failed") {
    return <ErrorBanner title="The server did not save this version" error={state.error} />;
  }
  return dirty ? null : (
    <p className="muted small designer-hint">
      Add steps from the palette, connect them by dragging from a step's right edge to another's
      left edge (or with Connect in the settings), and save to publish a new version.
    </p>
  );
}

function ProblemList({
  problems,
  lines,
  onSelect,
  onPolicies,
  refEl,
}: {
  problems: readonly SpecProblem[];
  lines: ReadonlyMap<SpecProblem, number>;
  onSelect(id: string): void;
  onPolicies(): void;
  refEl: RefObject<HTMLElement | null>;
}) {
  return (
    <section
      className={`designer-problems${problems.length > 0 ? " has-problems" : ""}`}
      aria-labelledby="designer-problems-title"
      tabIndex={-1}
      ref={refEl}
    >
      <h2 id="designer-problems-title">
        {problems.length === 0
          ? "No problems"
          : `${problems.length} problem${problems.length === 1 ? "" : "s"}`}
      </h2>
      {problems.length === 0 ? (
        <p className="muted small">The graph is a pipeline the runtime can run.</p>
      ) : (
        <ul>
          {problems.map((p) => {
            const line = lines.get(p);
            return (
              <li key={`${p.stepId ?? ""} ${p.path} ${p.message}`}>
                {p.stepId !== undefined ? (
                  <button
                    type="button"
                    className="problem-step"
                    onClick={() => p.stepId !== undefined && onSelect(p.stepId)}
                    aria-label={`Select step ${p.stepId}`}
                  >
                    {p.stepId}
                  </button>
                ) : isPolicyProblem(p) ? (
                  <button
                    type="button"
                    className="problem-step problem-spec"
                    onClick={onPolicies}
                    title="Show the policies"
                  >
                    {p.path.startsWith("/webhook")
                      ? "webhook"
                      : p.path.startsWith("/monitoring")
                        ? "monitoring"
                        : p.path.startsWith("/release")
                          ? "release"
                          : "policies"}
                  </button>
                ) : (
                  <span className="problem-step problem-spec">spec</span>
                )}
                <span>{describeProblem(p)}</span>
                {line !== undefined ? <span className="muted small">line {line}</span> : null}
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}
