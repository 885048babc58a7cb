/** The inbox's reject form: a reason from the workspace's list (what it means shown), and a note. */
import { useState, type FormEvent } from "react";
import { useApi } from "../hooks";
import { cooldownWords, OUTCOME_WORDS, type RejectionReason } from "./types";

export function RejectReasonForm({ onReject, onCancel }: {
  onReject: (body: { reason: string; note?: string }) => void;
  onCancel: () => void;
}) {
  const reasons = useApi<RejectionReason[]>("/settings/rejection-reasons");
  const [reason, setReason] = useState("");
  const [note, setNote] = useState("");
  const chosen = reasons.data?.find((r) => r.id === reason);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (reason) onReject({ reason, ...(note.trim() ? { note: note.trim() } : {}) });
  };
  return (
    <form className="reject-form" onSubmit={submit} data-testid="reject-form">
      <label htmlFor="reject-reason">Why send this lead back to marketing?</label>
      {reasons.loading && !reasons.data && <p className="muted small">Loading the reasons…</p>}
      {reasons.error && <p className="error" role="alert">The reasons could not be loaded: {reasons.error.detail}</p>}
      <select id="reject-reason" data-testid="reject-reason" value={reason} required autoFocus
        onChange={(e) => setReason(e.target.value)}>
        <option value="">Choose a reason…</option>
        {(reasons.data ?? []).map((r) => <option key={r.id} value={r.id}>{r.label}</option>)}
      </select>
      {chosen && (
        <p className="small muted" data-testid="reject-reason-meaning">
          {chosen.outcome === "recycle" && chosen.recycle_flow
            ? `The lead rests for ${cooldownWords(chosen.cooldown)}, then enters “${chosen.recycle_flow}”.`
            : `This ${OUTCOME_WORDS[chosen.outcome]}.`}
        </p>
      )}
      <label htmlFor="reject-note">Note for marketing (optional)</label>
      <input id="reject-note" data-testid="reject-note" value={note} maxLength={2000} onChange={(e) => setNote(e.target.value)} />
      <button type="submit" className="danger" data-testid="reject-submit" disabled={!reason}>Reject</button>
      <button type="button" onClick={onCancel}>Cancel</button>
    </form>
  );
}
