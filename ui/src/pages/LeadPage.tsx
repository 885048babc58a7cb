/** One lead: profile, score and its breakdown, temperature, stage, journeys (with Temporal links), timeline. */
import { useApi } from "../hooks";
import { Link } from "../router";
import { temporalLink, useSession } from "../session";
import { api, download, type ApiError, type Schemas } from "../api";
import { useNow } from "../hooks";
import { ErrorState, Notice, Skeleton, When } from "../ui";
import { dedupeTimeline, timelineIcon, timelineSentence, type TimelineEntry } from "../words";
import type { FormEvent } from "react";
import type { BreakdownRow } from "../sales";
import { useState } from "react";
import { BarChart } from "./charts";
import { ExitFromFlow } from "../changes/ExitFromFlow";
import { LeadOutcome } from "../loop/LeadOutcome";

/** GET /api/leads/{id}: the lead, its journeys and why the predictive model rates it so. */
type Lead = Schemas["LeadDetail"];
type FlowRow = Schemas["FlowRow"];

/** The breakdown may be a map (reason → points) or a list of {reason/label, points}; show either. */
function breakdownRows(value: unknown): [string, number][] {
  if (Array.isArray(value)) {
    return value.flatMap((item) => {
      if (!item || typeof item !== "object") return [];
      const o = item as Record<string, unknown>;
      const label = String(o.reason ?? o.label ?? o.rule ?? o.event ?? o.type ?? o.kind ?? "?");
      // leadflow/scoring.py rows carry points_now (after decay) and points_base.
      const points = Number(o.points_now ?? o.points ?? o.value ?? o.score ?? 0);
      return [[label, points] as [string, number]];
    });
  }
  if (value && typeof value === "object") {
    return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) =>
      typeof v === "number" ? [[k, v] as [string, number]] : v && typeof v === "object" ? breakdownRows(v).map(([l, p]) => [`${k}: ${l}`, p] as [string, number]) : [],
    );
  }
  return [];
}

export function LeadPage({ leadId }: { leadId: string }) {
  const meta = useSession();
  const id = encodeURIComponent(leadId);
  const lead = useApi<Lead>(`/leads/${id}`, 5000);
  const [exportError, setExportError] = useState<string | null>(null);
  const timeline = useApi<TimelineEntry[]>(`/leads/${id}/timeline`, 5000);
  const flows = useApi<FlowRow[]>(meta.role === "sales" ? null : "/flows");
  const reps = useApi<Schemas["RepPublic"][]>("/reps");
  const now = useNow(30_000);
  const flowNames = Object.fromEntries((flows.data ?? []).map((f) => [f.id, f.name || f.id]));
  if (lead.error && !lead.data) return lead.error.status === 404 ? <p className="error" role="alert">There is no lead “{leadId}”.</p> : <ErrorState error={lead.error} onRetry={lead.reload} />;
  if (!lead.data) return <Skeleton rows={8} label="Loading the lead" />;
  const l = lead.data;
  const name = [l.first_name, l.last_name].filter(Boolean).join(" ");
  const breakdown = breakdownRows(l.score_breakdown);
  return (
    <section className="lead-page" data-testid="lead-page">
      <h1>{name || l.email} <span className={`pill ${l.temperature ?? ""}`}>{l.temperature}</span></h1>
      <div className="cards">
        <div className="card">
          <h2>Profile</h2>
          <dl className="props">
            {([
              ["E-mail", l.email], ["Company", l.company], ["Title", l.title], ["Country", l.country],
              ["Time zone", l.timezone], ["Source", l.source], ["Stage", l.stage], ["Owner", l.owner ? reps.data?.find((r) => r.id === l.owner)?.name ?? l.owner : null],
              ["Tags", (l.tags ?? []).join(", ")],
            ] as [string, unknown][]).map(([k, v]) => (
              <div key={k}><dt>{k}</dt><dd>{v ? String(v) : <span className="muted">—</span>}</dd></div>
            ))}
            {Object.entries(l.fields ?? {}).map(([k, v]) => (
              <div key={k}><dt>{k.replace(/_/g, " ")}</dt><dd>{typeof v === "string" ? v : JSON.stringify(v)}</dd></div>
            ))}
          </dl>
        </div>
        <div className="card">
          <h2>Score <span data-testid="lead-score">{l.score ?? 0}</span></h2>
          <p>Temperature <strong data-testid="lead-temperature">{l.temperature ?? "—"}</strong>, stage{" "}
            <strong data-testid="lead-stage">{l.stage ?? "—"}</strong></p>
          {breakdown.length ? <BarChart label="Score breakdown" rows={breakdown} /> : <p className="muted">No points yet.</p>}
          {Array.isArray(l.score_breakdown) && l.score_breakdown.length > 0 && (
            <table className="breakdown small" data-testid="lead-breakdown">
              <thead><tr><th>Why</th><th>From</th><th>When</th><th>Points</th><th>Before decay</th></tr></thead>
              <tbody>
                {(l.score_breakdown as BreakdownRow[]).map((r, i) => (
                  <tr key={i}>
                    <td>{r.rule}</td><td>{r.kind === "fit" ? "fit" : r.event_type ?? r.kind}</td><td><When at={r.occurred_at} style="at" now={now} /></td>
                    <td className="num">{r.points_now ?? ""}</td><td className="num">{r.points_base ?? ""}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {l.score_model_version !== undefined && l.score_model_version !== null && (
            <p className="small muted">Scored with model version {l.score_model_version}.</p>
          )}
        </div>
      </div>
      <div className="cards">
        <LeadOutcome leadId={l.id} likelihood={l.likelihood} factors={l.likelihood_factors} onChange={() => lead.reload()} />
      </div>
      <h2>Journeys</h2>
      <table>
        <thead><tr><th>Flow</th><th>Version</th><th>Step</th><th>Status</th><th>Started</th><th>Ended</th><th>Temporal</th></tr></thead>
        <tbody>
          {(l.flows ?? []).length === 0 && <tr><td colSpan={7} className="muted">Not in any flow.</td></tr>}
          {(l.flows ?? []).map((j) => {
            const link = temporalLink(meta, j.workflow_id);
            return (
              <tr key={j.journey_id}>
                {/* Flows are marketing's: a sales key reads the flow id only. */}
                <td>{meta.role === "sales" ? flowNames[j.flow_id] ?? j.flow_id : <Link to={`/flows/${encodeURIComponent(j.flow_id)}/live?version=${j.version}`}>{flowNames[j.flow_id] ?? j.flow_id}</Link>}</td>
                <td>v{j.version}</td>
                <td data-testid={`journey-step-${j.flow_id}`}>{j.step ?? ""}</td>
                <td><span className={`pill ${j.status}`}>{j.status}</span>{" "}
                  {j.status === "running" && meta.role !== "sales" && (
                    <ExitFromFlow leadId={l.id} leadName={l.first_name || l.email || "this lead"} flowId={j.flow_id} onDone={lead.reload} />
                  )}</td>
                <td><When at={j.started_at} style="at" now={now} /></td>
                <td><When at={j.ended_at} style="at" now={now} /></td>
                <td>{link ? <a href={link} target="_blank" rel="noreferrer">Temporal Web UI</a> : <span className="muted">{j.workflow_id}</span>}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {meta.role !== "sales" && <LeadActions leadId={leadId} flows={flows.data ?? []} onDone={() => { lead.reload(); timeline.reload(); }} />}
      {meta.role === "sales" && <NoteForm leadId={leadId} onDone={timeline.reload} />}
      <h2>Timeline</h2>
      {timeline.error && <ErrorState error={timeline.error} onRetry={timeline.reload} />}
      {!timeline.data && !timeline.error && <Skeleton rows={4} />}
      <ol className="timeline" data-testid="timeline">
        {dedupeTimeline(timeline.data ?? []).slice().reverse().map((t, i) => (
          <li key={i} className={`tl-${t.kind}`}>
            <span className="tl-icon" aria-hidden>{timelineIcon(t)}</span>
            <div className="tl-body">
              <span className="tl-sentence">{timelineSentence(t, { flows: flowNames, reps: Object.fromEntries((reps.data ?? []).map((r) => [r.id, r.name])) })}</span>
              <span className="small muted"> · <When at={t.at} now={now} /></span>
              <details className="raw">
                <summary className="small muted">raw event</summary>
                <pre className="json small">{JSON.stringify({ type: t.type, kind: t.kind, at: t.at, ...(t.data ?? {}) }, null, 2)}</pre>
              </details>
            </div>
          </li>
        ))}
        {timeline.data && timeline.data.length === 0 && <li className="muted">Nothing has happened to this lead yet.</li>}
      </ol>
      <p className="row">
        <Link to={`/outbox?lead_id=${id}`}>E-mails sent to this lead</Link>
        <button type="button" data-testid="lead-export"
          onClick={() => download(`/leads/${id}/export`, `lead-${leadId}.json`).catch((e: ApiError) => setExportError(e.detail))}>
          Export this lead's data (JSON)
        </button>
      </p>
      {exportError && <p className="error" role="alert">{exportError}</p>}
    </section>
  );
}

const STAGES = ["subscriber", "lead", "MQL", "SAL", "SQL", "opportunity", "customer", "recycled", "disqualified"];

function LeadActions({ leadId, flows, onDone }: { leadId: string; flows: FlowRow[]; onDone: () => void }) {
  const id = encodeURIComponent(leadId);
  const [flow, setFlow] = useState("");
  const [stage, setStage] = useState("");
  const [reason, setReason] = useState("");
  const [message, setMessage] = useState<{ text: string; bad?: boolean } | null>(null);
  const run = async (what: string, call: () => Promise<unknown>) => {
    setMessage(null);
    try {
      await call();
      setMessage({ text: what });
      onDone();
    } catch (err) {
      setMessage({ text: (err as ApiError).detail, bad: true });
    }
  };
  const published = flows.filter((f) => f.latest_version);
  return (
    <div className="cards lead-actions" data-testid="lead-actions">
      <form className="card" aria-label="Enrol in a flow" onSubmit={(e: FormEvent) => {
        e.preventDefault();
        void run(`Enrolled in ${published.find((f) => f.id === flow)?.name ?? flow}.`, () => api(`/flows/${encodeURIComponent(flow)}/enroll`, { body: { lead_id: leadId } }));
      }}>
        <h2>Enrol in a flow</h2>
        <label htmlFor="enrol-flow">Flow</label>
        <select id="enrol-flow" value={flow} required onChange={(e) => setFlow(e.target.value)}>
          <option value="">pick a published flow</option>
          {published.map((f) => <option key={f.id} value={f.id}>{f.name || f.id}</option>)}
        </select>
        <button type="submit" data-testid="enrol-submit">Enrol</button>
      </form>
      <form className="card" aria-label="Change the stage" onSubmit={(e: FormEvent) => {
        e.preventDefault();
        void run(`Stage changed to ${stage}.`, () => api(`/leads/${id}/stage`, { body: { stage, reason: reason || "changed in the studio" } }));
      }}>
        <h2>Change the stage</h2>
        <label htmlFor="stage-to">New stage</label>
        <select id="stage-to" value={stage} required onChange={(e) => setStage(e.target.value)}>
          <option value="">pick a stage</option>
          {STAGES.map((s) => <option key={s}>{s}</option>)}
        </select>
        <label htmlFor="stage-reason">Why</label>
        <input id="stage-reason" value={reason} placeholder="e.g. opportunity opened in the CRM" onChange={(e) => setReason(e.target.value)} />
        <button type="submit" data-testid="stage-submit">Change stage</button>
      </form>
      <NoteForm leadId={leadId} onDone={onDone} />
      <Notice message={message} />
    </div>
  );
}

function NoteForm({ leadId, onDone }: { leadId: string; onDone: () => void }) {
  const [text, setText] = useState("");
  const [message, setMessage] = useState<{ text: string; bad?: boolean } | null>(null);
  return (
    <form className="card" aria-label="Add a note" onSubmit={(e: FormEvent) => {
      e.preventDefault();
      api(`/leads/${encodeURIComponent(leadId)}/notes`, { body: { text } })
        .then(() => { setText(""); setMessage({ text: "Note added to the timeline." }); onDone(); })
        .catch((err: ApiError) => setMessage({ text: err.detail, bad: true }));
    }}>
      <h2>Add a note</h2>
      <label htmlFor="note-text">Note</label>
      <textarea id="note-text" data-testid="note-text" rows={3} required value={text} onChange={(e) => setText(e.target.value)} />
      <button type="submit" data-testid="note-submit">Add note</button>
      <Notice message={message} />
    </form>
  );
}
