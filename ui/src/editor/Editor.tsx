/**
 * The flow editor: canvas, palette, side panel, JSON tab and problems, with autosave of the
 * draft (allow_invalid) and of the layout, undo/redo and copy/paste.
 */
import {
  Background,
  Controls,
  MiniMap,
  ReactFlow,
  ReactFlowProvider,
  useReactFlow,
  type Connection,
  type Edge,
  type EdgeChange,
  type FinalConnectionState,
  type NodeChange,
} from "@xyflow/react";
import { useCallback, useEffect, useMemo, useRef, useState, type DragEvent } from "react";
import { api, ApiError, type Problem, type Schemas } from "../api";
import {
  addStep,
  connect,
  freshId,
  newStep,
  outgoingHandles,
  pasteSteps,
  removeSteps,
  renameStep,
  stepsOf,
  toGraph,
  type FlowDoc,
  type VersionDoc,
  type Json,
} from "../graph";
import { buildCanvas, readableView } from "./canvas";
import { changesInWords } from "../diff";
import { FlowSettings } from "./FlowSettings";
import { JsonPane } from "./JsonPane";
import { currentRoutes, layoutWithRoutes, NODE_WIDTH, placeMissing, saveDirection, savedDirection, type Direction, type Positions, type Routes } from "./layout";
import { edgeTypes } from "./RoutedEdge";
import { DRAG_TYPE, Palette } from "./Palette";
import { placeProblems, problemStep } from "./problems";
import { StepPanel, type Pickers } from "./StepPanel";
import { nodeTypes, type StepFlowNode } from "./StepNode";
import { ProblemList } from "./ProblemList";
import { PublishDialog } from "./PublishDialog";

interface History {
  past: FlowDoc[];
  doc: FlowDoc;
  future: FlowDoc[];
  lastKey: string | null;
  lastAt: number;
}

type SaveState = "saved" | "pending" | "saving" | { error: string };

export interface EditorProps {
  flowId: string;
  initialDoc: FlowDoc;
  initialPositions: Positions;
  pickers: Pickers;
  onPublished: (version: number) => void;
  /** The version just published from this page (the banner compares with it). */
  published?: number | null;
}

export function Editor(props: EditorProps) {
  return (
    <ReactFlowProvider>
      <EditorInner {...props} />
    </ReactFlowProvider>
  );
}

function canvasBox(): DOMRect | undefined {
  return document.querySelector('[data-testid="canvas"] .react-flow')?.getBoundingClientRect();
}

function isTyping(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  return !!el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT" || el.isContentEditable);
}

function EditorInner({ flowId, initialDoc, initialPositions, pickers, onPublished, published }: EditorProps) {
  const flow = useReactFlow();
  const [history, setHistory] = useState<History>({ past: [], doc: initialDoc, future: [], lastKey: null, lastAt: 0 });
  const doc = history.doc;
  const [positions, setPositions] = useState<Positions>(initialPositions);
  const [direction, setDirection] = useState<Direction>(() => savedDirection(flowId));
  // The last automatic layout: its places and edge routes (kept for edges whose steps stay put).
  const [laid, setLaid] = useState<{ positions: Positions; routes: Routes } | null>(null);
  const [measured, setMeasured] = useState<Record<string, { width: number; height: number }>>({});
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [selectedEdge, setSelectedEdge] = useState<string | null>(null);
  const [tab, setTab] = useState<"inspect" | "json" | "problems">("inspect");
  const [problems, setProblems] = useState<Problem[]>([]);
  const [validation, setValidation] = useState<"checking" | "done" | { error: string }>("checking");
  const [save, setSave] = useState<SaveState>("saved");
  const [publishing, setPublishing] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  // The field a problem's link asked for: the side panel focuses and highlights it.
  const [focusRequest, setFocusRequest] = useState<{ path: string; n: number } | null>(null);
  const clipboard = useRef<{ steps: Record<string, Json>; positions: Positions } | null>(null);
  const savedDoc = useRef(initialDoc);
  const dragging = useRef(false);
  const hadSteps = useRef(Object.keys(stepsOf(initialDoc)).length > 0);
  // Latest values for callbacks that must stay stable (keyboard shortcuts, React Flow handlers).
  const selectedRef = useRef(selected);
  selectedRef.current = selected;
  const positionsRef = useRef(positions);
  positionsRef.current = positions;
  const directionRef = useRef(direction);
  directionRef.current = direction;

  /** Apply an edit; consecutive edits with the same key within 1.5 s are one undo step. */
  const change = useCallback((next: FlowDoc, key?: string) => {
    setHistory((h) => {
      if (next === h.doc) return h;
      const now = Date.now();
      if (key && key === h.lastKey && now - h.lastAt < 1500) return { ...h, doc: next, lastAt: now };
      return { past: [...h.past.slice(-99), h.doc], doc: next, future: [], lastKey: key ?? null, lastAt: now };
    });
  }, []);
  const undo = useCallback(() => setHistory((h) => (h.past.length
    ? { past: h.past.slice(0, -1), doc: h.past[h.past.length - 1], future: [h.doc, ...h.future], lastKey: null, lastAt: 0 }
    : h)), []);
  const redo = useCallback(() => setHistory((h) => (h.future.length
    ? { past: [...h.past, h.doc], doc: h.future[0], future: h.future.slice(1), lastKey: null, lastAt: 0 }
    : h)), []);

  /** The "+" on an outgoing handle: a new step of `type` below (or beside) it, connected. */
  const addAfter = useCallback((source: string, handle: string, type: string) => {
    const current = latestDoc.current;
    const id = freshId(current, type.replace("_", "-"));
    const from = positionsRef.current[source] ?? { x: 0, y: 0 };
    const handles = outgoingHandles(stepsOf(current)[source]);
    const offset = (handles.indexOf(handle) - (handles.length - 1) / 2) * (NODE_WIDTH + 40);
    const across = directionRef.current === "RIGHT";
    const where = across ? { x: from.x + NODE_WIDTH + 120, y: from.y + offset / 2 } : { x: from.x + offset, y: from.y + 200 };
    setPositions((p) => ({ ...p, [id]: where }));
    change(connect(addStep(current, id, newStep(type)), source, handle, id));
    setSelected(new Set([id]));
    setTab("inspect");
  }, [change]);

  // Autosave the draft, invalid or not, so work in progress is never lost.
  const saveNow = useCallback(async (toSave: FlowDoc) => {
    setSave("saving");
    try {
      await api(`/flows/${encodeURIComponent(flowId)}?allow_invalid=true`, { method: "PUT", body: toSave });
      savedDoc.current = toSave;
      setSave("saved");
    } catch (err) {
      setSave({ error: (err as ApiError).detail || String(err) });
      throw err;
    }
  }, [flowId]);
  useEffect(() => {
    if (doc === savedDoc.current) return;
    setSave("pending");
    const timer = window.setTimeout(() => saveNow(doc).catch(() => undefined), 600);
    return () => window.clearTimeout(timer);
  }, [doc, saveNow]);
  const latestDoc = useRef(doc);
  latestDoc.current = doc;
  useEffect(() => () => {
    // Leaving the page with an unsaved edit: send it anyway.
    if (latestDoc.current !== savedDoc.current) void saveNow(latestDoc.current).catch(() => undefined);
  }, [saveNow]);

  // Validate with the shared validator on every change (debounced).
  const validate = useCallback(async (toCheck: FlowDoc): Promise<Problem[]> => {
    const result = await api<Schemas["Validation"]>("/flows/validate", { body: toCheck });
    return result.problems ?? [];
  }, []);
  useEffect(() => {
    setValidation("checking");
    const controller = { cancelled: false };
    const timer = window.setTimeout(() => {
      validate(doc)
        .then((found) => {
          if (controller.cancelled) return;
          setProblems(found);
          setValidation("done");
        })
        .catch((err: ApiError) => !controller.cancelled && setValidation({ error: err.detail }));
    }, 300);
    return () => {
      controller.cancelled = true;
      window.clearTimeout(timer);
    };
  }, [doc, validate]);

  // Give every step a place: automatic layout for a flow drawn for the first time.
  const graph = useMemo(() => toGraph(doc), [doc]);
  useEffect(() => {
    const missing = graph.nodes.filter((n) => !positions[n.id]);
    if (!missing.length) return;
    if (missing.length === graph.nodes.length) {
      let cancelled = false;
      layoutWithRoutes(graph.nodes, graph.edges, doc.start, direction).then((result) => {
        if (cancelled) return;
        setLaid(result);
        setPositions((current) => ({ ...result.positions, ...current }));
        window.setTimeout(() => readableView(flow, canvasBox(), doc.start), 50);
      });
      return () => {
        cancelled = true;
      };
    }
    setPositions((current) => placeMissing(graph.nodes, current));
  }, [graph, positions, doc.start, flow, direction]);

  // Save the layout apart from the document, once a drag or layout settles.
  const savedPositions = useRef(JSON.stringify(initialPositions));
  useEffect(() => {
    const ids = new Set(graph.nodes.map((n) => n.id));
    const kept = Object.fromEntries(Object.entries(positions).filter(([id]) => ids.has(id)));
    const text = JSON.stringify(kept);
    if (text === savedPositions.current || dragging.current) return;
    const timer = window.setTimeout(() => {
      api(`/flows/${encodeURIComponent(flowId)}/layout`, { method: "PUT", body: { positions: kept } })
        .then(() => {
          savedPositions.current = text;
        })
        .catch(() => undefined);
    }, 800);
    return () => window.clearTimeout(timer);
  }, [positions, graph, flowId]);

  // A flow reopened with the places the automatic layout gave it gets that layout's routes back.
  const initialGraph = useRef(toGraph(initialDoc));
  useEffect(() => {
    const g = initialGraph.current;
    if (!g.nodes.length || !g.nodes.every((n) => initialPositions[n.id])) return;
    let cancelled = false;
    layoutWithRoutes(g.nodes, g.edges, initialDoc.start, savedDirection(flowId)).then((result) => {
      if (!cancelled) setLaid((current) => current ?? result);
    });
    return () => {
      cancelled = true;
    };
  }, [initialDoc, initialPositions, flowId]);
  const routes = useMemo(() => currentRoutes(laid, positions, graph.edges), [laid, positions, graph]);

  const placed = useMemo(() => placeProblems(problems, Object.keys(stepsOf(doc))), [problems, doc]);
  const { nodes, edges } = useMemo(
    () => buildCanvas({ doc, positions, placed, selected, selectedEdge, measured, direction, routes, words: pickers.words, onAdd: addAfter }),
    [doc, positions, placed, selected, selectedEdge, measured, direction, routes, pickers.words, addAfter],
  );

  const onNodesChange = useCallback((changes: NodeChange<StepFlowNode>[]) => {
    const moved: Positions = {};
    const sizes: Record<string, { width: number; height: number }> = {};
    let selection: Set<string> | null = null;
    for (const c of changes) {
      if (c.type === "position" && c.position) {
        moved[c.id] = c.position;
        dragging.current = !!c.dragging;
      } else if (c.type === "dimensions" && c.dimensions) {
        sizes[c.id] = c.dimensions;
      } else if (c.type === "select") {
        selection ??= new Set(selectedRef.current);
        if (c.selected) selection.add(c.id);
        else selection.delete(c.id);
      }
    }
    if (Object.keys(moved).length) setPositions((p) => ({ ...p, ...moved }));
    if (Object.keys(sizes).length) setMeasured((m) => ({ ...m, ...sizes }));
    if (selection) {
      setSelected(selection);
      if (selection.size) setTab("inspect");
    }
  }, []);

  const onEdgesChange = useCallback((changes: EdgeChange<Edge>[]) => {
    for (const c of changes) {
      if (c.type === "select") setSelectedEdge((cur) => (c.selected ? c.id : cur === c.id ? null : cur));
    }
  }, []);

  const onConnect = useCallback((conn: Connection) => {
    change(connect(latestDoc.current, conn.source, conn.sourceHandle ?? "next", conn.target));
  }, [change]);
  // A connection dropped anywhere on a step's card (not only near its input dot) connects to it.
  const onConnectEnd = useCallback((event: MouseEvent | TouchEvent, state: FinalConnectionState) => {
    if (state.isValid || !state.fromHandle || state.fromHandle.type !== "source") return;
    const point = "changedTouches" in event ? event.changedTouches[0] : event;
    if (!point) return;
    const card = document.elementFromPoint(point.clientX, point.clientY)?.closest<HTMLElement>(".react-flow__node");
    const target = card?.dataset.id;
    const source = state.fromHandle.nodeId;
    if (target && target !== source) change(connect(latestDoc.current, source, state.fromHandle.id ?? "next", target));
  }, [change]);

  const onDelete = useCallback(({ nodes: gone, edges: cut }: { nodes: StepFlowNode[]; edges: Edge[] }) => {
    let next = latestDoc.current;
    const goneIds = gone.map((n) => n.id);
    for (const e of cut) {
      if (!goneIds.includes(e.source)) next = connect(next, e.source, e.sourceHandle ?? "next", null);
    }
    if (goneIds.length) next = removeSteps(next, goneIds);
    change(next);
    setSelected(new Set());
    setSelectedEdge(null);
  }, [change]);

  const addAt = useCallback((type: string, position?: { x: number; y: number }) => {
    const current = latestDoc.current;
    const id = freshId(current, type.replace("_", "-"));
    const where = position ?? (() => {
      const box = document.querySelector(".react-flow")?.getBoundingClientRect();
      const center = box ? flow.screenToFlowPosition({ x: box.left + box.width / 2, y: box.top + box.height / 3 }) : { x: 0, y: 0 };
      // Steps added from the keyboard go below whatever already sits at the centre, not on top of it.
      const spot = { x: center.x - NODE_WIDTH / 2, y: center.y };
      const taken = Object.values(positionsRef.current);
      while (taken.some((p) => Math.abs(p.x - spot.x) < NODE_WIDTH && Math.abs(p.y - spot.y) < 120)) spot.y += 140;
      return spot;
    })();
    setPositions((p) => ({ ...p, [id]: where }));
    change(addStep(current, id, newStep(type)));
    setSelected(new Set([id]));
    setTab("inspect");
    // Keep a step added from the palette in view (it may have been placed below the fold).
    if (!position) flow.setCenter(where.x + NODE_WIDTH / 2, where.y + 50, { zoom: flow.getZoom(), duration: 200 });
  }, [change, flow]);

  const onDrop = useCallback((event: DragEvent) => {
    event.preventDefault();
    const type = event.dataTransfer.getData(DRAG_TYPE) || event.dataTransfer.getData("text/plain");
    if (!type) return;
    const p = flow.screenToFlowPosition({ x: event.clientX, y: event.clientY });
    addAt(type, { x: p.x - NODE_WIDTH / 2, y: p.y - 20 });
  }, [flow, addAt]);

  const copy = useCallback(() => {
    const steps = stepsOf(latestDoc.current);
    const ids = [...selectedRef.current].filter((id) => id in steps);
    if (!ids.length) return;
    clipboard.current = {
      steps: Object.fromEntries(ids.map((id) => [id, steps[id]])),
      positions: Object.fromEntries(ids.map((id) => [id, positionsRef.current[id] ?? { x: 0, y: 0 }])),
    };
    void navigator.clipboard?.writeText(JSON.stringify(clipboard.current.steps, null, 2)).catch(() => undefined);
    setNotice(`Copied ${ids.length} step(s).`);
  }, []);
  const paste = useCallback(() => {
    if (!clipboard.current) return;
    const { doc: next, ids } = pasteSteps(latestDoc.current, clipboard.current.steps);
    const copied = clipboard.current.positions;
    setPositions((p) => ({
      ...p,
      ...Object.fromEntries(Object.entries(ids).map(([from, to]) => [to, { x: copied[from].x + 40, y: copied[from].y + 40 }])),
    }));
    change(next);
    setSelected(new Set(Object.values(ids)));
    setNotice(`Pasted ${Object.keys(ids).length} step(s).`);
  }, [change]);

  const relayout = useCallback(async (to: Direction = direction) => {
    if (to !== direction) {
      setDirection(to);
      saveDirection(flowId, to);
    }
    // Measured sizes keep tall nodes (with a problem line) from touching their neighbours.
    const result = await layoutWithRoutes(graph.nodes, graph.edges, doc.start, to, measured);
    setLaid(result);
    setPositions(result.positions);
    window.setTimeout(() => readableView(flow, canvasBox(), doc.start), 50);
  }, [graph, doc.start, flow, direction, flowId, measured]);

  // Keyboard shortcuts, unless the user is typing in a field.
  const shortcuts = useRef({ undo, redo, copy, paste });
  shortcuts.current = { undo, redo, copy, paste };
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (isTyping(event.target) || !(event.ctrlKey || event.metaKey)) return;
      const key = event.key.toLowerCase();
      const s = shortcuts.current;
      if (key === "z" && !event.shiftKey) s.undo();
      else if ((key === "z" && event.shiftKey) || key === "y") s.redo();
      else if (key === "c") s.copy();
      else if (key === "v") s.paste();
      else return;
      event.preventDefault();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  useEffect(() => {
    if (!notice) return;
    const timer = window.setTimeout(() => setNotice(null), 2500);
    return () => window.clearTimeout(timer);
  }, [notice]);

  const onRename = (from: string, to: string) => {
    const next = renameStep(doc, from, to);
    if (next === doc) {
      setNotice(`Cannot rename to "${to}": a step with that id exists.`);
      return;
    }
    change(next);
    setPositions((p) => {
      const { [from]: at, ...rest } = p;
      return at ? { ...rest, [to]: at } : rest;
    });
    setSelected(new Set([to]));
  };

  const focusStep = (id: string) => {
    setSelected(new Set([id]));
    setTab("inspect");
    const p = positions[id];
    if (p) flow.setCenter(p.x + NODE_WIDTH / 2, p.y + 50, { zoom: Math.max(flow.getZoom(), 0.9), duration: 300 });
  };
  /** A problem's link: open the panel of its step (or the flow settings) and focus the field it names. */
  const showProblem = (p: Problem) => {
    const step = problemStep(p);
    if (step && step in stepsOf(latestDoc.current)) focusStep(step);
    else {
      setSelected(new Set());
      setTab("inspect");
    }
    setFocusRequest((current) => ({ path: p.path ?? "", n: (current?.n ?? 0) + 1 }));
  };

  // What the latest published version says, to show the draft's unpublished changes in words.
  const [live, setLive] = useState<VersionDoc | null | undefined>(undefined);
  useEffect(() => {
    const id = encodeURIComponent(flowId);
    api<Schemas["VersionRow"][]>(`/flows/${id}/versions`)
      .then((list) => {
        const newest = list.length ? Math.max(...list.map((v) => v.version)) : null;
        if (newest === null) return setLive(null);
        return api<VersionDoc>(`/flows/${id}/versions/${newest}`).then(setLive);
      })
      .catch(() => setLive(undefined));
  }, [flowId, published]);
  const changes = useMemo(() => (live ? changesInWords(live.document, doc, pickers.words) : []), [live, doc, pickers.words]);

  const single = selected.size === 1 ? [...selected][0] : null;
  const saveLabel = save === "saved" ? "All changes saved" : save === "pending" ? "Unsaved changes…" : save === "saving" ? "Saving…" : `Save failed: ${save.error}`;

  return (
    <div className="editor">
      <div className="toolbar" role="toolbar" aria-label="Editor">
        <button type="button" onClick={undo} disabled={!history.past.length} aria-keyshortcuts="Control+Z">Undo</button>
        <button type="button" onClick={redo} disabled={!history.future.length} aria-keyshortcuts="Control+Shift+Z">Redo</button>
        <button type="button" onClick={copy} disabled={!selected.size} aria-keyshortcuts="Control+C">Copy</button>
        <button type="button" onClick={paste} aria-keyshortcuts="Control+V">Paste</button>
        <button type="button" onClick={() => void relayout()} data-testid="auto-layout">Auto layout</button>
        <select aria-label="Layout direction" value={direction} data-testid="layout-direction"
          onChange={(e) => void relayout(e.target.value as Direction)}>
          <option value="DOWN">Top to bottom</option>
          <option value="RIGHT">Left to right</option>
        </select>
        <span className={`save-state${typeof save === "object" ? " error" : ""}`} role="status" data-testid="save-state">{saveLabel}</span>
        <button type="button" className={`problem-count${problems.length ? " bad" : " good"}`} data-testid="problem-count"
          onClick={() => setTab("problems")}>
          {validation === "checking" ? "Checking…" : typeof validation === "object" ? "Validator unavailable" : problems.length ? `${problems.length} problem(s)` : "✓ Valid"}
        </button>
        <button type="button" className="primary" data-testid="publish-open" onClick={() => setPublishing(true)}>Publish…</button>
        {notice && <span className="notice" role="status">{notice}</span>}
      </div>
      {live && changes.length > 0 && (
        <details className="banner unpublished" data-testid="unpublished-banner">
          <summary><strong>Unpublished changes</strong>: leads run version {live.version} until you publish.
            {" "}{changes.length} change{changes.length === 1 ? "" : "s"} (show)</summary>
          <ul>{changes.map((c, i) => <li key={i}>{c}</li>)}</ul>
        </details>
      )}
      {live === null && Object.keys(stepsOf(doc)).length > 0 && (
        <p className="banner unpublished" data-testid="unpublished-banner">Not published yet: no lead runs this flow until you publish it.</p>
      )}
      <div className="editor-body">
        <Palette onAdd={(type) => addAt(type)} />
        <div className="canvas" onDrop={onDrop} onDragOver={(e) => { e.preventDefault(); e.dataTransfer.dropEffect = "move"; }}
          data-testid="canvas">
          <ReactFlow
            nodes={nodes}
            edges={edges}
            nodeTypes={nodeTypes}
            edgeTypes={edgeTypes}
            onNodesChange={onNodesChange}
            onEdgesChange={onEdgesChange}
            onConnect={onConnect}
            onConnectEnd={onConnectEnd}
            onDelete={onDelete}
            onNodeDragStop={() => {
              dragging.current = false;
              setPositions((p) => ({ ...p }));
            }}
            onPaneClick={() => {
              setSelected(new Set());
              setSelectedEdge(null);
            }}
            deleteKeyCode={["Backspace", "Delete"]}
            // A drawn flow opens at a readable size (100 %, fitted only when that stays readable);
            // an empty canvas keeps its viewport so dropped steps stay where they land.
            onInit={(instance) => {
              if (hadSteps.current) window.setTimeout(() => readableView(instance, canvasBox(), latestDoc.current.start), 30);
            }}
            connectionRadius={48}
            minZoom={0.2}
            proOptions={{ hideAttribution: true }}
          >
            <Background gap={16} />
            <Controls />
            <MiniMap pannable zoomable ariaLabel="Overview of the flow" className="minimap" />
          </ReactFlow>
        </div>
        <div className="side">
          <div role="tablist" aria-label="Side panel" className="tabs">
            <button role="tab" type="button" aria-selected={tab === "inspect"} onClick={() => setTab("inspect")} data-testid="tab-inspect">
              {single ? "Step" : "Flow"}
            </button>
            <button role="tab" type="button" aria-selected={tab === "json"} onClick={() => setTab("json")} data-testid="tab-json">JSON</button>
            <button role="tab" type="button" aria-selected={tab === "problems"} onClick={() => setTab("problems")} data-testid="tab-problems">
              Problems ({problems.length})
            </button>
          </div>
          <div role="tabpanel" className="side-content">
            {tab === "inspect" && single && stepsOf(doc)[single] !== undefined && (
              <StepPanel key={single} doc={doc} stepId={single} problems={placed.byStep.get(single) ?? []} pickers={pickers}
                change={change} onRename={onRename} focus={focusRequest}
                onDelete={(id) => {
                  change(removeSteps(doc, [id]));
                  setSelected(new Set());
                }}
                onSetStart={(id) => change({ ...doc, start: id })} />
            )}
            {tab === "inspect" && (!single || stepsOf(doc)[single] === undefined) && (
              <FlowSettings doc={doc} problems={placed.flow} change={change} focus={focusRequest} />
            )}
            {tab === "json" && <JsonPane doc={doc} onChange={change} />}
            {tab === "problems" && (
              <ProblemList problems={problems} onPick={showProblem} />
            )}
          </div>
        </div>
      </div>
      {publishing && (
        <PublishDialog
          flowId={flowId}
          problems={problems}
          prepare={async () => {
            await saveNow(latestDoc.current);
            const found = await validate(latestDoc.current);
            setProblems(found);
            return found;
          }}
          onClose={() => setPublishing(false)}
          onPublished={(v) => {
            setPublishing(false);
            onPublished(v);
          }}
          onShowProblem={(p) => {
            setPublishing(false);
            showProblem(p);
          }}
        />
      )}
    </div>
  );
}
