/** Turn a flow document into React Flow nodes and edges (shared by the editor and the live map). */
import { MarkerType, type Edge, type Node, type ReactFlowInstance } from "@xyflow/react";
import { isObject, stepsOf, toGraph, type FlowDoc } from "../graph";
import { NODE_WIDTH, type Direction, type Positions, type Routes } from "./layout";
import type { PlacedProblems } from "./problems";
import type { StepFlowNode, StepStats, StepWords } from "./StepNode";

export interface CanvasInput {
  doc: FlowDoc;
  positions: Positions;
  placed?: PlacedProblems;
  stats?: Record<string, StepStats>;
  selected?: ReadonlySet<string>;
  selectedEdge?: string | null;
  measured?: Record<string, { width: number; height: number }>;
  /** Where handles sit: outcomes at the bottom (DOWN) or on the right (RIGHT). */
  direction?: Direction;
  /** Routes from the last automatic layout, for edges whose steps have not moved since. */
  routes?: Routes;
  /** Words for the cards: template subjects, team and rep names. */
  words?: StepWords;
  /** Live map: how leads left each step (`{from: {to: n}}`): all passages out of a step. */
  transitions?: Record<string, Record<string, number>>;
  /** Live map: passages per edge (`{"route:hot": n}`), shown as percentages on branch and split edges. */
  edgeCounts?: Record<string, number>;
  /** Editor: add a step after `stepId` on outcome `handle` (the "+" on each outgoing handle). */
  onAdd?: (stepId: string, handle: string, type: string) => void;
}

/**
 * The share of the leads that left `source` which took this edge (by its outcome, so two
 * outcomes leading to the same step each get their own), as a whole percentage and a count.
 */
export function edgeShare(
  edgeCounts: Record<string, number> | undefined,
  transitions: Record<string, Record<string, number>> | undefined,
  source: string,
  edgeId: string,
): { percent: number; leads: number } | null {
  if (!edgeCounts) return null;
  const mine = Object.entries(edgeCounts).filter(([id]) => id.startsWith(`${source}:`)).reduce((a, [, n]) => a + n, 0);
  const total = Math.max(mine, Object.values(transitions?.[source] ?? {}).reduce((a, b) => a + b, 0));
  const leads = edgeCounts[edgeId] ?? 0;
  return total ? { percent: Math.round((leads / total) * 100), leads } : null;
}

const READABLE_ZOOM = 0.8;

/**
 * Open a flow at a readable size: at 100 % when it fits the canvas (centred), fitted when the
 * fit keeps the text readable, else at 100 % with the start step in view at the top.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function readableView(flow: ReactFlowInstance<any, any>, box: DOMRect | undefined, startId: unknown): void {
  const nodes = flow.getNodes();
  if (!nodes.length || !box) return;
  const bounds = flow.getNodesBounds(nodes);
  const pad = 40;
  const fit = Math.min((box.width - 2 * pad) / Math.max(bounds.width, 1), (box.height - 2 * pad) / Math.max(bounds.height, 1));
  if (fit >= READABLE_ZOOM) {
    void flow.fitView({ padding: 0.15, maxZoom: 1, minZoom: READABLE_ZOOM });
    return;
  }
  const start: Node = nodes.find((n: Node) => n.id === startId) ?? nodes.reduce((a: Node, b: Node) => (a.position.y <= b.position.y ? a : b));
  const width = start.measured?.width ?? NODE_WIDTH;
  // The start step in view, centred across; the rest is a scroll (pan) away.
  const x = bounds.width + 2 * pad <= box.width ? box.width / 2 - (bounds.x + bounds.width / 2) : box.width / 2 - (start.position.x + width / 2);
  void flow.setViewport({ x, y: pad - start.position.y, zoom: 1 });
}

export function buildCanvas(input: CanvasInput): { nodes: StepFlowNode[]; edges: Edge[] } {
  const graph = toGraph(input.doc);
  const steps = stepsOf(input.doc);
  const nodes: StepFlowNode[] = graph.nodes.map((node, index) => ({
    id: node.id,
    type: "step",
    position: input.positions[node.id] ?? { x: (index % 4) * (NODE_WIDTH + 40), y: Math.floor(index / 4) * 160 },
    selected: input.selected?.has(node.id) ?? false,
    measured: input.measured?.[node.id],
    data: {
      stepId: node.id,
      kind: node.type,
      step: steps[node.id],
      isStart: input.doc.start === node.id,
      direction: input.direction ?? "DOWN",
      problems: input.placed?.byStep.get(node.id) ?? [],
      stats: input.stats ? input.stats[node.id] ?? {} : undefined,
      words: input.words,
      onAdd: input.onAdd,
    },
  }));
  const edges: Edge[] = graph.edges.map((edge) => {
    const problems = input.placed?.byEdge.get(edge.id) ?? [];
    const step = steps[edge.source];
    const kind = isObject(step) ? String(step.type) : "";
    const share = kind === "branch" || kind === "split" ? edgeShare(input.edgeCounts, input.transitions, edge.source, edge.id) : null;
    return {
      id: edge.id,
      type: "routed",
      source: edge.source,
      target: edge.target,
      sourceHandle: edge.handle,
      label: (() => {
        const text = share === null ? edge.label : `${edge.label} · ${share.percent}%`;
        return problems.length ? `⚠ ${text}` : text;
      })(),
      selected: input.selectedEdge === edge.id,
      className: `edge-${edge.handle.split(".")[0]} edge-from-${kind}${problems.length ? " has-problem" : ""}`,
      markerEnd: { type: MarkerType.ArrowClosed, width: 18, height: 18 },
      ariaLabel: `${edge.source} ${edge.label} to ${edge.target}${share ? `: ${share.leads} lead${share.leads === 1 ? "" : "s"}, ${share.percent}%` : ""}${problems.length ? `: ${problems[0].message}` : ""}`,
      data: { problems, points: input.routes?.[edge.id] },
    };
  });
  return { nodes, edges };
}
