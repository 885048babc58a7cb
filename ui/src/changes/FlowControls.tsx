/** Pause, resume and stop a flow, each confirmed with the number of leads it touches. */
import { useState } from "react";
import { api, type Schemas } from "../api";
import { useApi } from "../hooks";
import { Confirm, leads } from "./Confirm";

/** GET /api/flows/{id}/state. */
type FlowState = Schemas["FlowState"];

const WORDS: Record<FlowState["state"], string> = {
  active: "Running: new leads enrol and mails go out.",
  paused: "Paused: nobody enrols, and leads hold before their next mail.",
  stopped: "Stopped: every lead left; publish again to restart.",
};

export function FlowControls({ flowId }: { flowId: string }) {
  const id = encodeURIComponent(flowId);
  const state = useApi<FlowState>(`/flows/${id}/state`, 5000);
  const [asking, setAsking] = useState<"pause" | "resume" | "stop" | null>(null);
  const s = state.data;
  const act = async (what: string) => {
    await api(`/flows/${id}/${what}`, { method: "POST" });
    state.reload();
  };
  if (state.error) return <p className="error small" role="alert">{state.error.status === 404 ? "" : state.error.detail}</p>;
  if (!s) return <p className="muted small" data-testid="flow-controls-loading">Loading the flow's state…</p>;
  return (
    <div className="flow-controls row" role="group" aria-label="Flow controls" data-testid="flow-controls">
      <span className={`pill ${s.state === "active" ? "running" : s.state === "paused" ? "warm" : "failed"}`} data-testid="flow-state">
        {s.state}
      </span>
      <span className="muted small">{WORDS[s.state]} {leads(s.running)} in it now{s.held ? `, ${s.held} held` : ""}.</span>
      {s.state === "active" && <button type="button" onClick={() => setAsking("pause")} data-testid="flow-pause">Pause</button>}
      {s.state === "paused" && <button type="button" onClick={() => setAsking("resume")} data-testid="flow-resume">Resume</button>}
      {s.state !== "stopped" && <button type="button" className="danger" onClick={() => setAsking("stop")} data-testid="flow-stop">Stop</button>}
      {asking === "pause" && (
        <Confirm title="Pause this flow?" action="Pause" testId="confirm-pause" onClose={() => setAsking(null)} onConfirm={() => act("pause")}>
          <p>Nobody new enrols. The {leads(s.running)} in it now stay where they are and hold before their next mail until you
            resume.</p>
        </Confirm>
      )}
      {asking === "resume" && (
        <Confirm title="Resume this flow?" action="Resume" testId="confirm-resume" onClose={() => setAsking(null)} onConfirm={() => act("resume")}>
          <p>Leads enrol again, and the {leads(s.held)} held before a mail get it now.</p>
        </Confirm>
      )}
      {asking === "stop" && (
        <Confirm title="Stop this flow?" action={`Stop and take ${leads(s.running)} out`} danger testId="confirm-stop"
          onClose={() => setAsking(null)} onConfirm={() => act("stop")}>
          <p>All {leads(s.running)} in this flow leave it now (as “stopped”) and get no more of its mails. Nobody enrols until
            you publish it again. This cannot be undone.</p>
        </Confirm>
      )}
    </div>
  );
}
