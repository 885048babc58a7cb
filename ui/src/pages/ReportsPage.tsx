/** Funnel and SLA reports as charts and tables. */
import { useState } from "react";
import { query } from "../api";
import { useApi } from "../hooks";
import { ReportView } from "./charts";

export function ReportsPage() {
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const [source, setSource] = useState("");
  const funnel = useApi<unknown>(`/reports/funnel${query({ from, to, source })}`);
  const sla = useApi<unknown>("/reports/sla");
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
        <input id="funnel-source" value={source} onChange={(e) => setSource(e.target.value)} />
      </div>
      {funnel.error ? <p className="error">{funnel.error.detail}</p> : funnel.data !== null && <ReportView title="Funnel" data={funnel.data} />}
      <h2>Sales SLA</h2>
      {sla.error ? <p className="error">{sla.error.detail}</p> : sla.data !== null && <ReportView title="SLA" data={sla.data} />}
    </section>
  );
}
