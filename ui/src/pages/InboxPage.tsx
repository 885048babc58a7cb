/** The sales inbox: a rep's handoffs with SLA countdowns and the actions that move them. */
import { useState, type FormEvent } from "react";
import { api, ApiError, query } from "../api";
import { countdown, parseApiDate } from "../durations";
import { useApi, useNow } from "../hooks";
import { Link } from "../router";
import { useSession } from "../session";

interface Handoff {
  id: string;
  lead_id: string;
  rep_id: string | null;
  team: string | null;
  status: string;
  sla_due_at: string | null;
  sla_status: string | null;
  escalations: number | unknown[];
  lead?: {
    email?: string;
    first_name?: string;
    last_name?: string;
    company?: string;
    title?: string;
    score?: number;
    temperature?: string;
    score_breakdown?: unknown;
    [key: string]: unknown;
  };
}

const STATUSES = ["", "open", "accepted", "contacted", "qualified", "rejected", "disqualified"];
const CLOSED = ["qualified", "rejected", "disqualified"];

export function InboxPage() {
  const meta = useSession();
  const [status, setStatus] = useState("");
  const [repId, setRepId] = useState("");
  const handoffs = useApi<Handoff[]>(`/handoffs${query({ status, rep_id: meta.role === "sales" ? undefined : repId })}`, 5000);
  const now = useNow(1000);
  const [rejecting, setRejecting] = useState<string | null>(null);
  const [message, setMessage] = useState<string | null>(null);

  const act = async (h: Handoff, action: string, body?: unknown) => {
    setMessage(null);
    try {
      await api(`/handoffs/${encodeURIComponent(h.id)}/${action}`, { body: body ?? {} });
      setMessage(`${action === "contacted" ? "Marked as contacted" : `${action[0].toUpperCase()}${action.slice(1)}ed`}: ${h.lead?.email ?? h.lead_id}`);
      setRejecting(null);
      handoffs.reload();
    } catch (err) {
      setMessage((err as ApiError).detail);
    }
  };

  return (
    <section className="inbox">
      <h1>{meta.role === "sales" ? "My handoffs" : "Sales inbox"}</h1>
      <div className="row">
        <label htmlFor="inbox-status">Status</label>
        <select id="inbox-status" value={status} onChange={(e) => setStatus(e.target.value)}>
          {STATUSES.map((s) => <option key={s} value={s}>{s || "all"}</option>)}
        </select>
        {meta.role !== "sales" && (
          <>
            <label htmlFor="inbox-rep">Rep id</label>
            <input id="inbox-rep" value={repId} onChange={(e) => setRepId(e.target.value)} />
          </>
        )}
      </div>
      {message && <p role="status" className="notice" data-testid="inbox-message">{message}</p>}
      {handoffs.error && <p className="error" role="alert">{handoffs.error.detail}</p>}
      {handoffs.data?.length === 0 && <p className="muted">No handoffs.</p>}
      <ul className="handoffs" data-testid="handoffs">
        {handoffs.data?.map((h) => {
          const open = !CLOSED.includes(h.status);
          const name = [h.lead?.first_name, h.lead?.last_name].filter(Boolean).join(" ");
          const escalations = Array.isArray(h.escalations) ? h.escalations.length : h.escalations ?? 0;
          return (
            <li key={h.id} className={`handoff sla-${h.sla_status ?? "none"}`} data-testid={`handoff-${h.id}`}>
              <div className="handoff-main">
                <h2>
                  <Link to={`/leads/${encodeURIComponent(h.lead_id)}`}>{name || h.lead?.email || h.lead_id}</Link>{" "}
                  {h.lead?.temperature && <span className={`pill ${h.lead.temperature}`}>{h.lead.temperature}</span>}
                </h2>
                <p className="small">{[h.lead?.title, h.lead?.company, h.lead?.email].filter(Boolean).join(" · ")}</p>
                {typeof h.lead?.summary === "string" && <p className="small">{h.lead.summary}</p>}
                <p className="small">Score <strong>{h.lead?.score ?? "–"}</strong> · team {h.team ?? "–"} · rep {h.rep_id ?? "unassigned"}
                  {escalations ? ` · escalated ${escalations}×` : ""}</p>
              </div>
              <div className="handoff-sla">
                <span className={`pill ${h.status}`} data-testid={`handoff-status-${h.id}`}>{h.status}</span>
                {h.sla_due_at && (
                  <span className={`countdown sla-${h.sla_status}`} title={`SLA due ${parseApiDate(h.sla_due_at).toLocaleString()}`}>
                    {h.sla_status === "met" ? "SLA met" : `SLA ${countdown(h.sla_due_at, now)}`}
                  </span>
                )}
                {h.sla_status && h.sla_status !== "met" && <span className="small muted">{h.sla_status.replace("_", " ")}</span>}
              </div>
              {open && (
                <div className="handoff-actions" role="group" aria-label={`Actions for ${h.lead?.email ?? h.lead_id}`}>
                  <button type="button" onClick={() => act(h, "accept")} disabled={h.status !== "open"}>Accept</button>
                  <button type="button" onClick={() => act(h, "contacted")} disabled={h.status === "contacted"}>Contacted</button>
                  <button type="button" onClick={() => act(h, "qualify")} disabled={h.status === "open"}>Qualify</button>
                  <button type="button" className="danger" data-testid={`reject-${h.id}`} onClick={() => setRejecting(h.id)}>Reject…</button>
                </div>
              )}
              {rejecting === h.id && <RejectForm onCancel={() => setRejecting(null)} onReject={(reason) => act(h, "reject", { reason })} />}
            </li>
          );
        })}
      </ul>
    </section>
  );
}

function RejectForm({ onReject, onCancel }: { onReject: (reason: string) => void; onCancel: () => void }) {
  const [reason, setReason] = useState("");
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (reason.trim()) onReject(reason.trim());
  };
  return (
    <form className="reject-form" onSubmit={submit}>
      <label htmlFor="reject-reason">Why send this lead back to nurture?</label>
      <input id="reject-reason" data-testid="reject-reason" value={reason} autoFocus required onChange={(e) => setReason(e.target.value)} />
      <button type="submit" className="danger" data-testid="reject-submit">Reject</button>
      <button type="button" onClick={onCancel}>Cancel</button>
    </form>
  );
}
