/**
 * Publish with a note; refused, with the list of problems, while any remain. Says beforehand how
 * many leads stay on the versions they run, and where to move them once the new one is out.
 */
import { useEffect, useRef, useState, type FormEvent } from "react";
import { api, ApiError, type Problem, type Schemas } from "../api";
import { Link } from "../router";
import { ProblemList } from "./ProblemList";

/** "3 leads run version 1" / "5 leads run versions 1 and 2". */
export function leadsOnVersions(list: Pick<Schemas["VersionRow"], "version" | "running">[]): { leads: number; text: string } {
  const on = list.filter((v) => v.running > 0).map((v) => v.version).sort((a, b) => a - b);
  const leads = list.reduce((a, v) => a + (v.running ?? 0), 0);
  const versions = on.length === 1 ? `version ${on[0]}` : `versions ${on.slice(0, -1).join(", ")} and ${on[on.length - 1]}`;
  return { leads, text: `${leads} lead${leads === 1 ? " runs" : "s run"} ${versions}` };
}

export function PublishDialog({ flowId, problems: known, prepare, onClose, onPublished, onShowProblem }: {
  flowId: string;
  problems: Problem[];
  /** Save the draft and validate it again; returns the problems found. */
  prepare: () => Promise<Problem[]>;
  onClose: () => void;
  onPublished: (version: number) => void;
  onShowProblem: (p: Problem) => void;
}) {
  const [note, setNote] = useState("");
  const [problems, setProblems] = useState<Problem[]>(known);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const dialog = useRef<HTMLDialogElement>(null);
  const [running, setRunning] = useState<Schemas["VersionRow"][] | null>(null);
  useEffect(() => {
    api<Schemas["VersionRow"][]>(`/flows/${encodeURIComponent(flowId)}/versions`)
      .then(setRunning)
      .catch(() => setRunning(null));
  }, [flowId]);
  const older = running ? leadsOnVersions(running) : null;

  useEffect(() => {
    const el = dialog.current;
    if (el && !el.open) el.showModal();
  }, []);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const found = await prepare();
      setProblems(found);
      if (found.length) return;
      const result = await api<Schemas["Published"]>(`/flows/${encodeURIComponent(flowId)}/publish`, { body: { note } });
      onPublished(result.version);
    } catch (err) {
      const e = err as ApiError;
      if (e.problems?.length) setProblems(e.problems);
      else setError(e.detail || String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <dialog ref={dialog} className="dialog" aria-labelledby="publish-title" onClose={onClose} data-testid="publish-dialog">
      <form onSubmit={submit}>
        <h2 id="publish-title">Publish a new version</h2>
        {problems.length > 0 && (
          <div role="alert" className="refused" data-testid="publish-refused">
            <p><strong>Publishing is refused</strong> while these {problems.length} problem(s) remain:</p>
            <ProblemList problems={problems} onPick={onShowProblem} />
          </div>
        )}
        {running && (
          <p className="muted" data-testid="publish-older">
            {!running.length ? "This is the first version: leads that enter from now on run it."
              : older && older.leads > 0 ? (
                <>{older.text}: they stay on it when you publish (each lead finishes the version it started).
                  {" "}Once published, you can <Link to={`/flows/${encodeURIComponent(flowId)}/migrate`}>move them to the new version</Link>.</>
              ) : "No lead runs an older version: every lead from now on runs the new one."}
          </p>
        )}
        <label htmlFor="publish-note">Note (what changed and why)</label>
        <textarea id="publish-note" data-testid="publish-note" value={note} rows={3} onChange={(e) => setNote(e.target.value)} />
        {error && <p className="error" role="alert">{error}</p>}
        <div className="row end">
          <button type="button" onClick={onClose}>Cancel</button>
          <button type="submit" className="primary" data-testid="publish-submit" disabled={busy}>
            {busy ? "Publishing…" : "Publish"}
          </button>
        </div>
      </form>
    </dialog>
  );
}
