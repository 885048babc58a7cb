/** API keys (admin): create one (shown once), list them by role, rep and use, revoke. */
import { useState, type FormEvent } from "react";
import { api, ApiError, type Schemas } from "../api";
import { useApi, useNow } from "../hooks";
import { Load, Notice, When } from "../ui";
import type { Rep } from "./TeamPage";

/** A row of GET /api/keys (the secret itself is shown once, at creation). */
type KeyRow = Schemas["KeyOut"];

export function KeysPage() {
  const keys = useApi<KeyRow[]>("/keys");
  const reps = useApi<Rep[]>("/reps");
  const now = useNow(30_000);
  const [role, setRole] = useState("marketer");
  const [repId, setRepId] = useState("");
  const [label, setLabel] = useState("");
  const [created, setCreated] = useState<{ key: string; label: string } | null>(null);
  const [message, setMessage] = useState<{ text: string; bad?: boolean } | null>(null);
  const repNames = Object.fromEntries((reps.data ?? []).map((r) => [r.id, r.name]));

  const create = async (event: FormEvent) => {
    event.preventDefault();
    setMessage(null);
    try {
      const out = await api<Schemas["KeyCreated"]>("/keys", { body: { role, rep_id: role === "sales" ? repId : undefined, label: label || undefined } });
      setCreated({ key: out.key, label: label || role });
      setLabel("");
      keys.reload();
    } catch (err) {
      setMessage({ text: (err as ApiError).detail, bad: true });
    }
  };

  const revoke = async (k: KeyRow) => {
    if (!window.confirm(`Revoke the key “${k.label ?? k.role}”? Anything using it stops working at once.`)) return;
    try {
      await api(`/keys/${encodeURIComponent(k.id)}`, { method: "DELETE" });
      setMessage({ text: `Revoked “${k.label ?? k.role}”.` });
      keys.reload();
    } catch (err) {
      setMessage({ text: (err as ApiError).detail, bad: true });
    }
  };

  const listMissing = keys.error && [404, 405].includes(keys.error.status);
  return (
    <section className="keys-page">
      <h1>API keys</h1>
      <div className="cards">
        <form className="card" onSubmit={create} aria-labelledby="new-key-title" data-testid="key-form">
          <h2 id="new-key-title">New key</h2>
          <label htmlFor="key-role">Role</label>
          <select id="key-role" value={role} onChange={(e) => setRole(e.target.value)}>
            <option value="marketer">Marketer: flows, leads, templates, reports</option>
            <option value="sales">Sales: one rep's inbox</option>
            <option value="admin">Admin: everything, including keys and settings</option>
          </select>
          {role === "sales" && (
            <>
              <label htmlFor="key-rep">Rep</label>
              <select id="key-rep" value={repId} required onChange={(e) => setRepId(e.target.value)}>
                <option value="">pick the rep</option>
                {(reps.data ?? []).map((r) => <option key={r.id} value={r.id}>{r.name}</option>)}
              </select>
            </>
          )}
          <label htmlFor="key-label">Label (who or what uses it)</label>
          <input id="key-label" value={label} placeholder="e.g. Website form, Rita's laptop" onChange={(e) => setLabel(e.target.value)} />
          <button type="submit" className="primary" data-testid="key-create">Create key</button>
          {created && (
            <div className="notice" role="status" data-testid="key-created">
              <p>Key for “{created.label}”. Copy it now: it is not shown again.</p>
              <code className="secret">{created.key}</code>
              <div><button type="button" onClick={() => void navigator.clipboard?.writeText(created.key)}>Copy</button></div>
            </div>
          )}
        </form>
        <div className="card wide">
          <h2>Keys</h2>
          <Notice message={message} />
          {listMissing ? (
            <p className="muted">This server does not list keys yet; new keys can still be created here.</p>
          ) : (
            <Load state={keys} empty={<p>No keys besides the one you are using.</p>}>
              {(list) => (
                <table data-testid="keys-table" className="responsive">
                  <thead><tr><th>Label</th><th>Role</th><th>Created</th><th>Last used</th><th></th></tr></thead>
                  <tbody>
                    {list.map((k) => (
                      <tr key={k.id} className={k.revoked_at ? "revoked" : ""}>
                        <td data-label="Label">{k.label || <span className="muted">no label</span>}</td>
                        <td data-label="Role">{k.role}{k.rep_id ? ` · ${k.rep_name ?? repNames[k.rep_id] ?? k.rep_id}` : ""}</td>
                        <td data-label="Created"><When at={k.created_at} now={now} /></td>
                        <td data-label="Last used">{k.last_used_at ? <When at={k.last_used_at} now={now} /> : <span className="muted">never</span>}</td>
                        <td>{k.revoked_at
                          ? <span className="pill rejected">revoked <When at={k.revoked_at} now={now} /></span>
                          : <button type="button" className="danger" onClick={() => void revoke(k)}>Revoke</button>}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </Load>
          )}
        </div>
      </div>
    </section>
  );
}
