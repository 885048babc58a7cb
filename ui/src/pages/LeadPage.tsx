/** One lead: profile, score and its breakdown, temperature, stage, journeys (with Temporal links), timeline. */
import { parseApiDate } from "../durations";
import { useApi } from "../hooks";
import { Link } from "../router";
import { temporalLink, useSession } from "../session";
import { download, type ApiError } from "../api";
import type { BreakdownRow } from "../sales";
import { useState } from "react";
import { BarChart } from "./charts";
import { ExitFromFlow } from "../changes/ExitFromFlow";
import { LeadOutcome } from "../loop/LeadOutcome";
import type { Factor } from "../loop/types";

interface Journey {
  flow_id: string;
  version: number;
  step: string | null;
  status: string;
  journey_id: string;
  workflow_id: string | null;
  started_at: string | null;
  ended_at: string | null;
}

interface Lead {
  id: string;
  email: string;
  first_name?: string | null;
  last_name?: string | null;
  company?: string | null;
  title?: string | null;
  country?: string | null;
  timezone?: string | null;
  source?: string | null;
  fields?: Record<string, unknown>;
  tags?: string[];
  score?: number;
  score_breakdown?: unknown;
  temperature?: string;
  score_model_version?: number | null;
  stage?: string;
  owner?: string | null;
  flows?: Journey[];
  likelihood?: number | null;
  likelihood_factors?: Factor[];
}

interface TimelineEntry {
  at: string;
  kind: string;
  type: string;
  data?: unknown;
}

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

function when(value: string | null | undefined): string {
  return value ? parseApiDate(value).toLocaleString() : "";
}

export function LeadPage({ leadId }: { leadId: string }) {
  const meta = useSession();
  const id = encodeURIComponent(leadId);
  const lead = useApi<Lead>(`/leads/${id}`, 5000);
  const [exportError, setExportError] = useState<string | null>(null);
  const timeline = useApi<TimelineEntry[]>(`/leads/${id}/timeline`, 5000);
  if (lead.error) return <p className="error" role="alert">{lead.error.status === 404 ? `There is no lead "${leadId}".` : lead.error.detail}</p>;
  if (!lead.data) return <p>Loading…</p>;
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
              ["Time zone", l.timezone], ["Source", l.source], ["Stage", l.stage], ["Owner", l.owner],
              ["Tags", (l.tags ?? []).join(", ")],
            ] as [string, unknown][]).map(([k, v]) => (
              <div key={k}><dt>{k}</dt><dd>{v ? String(v) : <span className="muted">—</span>}</dd></div>
            ))}
            {Object.entries(l.fields ?? {}).map(([k, v]) => (
              <div key={k}><dt>fields.{k}</dt><dd>{typeof v === "string" ? v : JSON.stringify(v)}</dd></div>
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
                    <td>{r.rule}</td><td>{r.kind === "fit" ? "fit" : r.event_type ?? r.kind}</td><td>{when(r.occurred_at)}</td>
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
                <td>{meta.role === "sales" ? j.flow_id : <Link to={`/flows/${encodeURIComponent(j.flow_id)}/live?version=${j.version}`}>{j.flow_id}</Link>}</td>
                <td>v{j.version}</td>
                <td data-testid={`journey-step-${j.flow_id}`}>{j.step ?? ""}</td>
                <td><span className={`pill ${j.status}`}>{j.status}</span>{" "}
                  {j.status === "running" && meta.role !== "sales" && (
                    <ExitFromFlow leadId={l.id} leadName={l.first_name || l.email} flowId={j.flow_id} onDone={lead.reload} />
                  )}</td>
                <td>{when(j.started_at)}</td>
                <td>{when(j.ended_at)}</td>
                <td>{link ? <a href={link} target="_blank" rel="noreferrer">Temporal Web UI</a> : <span className="muted">{j.workflow_id}</span>}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <h2>Timeline</h2>
      {timeline.error && <p className="error">{timeline.error.detail}</p>}
      <ol className="timeline" data-testid="timeline">
        {(timeline.data ?? []).map((t, i) => (
          <li key={i}>
            <time dateTime={t.at}>{when(t.at)}</time> <span className={`pill tl-${t.kind}`}>{t.kind}</span> <strong>{t.type}</strong>
            {t.data !== undefined && t.data !== null && Object.keys(t.data as object).length > 0 && (
              <code className="small"> {JSON.stringify(t.data)}</code>
            )}
          </li>
        ))}
        {timeline.data && timeline.data.length === 0 && <li className="muted">Nothing yet.</li>}
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
