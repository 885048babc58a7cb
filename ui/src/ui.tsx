/** Small shared pieces of every screen: skeletons while loading, error and empty states. */
import type { ReactNode } from "react";
import type { ApiError } from "./api";
import type { Loaded } from "./hooks";
import { moment, type MomentStyle } from "./words";

/** Grey bars standing in for content that is on its way. */
export function Skeleton({ rows = 3, label = "Loading" }: { rows?: number; label?: string }) {
  return (
    <div className="skeleton" role="status" aria-label={label} data-testid="skeleton">
      {Array.from({ length: rows }, (_, i) => <div key={i} className="skeleton-bar" style={{ width: `${90 - (i % 3) * 15}%` }} />)}
    </div>
  );
}

/**
 * A flow canvas on its way: a toolbar bar, step cards on a grid and, with `side`, the side panel
 * (the editor, the live map and the migration preview while their flow loads).
 */
export function CanvasSkeleton({ label = "Loading the flow", side = true }: { label?: string; side?: boolean }) {
  const bar = (width: string, key?: number) => <div key={key} className="skeleton-bar" style={{ width }} />;
  return (
    <div className="skeleton canvas-skeleton" role="status" aria-label={label} data-testid="skeleton">
      {bar("55%")}
      <div className="canvas-skeleton-body">
        <div className="canvas-skeleton-canvas">
          {[0, 1, 2].map((i) => <div key={i} className="skeleton-card">{bar("70%")}{bar("45%")}</div>)}
        </div>
        {side && <div className="canvas-skeleton-side">{[90, 75, 60, 80].map((w, i) => bar(`${w}%`, i))}</div>}
      </div>
    </div>
  );
}

/** An error answer in a sentence, with a retry. */
export function ErrorState({ error, onRetry }: { error: ApiError; onRetry?: () => void }) {
  const text = error.status === 0
    ? "The server cannot be reached. Your work is kept; try again in a moment."
    : error.status >= 500
      ? `The server had a problem (${error.status}). Try again in a moment.`
      : error.status === 403
        ? "Your key's role may not see this."
        : error.detail || error.error;
  return (
    <div className="error-state" role="alert" data-testid="error-state">
      <p>{text}</p>
      {onRetry && <button type="button" onClick={onRetry}>Try again</button>}
    </div>
  );
}

/** Empty list: say so, and what to do. */
export function Empty({ children }: { children: ReactNode }) {
  return <div className="empty-state" data-testid="empty-state">{children}</div>;
}

/**
 * The three states of loaded data: skeleton while the first answer is on its way, an error with
 * a retry, an empty message, or the content.
 */
export function Load<T>({ state, empty, isEmpty, rows, children }: {
  state: Loaded<T>;
  empty?: ReactNode;
  isEmpty?: (data: T) => boolean;
  rows?: number;
  children: (data: T) => ReactNode;
}) {
  if (state.error && !state.data) return <ErrorState error={state.error} onRetry={state.reload} />;
  if (state.data === null) return <Skeleton rows={rows} />;
  const none = isEmpty ? isEmpty(state.data) : Array.isArray(state.data) && state.data.length === 0;
  return (
    <>
      {state.error && <ErrorState error={state.error} onRetry={state.reload} />}
      {none && empty ? <Empty>{empty}</Empty> : children(state.data)}
    </>
  );
}

/** Only the waiting and failing of loaded data: a skeleton before the first answer, an error with a retry. */
export function Pending({ state, rows = 3, label }: { state: Loaded<unknown>; rows?: number; label?: string }) {
  if (state.error) return <ErrorState error={state.error} onRetry={state.reload} />;
  if (state.data === null) return <Skeleton rows={rows} label={label} />;
  return null;
}

/** Saving feedback: what happened, in a sentence. */
export function Notice({ message }: { message: { text: string; bad?: boolean } | null }) {
  if (!message) return null;
  return <p role={message.bad ? "alert" : "status"} className={message.bad ? "error" : "notice"} data-testid="notice">{message.text}</p>;
}

/** "Ada Lovelace" or the e-mail when there is no name. */
export function personName(p: { first_name?: string | null; last_name?: string | null; email?: string | null; name?: string | null } | null | undefined): string {
  if (!p) return "";
  return p.name || [p.first_name, p.last_name].filter(Boolean).join(" ") || p.email || "";
}

/**
 * A date or time in words in the reader's zone ("3 min ago", "due in 2 h", "Thu 09:00"), with the
 * whole date as its tooltip: every page shows moments through this.
 */
export function When({ at, style = "ago", now, className, testId }: {
  at: string | Date | null | undefined;
  style?: MomentStyle;
  now?: Date;
  className?: string;
  testId?: string;
}) {
  if (!at) return null;
  const m = moment(at, style, now);
  return <time dateTime={m.iso} title={m.title} className={className} data-testid={testId}>{m.text}</time>;
}
