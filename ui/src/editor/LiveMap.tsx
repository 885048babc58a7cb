/** The live map: a published version drawn with where its leads are now. */
import { Background, Controls, ReactFlow, ReactFlowProvider } from "@xyflow/react";
import { useEffect, useMemo, useState } from "react";
import { api, type Schemas } from "../api";
import { useNow } from "../hooks";
import { usePickers } from "../pages/FlowStudio";
import { dayTime, waitingReason } from "../words";
import { stepsOf, toGraph, type VersionDoc } from "../graph";
import { useApi } from "../hooks";
import { Link, navigate, useLocation } from "../router";
import { CanvasSkeleton, Empty, ErrorState, Skeleton } from "../ui";
import { buildCanvas, readableView } from "./canvas";
import { currentRoutes, layoutWithRoutes, placeMissing, savedDirection, type Positions, type Routes } from "./layout";
import { edgeTypes } from "./RoutedEdge";
import { nodeTypes, type StepStats } from "./StepNode";

/** GET /api/flows/{id}/stats: counts per step and per edge of one version. */
type Stats = Schemas["FlowStats"];
/** GET /api/flows/{id}/steps/{step}/leads: a lead waiting at the step, and why. */
type WaitingLead = Schemas["WaitingLead"];

export function LiveMap({ flowId }: { flowId: string }) {
  const id = encodeURIComponent(flowId);
  const { params } = useLocation();
  const versions = useApi<Schemas["VersionRow"][]>(`/flows/${id}/versions`, 5000);
  const latest = versions.data?.length ? Math.max(...versions.data.map((v) => v.version)) : null;
  const version = params.get("version") ? Number(params.get("version")) : latest;
  const versionDoc = useApi<VersionDoc>(version ? `/flows/${id}/versions/${version}` : null);
  const stats = useApi<Stats>(version ? `/flows/${id}/stats?version=${version}` : null, 2000);
  const [layout, setLayout] = useState<Positions | null>(null);
  const [routes, setRoutes] = useState<Routes>({});
  const [step, setStep] = useState<string | null>(null);
  const pickers = usePickers();

  const doc = versionDoc.data?.document ?? null;
  useEffect(() => {
    if (!doc) return;
    let cancelled = false;
    api<Schemas["Layout"]>(`/flows/${id}/layout`)
      .catch((): Schemas["Layout"] => ({ positions: {} }))
      .then(async (saved) => {
        const graph = toGraph(doc);
        const have = saved?.positions ?? {};
        const known = graph.nodes.filter((n) => have[n.id]).length;
        const laid = await layoutWithRoutes(graph.nodes, graph.edges, doc.start, savedDirection(flowId));
        const positions = known ? placeMissing(graph.nodes, have) : laid.positions;
        if (cancelled) return;
        setLayout(positions);
        // Saved places that are the automatic layout's keep its routes around the steps.
        setRoutes(currentRoutes(laid, positions, graph.edges));
      });
    return () => {
      cancelled = true;
    };
  }, [doc, id]);

  const canvas = useMemo(
    () => (doc && layout ? buildCanvas({ doc, positions: layout, routes, direction: savedDirection(flowId), stats: stats.data?.steps ?? {}, selected: new Set(step ? [step] : []), words: pickers.words, transitions: stats.data?.transitions, edgeCounts: stats.data?.edges }) : null),
    [doc, layout, routes, stats.data, step, pickers.words],
  );

  if (versions.error && !versions.data) return <ErrorState error={versions.error} onRetry={versions.reload} />;
  if (!versions.data) return <CanvasSkeleton label="Loading the live map" />;
  if (!versions.data.length) {
    return (
      <Empty><p className="live-empty">This flow has not been published yet, so no lead runs it.{" "}
        <Link to={`/flows/${id}`}>Open the editor</Link> and publish it; its leads then show here step by step.</p></Empty>
    );
  }
  const journeys = stats.data?.journeys ?? {};
  // Nobody on the map: no journey running this version and nobody waiting at any step.
  const nobody = !!stats.data && !journeys.running && Object.values(stats.data.steps ?? {}).every((s) => !s.waiting);
  return (
    <div className="live">
      <div className="toolbar" role="toolbar" aria-label="Live map">
        <label htmlFor="live-version">Version</label>
        <select id="live-version" value={version ?? ""} onChange={(e) => navigate(`/flows/${id}/live?version=${e.target.value}`, true)}>
          {(versions.data ?? []).slice().sort((a, b) => b.version - a.version).map((v) => (
            <option key={v.version} value={v.version}>v{v.version} ({v.running} running)</option>
          ))}
        </select>
        <span className="journeys" data-testid="journey-counts">
          {["running", "completed", "exited", "failed"].map((k) => (
            <span key={k} className={`pill ${k}`}>{journeys[k] ?? 0} {k}</span>
          ))}
        </span>
        <span className="muted small">{stats.loading ? "updating…" : "updates every 2 s"}</span>
        {stats.error && <span className="error">{stats.error.detail}</span>}
      </div>
      {nobody && (
        <Empty><p data-testid="live-nobody">Nobody is in version {version} right now. Leads enrol when they match the flow's
          entry rule, or enrol one from its lead page; they show here as they move.</p></Empty>
      )}
      <div className="editor-body">
        <div className="canvas" data-testid="live-canvas">
          {!canvas && (versionDoc.error
            ? <ErrorState error={versionDoc.error} onRetry={versionDoc.reload} />
            : <CanvasSkeleton label="Drawing the live map" side={false} />)}
          {canvas && (
            <ReactFlowProvider>
              <ReactFlow nodes={canvas.nodes} edges={canvas.edges} nodeTypes={nodeTypes} edgeTypes={edgeTypes} nodesDraggable={false}
                nodesConnectable={false} proOptions={{ hideAttribution: true }}
                // Readable on open, the start step always in view (never cut off at small widths).
                onInit={(instance) => window.setTimeout(() => readableView(instance, document.querySelector('[data-testid="live-canvas"] .react-flow')?.getBoundingClientRect(), doc?.start), 30)}
                onNodeClick={(_, node) => setStep(node.id)} onPaneClick={() => setStep(null)} deleteKeyCode={null}
                onNodesChange={(changes) => {
                  // Enter on a focused node selects it: list its leads, as a click does.
                  for (const c of changes) if (c.type === "select" && c.selected) setStep(c.id);
                }}>
                <Background gap={16} />
                <Controls showInteractive={false} />
              </ReactFlow>
            </ReactFlowProvider>
          )}
        </div>
        <div className="side">
          {step && doc && step in stepsOf(doc) ? (
            <WaitingLeads flowId={flowId} step={step} stats={stats.data?.steps?.[step]} />
          ) : (
            <section className="panel">
              <h2>Live map</h2>
              <p>Each step shows the leads waiting there now, the leads that passed, e-mails sent with open and click
                rates, and conversions at exits. Select a step (click, or Tab and Enter) to list the leads waiting there.</p>
            </section>
          )}
        </div>
      </div>
    </div>
  );
}

function WaitingLeads({ flowId, step, stats }: { flowId: string; step: string; stats?: StepStats }) {
  const leads = useApi<WaitingLead[]>(`/flows/${encodeURIComponent(flowId)}/steps/${encodeURIComponent(step)}/leads`, 3000);
  const now = useNow(30_000);
  return (
    <section className="panel" aria-label={`Leads waiting at ${step}`} data-testid="waiting-leads">
      <h2>At step “{step}”</h2>
      {stats && (
        <dl className="stats">
          {Object.entries(stats).filter(([, v]) => typeof v === "number" || v === null).map(([k, v]) => (
            <div key={k}><dt>{k.replace(/_/g, " ")}</dt><dd>{v == null ? "–" : k.endsWith("rate") && typeof v === "number" ? `${Math.round(v * (v <= 1 ? 100 : 1))}%` : String(v)}</dd></div>
          ))}
        </dl>
      )}
      <h3>Leads here now, and why they wait</h3>
      {leads.error && <ErrorState error={leads.error} onRetry={leads.reload} />}
      {!leads.data && !leads.error && <Skeleton rows={3} label="Loading the leads at this step" />}
      {leads.data && !leads.data.length && <p className="muted">No lead is waiting here now.</p>}
      {leads.data && leads.data.length > 0 && (
        <ul className="lead-list">
          {leads.data.map((l) => (
            <li key={l.journey_id}>
              <Link to={`/leads/${encodeURIComponent(l.lead_id)}`}>{l.name || l.email || l.lead_id}</Link>
              {l.name && <span className="muted small"> {l.email}</span>}
              <div className="small" data-testid={`why-${l.lead_id}`}>{waitingReason(l.waiting, now) || "waiting"}
                <span className="muted"> · here since {dayTime(l.since, now)}{l.version ? `, version ${l.version}` : ""}</span></div>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
