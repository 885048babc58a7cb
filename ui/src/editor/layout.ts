/** Automatic layout of a flow with elkjs (layered, top to bottom). */
import type { ELK as ElkEngine } from "elkjs/lib/elk-api";
import type { StepEdge, StepNode } from "../graph";

export type Positions = Record<string, { x: number; y: number }>;

export const NODE_WIDTH = 220;
export const NODE_HEIGHT = 96;

// elkjs is large; load it only when a layout is needed, so the other pages start fast.
let elk: Promise<ElkEngine> | null = null;
function engine(): Promise<ElkEngine> {
  elk ??= import("elkjs/lib/elk.bundled.js").then(({ default: ELK }) => new ELK());
  return elk;
}

/** Compute positions for every node; edges keep their outcome order left to right. */
export async function autoLayout(nodes: StepNode[], edges: StepEdge[], start?: unknown): Promise<Positions> {
  const ordered = [...nodes].sort((a, b) => Number(b.id === start) - Number(a.id === start));
  const graph = await (await engine()).layout({
    id: "root",
    layoutOptions: {
      "elk.algorithm": "layered",
      "elk.direction": "DOWN",
      "elk.layered.spacing.nodeNodeBetweenLayers": "70",
      "elk.spacing.nodeNode": "50",
      "elk.layered.considerModelOrder.strategy": "NODES_AND_EDGES",
      "elk.layered.cycleBreaking.strategy": "MODEL_ORDER",
    },
    children: ordered.map((n) => ({ id: n.id, width: NODE_WIDTH, height: NODE_HEIGHT })),
    edges: edges.map((e) => ({ id: e.id, sources: [e.source], targets: [e.target] })),
  });
  const positions: Positions = {};
  for (const child of graph.children ?? []) positions[child.id] = { x: child.x ?? 0, y: child.y ?? 0 };
  return positions;
}

/** Places for nodes without a saved position, to the right of the drawn ones. */
export function placeMissing(nodes: StepNode[], positions: Positions): Positions {
  const missing = nodes.filter((n) => !positions[n.id]);
  if (!missing.length) return positions;
  const xs = Object.values(positions).map((p) => p.x);
  const right = xs.length ? Math.max(...xs) + NODE_WIDTH + 60 : 0;
  const out = { ...positions };
  missing.forEach((n, i) => {
    out[n.id] = { x: right, y: i * (NODE_HEIGHT + 40) };
  });
  return out;
}
