/**
 * The scoring model: the version in force as JSON, saved as a new version through PUT /api/scoring
 * (the server checks it and answers every problem at once), and the list of versions.
 */
import { PredictivePanel } from "../loop/PredictivePanel";
import { RejectionReasonsEditor } from "../loop/RejectionReasonsEditor";
import { useEffect, useState } from "react";
import { api, ApiError, type Problem, type Schemas } from "../api";
import { Pending, When } from "../ui";
import { useApi } from "../hooks";
import { ScoringBuilder } from "./ScoringBuilder";
import { temporalLink, useSession } from "../session";

type ModelVersion = Schemas["ScoringVersion"];
type Current = Schemas["ScoringModelPublic"];

/** Read the editor's text: the document, or why it is not JSON. */
export function parseModel(text: string): { doc: unknown } | { error: string } {
  try {
    return { doc: JSON.parse(text) };
  } catch (err) {
    return { error: `Not valid JSON: ${(err as Error).message}` };
  }
}

export function ScoringPage() {
  const meta = useSession();
  const current = useApi<Current>("/scoring");
  const versions = useApi<ModelVersion[]>("/scoring/versions");
  const [text, setText] = useState<string | null>(null);
  const [problems, setProblems] = useState<Problem[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState<{ version: number; workflowId: string | null } | null>(null);
  const [viewing, setViewing] = useState<number | null>(null);

  // Start editing from the model in force, once it arrives.
  useEffect(() => {
    if (current.data && text === null) setText(JSON.stringify(current.data.model, null, 2));
  }, [current.data, text]);

  const save = async () => {
    setError(null);
    setProblems([]);
    setSaved(null);
    const parsed = parseModel(text ?? "");
    if ("error" in parsed) {
      setError(parsed.error);
      return;
    }
    try {
      const out = await api<Schemas["ScoringModelSaved"]>("/scoring", { method: "PUT", body: parsed.doc });
      setSaved({ version: out.version, workflowId: out.rescore?.workflow_id ?? null });
      setText(JSON.stringify(out.model, null, 2));
      current.reload();
      versions.reload();
    } catch (err) {
      const e = err as ApiError;
      setError(e.detail);
      setProblems(e.problems);
    }
  };

  const dirty = current.data !== null && text !== null && text !== JSON.stringify(current.data.model, null, 2);
  const rescoreLink = saved?.workflowId ? temporalLink(meta, saved.workflowId) : null;
  const shown = versions.data?.find((v) => v.version === viewing);

  return (
    <section className="scoring-page">
      <h1>Scoring model</h1>
      <Pending state={current} rows={8} label="Loading the scoring model" />
      {current.data && (
        <p data-testid="scoring-current">
          In force: <strong>version {current.data.version}</strong>
          {current.data.default ? " (the built-in model)" : current.data.created_at ? <>, saved <When at={current.data.created_at} style="at" /></> : ""}.
          {" "}Fit rules score who the lead is; behaviour points score what it does and decay with the half-life;
          the temperature thresholds and <code>mql_at</code> read the total.
        </p>
      )}
      <div className="cards">
        <div className="card wide">
          {text !== null && (() => {
            const parsed = parseModel(text);
            return "doc" in parsed
              ? <ScoringBuilder model={parsed.doc} onChange={(next) => setText(JSON.stringify(next, null, 2))} />
              : <p className="error">The JSON below does not parse: {parsed.error}</p>;
          })()}
          <label htmlFor="scoring-json"><strong>The same model as JSON</strong></label>
          <textarea id="scoring-json" data-testid="scoring-json" spellCheck={false} rows={26} value={text ?? ""}
            aria-invalid={problems.length || error ? true : undefined} onChange={(e) => setText(e.target.value)} />
          <div className="row">
            <button type="button" className="primary" data-testid="scoring-save" disabled={!dirty} onClick={() => void save()}>
              Save as a new version
            </button>
            <button type="button" disabled={!dirty} onClick={() => setText(JSON.stringify(current.data?.model, null, 2))}>Discard changes</button>
            {dirty && <span className="muted">Unsaved changes</span>}
          </div>
          {error && (
            <div className="error" role="alert" data-testid="scoring-problems">
              <p>{error}</p>
              {problems.length > 0 && <ul>{problems.map((p, i) => <li key={i}><code>{p.path || "(model)"}</code> {p.message}</li>)}</ul>}
            </div>
          )}
          {saved && (
            <p className="good" role="status" data-testid="scoring-saved">
              Saved version {saved.version}. Every lead is being re-scored in the background
              {saved.workflowId && <> ({rescoreLink ? <a href={rescoreLink} target="_blank" rel="noreferrer">{saved.workflowId}</a> : <code>{saved.workflowId}</code>})</>}.
            </p>
          )}
        </div>
        <div className="card">
          <h2>Versions</h2>
          <Pending state={versions} label="Loading the versions" />
          <table data-testid="scoring-versions">
            <thead><tr><th>Version</th><th>Saved</th><th></th></tr></thead>
            <tbody>
              {(versions.data ?? []).map((v) => (
                <tr key={v.version} className={v.current ? "current" : ""}>
                  <td>v{v.version}{v.version === 0 ? " (built-in)" : ""}{v.current ? <span className="pill good"> in force</span> : null}</td>
                  <td>{v.created_at ? <When at={v.created_at} style="at" /> : "—"}</td>
                  <td>
                    <button type="button" onClick={() => setViewing(viewing === v.version ? null : v.version)}
                      aria-expanded={viewing === v.version}>{viewing === v.version ? "Hide" : "Show"}</button>{" "}
                    {!v.current && (
                      <button type="button" onClick={() => setText(JSON.stringify(v.model, null, 2))}
                        title="Copy this version into the editor; saving makes it a new version">Edit from this</button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {shown && <pre className="json small" data-testid="scoring-version-doc">{JSON.stringify(shown.model, null, 2)}</pre>}
        </div>
      </div>
      <div className="cards">
        <PredictivePanel />
        <RejectionReasonsEditor />
      </div>
    </section>
  );
}
