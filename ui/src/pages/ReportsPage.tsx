/** Funnel and SLA reports, drawn as SVG charts with their tables; the funnel downloads as CSV. */
import { useState } from "react";
import { ApiError, download, query, type Schemas } from "../api";
import { moment } from "../words";
import { useApi } from "../hooks";
import { metRate, percent, seconds, SIDE_STAGES, type Funnel, type SlaReport, type SlaSummary } from "../reports";
import { FunnelChart, StackedBars } from "./charts";
import { ValueReports } from "../loop/ValueReports";
import { Load } from "../ui";

export function ReportsPage() {
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const [source, setSource] = useState("");
  const [team, setTeam] = useState("");
  const [csvError, setCsvError] = useState<string | null>(null);
  const params = { from, to, source };
  const funnel = useApi<Funnel>(`/reports/funnel${query(params)}`);
  const sla = useApi<SlaReport>(`/reports/sla${query({ team })}`);
  const teams = useApi<Schemas["TeamPublic"][]>("/teams");

  const csv = async () => {
    setCsvError(null);
    try {
      await download(`/reports/funnel${query({ ...params, format: "csv" })}`, "funnel.csv");
    } catch (err) {
      setCsvError((err as ApiError).detail || String(err));
    }
  };

  return (
    <section className="reports">
      <h1>Reports</h1>
      <h2>Funnel</h2>
      <div className="row">
        <label htmlFor="funnel-from">From</label>
        <input id="funnel-from" type="date" value={from} onChange={(e) => setFrom(e.target.value)} />
        <label htmlFor="funnel-to">To</label>
        <input id="funnel-to" type="date" value={to} onChange={(e) => setTo(e.target.value)} />
        <label htmlFor="funnel-source">Source</label>
        <input id="funnel-source" value={source} placeholder="all sources" onChange={(e) => setSource(e.target.value)} />
        <button type="button" onClick={() => void csv()} data-testid="funnel-csv">Download CSV</button>
      </div>
      {csvError && <p className="error" role="alert">{csvError}</p>}
      <Load state={funnel} rows={6}>{(data) => <FunnelView funnel={data} />}</Load>

      <h2>Sales SLA</h2>
      <div className="row">
        <label htmlFor="sla-team">Team</label>
        <select id="sla-team" value={team} onChange={(e) => setTeam(e.target.value)}>
          <option value="">all teams</option>
          {(teams.data ?? []).map((t) => <option key={t.id} value={t.id}>{t.name || t.id}</option>)}
        </select>
      </div>
      <Load state={sla} rows={4}>{(data) => <SlaView report={data} teamRows={teams.data ?? []} />}</Load>

      <ValueReports />
    </section>
  );
}

function FunnelView({ funnel }: { funnel: Funnel }) {
  const main = funnel.stages.filter((s) => !SIDE_STAGES.includes(s.stage));
  const side = funnel.stages.filter((s) => SIDE_STAGES.includes(s.stage));
  const day = (iso: string) => moment(iso, "day").text;
  return (
    <div className="report" data-testid="funnel">
      <p className="muted">
        Leads active from {day(funnel.start)} to {day(funnel.end)}{funnel.source ? `, source ${funnel.source}` : ", all sources"}.
      </p>
      <div className="kpis">
        <div className="kpi"><span className="kpi-value" data-testid="mql-to-sal">{percent(funnel.mql_to_sal)}</span><span>MQL → SAL</span></div>
        <div className="kpi"><span className="kpi-value" data-testid="new-leads">{funnel.sources.reduce((n, s) => n + s.leads, 0)}</span><span>new leads</span></div>
        {side.map((s) => <div key={s.stage} className="kpi"><span className="kpi-value">{s.entered}</span><span>{s.stage}</span></div>)}
      </div>
      <FunnelChart stages={main} />
      <table data-testid="funnel-table">
        <thead><tr><th>Stage</th><th>Entered</th><th>Went further</th><th>Conversion</th><th>Median time in stage</th></tr></thead>
        <tbody>
          {funnel.stages.map((s) => (
            <tr key={s.stage} className={SIDE_STAGES.includes(s.stage) ? "muted" : ""}>
              <td>{s.stage}</td><td>{s.entered}</td><td>{s.converted ?? "–"}</td><td>{percent(s.conversion)}</td>
              <td>{s.median_hours_in_stage === null ? "–" : seconds(s.median_hours_in_stage * 3600)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>By source (leads created in the period)</h3>
      {funnel.sources.length === 0 ? <p className="muted">No new leads in this period.</p> : (
        <>
          <StackedBars label="Leads by source and furthest stage" testId="sources-chart" colors={["p0", "p1", "p2", "p3"]}
            series={["reached customer", "reached SQL", "reached MQL", "other"]}
            rows={funnel.sources.map((s) => [s.source ?? "(no source)", [s.customer, s.SQL - s.customer, s.MQL - s.SQL, s.leads - s.MQL]])} />
          <table data-testid="sources-table">
            <thead><tr><th>Source</th><th>Leads</th><th>MQL</th><th>SQL</th><th>Customer</th><th>Lead → MQL</th></tr></thead>
            <tbody>
              {funnel.sources.map((s) => (
                <tr key={s.source ?? ""}>
                  <td>{s.source ?? <span className="muted">(no source)</span>}</td><td>{s.leads}</td><td>{s.MQL}</td><td>{s.SQL}</td>
                  <td>{s.customer}</td><td>{percent(s.leads ? s.MQL / s.leads : null)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </div>
  );
}

function SlaTable({ rows, name, testId }: { rows: [string, SlaSummary][]; name: string; testId: string }) {
  return (
    <table data-testid={testId}>
      <thead><tr><th>{name}</th><th>Handoffs</th><th>Met</th><th>Breached</th><th>Met rate</th><th>Median first touch</th><th>p90</th><th>Escalations</th></tr></thead>
      <tbody>
        {rows.map(([label, s]) => (
          <tr key={label}>
            <td>{label}</td><td>{s.handoffs}</td><td>{s.met}</td><td>{s.breached}</td><td>{percent(metRate(s))}</td>
            <td>{seconds(s.median_first_touch_seconds)}</td><td>{seconds(s.p90_first_touch_seconds)}</td><td>{s.escalations}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function SlaView({ report, teamRows }: { report: SlaReport; teamRows: { id: string; name: string }[] }) {
  const t = report.total;
  // Reps and teams by name (the report carries ids).
  const repRows = useApi<Schemas["RepPublic"][]>("/reps");
  const repName = (id: string) => repRows.data?.find((r) => r.id === id)?.name ?? id;
  const teamName = (id: string) => teamRows.find((r) => r.id === id)?.name ?? id;
  const reps = report.reps.map((r) => [r.rep_id ? repName(r.rep_id) : "(unassigned)", r] as [string, SlaSummary]);
  const teams = report.teams.map((r) => [r.team ? teamName(r.team) : "(no team)", r] as [string, SlaSummary]);
  const bars = (rows: [string, SlaSummary][]) =>
    rows.map(([label, s]) => [label, [s.met, s.breached, s.handoffs - s.met - s.breached]] as [string, number[]]);
  const reasons = Object.entries(t.rejection_reasons ?? {});
  return (
    <div className="report" data-testid="sla">
      <div className="kpis">
        <div className="kpi"><span className="kpi-value" data-testid="sla-met-rate">{percent(metRate(t))}</span><span>SLA met</span></div>
        <div className="kpi"><span className="kpi-value">{t.handoffs}</span><span>handoffs</span></div>
        <div className="kpi"><span className="kpi-value">{seconds(t.median_first_touch_seconds)}</span><span>median first touch</span></div>
        <div className="kpi"><span className="kpi-value">{t.escalations}</span><span>escalations</span></div>
      </div>
      {t.handoffs === 0 ? <p className="muted">No handoffs yet.</p> : (
        <div className="cards">
          <div className="card">
            <h3>Per rep</h3>
            <StackedBars label="SLA per rep" testId="sla-reps-chart" series={["met", "breached", "not decided"]} rows={bars(reps)} />
          </div>
          <div className="card">
            <h3>Per team</h3>
            <StackedBars label="SLA per team" testId="sla-teams-chart" series={["met", "breached", "not decided"]} rows={bars(teams)} />
          </div>
        </div>
      )}
      <SlaTable rows={reps} name="Rep" testId="sla-reps" />
      <SlaTable rows={teams} name="Team" testId="sla-teams" />
      {reasons.length > 0 && (
        <>
          <h3>Why sales sent leads back</h3>
          <ul data-testid="rejection-reasons">{reasons.map(([r, n]) => <li key={r}>{r} <span className="muted">× {n}</span></li>)}</ul>
        </>
      )}
    </div>
  );
}
