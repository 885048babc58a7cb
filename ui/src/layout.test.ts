import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { autoLayout, currentRoutes, layoutWithRoutes, NODE_HEIGHT, NODE_WIDTH, readingOrder, roundedPath, type Direction, type Positions } from "./editor/layout";
import { outgoingHandles, toGraph, type FlowDoc, type Json } from "./graph";

const FLOWS = join(__dirname, "..", "..", "flows");
const shipped: [string, FlowDoc][] = readdirSync(FLOWS)
  .filter((f) => f.endsWith(".json"))
  .sort()
  .map((f) => [f, JSON.parse(readFileSync(join(FLOWS, f), "utf8")) as FlowDoc]);

type Pt = { x: number; y: number };

/** Where an edge leaves (its handle) and arrives (the target's input), as StepNode draws them. */
function anchors(doc: FlowDoc, p: Positions, dir: Direction) {
  const g = toGraph(doc);
  return g.edges.map((e) => {
    const step = g.nodes.find((n) => n.id === e.source)!.step as Json;
    const hs = outgoingHandles(step);
    const along = (hs.indexOf(e.handle) + 1) / (hs.length + 1);
    const s = p[e.source];
    const t = p[e.target];
    const from = dir === "DOWN" ? { x: s.x + along * NODE_WIDTH, y: s.y + NODE_HEIGHT } : { x: s.x + NODE_WIDTH, y: s.y + along * NODE_HEIGHT };
    const to = dir === "DOWN" ? { x: t.x + NODE_WIDTH / 2, y: t.y } : { x: t.x, y: t.y + NODE_HEIGHT / 2 };
    return { edge: e, from, to };
  });
}

function cross(a: Pt, b: Pt, c: Pt, d: Pt): boolean {
  const o = (p: Pt, q: Pt, r: Pt) => Math.sign((q.x - p.x) * (r.y - p.y) - (q.y - p.y) * (r.x - p.x));
  return o(a, b, c) * o(a, b, d) < 0 && o(c, d, a) * o(c, d, b) < 0;
}

describe("automatic layout", () => {
  it("orders steps as they are read, with loops as the only backward edges", () => {
    const doc = shipped.find(([f]) => f === "trial-nurture.json")![1];
    const g = toGraph(doc);
    const order = readingOrder(g.nodes, g.edges, doc.start);
    expect(order[0]).toBe("welcome");
    expect(order.indexOf("to-sales")).toBeLessThan(order.indexOf("tips"));
    expect(order.indexOf("await-click")).toBeLessThan(order.indexOf("tips"));
    const backwards = g.edges.filter((e) => order.indexOf(e.target) <= order.indexOf(e.source)).map((e) => e.id);
    expect(backwards).toEqual(["await-click:next"]);
  });

  for (const direction of ["DOWN", "RIGHT"] as Direction[]) {
    for (const [file, doc] of shipped) {
      it(`lays out ${file} ${direction === "DOWN" ? "top to bottom" : "left to right"} readably`, async () => {
        const g = toGraph(doc);
        const p = await autoLayout(g.nodes, g.edges, doc.start, direction);
        expect(Object.keys(p).sort()).toEqual(g.nodes.map((n) => n.id).sort());
        // No two steps overlap, with room for the outcome labels under each node.
        const ids = Object.keys(p);
        for (let i = 0; i < ids.length; i += 1) {
          for (let j = i + 1; j < ids.length; j += 1) {
            const [a, b] = [p[ids[i]], p[ids[j]]];
            const apart = Math.abs(a.x - b.x) >= NODE_WIDTH + 20 || Math.abs(a.y - b.y) >= NODE_HEIGHT + 20;
            expect(apart, `${ids[i]} overlaps ${ids[j]}`).toBe(true);
          }
        }
        // Every edge that is not a loop runs with the reading direction.
        const order = readingOrder(g.nodes, g.edges, doc.start);
        const main = (q: Pt) => (direction === "DOWN" ? q.y : q.x);
        for (const e of g.edges) {
          if (order.indexOf(e.target) > order.indexOf(e.source)) {
            expect(main(p[e.target]), `${e.id} runs backwards`).toBeGreaterThan(main(p[e.source]));
          }
        }
        // Few crossings, counting edges as straight lines from handle to input.
        const lines = anchors(doc, p, direction);
        let crossings = 0;
        for (let i = 0; i < lines.length; i += 1) {
          for (let j = i + 1; j < lines.length; j += 1) {
            const [a, b] = [lines[i], lines[j]];
            if (a.edge.target === b.edge.target || a.edge.source === b.edge.source) continue;
            if (cross(a.from, a.to, b.from, b.to)) crossings += 1;
          }
        }
        expect(crossings).toBeLessThanOrEqual(1);
      });
    }
  }

  it("fans a branch's outcomes out in handle order", async () => {
    const doc: FlowDoc = {
      id: "fan", name: "Fan", start: "route",
      steps: {
        route: { type: "branch", on: "temperature", hot: "a", warm: "b", cold: "c" },
        a: { type: "exit" }, b: { type: "exit" }, c: { type: "exit" },
      },
    };
    const g = toGraph(doc);
    // Listed in the document in another order than the outcomes: the layout follows the outcomes.
    const p = await autoLayout([g.nodes[0], g.nodes[3], g.nodes[1], g.nodes[2]], g.edges, "route");
    expect(p.a.x).toBeLessThan(p.b.x);
    expect(p.b.x).toBeLessThan(p.c.x);
    expect(p.a.y).toBe(p.c.y);
    const right = await autoLayout(g.nodes, g.edges, "route", "RIGHT");
    expect(right.a.y).toBeLessThan(right.b.y);
    expect(right.b.y).toBeLessThan(right.c.y);
  });

  it("lays out an empty flow as nothing", async () => {
    expect(await autoLayout([], [], undefined)).toEqual({});
  });
});

describe("edge routes", () => {
  const doc = shipped.find(([f]) => f === "trial-nurture.json")![1];
  const g = toGraph(doc);

  it("route every edge from its step to its target, and keep them only while nothing moves", async () => {
    const laid = await layoutWithRoutes(g.nodes, g.edges, doc.start);
    const routes = currentRoutes(laid, laid.positions, g.edges);
    expect(Object.keys(routes).sort()).toEqual(g.edges.map((e) => e.id).sort());
    const cold = routes["route:cold"];
    expect(Math.abs(cold[0].y - (laid.positions.route.y + NODE_HEIGHT))).toBeLessThan(3);
    expect(Math.abs(cold[cold.length - 1].y - laid.positions.tips.y)).toBeLessThan(3);
    // Dragging a step drops the routes of its edges only.
    const moved = { ...laid.positions, tips: { x: laid.positions.tips.x + 50, y: laid.positions.tips.y } };
    const kept = currentRoutes(laid, moved, g.edges);
    expect(kept["route:cold"]).toBeUndefined();
    expect(kept["welcome:next"]).toBeDefined();
    // An outcome pointed at another step loses its route, even if that step has not moved.
    const repointed = g.edges.map((e) => (e.id === "welcome:next" ? { ...e, target: "route" } : e));
    expect(currentRoutes(laid, laid.positions, repointed)["welcome:next"]).toBeUndefined();
  });

  it("draws a route with rounded corners and puts the label on its longest stretch", () => {
    const { path, labelX, labelY } = roundedPath([{ x: 0, y: 0 }, { x: 0, y: 100 }, { x: 40, y: 100 }]);
    expect(path).toBe("M 0 0 L 0 86 Q 0 100 14 100 L 40 100");
    expect([labelX, labelY]).toEqual([0, 50]);
  });
});
