/**
 * The sales inbox: a rep's handoffs (a sales key) or everyone's (marketing), each with its SLA
 * countdown, the lead's summary and why it scored, and the actions that move it.
 */
import { useState } from "react";
import { api, ApiError, query, type Schemas } from "../api";
import { useApi, useNow } from "../hooks";
import { Link } from "../router";
import { useSession } from "../session";
import { slaText, sortForInbox, topReasons, type Handoff } from "../sales";
import { Empty, ErrorState, Skeleton, When } from "../ui";
import { fullDate } from "../words";
import { RejectReasonForm } from "../loop/RejectReasonForm";

const STATUSES = ["", "open", "accepted", "contacted", "qualified", "rejected", "disqualified"];
/**
 * action → the statuses the inbox offers it from (leadflow/sales/loop.py ACTIONS allows these and
 * more). Rejecting sends the lead back to marketing and the flow on at its `on_rejected` path: that
 * is a reply to the handoff, so it is offered only until the rep has taken the lead; after that,
 * a lead that is no good is disqualified.
 */
const ALLOWED: Record<string, string[]> = {
  accept: ["open"],
  contacted: ["open", "accepted"],
  qualify: ["open", "accepted", "contacted"],
  disqualify: ["open", "accepted", "contacted"],
  reject: ["open"],
};
const WORKING = ["open", "accepted", "contacted"];
const DONE: Record<string, string> = {
  accept: "Accepted",
  contacted: "Marked as contacted",
  qualify: "Qualified",
  disqualify: "Disqualified",
  reject: "Rejected",
};

function points(value: number | undefined): string {
  const v = value ?? 0;
  return `${v > 0 ? "+" : ""}${Number.isInteger(v) ? v : v.toFixed(1)}`;
}

export function InboxPage() {
  const meta = useSession();
  const isSales = meta.role === "sales";
  const canAct = meta.role === "sales" || meta.role === "admin";
  const [status, setStatus] = useState("");
  const [repId, setRepId] = useState("");
  const handoffs = useApi<Handoff[]>(`/handoffs${query({ status, rep_id: isSales ? undefined : repId })}`, 5000);
  // Reps for the filter: an admin key may list them; otherwise the filter is a text field.
  const reps = useApi<Schemas["RepPublic"][]>(isSales ? null : "/reps");
  const now = useNow(1000);
  const [rejecting, setRejecting] = useState<string | null>(null);
  const [message, setMessage] = useState<{ text: string; bad?: boolean } | null>(null);
  const [busy, setBusy] = useState<string | null>(null);

  const act = async (h: Handoff, action: string, body?: unknown) => {
    setMessage(null);
    setBusy(h.id);
    try {
      await api(`/handoffs/${encodeURIComponent(h.id)}/${action}`, { body: body ?? {} });
      setMessage({ text: `${DONE[action] ?? action}: ${h.lead?.email ?? h.lead_id}` });
      setRejecting(null);
      handoffs.reload();
    } catch (err) {
      setMessage({ text: (err as ApiError).detail, bad: true });
    } finally {
      setBusy(null);
    }
  };

  const list = handoffs.data ? sortForInbox(handoffs.data) : null;
  const groups: [string, string, Handoff[]][] = list ? [
    ["open", "Waiting for first touch (soonest SLA first)", list.filter((h) => h.status === "open")],
    ["working", "In progress", list.filter((h) => ["accepted", "contacted"].includes(h.status))],
    ["closed", "Done", list.filter((h) => !["open", "accepted", "contacted"].includes(h.status))],
  ] : [];

  return (
    <section className="inbox">
      <h1>{isSales ? "My handoffs" : "Sales inbox"}</h1>
      <div className="row">
        <label htmlFor="inbox-status">Status</label>
        <select id="inbox-status" value={status} onChange={(e) => setStatus(e.target.value)}>
          {STATUSES.map((s) => <option key={s} value={s}>{s || "all"}</option>)}
        </select>
        {!isSales && (
          <>
            <label htmlFor="inbox-rep">Rep</label>
            {!reps.error ? (
              <select id="inbox-rep" value={repId} onChange={(e) => setRepId(e.target.value)}>
                <option value="">everyone</option>
                {(reps.data ?? []).map((r) => <option key={r.id} value={r.id}>{r.name || r.id}</option>)}
              </select>
            ) : null}
          </>
        )}
      </div>
      {!canAct && <p className="muted small">Marketing sees every handoff; accepting or rejecting one takes a sales key.</p>}
      {message && <p role="status" className={message.bad ? "error" : "notice"} data-testid="inbox-message">{message.text}</p>}
      {handoffs.error && <ErrorState error={handoffs.error} onRetry={handoffs.reload} />}
      {!handoffs.data && !handoffs.error && <Skeleton rows={6} label="Loading handoffs" />}
      {handoffs.data?.length === 0 && <Empty><p>No handoffs{status ? ` that are ${status}` : ""} yet. Hot leads appear here as flows hand them to sales.</p></Empty>}
      {groups.filter(([, , items]) => items.length).map(([key, title, items]) => (
      <section key={key} aria-label={title} data-testid={`inbox-${key}`}>
      <h2 className="group-title">{title} <span className="muted">({items.length})</span></h2>
      <ul className="handoffs" data-testid="handoffs">
        {items.map((h) => {
          const lead = h.lead;
          const name = [lead?.first_name, lead?.last_name].filter(Boolean).join(" ");
          const escalations = Array.isArray(h.escalations) ? h.escalations.length : h.escalations ?? 0;
          const sla = slaText(h, now);
          const reasons = topReasons(lead?.score_breakdown);
          const workable = WORKING.includes(h.status);
          // A lead sales sent back or closed is no longer "hot" to anyone reading the inbox.
          const temperature = workable ? lead?.temperature : null;
          return (
            <li key={h.id} className={`handoff sla-${h.sla_status ?? "none"}`} data-testid={`handoff-${h.id}`}>
              <div className="handoff-main">
                <h2>
                  <Link to={`/leads/${encodeURIComponent(h.lead_id)}`}>{name || lead?.email || (lead ? h.lead_id : "erased lead")}</Link>{" "}
                  {temperature && <span className={`pill ${temperature}`}>{temperature}</span>}
                </h2>
                <p className="small">{[lead?.title, lead?.company, lead?.email].filter(Boolean).join(" · ")}</p>
                <p className="small">
                  Score <strong data-testid={`handoff-score-${h.id}`}>{lead?.score ?? "–"}</strong>
                  {lead?.stage ? ` · ${lead.stage}` : ""} · {h.team_name ?? h.team ?? "no team"} · {h.rep_id ? h.rep_name ?? h.rep_id : "not assigned yet"}
                  {escalations ? ` · escalated ${escalations}×` : ""}
                  {h.flow_id ? <> · from {isSales ? h.flow_name ?? "a flow" : <Link to={`/flows/${encodeURIComponent(h.flow_id)}/live`}>{h.flow_name ?? h.flow_id}</Link>}</> : null}
                </p>
                {reasons.length > 0 && (
                  <details className="why" open={temperature === "hot"}>
                    <summary>{temperature ? `Why it is ${temperature}` : "Why it scored"}</summary>
                    <ul data-testid={`why-${h.id}`}>
                      {reasons.map((r, i) => (
                        <li key={i}><span className={`pts ${(r.points_now ?? 0) < 0 ? "neg" : ""}`}>{points(r.points_now)}</span> {r.rule}
                          <span className="muted"> · {r.kind === "fit" ? "fit" : r.event_type ?? "behaviour"}</span></li>
                      ))}
                    </ul>
                  </details>
                )}
                {h.assignment_reason && <p className="small muted">Routed: {h.assignment_reason_named ?? h.assignment_reason}</p>}
                {h.rejection_reason && <p className="small">Rejected because: <em>{h.rejection_reason}</em>{h.rejection_note ? <> — “{h.rejection_note}”</> : null}</p>}
              </div>
              <div className="handoff-sla">
                <span className={`pill ${h.status}`} data-testid={`handoff-status-${h.id}`}>{h.status}</span>
                {sla && (
                  <span className={`countdown sla-${h.sla_status}`} data-testid={`handoff-sla-${h.id}`}
                    title={h.sla_due_at ? `SLA due ${fullDate(h.sla_due_at)}` : undefined}>{sla}</span>
                )}
                {h.sla_due_at && h.status === "open" && (
                  <span className="small" data-testid={`handoff-due-${h.id}`}>by <When at={h.sla_due_at} style="at" now={now} /></span>
                )}
                {h.sla_status && !["met", "on_time"].includes(h.sla_status) && (
                  <span className="small muted">{h.sla_status.replace("_", " ")}</span>
                )}
              </div>
              {workable && canAct && (
                <div className="handoff-actions" role="group" aria-label={`Actions for ${lead?.email ?? h.lead_id}`}>
                  {(["accept", "contacted", "qualify", "disqualify"] as const).map((a) => (
                    <button key={a} type="button" onClick={() => act(h, a)} data-testid={`${a}-${h.id}`}
                      disabled={busy === h.id || !ALLOWED[a].includes(h.status)}>
                      {a === "contacted" ? "Contacted" : `${a[0].toUpperCase()}${a.slice(1)}`}
                    </button>
                  ))}
                  {ALLOWED.reject.includes(h.status) && (
                    <button type="button" className="danger" data-testid={`reject-${h.id}`} disabled={busy === h.id}
                      onClick={() => setRejecting(h.id)}>Reject…</button>
                  )}
                </div>
              )}
              {rejecting === h.id && <RejectReasonForm onCancel={() => setRejecting(null)} onReject={(body) => act(h, "reject", body)} />}
            </li>
          );
        })}
      </ul>
      </section>
      ))}
    </section>
  );
}
