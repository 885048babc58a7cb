/**
 * The validator's problems in the editor: placed on the node or edge they concern
 * (`steps.route.hot`), said in words, and the field each names focused in the side panel.
 */
import type { Problem } from "../api";
import { SINGLE_EDGE_FIELDS } from "../graph";

export interface PlacedProblems {
  /** step id → problems about that step (including its edges). */
  byStep: Map<string, Problem[]>;
  /** edge id (`route:hot`, `route:cases.0`) → problems about that reference. */
  byEdge: Map<string, Problem[]>;
  /** Problems about the flow as a whole (`start`, `entry.where.op`, ...). */
  flow: Problem[];
}

function push<K>(map: Map<K, Problem[]>, key: K, problem: Problem): void {
  const list = map.get(key);
  if (list) list.push(problem);
  else map.set(key, [problem]);
}

/** Split a problem path into parts; step ids may contain dots only if quoted, which ours never are. */
export function pathParts(path: string): string[] {
  return path.replace(/\[(\d+)\]/g, ".$1").split(".").filter(Boolean);
}

export function placeProblems(problems: Problem[], stepIds: Iterable<string>): PlacedProblems {
  const ids = new Set(stepIds);
  const placed: PlacedProblems = { byStep: new Map(), byEdge: new Map(), flow: [] };
  for (const problem of problems) {
    const parts = pathParts(problem.path ?? "");
    if (parts[0] !== "steps" || parts.length < 2 || !ids.has(parts[1])) {
      // `start` naming a step belongs to that step too, so the marketer sees it on the canvas.
      placed.flow.push(problem);
      continue;
    }
    const [, stepId, field, index, sub] = parts;
    push(placed.byStep, stepId, problem);
    if ((SINGLE_EDGE_FIELDS as readonly string[]).includes(field)) {
      push(placed.byEdge, `${stepId}:${field}`, problem);
    } else if ((field === "cases" || field === "paths") && index !== undefined && (sub === undefined || sub === "next")) {
      push(placed.byEdge, `${stepId}:${field}.${index}`, problem);
    }
  }
  return placed;
}

/** The step a problem concerns, if any. */
export function problemStep(problem: Problem): string | null {
  const parts = pathParts(problem.path ?? "");
  return parts[0] === "steps" && parts[1] ? parts[1] : null;
}

const FIELD_WORDS: Record<string, string> = {
  next: "the next step", duration: "the wait", template: "the template", subject: "the subject", event: "the event",
  timeout: "the time limit", sla: "the SLA", team: "the team", rep: "the rep", cases: "the conditions",
  paths: "the paths", else: "the else path", when: "the condition", weight: "the weight",
  on_timeout: "the timeout path", on_rejected: "the rejected path", message: "the message", channel: "the channel",
  to: "the recipient", from_step: "the e-mail to watch", where: "the condition", set: "the fields to set",
  add_score: "the points", add_tags: "the tags", stage: "the stage", on: "what it branches on", type: "the kind",
  hot: "the hot path", warm: "the warm path", cold: "the cold path",
  start: "the start step", entry: "the entry rule", exit_when: "the goal", send_window: "the send window",
  id: "the flow id", name: "the name", description: "the description",
};

/** Where a problem is, in words ("Step “wait”, the wait"; "Step “route”, case 2"): the link's text. */
export function problemPlace(path: string): string {
  const parts = pathParts(path);
  if (parts[0] === "steps" && parts[1]) {
    const [field, index] = parts.slice(2);
    const item = (field === "cases" || field === "paths") && index !== undefined
      ? `${field === "cases" ? "case" : "path"} ${field === "cases" ? Number(index) + 1 : String.fromCharCode(65 + Number(index))}`
      : null;
    const words = item ?? (field ? FIELD_WORDS[field] ?? field.replace(/_/g, " ") : null);
    return `Step “${parts[1]}”${words ? `, ${words}` : ""}`;
  }
  if (!parts.length) return "The flow";
  return `Flow settings, ${FIELD_WORDS[parts[0]] ?? parts[0].replace(/_/g, " ")}`;
}

/** What a message's leading field name means, so the sentence starts with words. */
function subjectWords(token: string): string | null {
  const item = /^(cases|paths)\[(\d+)\]\.next$/.exec(token);
  if (item) return item[1] === "cases" ? `Case ${Number(item[2]) + 1}'s next step` : `Path ${String.fromCharCode(65 + Number(item[2]))}'s next step`;
  if (token === "send_window.from") return "The send window's start";
  if (token === "send_window.to") return "The send window's end";
  const words = FIELD_WORDS[token] ?? { op: "the comparison", field: "the field" }[token];
  return words ? words[0].toUpperCase() + words.slice(1) : null;
}

/**
 * A validator message as a plain sentence: a leading JSON path or code is dropped, a leading
 * field name becomes words ("paths[0].next names 'zz'" → "Path A's next step is 'zz'").
 */
export function problemSentence(p: Problem): string {
  let text = p.message.replace(/^[\w.[\]-]+:\s+/, "").trim();
  text = text.replace(/^([a-z_]+(?:\[\d+\])?(?:\.[a-z_]+)?)(?= (?:must|names|takes|is|compares) )/, (token) => subjectWords(token) ?? token);
  text = text.replace(/ names ('[^']*'), but there is no step/, " is $1, but there is no step")
    .replace(/needs next: the step (?:that follows it|to go to)/, "needs a next step")
    .replace(/\bwait_for step\b/g, "wait-for-event step");
  return text ? text[0].toUpperCase() + text.slice(1) : "Something is wrong here.";
}

/** The `data-field` keys a problem's path may name in a panel, most precise first. */
export function fieldKeys(parts: string[]): string[] {
  return parts.map((_, i) => parts.slice(0, parts.length - i).join("."));
}

/**
 * Focus and highlight the control for `parts` (a path inside a step or the flow) in `panel`:
 * the most precise `[data-field]` found, its first control; the highlight stays until it loses focus.
 */
export function focusField(panel: HTMLElement | null, parts: string[]): boolean {
  if (!panel) return false;
  for (const key of fieldKeys(parts)) {
    const box = panel.querySelector<HTMLElement>(`[data-field="${CSS.escape(key)}"]`);
    if (!box) continue;
    const control = box.matches("input, select, textarea") ? box
      : box.querySelector<HTMLElement>("input:not([type=hidden]), select, textarea, button");
    if (!control) continue;
    panel.querySelectorAll("[data-focused]").forEach((el) => el.removeAttribute("data-focused"));
    const frame = box.closest<HTMLElement>(".field, fieldset") ?? box;
    frame.setAttribute("data-focused", "true");
    control.focus();
    control.scrollIntoView({ block: "center" });
    control.addEventListener("blur", () => frame.removeAttribute("data-focused"), { once: true });
    return true;
  }
  return false;
}
