/** Search leads; each links to its page. */
import { useState } from "react";
import { query } from "../api";
import { useApi } from "../hooks";
import { Link } from "../router";

interface LeadRow {
  id: string;
  email: string;
  first_name?: string | null;
  last_name?: string | null;
  company?: string | null;
  score?: number;
  temperature?: string;
  stage?: string;
}

const PAGE = 50;

export function LeadsPage() {
  const [q, setQ] = useState("");
  const [offset, setOffset] = useState(0);
  const leads = useApi<{ items: LeadRow[]; total: number }>(`/leads${query({ q, limit: PAGE, offset })}`);
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
      {leads.error && <p className="error" role="alert">{leads.error.detail}</p>}
      {leads.data && (
        <>
          <table>
            <thead><tr><th>Lead</th><th>Company</th><th>Score</th><th>Temperature</th><th>Stage</th></tr></thead>
            <tbody>
              {leads.data.items.map((l) => (
                <tr key={l.id}>
                  <td><Link to={`/leads/${encodeURIComponent(l.id)}`}>{l.email}</Link>
                    <div className="muted small">{[l.first_name, l.last_name].filter(Boolean).join(" ")}</div></td>
                  <td>{l.company}</td>
                  <td>{l.score ?? ""}</td>
                  <td>{l.temperature && <span className={`pill ${l.temperature}`}>{l.temperature}</span>}</td>
                  <td>{l.stage}</td>
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
    </section>
  );
}
