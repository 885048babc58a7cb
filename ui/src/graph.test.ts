import { readdirSync, readFileSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  addStep,
  connect,
  fromGraph,
  newStep,
  outgoingHandles,
  pasteSteps,
  removeSteps,
  renameStep,
  toGraph,
  type FlowDoc,
  type Json,
} from "./graph";

const repo = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** The example of the flow-format contract, read from the spec itself so the two cannot drift. */
function specExample(): FlowDoc | null {
  const candidates = [join(repo, "..", "shared", "spec", "flow-format.md"), join(repo, "docs", "flow-format.md")];
  for (const file of candidates) {
    if (!existsSync(file)) continue;
    const match = readFileSync(file, "utf8").match(/```json\n([\s\S]*?)```/);
    if (match) return JSON.parse(match[1]) as FlowDoc;
  }
  return null;
}

function shippedFlows(): [string, FlowDoc][] {
  const dir = join(repo, "flows");
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .map((f) => [f, JSON.parse(readFileSync(join(dir, f), "utf8")) as FlowDoc]);
}

const EXAMPLE: FlowDoc = {
  id: "trial-nurture",
  name: "Free-trial nurture",
  entry: { event: "form.submitted", where: { field: "properties.form", op: "eq", value: "trial-signup" } },
  start: "welcome",
  steps: {
    welcome: { type: "email", template: "trial-welcome", next: "wait-2d" },
    "wait-2d": { type: "wait", duration: "P2D", next: "route" },
    route: { type: "branch", on: "temperature", hot: "to-sales", warm: "case-study", cold: "tips" },
    "case-study": { type: "email", template: "case-study", next: "await-click" },
    "await-click": {
      type: "wait_for", event: "email.clicked", from_step: "case-study", timeout: "P5D",
      next: "route", on_timeout: "tips",
    },
    tips: { type: "email", template: "trial-tips", next: "end" },
    "to-sales": { type: "handoff", team: "inside-sales", sla: "PT4H", next: "end", on_rejected: "tips" },
    end: { type: "exit" },
  },
};

/** Small deterministic PRNG so a failing generated flow can be reproduced from its seed. */
function rng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/** Generate a flow with every step type, every outcome kind, dangling and odd values. */
function generatedFlow(seed: number): FlowDoc {
  const random = rng(seed);
  const pick = <T,>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
  const count = 1 + Math.floor(random() * 12);
  const ids = Array.from({ length: count }, (_, i) => `s${i}-${seed}`);
  // Mostly real targets, sometimes a step that does not exist or a non-string.
  const target = (): Json => pick([...ids, ...ids, "missing-step", 42 as unknown as string]);
  const condition = (): Json =>
    pick<Json>([
      { field: "country", op: "eq", value: "DE" },
      { temperature: "hot" },
      { all: [{ score: { gte: 60 } }, { has_tag: "vip" }] },
      { not: { stage_at_least: "MQL" } },
    ]);
  const steps: Record<string, Json> = {};
  for (const id of ids) {
    const type = pick(["email", "wait", "wait_for", "branch", "branch-cases", "split", "update", "handoff", "notify", "exit", "bogus", "not-an-object"]);
    switch (type) {
      case "email":
        steps[id] = { type, template: "t", next: target(), subject: "Hi {{ lead.first_name }}" };
        break;
      case "wait":
        steps[id] = { type, duration: pick(["P2D", "PT4H", "nonsense"]), next: target() };
        break;
      case "wait_for":
        steps[id] = { type, event: "email.clicked", where: condition(), from_step: pick(ids), timeout: "P5D", next: target(), on_timeout: target() };
        break;
      case "branch":
        steps[id] = { type, on: "temperature", hot: target(), warm: target(), cold: target() };
        break;
      case "branch-cases":
        steps[id] = {
          type: "branch",
          cases: Array.from({ length: 1 + Math.floor(random() * 3) }, () => ({ when: condition(), next: target() })),
          else: target(),
        };
        break;
      case "split":
        steps[id] = { type, paths: [{ weight: 30, next: target() }, { weight: 70, next: target() }, { weight: 0 }] };
        break;
      case "update":
        steps[id] = { type, set: { "fields.plan": "pro" }, add_score: 5, add_tags: ["a", "b"], stage: "MQL", next: target() };
        break;
      case "handoff":
        steps[id] = { type, team: "inside-sales", sla: "PT4H", next: target(), on_rejected: target() };
        break;
      case "notify":
        steps[id] = { type, channel: "slack", to: "#sales", message: "{{ lead.email }}", next: target() };
        break;
      case "exit":
        steps[id] = { type };
        break;
      case "bogus":
        steps[id] = { type: "teleport", next: target(), extra: [1, { deep: true }] };
        break;
      default:
        steps[id] = pick<Json>(["just text", null, [1, 2]]);
    }
  }
  const doc: FlowDoc = { id: `gen-${seed}`, name: `Generated ${seed}`, start: pick(ids), steps };
  if (random() < 0.5) doc.exit_when = { stage_at_least: "SQL" };
  if (random() < 0.3) doc.send_window = { days: ["mon", "tue"], from: "09:00", to: "17:00" };
  return doc;
}

describe("JSON → graph → JSON", () => {
  it("keeps the flow-format example unchanged", () => {
    const example = specExample() ?? EXAMPLE;
    expect(fromGraph(toGraph(example))).toStrictEqual(example);
    expect(fromGraph(toGraph(EXAMPLE))).toStrictEqual(EXAMPLE);
  });

  it("draws one edge per step reference with its outcome label", () => {
    const graph = toGraph(EXAMPLE);
    expect(graph.nodes.map((n) => n.id)).toEqual(Object.keys(EXAMPLE.steps as object));
    const labels = graph.edges.filter((e) => e.source === "route").map((e) => `${e.label}->${e.target}`);
    expect(labels).toEqual(["hot->to-sales", "warm->case-study", "cold->tips"]);
    expect(graph.edges.find((e) => e.id === "await-click:on_timeout")?.target).toBe("tips");
    // from_step names the email whose engagement counts; it is a field, not a path of the flow.
    expect(graph.edges.some((e) => e.handle === "from_step")).toBe(false);
  });

  const shipped = shippedFlows();
  it.each(shipped.length ? shipped : [["(no flows/*.json yet)", EXAMPLE] as [string, FlowDoc]])(
    "keeps shipped flow %s unchanged",
    (_name, doc) => {
      expect(fromGraph(toGraph(doc))).toStrictEqual(doc);
    },
  );

  it.each(Array.from({ length: 200 }, (_, i) => i + 1))("keeps generated flow #%i unchanged", (seed) => {
    const doc = generatedFlow(seed);
    expect(fromGraph(toGraph(doc))).toStrictEqual(doc);
  });

  it("keeps documents whose steps are missing or malformed", () => {
    for (const doc of [{ id: "x" }, { id: "x", steps: [] }, { id: "x", steps: "nope" }, {}, { steps: {} }] as FlowDoc[]) {
      expect(fromGraph(toGraph(doc))).toStrictEqual(doc);
    }
  });

  it("leaves references to missing steps in the node instead of drawing them", () => {
    const doc: FlowDoc = { start: "a", steps: { a: { type: "email", template: "t", next: "ghost" } } };
    const graph = toGraph(doc);
    expect(graph.edges).toEqual([]);
    expect(graph.nodes[0].step).toEqual({ type: "email", template: "t", next: "ghost" });
  });

  it("keeps the key order of the document", () => {
    const doc: FlowDoc = { steps: { a: { type: "exit" } }, id: "k", start: "a" };
    expect(Object.keys(fromGraph(toGraph(doc)))).toEqual(["steps", "id", "start"]);
  });
});

describe("edit operations", () => {
  it("connects and disconnects handles, cases and split paths", () => {
    let doc = addStep({ id: "f", steps: {} }, "a", newStep("split"));
    doc = addStep(doc, "b", newStep("exit"));
    expect(doc.start).toBe("a");
    doc = connect(doc, "a", "paths.1", "b");
    expect(doc.steps).toEqual({ a: { type: "split", paths: [{ weight: 50 }, { weight: 50, next: "b" }] }, b: { type: "exit" } });
    expect(toGraph(doc).edges.map((e) => e.id)).toEqual(["a:paths.1"]);
    doc = connect(doc, "a", "paths.1", null);
    expect(toGraph(doc).edges).toEqual([]);
  });

  it("offers the outcome handles of each step type", () => {
    expect(outgoingHandles({ type: "branch", on: "temperature" })).toEqual(["hot", "warm", "cold"]);
    expect(outgoingHandles({ type: "branch", cases: [{}, {}] })).toEqual(["cases.0", "cases.1", "else"]);
    expect(outgoingHandles({ type: "wait_for" })).toEqual(["next", "on_timeout"]);
    expect(outgoingHandles({ type: "handoff" })).toEqual(["next", "on_rejected"]);
    expect(outgoingHandles({ type: "exit" })).toEqual([]);
  });

  it("renames a step with every reference and the start", () => {
    const doc = renameStep(EXAMPLE, "route", "by-temperature");
    expect(doc.start).toBe("welcome");
    expect(Object.keys(doc.steps as object)[2]).toBe("by-temperature");
    expect((doc.steps as Record<string, Record<string, Json>>)["wait-2d"].next).toBe("by-temperature");
    expect((doc.steps as Record<string, Record<string, Json>>)["await-click"].next).toBe("by-temperature");
  });

  it("removes steps and the references to them", () => {
    const doc = removeSteps(EXAMPLE, ["tips", "welcome"]);
    expect(doc.start).toBeUndefined();
    const steps = doc.steps as Record<string, Record<string, Json>>;
    expect(steps.route.cold).toBeUndefined();
    expect(steps["to-sales"]).toEqual({ type: "handoff", team: "inside-sales", sla: "PT4H", next: "end" });
  });

  it("pastes copies under fresh ids with internal references following them", () => {
    const copied = {
      "case-study": (EXAMPLE.steps as Record<string, Json>)["case-study"],
      "await-click": (EXAMPLE.steps as Record<string, Json>)["await-click"],
    };
    const { doc, ids } = pasteSteps(EXAMPLE, copied);
    expect(ids).toEqual({ "case-study": "case-study-2", "await-click": "await-click-2" });
    const steps = doc.steps as Record<string, Record<string, Json>>;
    expect(steps["case-study-2"].next).toBe("await-click-2");
    expect(steps["await-click-2"]).toMatchObject({ from_step: "case-study-2", next: "route", on_timeout: "tips" });
  });
});

import { placeProblems } from "./editor/problems";

describe("problems on the canvas", () => {
  it("puts each problem on its step and, for references, on the edge", () => {
    const placed = placeProblems(
      [
        { path: "steps.route.hot", message: "names no step" },
        { path: "steps.wait-2d.duration", message: "bad duration" },
        { path: "steps.route.cases[1].next", message: "x" },
        { path: "steps.route.cases.0.when.op", message: "bad op" },
        { path: "entry.where.op", message: "bad op" },
        { path: "steps.ghost.next", message: "??" },
      ],
      ["route", "wait-2d"],
    );
    expect(placed.byStep.get("route")?.length).toBe(3);
    expect(placed.byStep.get("wait-2d")?.[0].message).toBe("bad duration");
    expect([...placed.byEdge.keys()]).toEqual(["route:hot", "route:cases.1"]);
    expect(placed.flow.map((p) => p.path)).toEqual(["entry.where.op", "steps.ghost.next"]);
  });
});
