/**
 * Reports that close the loop: what each source is worth, how the hand-over ratios move, why
 * sales sends leads back, and which A/B arm wins. Each as a chart with its table and a CSV.
 */
import { useState } from "react";
import { download, query, type ApiError, type Schemas } from "../api";
import { moment } from "../words";
import { Pending } from "../ui";
import { useApi } from "../hooks";
import { BarChart, StackedBars } from "../pages/charts";
import { money, type RejectionsReport, type SourcesReport, type TrendPeriod } from "./types";

function pct(value: number | null | undefined): string {
  return value === null || value === undefined ? "–" : `${Math.round(value * 1000) / 10}%`;
}

function CsvButton({ path, name, testId }: { path: string; name: string; testId: string }) {
  const [error, setError] = useState<string | null>(null);
  return (
    <>
      <button type="button" data-testid={testId} onClick={() => {
        setError(null);
        download(path, name).catch((err: ApiError) => setError(err.detail || String(err)));
      }}>Download CSV</button>
      {error && <span className="error" role="alert">{error}</span>}
    </>
  );
}

/** Two ratios per period as lines, with the periods along the bottom. */
export function RatioLines({ periods }: { periods: TrendPeriod[] }) {
  const width = 640, height = 220, left = 40, bottom = 30, top = 10;
  const inner = width - left - 20;
  const x = (i: number) => left + (periods.length <= 1 ? inner / 2 : (i * inner) / (periods.length - 1));
  const y = (v: number) => top + (1 - v) * (height - top - bottom);
  const line = (key: "mql_to_sal_ratio" | "sal_to_sql_ratio") =>
    periods.map((p, i) => (p[key] === null ? null : `${x(i)},${y(p[key] as number)}`)).filter(Boolean).join(" ");
  return (
    <figure className="chart">
      <svg role="img" aria-label="MQL to SAL and SAL to SQL ratios over time" viewBox={`0 0 ${width} ${height}`} width="100%" data-testid="trend-chart">
        <title>MQL → SAL and SAL → SQL over time</title>
        {[0, 0.5, 1].map((v) => (
          <g key={v}>
            <line x1={left} x2={width - 20} y1={y(v)} y2={y(v)} className="gridline" stroke="#e4e7ec" />
            <text x={left - 6} y={y(v) + 4} textAnchor="end" fontSize="11">{v * 100}%</text>
          </g>
        ))}
        <polyline points={line("mql_to_sal_ratio")} fill="none" stroke="#3056d3" strokeWidth="2.5" />
        <polyline points={line("sal_to_sql_ratio")} fill="none" stroke="#1c8c7a" strokeWidth="2.5" strokeDasharray="6 4" />
        {periods.map((p, i) => (
          <g key={`dots-${p.start}`}>
            {p.mql_to_sal_ratio !== null && <circle cx={x(i)} cy={y(p.mql_to_sal_ratio)} r="3.5" fill="#3056d3"><title>{`MQL → SAL ${pct(p.mql_to_sal_ratio)} of ${p.mql}`}</title></circle>}
            {p.sal_to_sql_ratio !== null && <circle cx={x(i)} cy={y(p.sal_to_sql_ratio)} r="3.5" fill="#1c8c7a"><title>{`SAL → SQL ${pct(p.sal_to_sql_ratio)} of ${p.sal}`}</title></circle>}
          </g>
        ))}
        {periods.map((p, i) => (i % Math.ceil(periods.length / 8) === 0 ? (
          <text key={p.start} x={x(i)} y={height - 8} textAnchor="middle" fontSize="11">{moment(p.start, "day").text}</text>
        ) : null))}
        <g transform={`translate(${left + 10}, ${top + 4})`}>
          <rect width="12" height="3" y="5" fill="#3056d3" /><text x="16" y="10" fontSize="11">MQL → SAL</text>
          <rect x="110" width="12" height="3" y="5" fill="#1c8c7a" /><text x="126" y="10" fontSize="11">SAL → SQL</text>
        </g>
      </svg>
    </figure>
  );
}

export function ValueReports() {
  const [period, setPeriod] = useState<"week" | "month">("week");
  const sources = useApi<SourcesReport>("/reports/sources");
  const trend = useApi<Schemas["FunnelTrend"]>(`/reports/funnel/trend${query({ period })}`);
  const rejections = useApi<RejectionsReport>("/reports/rejections");
  const experiments = useApi<Schemas["ExperimentReport"]>("/reports/experiments");
  const currency = sources.data?.currency ?? null;
  return (
    <div className="report" data-testid="value-reports">
      <h2>What each source is worth</h2>
      <div className="row"><CsvButton path="/reports/sources?format=csv" name="sources.csv" testId="sources-value-csv" /></div>
      <Pending state={sources} rows={4} label="Loading what each source is worth" />
      {sources.data?.sources.length === 0 && <p className="muted">No leads yet.</p>}
      {sources.data && sources.data.sources.length > 0 && (
        <>
          {sources.data.mixed_currencies && <p className="notice small">Amounts come in several currencies; revenue adds them as they are.</p>}
          <BarChart label={`Revenue by source${currency ? ` (${currency})` : ""}`} rows={sources.data.sources.map((s) => [s.source, s.revenue] as [string, number])} />
          <table data-testid="sources-value-table">
            <thead><tr><th>Source</th><th>Leads</th><th>MQL</th><th>SAL</th><th>SQL</th><th>Won</th><th>Revenue</th><th>Per lead</th><th>Win rate</th></tr></thead>
            <tbody>
              {sources.data.sources.map((s) => (
                <tr key={s.source}><td>{s.source}</td><td>{s.leads}</td><td>{s.MQL}</td><td>{s.SAL}</td><td>{s.SQL}</td><td>{s.won}</td>
                  <td>{money(s.revenue, currency)}</td><td>{money(s.revenue_per_lead, currency)}</td><td>{pct(s.win_rate)}</td></tr>
              ))}
            </tbody>
          </table>
        </>
      )}

      <h2>Hand-over ratios over time</h2>
      <div className="row">
        <label htmlFor="trend-period">Per</label>
        <select id="trend-period" value={period} onChange={(e) => setPeriod(e.target.value as "week" | "month")}>
          <option value="week">week</option><option value="month">month</option>
        </select>
        <CsvButton path={`/reports/funnel/trend${query({ period, format: "csv" })}`} name="funnel-trend.csv" testId="trend-csv" />
      </div>
      <Pending state={trend} />
      {trend.data && (trend.data.periods.every((p) => p.mql === 0 && p.sal === 0)
        ? <p className="muted">No lead became an MQL or SAL in these periods.</p>
        : <RatioLines periods={trend.data.periods} />)}

      <h2>Why sales sends leads back</h2>
      <div className="row"><CsvButton path="/reports/rejections?format=csv" name="rejections.csv" testId="rejections-csv" /></div>
      <Pending state={rejections} />
      {rejections.data?.total === 0 && <p className="muted">No lead has been rejected.</p>}
      {rejections.data && rejections.data.total > 0 && (() => {
        const reasons = rejections.data.reasons;
        const rows = (groups: { total: number; reasons: Record<string, number> }[], name: (g: never) => string) =>
          groups.map((g) => [name(g as never), reasons.map((r) => g.reasons[r.id] ?? 0)] as [string, number[]]);
        return (
          <div className="cards">
            <div className="card"><StackedBars label="Rejections by source" testId="rejections-by-source" series={reasons.map((r) => r.label)}
              colors={["s1", "s2", "s3", "s0"]} rows={rows(rejections.data.by_source, (g: { source: string }) => g.source)} /></div>
            <div className="card"><StackedBars label="Rejections by flow" testId="rejections-by-flow" series={reasons.map((r) => r.label)}
              colors={["s1", "s2", "s3", "s0"]} rows={rows(rejections.data.by_flow, (g: { flow_name: string }) => g.flow_name)} /></div>
          </div>
        );
      })()}

      <h2>A/B splits</h2>
      <div className="row"><CsvButton path="/reports/experiments?format=csv" name="experiments.csv" testId="experiments-csv" /></div>
      <Pending state={experiments} />
      {experiments.data?.experiments.length === 0 && <p className="muted">No published flow has a split step.</p>}
      {experiments.data?.experiments.map((e) => (
        <div key={`${e.flow_id}-${e.step}`} className="card" data-testid={`experiment-${e.flow_id}-${e.step}`}>
          <h3>{e.flow_name}: split “{e.step}”</h3>
          <p className={e.significant ? "good" : "muted"}>{e.sentence}</p>
          <table>
            <thead><tr><th>Arm</th><th>Leads</th><th>Opened</th><th>Clicked</th><th>Converted</th><th>Rate</th></tr></thead>
            <tbody>{e.arms.map((a) => (
              <tr key={a.arm} className={e.winner === a.arm ? "current" : ""}><td>{a.arm}</td><td>{a.leads}</td><td>{a.opened}</td><td>{a.clicked}</td><td>{a.conversions}</td><td>{pct(a.rate)}</td></tr>
            ))}</tbody>
          </table>
        </div>
      ))}
    </div>
  );
}
