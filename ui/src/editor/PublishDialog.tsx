/** Publish with a note; refused, with the list of problems, while any remain. */
import { useEffect, useRef, useState, type FormEvent } from "react";
import { api, ApiError, type Problem } from "../api";
import { ProblemList } from "./ProblemList";

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
      const result = await api<{ version: number }>(`/flows/${encodeURIComponent(flowId)}/publish`, { body: { note } });
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
