/**
 * "Simulate": run the flow (the draft as it is in the editor, or a published version) over
 * synthetic leads in simulated time, before launch. Shows the counts on the canvas (entered,
 * waiting at the end), the answer in sentences, mails per week and hand-offs per business day
 * as charts, and the most common paths. Nothing is sent and no lead changes.
 */
import { useMemo, useState } from "react";
import { api, ApiError, type Problem, type Schemas } from "../api";
import { type FlowDoc } from "../graph";
import { useApi } from "../hooks";
import { StatsCanvas } from "../editor/StatsCanvas";
import { BarChart } from "../pages/charts";
import { Empty, ErrorState, Skeleton } from "../ui";
import {
  busiestWeekRows,
  canvasStats,
  DEFAULT_FORM,
  exitsInWords,
  shortDate,
  simulationBody,
  type SimForm,
  type Simulation,
  type TeamDays,
} from "./simulation";

export function SimulatePanel({ flowId }: { flowId: string }) {
  const id = encodeURIComponent(flowId);
  const draft = useApi<FlowDoc>(`/flows/${id}`);
  const versions = useApi<Schemas["VersionRow"][]>(`/flows/${id}/versions`);
  const [form, setForm] = useState<SimForm>(DEFAULT_FORM);
  const [running, setRunning] = useState(false);
  // the answer with the document it ran (the draft or the version), drawn with its counts
  const [result, setResult] = useState<{ sim: Simulation; doc: FlowDoc } | null>(null);
  const [failure, setFailure] = useState<{ detail: string; problems: Problem[] } | null>(null);
  const set = <K extends keyof SimForm>(key: K, value: SimForm[K]) => setForm((f) => ({ ...f, [key]: value }));

  const run = async () => {
    if (!draft.data) return;
    setRunning(true);
    setFailure(null);
    try {
      const [sim, doc] = await Promise.all([
        api<Simulation>(`/flows/${id}/simulate`, { body: simulationBody(form, draft.data) }),
        form.source === "draft" ? Promise.resolve(draft.data)
          : api<Schemas["VersionDocument"]>(`/flows/${id}/versions/${form.source}`).then((v) => v.document as FlowDoc),
      ]);
      setResult({ sim, doc });
    } catch (err) {
      const e = err as ApiError;
      setFailure({ detail: e.detail, problems: e.problems ?? [] });
    } finally {
      setRunning(false);
    }
  };

  if (draft.error && !draft.data) {
    return draft.error.status === 404 ? <p className="error" role="alert">There is no flow “{flowId}”.</p>
      : <ErrorState error={draft.error} onRetry={draft.reload} />;
  }
  if (!draft.data) return <SimulateSkeleton />;

  return (
    <div className="simulate" data-testid="simulate-panel">
      <h2>Simulate before launch</h2>
      <p className="muted">
        Runs the flow over made-up leads in simulated time, with the same rules live journeys follow (send window,
        frequency cap, scoring and temperature, team calendars). Nothing is sent and no lead changes.
      </p>
      <form className="simulate-form" onSubmit={(e) => { e.preventDefault(); void run(); }}>
        <label>
          What to run
          <select value={String(form.source)} data-testid="sim-source"
            onChange={(e) => set("source", e.target.value === "draft" ? "draft" : Number(e.target.value))}>
            <option value="draft">The draft, as it is in the editor</option>
            {(versions.data ?? []).slice().reverse().map((v) => <option key={v.version} value={v.version}>Published version {v.version}</option>)}
          </select>
        </label>
        <div className="simulate-fields">
          <label>Leads <input type="number" value={form.leads} data-testid="sim-leads"
            onChange={(e) => set("leads", Number(e.target.value))} /></label>
          <label>Days <input type="number" value={form.days} data-testid="sim-days"
            onChange={(e) => set("days", Number(e.target.value))} /></label>
          <label>Leads arrive over (days) <input type="number" value={form.enrolOverDays}
            onChange={(e) => set("enrolOverDays", Number(e.target.value))} /></label>
          <label>Open rate (%) <input type="number" value={form.open} data-testid="sim-open"
            onChange={(e) => set("open", Number(e.target.value))} /></label>
          <label>Click rate (%) <input type="number" value={form.click} data-testid="sim-click"
            onChange={(e) => set("click", Number(e.target.value))} /></label>
          <label>Seed <input type="number" value={form.seed} onChange={(e) => set("seed", Number(e.target.value))} /></label>
        </div>
        <button type="submit" className="primary" disabled={running} data-testid="sim-run">{running ? "Simulating…" : "Run simulation"}</button>
      </form>
      {running && <p role="status">Simulating {form.leads.toLocaleString()} leads over {form.days} days…</p>}
      {failure && (
        <div className="error" role="alert" data-testid="sim-error">
          <p>{failure.problems.length ? "The simulation cannot run yet:" : failure.detail}</p>
          {failure.problems.length > 0 && (
            <ul>{failure.problems.map((p, i) => <li key={i}><code>{p.path.replace(/^document\./, "")}</code>: {p.message}</li>)}</ul>
          )}
        </div>
      )}
      {!result && !running && !failure && <Empty><p data-testid="sim-empty">No simulation yet: choose the numbers and run it.</p></Empty>}
      {result && <Answer result={result.sim} doc={result.doc} flowId={flowId} />}
    </div>
  );
}

function Answer({ result, doc, flowId }: { result: Simulation; doc: FlowDoc; flowId: string }) {
  const teamList = useApi<Schemas["TeamPublic"][]>("/teams");
  const teamName = (id: string) => id.startsWith("rep:") ? `rep ${id.slice(4)}`
    : teamList.data?.find((t) => t.id === id)?.name ?? id;
  const e = result.emails;
  const weeks: [string, number][] = e.per_week.map((n, i) => [`week ${i + 1}`, n]);
  const teams = Object.entries(result.handoffs.per_team_per_business_day);
  return (
    <section className="simulate-answer" data-testid="sim-result" aria-live="polite">
      <ul className="simulate-summary">
        <li data-testid="sim-summary-leads">
          {result.leads.toLocaleString()} leads over {result.days} days from {shortDate(result.start)}
          {result.version ? ` (version ${result.version})` : " (the draft)"}, simulated in {(result.elapsed_ms / 1000).toFixed(1)} s.
        </li>
        <li data-testid="sim-summary-mails">
          {e.sent.toLocaleString()} e-mails: half the leads get {e.per_lead.p50} or fewer, 1 in 20 gets {e.per_lead.p95} or more, at most {e.per_lead.max};
          no lead gets more than <strong>{e.max_per_lead_per_week}</strong> in any week.
          {e.postponed > 0 && ` ${e.postponed.toLocaleString()} sends waited for the send window or the frequency cap.`}
          {e.skipped > 0 && ` ${e.skipped.toLocaleString()} were skipped (no consent or suppressed).`}
        </li>
        <li data-testid="sim-summary-mql">
          {result.mql.count.toLocaleString()} leads became MQLs
          {result.mql.days_to_mql_p50 !== null && `, half of them within ${result.mql.days_to_mql_p50} days`}.
        </li>
        <li>
          {result.handoffs.total.toLocaleString()} hand-offs to sales. {exitsInWords(result.exits).join("; ")}.
        </li>
      </ul>
      <SimCanvas flowId={flowId} doc={doc} result={result} />
      <div className="simulate-charts">
        <BarChart label="E-mails sent per week (all leads)" rows={weeks} />
        <BarChart label="Leads by the e-mails they got in their busiest week" rows={busiestWeekRows(e.busiest_week_per_lead)} unit=" leads" />
        {teams.map(([team, days]) => <TeamChart key={team} team={team} name={teamName(team)} days={days} />)}
        {teams.length === 0 && (
          <p className="muted" data-testid="sim-handoffs-empty">
            No hand-offs per day to chart: this flow has no hand-off step.
          </p>
        )}
      </div>
      <h3>Most common paths</h3>
      <ol className="simulate-paths" data-testid="sim-paths">
        {result.paths.map((p, i) => (
          <li key={i}><strong>{p.leads.toLocaleString()}</strong> leads: {p.steps.join(" → ")}</li>
        ))}
      </ol>
    </section>
  );
}

/** Hand-offs per business day as columns, with the team's capacity as a line. */
function TeamChart({ team, name, days }: { team: string; name: string; days: TeamDays }) {
  const width = 560;
  const height = 150;
  const pad = 24;
  const max = Math.max(1, days.max, days.capacity ?? 0);
  const w = days.days.length ? (width - pad) / days.days.length : 0;
  const y = (v: number) => height - pad - (v / max) * (height - 2 * pad);
  const over = days.days_over_capacity;
  const label = `Hand-offs to ${name} per business day`;
  return (
    <figure className="chart" data-testid={`sim-team-${team}`}>
      <svg role="img" aria-label={label} viewBox={`0 0 ${width} ${height}`} width="100%">
        <title>{label}</title>
        {days.days.map((d, i) => (
          <rect key={d.date} x={pad + i * w} y={y(d.count)} width={Math.max(1, w - 1)} height={height - pad - y(d.count)}
            className={days.capacity !== null && d.count > days.capacity ? "bar negative" : "bar"}>
            <title>{`${shortDate(d.date)}: ${d.count}`}</title>
          </rect>
        ))}
        {days.capacity !== null && (
          <g>
            <line x1={pad} x2={width} y1={y(days.capacity)} y2={y(days.capacity)} className="capacity-line" strokeDasharray="4 3" />
            <text x={width - 4} y={y(days.capacity) - 4} textAnchor="end" fontSize="11">capacity {days.capacity}</text>
          </g>
        )}
        <text x={2} y={y(max) + 4} fontSize="10">{max}</text>
        <text x={2} y={height - pad} fontSize="10">0</text>
        {days.days.length > 0 && <text x={pad} y={height - 6} fontSize="10">{shortDate(days.days[0].date)}</text>}
        {days.days.length > 1 && <text x={width} y={height - 6} fontSize="10" textAnchor="end">{shortDate(days.days[days.days.length - 1].date)}</text>}
      </svg>
      <figcaption>
        {label}: {days.mean} a day on average, {days.max} at most, {days.members} rep{days.members === 1 ? "" : "s"} in the team
        {days.capacity === null ? "; no capacity set for the team." : `; capacity ${days.capacity} a day${over ? `, exceeded on ${over} of ${days.business_days} days` : ", never exceeded"}.`}
      </figcaption>
    </figure>
  );
}

/** The flow drawn with the simulated counts on its steps. */
function SimCanvas({ flowId, doc, result }: { flowId: string; doc: FlowDoc; result: Simulation }) {
  const stats = useMemo(() => canvasStats(result), [result]);
  return <StatsCanvas flowId={flowId} doc={doc} stats={stats} className="simulate-canvas" testId="sim-canvas"
    label="The flow with how many leads entered each step" />;
}

/** The panel's shape while the draft loads: its heading, the form's fields and the run button. */
function SimulateSkeleton() {
  return (
    <div className="simulate" data-testid="simulate-loading">
      <h2>Simulate before launch</h2>
      <Skeleton rows={6} label="Loading the flow to simulate" />
    </div>
  );
}
