/** A modal confirmation that says what an action touches before it runs. */
import { useEffect, useRef, useState, type ReactNode } from "react";
import type { ApiError } from "../api";

export function Confirm({ title, children, action, danger, onConfirm, onClose, testId }: {
  title: string;
  children: ReactNode;
  action: string;
  danger?: boolean;
  onConfirm: () => Promise<void>;
  onClose: () => void;
  testId: string;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const el = dialog.current;
    if (el && !el.open) el.showModal();
  }, []);
  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      await onConfirm();
      onClose();
    } catch (err) {
      setError((err as ApiError).detail || String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <dialog ref={dialog} className="dialog" aria-labelledby={`${testId}-title`} onClose={onClose} data-testid={testId}>
      <h2 id={`${testId}-title`}>{title}</h2>
      <div>{children}</div>
      {error && <p className="error" role="alert">{error}</p>}
      <div className="row end">
        <button type="button" onClick={onClose}>Cancel</button>
        <button type="button" className={danger ? "danger" : "primary"} onClick={run} disabled={busy} data-testid={`${testId}-confirm`}>
          {busy ? "Working…" : action}
        </button>
      </div>
    </dialog>
  );
}

/** "1 lead", "12 leads". */
export function leads(n: number): string {
  return `${n.toLocaleString()} lead${n === 1 ? "" : "s"}`;
}
