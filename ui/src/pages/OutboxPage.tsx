/** The outbox: e-mails the local backend captured, rendered as the lead sees them. */
import { useState } from "react";
import { query, type Schemas } from "../api";
import { withoutTracking } from "../mail";
import { Empty, ErrorState, Skeleton, When } from "../ui";
import { useApi } from "../hooks";
import { Link, useLocation } from "../router";

/** A row of GET /api/outbox: a mail as the outbox backend recorded it. */
type OutboxMail = Schemas["OutboxMail"];

/** A rendered mail in a sandboxed frame (no scripts, no tracking). */
export function MailFrame({ html, title }: { html: string | null; title: string }) {
  return <iframe title={title} sandbox="" srcDoc={withoutTracking(html ?? "<p>(no HTML part)</p>")} className="mail-frame" />;
}

export function OutboxPage() {
  const { params } = useLocation();
  const [leadId, setLeadId] = useState(params.get("lead_id") ?? "");
  const [flowId, setFlowId] = useState(params.get("flow_id") ?? "");
  const mails = useApi<OutboxMail[]>(`/outbox${query({ lead_id: leadId, flow_id: flowId })}`, 5000);
  const [openId, setOpenId] = useState<string | null>(null);
  const [view, setView] = useState<"html" | "text">("html");
  const open = mails.data?.find((m) => m.send_id === openId) ?? mails.data?.[0] ?? null;
  const flows = useApi<Schemas["FlowRow"][]>("/flows");
  const flowName = (fid: string | null) => (fid ? flows.data?.find((f) => f.id === fid)?.name ?? fid : "");

  return (
    <section className="outbox">
      <h1>Outbox</h1>
      <div className="row">
        <label htmlFor="outbox-flow">Flow</label>
        <select id="outbox-flow" value={flowId} onChange={(e) => setFlowId(e.target.value)}>
          <option value="">all flows</option>
          {flowId && !flows.data?.some((f) => f.id === flowId) && <option value={flowId}>{flowId}</option>}
          {(flows.data ?? []).map((f) => <option key={f.id} value={f.id}>{f.name || f.id}</option>)}
        </select>
        {leadId && <span className="pill">one lead <button type="button" className="link-button" onClick={() => setLeadId("")}>show all</button></span>}
      </div>
      {mails.error && !mails.data && <ErrorState error={mails.error} onRetry={mails.reload} />}
      {!mails.data && !mails.error && <Skeleton rows={5} />}
      <div className="split-view">
        <ul className="mail-list" aria-label="Sent e-mails" data-testid="outbox-list">
          {mails.data?.length === 0 && <li><Empty><p>No e-mails yet{leadId || flowId ? " for this choice" : ""}. Mail a flow sends shows up here.</p></Empty></li>}
          {mails.data?.map((m) => (
            <li key={m.send_id}>
              <button type="button" className={`mail-item${open?.send_id === m.send_id ? " active" : ""}`}
                aria-pressed={open?.send_id === m.send_id} onClick={() => setOpenId(m.send_id)}>
                <strong>{m.subject}</strong>
                <span className="small">to {m.to} · <When at={m.sent_at} style="at" /></span>
                <span className="small muted">{[flowName(m.flow_id), m.step, m.status !== "sent" ? m.status : ""].filter(Boolean).join(" · ")}</span>
              </button>
            </li>
          ))}
        </ul>
        {open && (
          <article className="mail-view" aria-label={`E-mail: ${open.subject}`}>
            <header>
              <h2>{open.subject}</h2>
              <p className="small">To {open.to}{open.lead_id && <> · <Link to={`/leads/${encodeURIComponent(open.lead_id)}`}>lead</Link></>}
                {open.flow_id && <> · <Link to={`/flows/${encodeURIComponent(open.flow_id)}/live`}>{flowName(open.flow_id)}</Link>{open.step ? ` / ${open.step}` : ""}</>}</p>
              <div role="tablist" className="tabs" aria-label="Format">
                <button role="tab" type="button" aria-selected={view === "html"} onClick={() => setView("html")}>HTML</button>
                <button role="tab" type="button" aria-selected={view === "text"} onClick={() => setView("text")}>Plain text</button>
              </div>
            </header>
            {view === "html" ? (
              <MailFrame title={`Rendered e-mail: ${open.subject}`} html={open.html} />
            ) : (
              <pre className="mail-text">{open.text ?? "(no text part)"}</pre>
            )}
          </article>
        )}
      </div>
    </section>
  );
}
