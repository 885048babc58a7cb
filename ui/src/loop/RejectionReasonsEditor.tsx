/** The workspace's rejection reasons: what reps choose from, and what each means (admins edit). */
import { useEffect, useState } from "react";
import { api, type ApiError, type Problem } from "../api";
import { useApi } from "../hooks";
import { useSession } from "../session";
import { Pending } from "../ui";
import { cooldownWords, OUTCOME_WORDS, type RejectionReason } from "./types";

export function RejectionReasonsEditor() {
  const meta = useSession();
  const canEdit = meta.role === "admin";
  const reasons = useApi<RejectionReason[]>("/settings/rejection-reasons");
  const [rows, setRows] = useState<RejectionReason[]>([]);
  const [problems, setProblems] = useState<Problem[]>([]);
  const [message, setMessage] = useState<{ text: string; bad?: boolean } | null>(null);
  useEffect(() => { if (reasons.data) setRows(reasons.data); }, [reasons.data]);

  const update = (i: number, patch: Partial<RejectionReason>) => setRows(rows.map((r, k) => (k === i ? { ...r, ...patch } : r)));
  const save = async () => {
    setMessage(null);
    setProblems([]);
    try {
      const body = rows.map((r) => ({ id: r.id, label: r.label, outcome: r.outcome,
        ...(r.outcome === "recycle" ? { recycle_flow: r.recycle_flow || null, cooldown: r.cooldown || null } : {}) }));
      setRows(await api<RejectionReason[]>("/settings/rejection-reasons", { method: "PUT", body }));
      setMessage({ text: "Saved. Reps see the new list at once." });
    } catch (err) {
      const e = err as ApiError;
      setProblems(e.problems);
      setMessage({ text: e.detail, bad: true });
    }
  };
  const problemAt = (i: number) => problems.filter((p) => p.path.split(".")[0] === String(i)).map((p) => p.message).join(" ");
  return (
    <div className="card wide" data-testid="rejection-reasons-editor">
      <h2>Rejection reasons</h2>
      <p className="muted">What a rep picks when sending a lead back, and what it means for the lead and for the predictive model.</p>
      <Pending state={reasons} label="Loading the reasons" />
      {rows.length === 0 && reasons.data && <p className="muted">No reasons: reps cannot reject until there is one.</p>}
      <table>
        <thead><tr><th>Reason</th><th>Means</th><th>Recycle into</th><th>After</th>{canEdit && <th></th>}</tr></thead>
        <tbody>
          {rows.map((r, i) => (
            <tr key={i} data-testid={`reason-${r.id || i}`}>
              <td>{canEdit ? <input aria-label="Label" value={r.label} onChange={(e) => update(i, { label: e.target.value, id: r.id || e.target.value.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") })} /> : r.label}
                {problemAt(i) && <div className="field-problem error">{problemAt(i)}</div>}</td>
              <td>{canEdit ? (
                <select aria-label="Meaning" value={r.outcome} onChange={(e) => update(i, { outcome: e.target.value as RejectionReason["outcome"] })}>
                  {(Object.keys(OUTCOME_WORDS) as RejectionReason["outcome"][]).map((o) => <option key={o} value={o}>{OUTCOME_WORDS[o]}</option>)}
                </select>) : OUTCOME_WORDS[r.outcome]}</td>
              <td>{r.outcome !== "recycle" ? "—" : canEdit
                ? <input aria-label="Recycle flow" value={r.recycle_flow ?? ""} placeholder="flow id" onChange={(e) => update(i, { recycle_flow: e.target.value })} />
                : r.recycle_flow ?? "—"}</td>
              <td>{r.outcome !== "recycle" ? "—" : canEdit
                ? <input aria-label="Cooldown" value={r.cooldown ?? ""} placeholder="P90D" onChange={(e) => update(i, { cooldown: e.target.value })} title={cooldownWords(r.cooldown)} />
                : cooldownWords(r.cooldown)}</td>
              {canEdit && <td><button type="button" onClick={() => setRows(rows.filter((_, k) => k !== i))}>Remove</button></td>}
            </tr>
          ))}
        </tbody>
      </table>
      {canEdit && (
        <div className="row">
          <button type="button" onClick={() => setRows([...rows, { id: "", label: "", outcome: "negative" }])}>Add a reason</button>
          <button type="button" className="primary" data-testid="reasons-save" onClick={() => void save()}>Save reasons</button>
        </div>
      )}
      {message && <p role="status" className={message.bad ? "error" : "good"}>{message.text}</p>}
    </div>
  );
}
