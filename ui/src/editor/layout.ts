/**
 * Automatic layout of a flow with elkjs (layered, top to bottom or left to right).
 *
 * Each step's outcomes are fixed ports at the places StepNode draws its handles, so a branch's
 * hot/warm/cold edges leave side by side and fan out to their targets in that order. Loops
 * (e.g. "wait for a click, then branch again") are found by a depth-first walk from the start
 * step and are the only edges drawn against the flow's direction.
 */
import type { ELK as ElkEngine, ElkNode } from "elkjs/lib/elk-api";
import { outgoingHandles, type Json, type StepEdge, type StepNode } from "../graph";

export type Positions = Record<string, { x: number; y: number }>;
export type Point = { x: number; y: number };
/** `edgeId->target` → the points elk routed it through (start, bends, end), around the other steps. */
export type Routes = Record<string, Point[]>;
/** Reading direction of the diagram: top to bottom or left to right. */
export type Direction = "DOWN" | "RIGHT";

export const NODE_WIDTH = 220;
export const NODE_HEIGHT = 100;

// elkjs is large; load it only when a layout is needed, so the other pages start fast.
let elk: Promise<ElkEngine> | null = null;
function engine(): Promise<ElkEngine> {
  elk ??= import("elkjs/lib/elk.bundled.js").then(({ default: ELK }) => new ELK());
  return elk;
}

/**
 * Steps in reading order: reverse post-order of a depth-first walk from `start` (then from any
 * step nothing reaches), following outcomes in handle order. Every edge points forward in this
 * order except the loops, which point back to a step still being walked.
 */
export function readingOrder(nodes: StepNode[], edges: StepEdge[], start?: unknown): string[] {
  const out = new Map<string, StepEdge[]>();
  for (const n of nodes) out.set(n.id, []);
  for (const e of edges) out.get(e.source)?.push(e);
  const rank = (n: StepNode, e: StepEdge) => {
    const i = outgoingHandles(n.step as Json).indexOf(e.handle);
    return i < 0 ? 99 : i;
  };
  for (const n of nodes) out.get(n.id)?.sort((a, b) => rank(n, a) - rank(n, b));
  const seen = new Set<string>();
  const post: string[] = [];
  const visit = (root: string) => {
    // Iterative, so a long flow cannot overflow the stack.
    const stack: [string, number][] = [[root, 0]];
    seen.add(root);
    while (stack.length) {
      const top = stack[stack.length - 1];
      const next = out.get(top[0])?.[top[1]];
      top[1] += 1;
      if (!next) {
        post.push(top[0]);
        stack.pop();
      } else if (!seen.has(next.target) && out.has(next.target)) {
        seen.add(next.target);
        stack.push([next.target, 0]);
      }
    }
  };
  const incoming = new Set(edges.map((e) => e.target));
  const roots = [
    ...nodes.filter((n) => n.id === start),
    ...nodes.filter((n) => n.id !== start && !incoming.has(n.id)),
    ...nodes,
  ];
  for (const n of roots) if (!seen.has(n.id)) visit(n.id);
  return post.reverse();
}

/** The elk graph for a flow (exported for tests; `autoLayout` runs it). */
export function elkGraph(
  nodes: StepNode[],
  edges: StepEdge[],
  start?: unknown,
  direction: Direction = "DOWN",
  sizes: Record<string, { width: number; height: number }> = {},
): ElkNode {
  const order = readingOrder(nodes, edges, start);
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const down = direction === "DOWN";
  const children = order.map((id) => {
    const node = byId.get(id) as StepNode;
    const width = sizes[id]?.width ?? NODE_WIDTH;
    const height = Math.max(sizes[id]?.height ?? 0, NODE_HEIGHT);
    const handles = outgoingHandles(node.step as Json);
    // Same places as StepNode's handles: spread evenly along the bottom (or right) side.
    const ports = handles.map((h, i) => {
      const along = (i + 1) / (handles.length + 1);
      return {
        id: `${id}\u0000${h}`,
        width: 1,
        height: 1,
        x: down ? along * width : width,
        y: down ? height : along * height,
        layoutOptions: { "elk.port.side": down ? "SOUTH" : "EAST" },
      };
    });
    ports.push({
      id: `${id}\u0000in`, width: 1, height: 1, x: down ? width / 2 : 0, y: down ? 0 : height / 2,
      layoutOptions: { "elk.port.side": down ? "NORTH" : "WEST" },
    });
    return { id, width, height, ports, layoutOptions: { "elk.portConstraints": "FIXED_POS" } };
  });
  const known = new Set(children.flatMap((c) => c.ports.map((p) => p.id)));
  return {
    id: "root",
    layoutOptions: {
      "elk.algorithm": "layered",
      "elk.direction": direction,
      "elk.edgeRouting": "POLYLINE",
      // Outcome labels sit beside the handles when edges leave sideways: give them room.
      "elk.layered.spacing.nodeNodeBetweenLayers": down ? "80" : "110",
      "elk.spacing.nodeNode": "60",
      "elk.spacing.edgeNode": "30",
      "elk.layered.cycleBreaking.strategy": "MODEL_ORDER",
      "elk.layered.considerModelOrder.strategy": "PREFER_EDGES",
      "elk.layered.crossingMinimization.strategy": "LAYER_SWEEP",
      "elk.layered.nodePlacement.strategy": "BRANDES_KOEPF",
      "elk.layered.nodePlacement.bk.fixedAlignment": "BALANCED",
      "elk.separateConnectedComponents": "false",
    },
    children,
    edges: edges.map((e) => {
      const port = `${e.source}\u0000${e.handle}`;
      return {
        id: e.id,
        sources: [known.has(port) ? port : e.source],
        targets: [`${e.target}\u0000in`],
      };
    }),
  };
}

/** Compute a position (top-left corner) for every step, and the route of every edge. */
export async function layoutWithRoutes(
  nodes: StepNode[],
  edges: StepEdge[],
  start?: unknown,
  direction: Direction = "DOWN",
  sizes: Record<string, { width: number; height: number }> = {},
): Promise<{ positions: Positions; routes: Routes }> {
  if (!nodes.length) return { positions: {}, routes: {} };
  const graph = await (await engine()).layout(elkGraph(nodes, edges, start, direction, sizes));
  const positions: Positions = {};
  for (const child of graph.children ?? []) {
    positions[child.id] = { x: Math.round(child.x ?? 0), y: Math.round(child.y ?? 0) };
  }
  const routes: Routes = {};
  const targets = new Map(edges.map((e) => [e.id, e.target]));
  for (const edge of graph.edges ?? []) {
    const section = edge.sections?.[0];
    // Keyed with the target too: an outcome pointed elsewhere since must not keep the old route.
    if (section) routes[`${edge.id}->${targets.get(edge.id)}`] = [section.startPoint, ...(section.bendPoints ?? []), section.endPoint];
  }
  return { positions, routes };
}

/** Compute a position (top-left corner) for every step. */
export async function autoLayout(
  nodes: StepNode[],
  edges: StepEdge[],
  start?: unknown,
  direction: Direction = "DOWN",
  sizes: Record<string, { width: number; height: number }> = {},
): Promise<Positions> {
  return (await layoutWithRoutes(nodes, edges, start, direction, sizes)).positions;
}

/**
 * The routes still true for the steps' current places: an edge keeps its route only while
 * both its steps stay where the layout put them (a dragged step's edges go back to curves).
 */
export function currentRoutes(
  laid: { positions: Positions; routes: Routes } | null,
  positions: Positions,
  edges: StepEdge[],
): Routes {
  // Returns routes by edge id.
  if (!laid) return {};
  const same = (id: string) => {
    const a = laid.positions[id];
    const b = positions[id];
    return !!a && !!b && Math.abs(a.x - b.x) < 1 && Math.abs(a.y - b.y) < 1;
  };
  const out: Routes = {};
  for (const e of edges) {
    const route = laid.routes[`${e.id}->${e.target}`];
    if (route && same(e.source) && same(e.target)) out[e.id] = route;
  }
  return out;
}

/** An SVG path through `points` with rounded corners, and where its label goes. */
export function roundedPath(points: Point[], radius = 14): { path: string; labelX: number; labelY: number } {
  const [first, ...rest] = points;
  let path = `M ${first.x} ${first.y}`;
  for (let i = 0; i < rest.length; i += 1) {
    const corner = rest[i];
    const after = rest[i + 1];
    if (!after) {
      path += ` L ${corner.x} ${corner.y}`;
      break;
    }
    const before = i === 0 ? first : rest[i - 1];
    const inLen = Math.hypot(corner.x - before.x, corner.y - before.y) || 1;
    const outLen = Math.hypot(after.x - corner.x, after.y - corner.y) || 1;
    const r = Math.min(radius, inLen / 2, outLen / 2);
    const p1 = { x: corner.x - ((corner.x - before.x) / inLen) * r, y: corner.y - ((corner.y - before.y) / inLen) * r };
    const p2 = { x: corner.x + ((after.x - corner.x) / outLen) * r, y: corner.y + ((after.y - corner.y) / outLen) * r };
    path += ` L ${p1.x} ${p1.y} Q ${corner.x} ${corner.y} ${p2.x} ${p2.y}`;
  }
  // The label sits halfway along the longest segment, where it has the most room.
  let best = 0;
  let at = { x: first.x, y: first.y };
  for (let i = 1; i < points.length; i += 1) {
    const len = Math.hypot(points[i].x - points[i - 1].x, points[i].y - points[i - 1].y);
    if (len > best) {
      best = len;
      at = { x: (points[i].x + points[i - 1].x) / 2, y: (points[i].y + points[i - 1].y) / 2 };
    }
  }
  return { path, labelX: at.x, labelY: at.y };
}

/** Places for nodes without a saved position, in a column to the right of the drawn ones. */
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

const DIRECTION_KEY = "leadflow.layoutDirection.";

/** The direction a flow was last laid out in (kept in the browser; the API stores positions only). */
export function savedDirection(flowId: string): Direction {
  try {
    return globalThis.localStorage?.getItem(DIRECTION_KEY + flowId) === "RIGHT" ? "RIGHT" : "DOWN";
  } catch {
    return "DOWN";
  }
}

export function saveDirection(flowId: string, direction: Direction): void {
  try {
    globalThis.localStorage?.setItem(DIRECTION_KEY + flowId, direction);
  } catch {
    // Private mode or storage full: the direction is a convenience, the positions are saved anyway.
  }
}
