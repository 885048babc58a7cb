/** Search leads; each links to its page. */
import { useRef, useState, type FormEvent } from "react";
import { api, ApiError, getKey, query, type Schemas } from "../api";
import { useApi } from "../hooks";
import { Link, navigate } from "../router";
import { Load, Notice } from "../ui";

const PAGE = 50;

export function LeadsPage() {
  const [q, setQ] = useState("");
  const [offset, setOffset] = useState(0);
  const leads = useApi<Schemas["LeadList"]>(`/leads${query({ q, limit: PAGE, offset })}`);
  return (
    <section>
      <h1>Leads</h1>
      <div className="row">
        <label htmlFor="lead-search">Search</label>
        <input id="lead-search" type="search" value={q} placeholder="e-mail, name or company"
          onChange={(e) => {
            setQ(e.target.value);
            setOffset(0);
          }} />
      </div>
      <div className="cards">
        <NewLead />
        <ImportLeads onDone={leads.reload} />
      </div>
      <Load state={leads} isEmpty={(d) => d.total === 0 && !q} empty={<p>No leads yet. Add one above, import a CSV, or connect a form.</p>}>
        {() => leads.data && (
        <>
          <table className="responsive" data-testid="leads-table">
            <thead><tr><th>Lead</th><th>Company</th><th>Score</th><th>Temperature</th><th>Stage</th></tr></thead>
            <tbody>
              {leads.data.items.map((l) => (
                <tr key={l.id}>
                  <td data-label="Lead"><Link to={`/leads/${encodeURIComponent(l.id)}`}>{[l.first_name, l.last_name].filter(Boolean).join(" ") || l.email}</Link>
                    <div className="muted small">{l.email}</div></td>
                  <td data-label="Company">{l.company}</td>
                  <td data-label="Score">{l.score ?? ""}</td>
                  <td data-label="Temperature">{l.temperature && <span className={`pill ${l.temperature}`}>{l.temperature}</span>}</td>
                  <td data-label="Stage">{l.stage}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <div className="row">
            <button type="button" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))}>Previous</button>
            <span>{leads.data.total ? `${offset + 1}–${Math.min(offset + PAGE, leads.data.total)} of ${leads.data.total}` : "No leads"}</span>
            <button type="button" disabled={offset + PAGE >= leads.data.total} onClick={() => setOffset(offset + PAGE)}>Next</button>
          </div>
        </>
        )}
      </Load>
    </section>
  );
}

function NewLead() {
  const [open, setOpen] = useState(false);
  const [form, setForm] = useState({ email: "", first_name: "", last_name: "", company: "", title: "", consent: true });
  const [message, setMessage] = useState<{ text: string; bad?: boolean } | null>(null);
  const set = (k: string, v: string | boolean) => setForm({ ...form, [k]: v });
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setMessage(null);
    const { consent, email, ...fields } = form;
    const body: Schemas["LeadCreate"] = { email, ...Object.fromEntries(Object.entries(fields).filter(([, v]) => v)) };
    if (consent) body.consent = { status: "granted", source: "studio", text_version: "studio" };
    try {
      const lead = await api<Schemas["LeadOut"]>("/leads", { body });
      navigate(`/leads/${encodeURIComponent(lead.id)}`);
    } catch (err) {
      const e = err as ApiError;
      setMessage({ text: e.problems.length ? e.problems.map((p) => p.message).join(" ") : e.detail, bad: true });
    }
  };
  if (!open) return <div className="card"><h2>Add a lead</h2><button type="button" className="primary" data-testid="lead-new" onClick={() => setOpen(true)}>New lead…</button></div>;
  return (
    <form className="card" onSubmit={submit} aria-labelledby="new-lead-title" data-testid="lead-form">
      <h2 id="new-lead-title">New lead</h2>
      <label htmlFor="nl-email">E-mail</label>
      <input id="nl-email" type="email" required value={form.email} onChange={(e) => set("email", e.target.value)} />
      <div className="grid-form">
        <div><label htmlFor="nl-first">First name</label><input id="nl-first" value={form.first_name} onChange={(e) => set("first_name", e.target.value)} /></div>
        <div><label htmlFor="nl-last">Last name</label><input id="nl-last" value={form.last_name} onChange={(e) => set("last_name", e.target.value)} /></div>
        <div><label htmlFor="nl-company">Company</label><input id="nl-company" value={form.company} onChange={(e) => set("company", e.target.value)} /></div>
        <div><label htmlFor="nl-title">Job title</label><input id="nl-title" value={form.title} onChange={(e) => set("title", e.target.value)} /></div>
      </div>
      <label className="inline"><input type="checkbox" checked={form.consent} onChange={(e) => set("consent", e.target.checked)} /> The lead agreed to receive marketing e-mail</label>
      <Notice message={message} />
      <div className="row"><button type="submit" className="primary" data-testid="lead-create">Create lead</button><button type="button" onClick={() => setOpen(false)}>Cancel</button></div>
    </form>
  );
}

/** POST /api/leads/import: what the CSV did, row by row. */
type ImportReport = Schemas["ImportReport"];

function ImportLeads({ onDone }: { onDone: () => void }) {
  const input = useRef<HTMLInputElement>(null);
  const [busy, setBusy] = useState(false);
  const [report, setReport] = useState<ImportReport | null>(null);
  const [error, setError] = useState<string | null>(null);
  const upload = async (file: File) => {
    setBusy(true);
    setError(null);
    setReport(null);
    try {
      // multipart: the browser sets the boundary, so this goes around the JSON client.
      const body = new FormData();
      body.append("file", file);
      const key = getKey();
      const response = await fetch("/api/leads/import", { method: "POST", body, headers: key ? { Authorization: `Bearer ${key}` } : {} });
      const payload = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error(String(payload.detail ?? response.statusText));
      setReport(payload as ImportReport);
      onDone();
    } catch (err) {
      setError(err instanceof TypeError ? "The server cannot be reached." : (err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="card" data-testid="lead-import">
      <h2>Import a CSV</h2>
      <p className="small muted">A header row with <code>email</code> and any of first_name, last_name, company, title, country,
        source, tags, consent_status; other columns become custom fields. Existing e-mails are updated.</p>
      <button type="button" disabled={busy} onClick={() => input.current?.click()}>{busy ? "Importing…" : "Choose a CSV file…"}</button>
      <input ref={input} type="file" accept=".csv,text/csv" hidden aria-label="CSV file to import"
        onChange={(e) => { const f = e.target.files?.[0]; e.target.value = ""; if (f) void upload(f); }} />
      {error && <p className="error" role="alert">{error}</p>}
      {report && (
        <div role="status" data-testid="import-report">
          <p><strong>{report.created}</strong> created, <strong>{report.updated}</strong> updated, <strong>{report.rejected_count}</strong> rejected.</p>
          {report.rejected.length > 0 && (
            <table className="small">
              <thead><tr><th>Row</th><th>E-mail</th><th>Why</th></tr></thead>
              <tbody>{report.rejected.map((r) => <tr key={r.row}><td>{r.row}</td><td>{r.email}</td><td>{r.errors.join("; ")}</td></tr>)}</tbody>
            </table>
          )}
        </div>
      )}
    </div>
  );
}
