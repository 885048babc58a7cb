/** One flow: the editor (/flows/{id}), its versions (/flows/{id}/versions) and the live map (/flows/{id}/live). */
import { useEffect, useState } from "react";
import { api, ApiError, type Schemas } from "../api";
import type { FlowDoc } from "../graph";
import { Editor } from "../editor/Editor";
import { SimulatePanel } from "../simulate/SimulatePanel";
import type { Positions } from "../editor/layout";
import { LiveMap } from "../editor/LiveMap";
import type { Pickers } from "../editor/StepPanel";
import { Versions } from "../editor/Versions";
import { FlowControls } from "../changes/FlowControls";
import { MigratePanel } from "../changes/MigratePanel";
import { pickerChoices, type RepRow, type TeamRow, type TemplateRow } from "../pickers";
import { Link, navigate } from "../router";
import { CanvasSkeleton, ErrorState } from "../ui";

interface Loaded {
  doc: FlowDoc;
  positions: Positions;
}

/**
 * Templates, teams and reps for the side panel's pickers. Teams and reps are admin-only in the
 * API: for a marketer key those lists stay empty and the panel offers text fields instead.
 */
export function usePickers(): Pickers {
  const [pickers, setPickers] = useState<Pickers>({ templates: [], teams: [], reps: [] });
  useEffect(() => {
    const list = <T,>(r: PromiseSettledResult<T[]>): T[] => (r.status === "fulfilled" && Array.isArray(r.value) ? r.value : []);
    Promise.allSettled([api<TemplateRow[]>("/templates"), api<TeamRow[]>("/teams"), api<RepRow[]>("/reps")])
      .then(([templates, teams, reps]) => setPickers(pickerChoices(list(templates), list(teams), list(reps))));
  }, []);
  return pickers;
}

export function FlowStudio({ flowId, tab }: { flowId: string; tab: string }) {
  const [loaded, setLoaded] = useState<Loaded | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [attempt, setAttempt] = useState(0);
  const [published, setPublished] = useState<number | null>(null);
  const [onOlder, setOnOlder] = useState<number | null>(null);
  const pickers = usePickers();

  // After a publish: how many leads stay on older versions (they finish the version they started).
  useEffect(() => {
    if (published === null) return;
    setOnOlder(null);
    api<Schemas["VersionRow"][]>(`/flows/${encodeURIComponent(flowId)}/versions`)
      .then((list) => setOnOlder(list.filter((v) => v.version < published).reduce((a, v) => a + (v.running ?? 0), 0)))
      .catch(() => undefined);
  }, [published, flowId]);

  useEffect(() => {
    // Loaded on every tab (the header shows the flow's name); the editor starts from a fresh copy.
    setLoaded(null);
    setError(null);
    const id = encodeURIComponent(flowId);
    Promise.all([
      api<FlowDoc>(`/flows/${id}`),
      api<Schemas["Layout"]>(`/flows/${id}/layout`).catch((): Schemas["Layout"] => ({ positions: {} })),
    ])
      .then(([doc, layout]) => setLoaded({ doc, positions: layout?.positions ?? {} }))
      .catch(setError);
  }, [flowId, tab, attempt]);

  const base = `/flows/${encodeURIComponent(flowId)}`;
  const tabs: [string, string, string][] = [["editor", base, "Editor"], ["versions", `${base}/versions`, "Versions"], ["live", `${base}/live`, "Live map"], ["migrate", `${base}/migrate`, "Migrate leads"], ["simulate", `${base}/simulate`, "Simulate"]];
  const name = loaded && typeof loaded.doc.name === "string" ? loaded.doc.name : flowId;

  return (
    <section className="studio">
      <header className="studio-head">
        <h1><Link to="/flows" className="muted">Flows</Link> / {name}</h1>
        <nav aria-label="Flow" className="tabs">
          {tabs.map(([key, to, label]) => (
            <Link key={key} to={to} className={tab === key ? "active" : ""} aria-current={tab === key ? "page" : undefined}
              data-testid={`flow-tab-${key}`}>{label}</Link>
          ))}
        </nav>
        <FlowControls flowId={flowId} />
        {published !== null && (
          <p className="good" role="status" data-testid="published">
            Published version {published}. <Link to={`${base}/live`}>Watch it on the live map</Link>
            {onOlder !== null && onOlder > 0 && (
              <span data-testid="published-older"> · {onOlder} lead{onOlder === 1 ? " stays" : "s stay"} on older versions.{" "}
                <Link to={`${base}/migrate`}>Move them to version {published}</Link></span>
            )}
            {onOlder === 0 && published > 1 && <span data-testid="published-older"> · No lead is on an older version.</span>}
          </p>
        )}
      </header>
      {tab === "editor" && error && (error.status === 404
        ? <p className="error" role="alert">There is no flow “{flowId}”. <Link to="/flows">All flows</Link></p>
        : <ErrorState error={error} onRetry={() => setAttempt((n) => n + 1)} />)}
      {tab === "editor" && !error && !loaded && <CanvasSkeleton label="Loading the flow" />}
      {tab === "editor" && loaded && (
        <Editor flowId={flowId} initialDoc={loaded.doc} initialPositions={loaded.positions} pickers={pickers}
          onPublished={setPublished} published={published} />
      )}
      {tab === "versions" && <Versions flowId={flowId} />}
      {tab === "live" && <LiveMap flowId={flowId} />}
      {tab === "migrate" && <MigratePanel flowId={flowId} />}
      {tab === "simulate" && <SimulatePanel flowId={flowId} />}
      {!["editor", "versions", "live", "migrate", "simulate"].includes(tab) && (
        <p>Unknown tab. <button type="button" onClick={() => navigate(base)}>Open the editor</button></p>
      )}
    </section>
  );
}
