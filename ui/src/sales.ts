/** Pure helpers of the sales pages: handoff shapes, SLA wording, score reasons. */
import type { Schemas } from "./api";
import { parseApiDate } from "./durations";
import { moment } from "./words";

/** One row of a lead's score breakdown. */
export type BreakdownRow = Schemas["ScoreBreakdownRow"];

/** A handoff as GET /api/handoffs returns it (generated from /openapi.json). */
export type Handoff = Schemas["HandoffPublic"];

/** The rows that explain a score, biggest first ("why it is hot"). */
export function topReasons<R extends Pick<BreakdownRow, "points_now">>(rows: R[] | undefined, limit = 5): R[] {
  return [...(rows ?? [])]
    .filter((r) => typeof r.points_now === "number" && r.points_now !== 0)
    .sort((a, b) => Math.abs(b.points_now ?? 0) - Math.abs(a.points_now ?? 0))
    .slice(0, limit);
}

/** What the SLA chip says: "SLA due in 1 h 30 min" while the clock runs, else how it ended. */
export function slaText(h: Pick<Handoff, "sla_due_at" | "sla_status" | "status">, now: Date): string | null {
  if (h.sla_status === "met") return "SLA met";
  if (!h.sla_due_at) return null;
  if (!["open"].includes(h.status) && h.sla_status !== "breached") return "SLA stopped";
  const due = moment(h.sla_due_at, "due", now).text;
  return h.sla_status === "breached" || due.startsWith("overdue") ? `SLA breached, ${due}` : `SLA ${due}`;
}


/** Open handoffs first, soonest SLA deadline first; then the rest, newest first. */
export function sortForInbox(list: Handoff[]): Handoff[] {
  const due = (h: Handoff) => (h.sla_due_at ? parseApiDate(h.sla_due_at).getTime() : Infinity);
  const rank = (h: Handoff) => (h.status === "open" ? 0 : ["accepted", "contacted"].includes(h.status) ? 1 : 2);
  return [...list].sort((a, b) => rank(a) - rank(b) || (rank(a) < 2 ? due(a) - due(b) : String(b.created_at ?? "").localeCompare(String(a.created_at ?? ""))));
}
