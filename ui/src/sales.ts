/** Pure helpers of the sales pages: handoff shapes, SLA wording, score reasons. */
import { parseApiDate } from "./durations";
import { moment } from "./words";

/** One row of a lead's score breakdown (leadflow/scoring.py ScoreResult.breakdown). */
export interface BreakdownRow {
  kind: "fit" | "behavior" | string;
  rule: string;
  event_type?: string | null;
  occurred_at?: string | null;
  points_base?: number;
  points_now?: number;
}

/** A handoff as GET /api/handoffs returns it (leadflow/sales_loop.py handoff_public). */
export interface Handoff {
  id: string;
  lead_id: string;
  rep_id: string | null;
  team: string | null;
  rep_name?: string | null;
  team_name?: string | null;
  status: string;
  flow_id?: string | null;
  step?: string | null;
  sla?: string | null;
  sla_due_at: string | null;
  sla_status: "on_time" | "due_soon" | "breached" | "met" | null;
  sla_met_at?: string | null;
  escalations: unknown[] | number;
  assignment_reason?: string | null;
  rejection_reason?: string | null;
  rejection_reason_id?: string | null;
  rejection_note?: string | null;
  created_at?: string | null;
  lead: {
    id?: string;
    email?: string | null;
    first_name?: string | null;
    last_name?: string | null;
    company?: string | null;
    title?: string | null;
    stage?: string | null;
    score?: number | null;
    temperature?: string | null;
    score_breakdown?: BreakdownRow[];
  } | null;
}

/** The rows that explain a score, biggest first ("why it is hot"). */
export function topReasons(rows: BreakdownRow[] | undefined, limit = 5): BreakdownRow[] {
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
