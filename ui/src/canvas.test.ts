import { describe, expect, it } from "vitest";
import { buildCanvas } from "./editor/canvas";
import { placeProblems } from "./editor/problems";
import type { FlowDoc } from "./graph";

const doc: FlowDoc = {
  id: "c",
  name: "Canvas",
  start: "route",
  steps: {
    route: { type: "branch", cases: [{ when: { temperature: "hot" }, next: "done" }], else: "done" },
    done: { type: "exit" },
  },
};

describe("canvas", () => {
  it("draws each outcome on its own handle and marks problems on nodes and edges", () => {
    const placed = placeProblems([{ path: "steps.route.cases[0].next", message: "loops" }], ["route", "done"]);
    const { nodes, edges } = buildCanvas({ doc, positions: { route: { x: 1, y: 2 } }, placed });
    expect(nodes.map((n) => [n.id, n.data.kind, n.data.isStart])).toEqual([["route", "branch", true], ["done", "exit", false]]);
    expect(nodes[0].position).toEqual({ x: 1, y: 2 });
    expect(nodes[0].data.problems).toHaveLength(1);
    expect(edges.map((e) => [e.id, e.sourceHandle, e.label])).toEqual([
      ["route:else", "else", "else"],
      ["route:cases.0", "cases.0", "⚠ case 1"],
    ]);
    expect(edges[1].className).toContain("has-problem");
  });

  it("puts live numbers on every node of the map", () => {
    const { nodes } = buildCanvas({ doc, positions: {}, stats: { done: { waiting: 0, exits: 3, conversions: 2 } } });
    expect(nodes[1].data.stats).toEqual({ waiting: 0, exits: 3, conversions: 2 });
    expect(nodes[0].data.stats).toEqual({});
  });

  it("puts on each branch edge the share of leads that took it, even where outcomes meet", () => {
    const temp: FlowDoc = { id: "t", start: "route", steps: {
      route: { type: "branch", on: "temperature", hot: "sales", warm: "done", cold: "done" },
      sales: { type: "exit" }, done: { type: "exit" } } };
    const { edges } = buildCanvas({ doc: temp, positions: {}, transitions: { route: { sales: 1, done: 3 } },
      edgeCounts: { "route:hot": 1, "route:cold": 3 } });
    expect(Object.fromEntries(edges.map((e) => [e.id, e.label]))).toEqual({
      "route:hot": "hot · 25%", "route:warm": "warm · 0%", "route:cold": "cold · 75%" });
    expect(edges.find((e) => e.id === "route:cold")?.ariaLabel).toBe("route cold to done: 3 leads, 75%");
  });
});
