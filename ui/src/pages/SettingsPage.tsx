/** Workspace settings (admin): sender, postal address, default send window. */
import { useEffect, useState, type FormEvent } from "react";
import { api, ApiError, type Schemas } from "../api";
import { ErrorState, Notice, Skeleton } from "../ui";

/** GET/PUT /api/settings/workspace. */
type Workspace = Schemas["Workspace"];
type Day = Schemas["SendWindow"]["days"][number];

const DAYS: Day[] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
/** The window a ticked box starts with; no timezone: each lead's own (the server's default). */
const WORKDAYS = { days: DAYS.slice(0, 5), from: "09:00", to: "17:00" } as Schemas["SendWindow"];

export function SettingsPage() {
  const [ws, setWs] = useState<Workspace | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [message, setMessage] = useState<{ text: string; bad?: boolean } | null>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    setError(null);
    api<Workspace>("/settings/workspace").then(setWs).catch(setError);
  }, [tick]);

  const save = async (event: FormEvent) => {
    event.preventDefault();
    if (!ws) return;
    try {
      setWs(await api<Workspace>("/settings/workspace", { method: "PUT", body: ws satisfies Schemas["WorkspaceChanges"] }));
      setMessage({ text: "Saved. Mails rendered from now on use these settings." });
    } catch (err) {
      const e = err as ApiError;
      setMessage({ text: e.problems.length ? e.problems.map((p) => p.message).join(" ") : e.detail, bad: true });
    }
  };

  const win = ws?.send_window ?? null;
  return (
    <section className="settings-page">
      <h1>Workspace settings</h1>
      {error && <ErrorState error={error} onRetry={() => setTick((t) => t + 1)} />}
      {!ws && !error && <Skeleton rows={6} />}
      {ws && (
        <form className="card narrow" onSubmit={save} data-testid="workspace-form">
          <h2>Sender</h2>
          <label htmlFor="ws-sender-name">Sender name</label>
          <input id="ws-sender-name" value={ws.sender_name ?? ""} required onChange={(e) => setWs({ ...ws, sender_name: e.target.value })} />
          <label htmlFor="ws-sender-address">Sender address</label>
          <input id="ws-sender-address" type="email" value={ws.sender_address} required onChange={(e) => setWs({ ...ws, sender_address: e.target.value })} />
          <label htmlFor="ws-postal">Postal address (every marketing mail shows it)</label>
          <textarea id="ws-postal" rows={2} value={ws.postal_address ?? ""} required onChange={(e) => setWs({ ...ws, postal_address: e.target.value })} />
          <h2>Default send window</h2>
          <p className="small muted">Flows without their own send window send only on these days and hours, in each lead's time zone.</p>
          <label className="inline">
            <input type="checkbox" checked={win !== null} onChange={(e) => setWs({ ...ws, send_window: e.target.checked ? WORKDAYS : null })} />
            Send only within a window
          </label>
          {win && (
            <>
              <div className="row">
                {DAYS.map((d) => (
                  <label key={d} className="inline">
                    <input type="checkbox" checked={(win.days ?? []).includes(d)}
                      onChange={(e) => setWs({ ...ws, send_window: { ...win, days: e.target.checked ? DAYS.filter((x) => x === d || (win.days ?? []).includes(x)) : (win.days ?? []).filter((x) => x !== d) } })} />
                    {d[0].toUpperCase() + d.slice(1)}
                  </label>
                ))}
              </div>
              <div className="row">
                <label htmlFor="ws-from">From</label>
                <input id="ws-from" type="time" value={win.from ?? "09:00"} onChange={(e) => setWs({ ...ws, send_window: { ...win, from: e.target.value } })} />
                <label htmlFor="ws-to">to</label>
                <input id="ws-to" type="time" value={win.to ?? "17:00"} onChange={(e) => setWs({ ...ws, send_window: { ...win, to: e.target.value } })} />
              </div>
            </>
          )}
          <div className="row"><button type="submit" className="primary" data-testid="ws-save">Save</button></div>
          <Notice message={message} />
        </form>
      )}
    </section>
  );
}
