/**
 * Flow document ⇄ graph conversion, and the pure edit operations the editor applies.
 *
 * The flow document (flow-format.md) stays the single source of truth: the canvas is drawn
 * from `toGraph(doc)` and every edit is a function `doc -> doc`. Edges are the step fields
 * that name another step (`next`, `hot`, `cases[i].next`, ...); everything else stays in the
 * node's data, so `fromGraph(toGraph(doc))` gives the document back unchanged. A reference
 * that names no step (an invalid draft) is left in the node data rather than drawn, so it
 * survives the round trip and the validator can point at it.
 */
import type { Schemas } from "./api";

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** A flow document; loosely typed on purpose, because drafts may be invalid. */
export type FlowDoc = JsonObject;

/**
 * GET /api/flows/{id}/versions/{version}: a published version, its document read as JSON like
 * the draft's (the canvas, the diff and the migration map walk it generically).
 */
export type VersionDoc = Schemas["VersionDocument"] & { document: FlowDoc };

export const STEP_TYPES = [
  "email",
  "wait",
  "wait_for",
  "branch",
  "split",
  "update",
  "handoff",
  "notify",
  "exit",
] as const;
export type StepType = (typeof STEP_TYPES)[number];

/** Step fields holding a single step id; each becomes one labelled edge. */
export const SINGLE_EDGE_FIELDS = [
  "next",
  "hot",
  "warm",
  "cold",
  "else",
  "on_timeout",
  "on_rejected",
] as const;

export interface StepNode {
  id: string;
  /** Step type if known, else "unknown" (drawn with a generic node). */
  type: string;
  /** The step without the fields that became edges. */
  step: Json;
}

export interface StepEdge {
  id: string;
  source: string;
  target: string;
  /** Which field this edge is: `next`, `hot`, `cases.0`, `paths.1`, ... */
  handle: string;
  label: string;
}

export interface FlowGraph {
  /** Every top-level key but `steps` (or all of them, if `steps` is not an object). */
  meta: JsonObject;
  /** Position of `steps` among the top-level keys, or -1 when it is absent or not an object. */
  stepsAt: number;
  nodes: StepNode[];
  edges: StepEdge[];
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function clone<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}

export function stepsOf(doc: FlowDoc): Record<string, Json> {
  return isObject(doc.steps) ? doc.steps : {};
}

/** Human label of an edge handle (`cases.0` → `case 1`, `paths.1` → `B 50%`). */
export function handleLabel(handle: string, step?: Json): string {
  const [field, index] = handle.split(".");
  if (field === "cases") return `case ${Number(index) + 1}`;
  if (field === "paths") {
    const path = isObject(step) && Array.isArray(step.paths) ? step.paths[Number(index)] : null;
    const weight = isObject(path) ? path.weight : undefined;
    const letter = String.fromCharCode(65 + Number(index));
    return typeof weight === "number" ? `${letter} ${weight}%` : letter;
  }
  return field.replace("on_", "on ");
}

/** Convert a flow document into nodes and edges. */
export function toGraph(doc: FlowDoc): FlowGraph {
  const meta: JsonObject = {};
  const steps = isObject(doc.steps) ? doc.steps : null;
  const stepsAt = steps ? Object.keys(doc).indexOf("steps") : -1;
  for (const [key, value] of Object.entries(doc)) {
    if (key !== "steps" || !steps) meta[key] = clone(value);
  }
  const nodes: StepNode[] = [];
  const edges: StepEdge[] = [];
  if (!steps) return { meta, stepsAt, nodes, edges };
  const exists = (target: Json | undefined): target is string =>
    typeof target === "string" && Object.prototype.hasOwnProperty.call(steps, target);

  for (const [id, original] of Object.entries(steps)) {
    const step = clone(original);
    const type =
      isObject(step) && typeof step.type === "string" && (STEP_TYPES as readonly string[]).includes(step.type)
        ? step.type
        : "unknown";
    if (isObject(step)) {
      for (const field of SINGLE_EDGE_FIELDS) {
        if (exists(step[field])) {
          edges.push(makeEdge(id, field, step[field] as string, original));
          delete step[field];
        }
      }
      for (const listField of ["cases", "paths"] as const) {
        const list = step[listField];
        if (!Array.isArray(list)) continue;
        list.forEach((item, index) => {
          if (isObject(item) && exists(item.next)) {
            edges.push(makeEdge(id, `${listField}.${index}`, item.next as string, original));
            delete item.next;
          }
        });
      }
    }
    nodes.push({ id, type, step });
  }
  return { meta, stepsAt, nodes, edges };
}

function makeEdge(source: string, handle: string, target: string, step: Json): StepEdge {
  return { id: `${source}:${handle}`, source, target, handle, label: handleLabel(handle, step) };
}

/** Convert nodes and edges back into the flow document. */
export function fromGraph(graph: FlowGraph): FlowDoc {
  if (graph.stepsAt < 0 && graph.nodes.length === 0) return clone(graph.meta);
  const steps: JsonObject = {};
  for (const node of graph.nodes) steps[node.id] = clone(node.step);
  for (const edge of graph.edges) {
    const step = steps[edge.source];
    if (!isObject(step)) continue;
    const [field, index] = edge.handle.split(".");
    if (index === undefined) {
      step[field] = edge.target;
      continue;
    }
    const list = step[field];
    if (Array.isArray(list) && isObject(list[Number(index)])) {
      (list[Number(index)] as JsonObject).next = edge.target;
    }
  }
  // Put `steps` back where it was, so the JSON tab keeps the marketer's key order.
  const entries = Object.entries(graph.meta).filter(([key]) => key !== "steps");
  const at = graph.stepsAt < 0 ? entries.length : Math.min(graph.stepsAt, entries.length);
  entries.splice(at, 0, ["steps", steps]);
  return clone(Object.fromEntries(entries)) as FlowDoc;
}

/** The outgoing handles a step offers, in drawing order. */
export function outgoingHandles(step: Json): string[] {
  if (!isObject(step)) return ["next"];
  switch (step.type) {
    case "exit":
      return [];
    case "wait_for":
      return ["next", "on_timeout"];
    case "handoff":
      return ["next", "on_rejected"];
    case "branch":
      if (Array.isArray(step.cases) || step.on !== "temperature") {
        const cases = Array.isArray(step.cases) ? step.cases : [];
        return [...cases.map((_, i) => `cases.${i}`), "else"];
      }
      return ["hot", "warm", "cold"];
    case "split":
      return (Array.isArray(step.paths) ? step.paths : []).map((_, i) => `paths.${i}`);
    default:
      return ["next"];
  }
}

/** Read the step id a handle points at (`null` when unset). */
export function getTarget(step: Json, handle: string): string | null {
  if (!isObject(step)) return null;
  const [field, index] = handle.split(".");
  if (index === undefined) return typeof step[field] === "string" ? (step[field] as string) : null;
  const list = step[field];
  const item = Array.isArray(list) ? list[Number(index)] : undefined;
  return isObject(item) && typeof item.next === "string" ? item.next : null;
}

/** Return a copy of `doc` with one step replaced through `change`. */
export function updateStep(doc: FlowDoc, id: string, change: (step: JsonObject) => JsonObject): FlowDoc {
  const steps = stepsOf(doc);
  const current = steps[id];
  if (!isObject(current)) return doc;
  return { ...doc, steps: { ...steps, [id]: change(clone(current)) } };
}

/** Point a step's handle at `target` (or clear it with `null`). */
export function connect(doc: FlowDoc, source: string, handle: string, target: string | null): FlowDoc {
  return updateStep(doc, source, (step) => {
    const [field, index] = handle.split(".");
    if (index === undefined) {
      if (target === null) delete step[field];
      else step[field] = target;
      return step;
    }
    const list = Array.isArray(step[field]) ? (step[field] as Json[]) : [];
    const item = isObject(list[Number(index)]) ? (list[Number(index)] as JsonObject) : {};
    if (target === null) delete item.next;
    else item.next = target;
    list[Number(index)] = item;
    step[field] = list;
    return step;
  });
}

/** The fields a freshly added step of each type starts with (left for the marketer to fill). */
export function newStep(type: string): JsonObject {
  switch (type) {
    case "wait_for":
      return { type, event: "email.clicked", timeout: "P3D" };
    case "branch":
      return { type, on: "temperature" };
    case "split":
      return { type, paths: [{ weight: 50 }, { weight: 50 }] };
    case "handoff":
      return { type, sla: "PT4H" };
    case "notify":
      return { type, channel: "email" };
    default:
      // Required fields are left out on purpose: the validator then says what is missing.
      return { type };
  }
}

/** A step id not used yet, derived from `base`. */
export function freshId(doc: FlowDoc, base: string): string {
  const steps = stepsOf(doc);
  const slug = base.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "") || "step";
  if (!(slug in steps)) return slug;
  for (let n = 2; ; n += 1) {
    if (!(`${slug}-${n}` in steps)) return `${slug}-${n}`;
  }
}

/** Add a step; the first step of an empty flow becomes its start. */
export function addStep(doc: FlowDoc, id: string, step: JsonObject): FlowDoc {
  const steps = stepsOf(doc);
  const next: FlowDoc = { ...doc, steps: { ...steps, [id]: step } };
  if (Object.keys(steps).length === 0 && !doc.start) next.start = id;
  return next;
}

function mapReferences(step: Json, rename: (target: string) => string | null): Json {
  if (!isObject(step)) return step;
  const out = clone(step);
  for (const field of SINGLE_EDGE_FIELDS) {
    if (typeof out[field] === "string") {
      const target = rename(out[field] as string);
      if (target === null) delete out[field];
      else out[field] = target;
    }
  }
  for (const listField of ["cases", "paths"]) {
    const list = out[listField];
    if (!Array.isArray(list)) continue;
    for (const item of list) {
      if (isObject(item) && typeof item.next === "string") {
        const target = rename(item.next);
        if (target === null) delete item.next;
        else item.next = target;
      }
    }
  }
  if (typeof out.from_step === "string") {
    const target = rename(out.from_step);
    if (target === null) delete out.from_step;
    else out.from_step = target;
  }
  return out;
}

/** Remove steps and every reference to them. */
export function removeSteps(doc: FlowDoc, ids: string[]): FlowDoc {
  const gone = new Set(ids);
  const steps: JsonObject = {};
  for (const [id, step] of Object.entries(stepsOf(doc))) {
    if (!gone.has(id)) steps[id] = mapReferences(step, (t) => (gone.has(t) ? null : t));
  }
  const next: FlowDoc = { ...doc, steps };
  if (typeof doc.start === "string" && gone.has(doc.start)) delete next.start;
  return next;
}

/** Rename a step, keeping its place in the document and every reference to it. */
export function renameStep(doc: FlowDoc, from: string, to: string): FlowDoc {
  const steps = stepsOf(doc);
  if (from === to || !(from in steps) || to in steps) return doc;
  const out: JsonObject = {};
  for (const [id, step] of Object.entries(steps)) {
    out[id === from ? to : id] = mapReferences(step, (t) => (t === from ? to : t));
  }
  const next: FlowDoc = { ...doc, steps: out };
  if (doc.start === from) next.start = to;
  return next;
}

/**
 * Paste copied steps under fresh ids. References among the copied steps follow the copies;
 * references to other steps of `doc` are kept; references to steps that do not exist are dropped.
 * Returns the new document and the map old id → new id.
 */
export function pasteSteps(doc: FlowDoc, copied: Record<string, Json>): { doc: FlowDoc; ids: Record<string, string> } {
  const ids: Record<string, string> = {};
  let working = doc;
  for (const id of Object.keys(copied)) {
    const fresh = freshId(working, id);
    ids[id] = fresh;
    working = { ...working, steps: { ...stepsOf(working), [fresh]: null } };
  }
  const existing = stepsOf(doc);
  const steps: JsonObject = { ...existing };
  for (const [id, step] of Object.entries(copied)) {
    steps[ids[id]] = mapReferences(step, (t) => ids[t] ?? (t in existing ? t : null));
  }
  return { doc: { ...doc, steps }, ids };
}
