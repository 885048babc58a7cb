/**
 * Differences between two flow documents: a line diff of their JSON (longest common
 * subsequence) for the versions tab, and the changes in words for the unpublished-changes banner.
 */
import { getTarget, isObject, outgoingHandles, type Json, type JsonObject } from "./graph";
import { stepEssence } from "./words";

export interface DiffLine {
  kind: "same" | "added" | "removed";
  text: string;
}

/** Pretty JSON with keys sorted, so a diff shows changes rather than reordering. */
export function canonicalJson(value: unknown): string {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (v && typeof v === "object") {
      return Object.fromEntries(Object.keys(v as object).sort().map((k) => [k, sort((v as Record<string, unknown>)[k])]));
    }
    return v;
  };
  return JSON.stringify(sort(value), null, 2);
}

/** Diff two texts line by line. */
export function diffLines(before: string, after: string): DiffLine[] {
  const a = before.split("\n");
  const b = after.split("\n");
  // lengths[i][j] = LCS length of a[i:] and b[j:]; flows are small, so O(n·m) is fine.
  const lengths: number[][] = Array.from({ length: a.length + 1 }, () => new Array(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i -= 1) {
    for (let j = b.length - 1; j >= 0; j -= 1) {
      lengths[i][j] = a[i] === b[j] ? lengths[i + 1][j + 1] + 1 : Math.max(lengths[i + 1][j], lengths[i][j + 1]);
    }
  }
  const out: DiffLine[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      out.push({ kind: "same", text: a[i] });
      i += 1;
      j += 1;
    } else if (j < b.length && (i === a.length || lengths[i][j + 1] >= lengths[i + 1][j])) {
      out.push({ kind: "added", text: b[j] });
      j += 1;
    } else {
      out.push({ kind: "removed", text: a[i] });
      i += 1;
    }
  }
  return out;
}

/** Names the diff uses beside the steps themselves: template subjects, team and rep names. */
export interface DiffWords {
  subjects?: Record<string, string>;
  teams?: Record<string, string>;
  reps?: Record<string, string>;
}

type Steps = Record<string, Json>;

/** A step's title in a sentence: its essence, shortened where the card says more. */
export function stepTitle(step: Json | undefined, words: DiffWords = {}): string {
  if (!isObject(step)) return "a step that is not a step";
  if (step.type === "exit") return step.goal ? "Exit: converted" : "Exit";
  if (step.type === "branch" && step.on === "temperature") return "Branch on temperature";
  return stepEssence(step, words.subjects, words);
}

/** Who takes an outcome, as a sentence puts it between "leads" and "to". */
const OUTCOME_WORDS: Record<string, string> = {
  hot: "hot leads", warm: "warm leads", cold: "cold leads", else: "everyone else",
  on_timeout: "leads that time out", on_rejected: "leads sales rejects",
};

function outcomeWords(handle: string): string {
  const [field, index] = handle.split(".");
  if (field === "cases") return `case ${Number(index) + 1}`;
  if (field === "paths") return `path ${String.fromCharCode(65 + Number(index))}`;
  return OUTCOME_WORDS[field] ?? field.replace(/_/g, " ");
}

/** Fields of a step in words, for changes its title does not show ("the subject of …"). */
const STEP_FIELD_WORDS: Record<string, string> = {
  template: "the template", subject: "the subject", duration: "the wait", event: "the event",
  timeout: "the time limit", stage: "the stage", add_score: "the points", on: "what it branches on",
  type: "the kind of step", where: "the condition", from_step: "which e-mail counts", set: "the fields it sets",
  add_tags: "the tags", channel: "the channel", to: "the recipient", message: "the message",
  cases: "the conditions", paths: "the weights", team: "the team", rep: "the rep", sla: "the SLA",
  goal: "the goal",
};

const FLOW_FIELD_WORDS: Record<string, string> = {
  description: "Changed the description", entry: "Changed when leads enter the flow",
  exit_when: "Changed the goal that ends the flow early", send_window: "Changed the send window",
};

const EDGE_FIELDS = new Set(["next", "hot", "warm", "cold", "else", "on_timeout", "on_rejected"]);

/** The step without its references to other steps (a branch's conditions stay, their targets go). */
function withoutEdges(step: Json): Json {
  if (!isObject(step)) return step;
  const out: Record<string, Json> = {};
  for (const [key, value] of Object.entries(step)) {
    if (EDGE_FIELDS.has(key)) continue;
    out[key] = (key === "cases" || key === "paths") && Array.isArray(value)
      ? value.map((item) => (isObject(item) ? Object.fromEntries(Object.entries(item).filter(([k]) => k !== "next")) : item))
      : value;
  }
  return out;
}

/**
 * What changed between two flow documents, as sentences a marketer reads: steps by their title
 * and essence, never by id ("Added step “E-mail: Welcome to the trial” after “Wait 2 days”",
 * "Changed “Wait 2 days” to “Wait 3 days”", "Removed “Branch on temperature”",
 * "“Wait 2 days” now leads to “E-mail: Follow-up” (was “Exit”)").
 */
export function changesInWords(before: unknown, after: unknown, words: DiffWords = {}): string[] {
  const stepsIn = (doc: unknown): Steps => (isObject(doc as Json) && isObject((doc as JsonObject).steps) ? (doc as JsonObject).steps as Steps : {});
  const a = stepsIn(before);
  const b = stepsIn(after);
  // Titles, told apart by id only where two steps would read the same.
  const titles = new Map<string, string>();
  const byTitle = new Map<string, Set<string>>();
  for (const [id, step] of [...Object.entries(a), ...Object.entries(b)]) {
    const t = stepTitle(step, words);
    byTitle.set(t, (byTitle.get(t) ?? new Set()).add(id));
  }
  const name = (id: string, steps: Steps): string => {
    if (!(id in steps)) return `“${id}” (no such step)`;
    const t = stepTitle(steps[id], words);
    return (byTitle.get(t)?.size ?? 0) > 1 ? `“${t}” (${id})` : `“${t}”`;
  };
  for (const id of new Set([...Object.keys(a), ...Object.keys(b)])) titles.set(id, id in b ? name(id, b) : name(id, a));

  const added = Object.keys(b).filter((id) => !(id in a));
  const out: string[] = [];
  for (const id of added) {
    const from = Object.entries(b).filter(([src, step]) => src !== id && outgoingHandles(step).some((h) => getTarget(step, h) === id));
    const where = from.length
      ? ` after ${from.map(([src]) => titles.get(src)).join(" and ")}`
      : isObject(after as Json) && (after as JsonObject).start === id ? " as the start" : " (not connected yet)";
    const next = getTarget(b[id], "next");
    out.push(`Added step ${titles.get(id)}${where}${next ? `, leading to ${next in b ? titles.get(next) : `“${next}”`}` : ""}`);
  }
  for (const id of Object.keys(a)) if (!(id in b)) out.push(`Removed ${titles.get(id)}`);
  const edges: string[] = [];
  for (const id of Object.keys(b)) {
    if (!(id in a)) continue;
    const was = a[id];
    const now = b[id];
    if (canonicalJson(withoutEdges(was)) !== canonicalJson(withoutEdges(now))) {
      const t0 = stepTitle(was, words);
      const t1 = stepTitle(now, words);
      if (t0 !== t1) out.push(`Changed “${t0}” to “${t1}”`);
      else {
        const x = isObject(was) ? was : {};
        const y = isObject(now) ? now : {};
        const fields = [...new Set([...Object.keys(x), ...Object.keys(y)])]
          .filter((k) => !EDGE_FIELDS.has(k) && canonicalJson(withoutEdges({ [k]: x[k] ?? null })) !== canonicalJson(withoutEdges({ [k]: y[k] ?? null })))
          .map((k) => STEP_FIELD_WORDS[k] ?? k.replace(/_/g, " "));
        out.push(`Changed ${fields.join(" and ") || "the settings"} of ${titles.get(id)}`);
      }
    }
    for (const h of new Set([...outgoingHandles(was), ...outgoingHandles(now)])) {
      const to = getTarget(now, h);
      const from = getTarget(was, h);
      if (to === from || (to && added.includes(to))) continue;  // an added step says where it went in
      const who = h === "next" ? "" : ` ${outcomeWords(h)}`;
      const target = (ref: string) => titles.get(ref) ?? `“${ref}” (no such step)`;
      const wasWords = from ? ` (was ${target(from)})` : "";
      edges.push(to
        ? `${titles.get(id)} now leads${who} to ${target(to)}${wasWords}`
        : `${titles.get(id)} no longer leads${who} anywhere${wasWords}`);
    }
  }
  out.push(...edges);

  const x = isObject(before as Json) ? before as JsonObject : {};
  const y = isObject(after as Json) ? after as JsonObject : {};
  for (const key of new Set([...Object.keys(x), ...Object.keys(y)])) {
    if (key === "steps" || key === "id" || canonicalJson(x[key] ?? null) === canonicalJson(y[key] ?? null)) continue;
    if (key === "name") out.push(`Renamed the flow to “${String(y.name ?? "")}”${x.name ? ` (was “${String(x.name)}”)` : ""}`);
    else if (key === "start") {
      const start = typeof y.start === "string" ? y.start : "";
      out.push(`The flow now starts at ${start ? titles.get(start) ?? `“${start}”` : "no step"}${typeof x.start === "string" && x.start ? ` (was ${titles.get(x.start) ?? `“${x.start}”`})` : ""}`);
    } else out.push(FLOW_FIELD_WORDS[key] ?? `Changed the flow's ${key.replace(/_/g, " ")}`);
  }
  return out;
}
