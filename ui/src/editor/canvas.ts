/** Turn a flow document into React Flow nodes and edges (shared by the editor and the live map). */
import { MarkerType, type Edge } from "@xyflow/react";
import { isObject, stepsOf, toGraph, type FlowDoc } from "../graph";
import { NODE_WIDTH, type Direction, type Positions, type Routes } from "./layout";
import type { PlacedProblems } from "./problems";
import type { StepFlowNode, StepStats } from "./StepNode";

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
    },
  }));
  const edges: Edge[] = graph.edges.map((edge) => {
    const problems = input.placed?.byEdge.get(edge.id) ?? [];
    const step = steps[edge.source];
    const kind = isObject(step) ? String(step.type) : "";
    return {
      id: edge.id,
      type: "routed",
      source: edge.source,
      target: edge.target,
      sourceHandle: edge.handle,
      label: problems.length ? `⚠ ${edge.label}` : edge.label,
      selected: input.selectedEdge === edge.id,
      className: `edge-${edge.handle.split(".")[0]} edge-from-${kind}${problems.length ? " has-problem" : ""}`,
      markerEnd: { type: MarkerType.ArrowClosed, width: 18, height: 18 },
      ariaLabel: `${edge.source} ${edge.label} to ${edge.target}${problems.length ? `: ${problems[0].message}` : ""}`,
      data: { problems, points: input.routes?.[edge.id] },
    };
  });
  return { nodes, edges };
}
