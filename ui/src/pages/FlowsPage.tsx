/** All flows, a form to start a new one, and import of a flow file. */
import { useRef, useState, type ChangeEvent, type FormEvent } from "react";
import { api, ApiError, type Schemas } from "../api";
import { Empty, ErrorState, Skeleton, When } from "../ui";
import { useApi } from "../hooks";
import { Link, navigate } from "../router";

/** One row of GET /api/flows. */
type FlowSummary = Schemas["FlowRow"];

function slugify(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 64);
}

export function FlowsPage() {
  const flows = useApi<FlowSummary[]>("/flows");
  const [name, setName] = useState("");
  const [id, setId] = useState("");
  const [idEdited, setIdEdited] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const fileInput = useRef<HTMLInputElement>(null);

  const create = async (doc: Record<string, unknown>) => {
    setError(null);
    try {
      await api(`/flows?allow_invalid=true`, { body: doc });
      navigate(`/flows/${encodeURIComponent(String(doc.id))}`);
    } catch (err) {
      const e = err as ApiError;
      if (e.status === 409 && window.confirm(`A flow "${String(doc.id)}" exists. Replace its draft with this file?`)) {
        await api(`/flows/${encodeURIComponent(String(doc.id))}?allow_invalid=true`, { method: "PUT", body: doc });
        navigate(`/flows/${encodeURIComponent(String(doc.id))}`);
        return;
      }
      setError(e.detail || String(err));
    }
  };

  const submit = (event: FormEvent) => {
    event.preventDefault();
    // No entry rule yet: a new flow enrols leads only by hand until the marketer picks an event.
    void create({ id: id || slugify(name), name, description: "", steps: {} });
  };

  const importFile = async (event: ChangeEvent<HTMLInputElement>) => {
    const file = event.target.files?.[0];
    event.target.value = "";
    if (!file) return;
    try {
      const doc = JSON.parse(await file.text()) as Record<string, unknown>;
      if (typeof doc.id !== "string") throw new Error("The file has no flow id.");
      await create(doc);
    } catch (err) {
      setError((err as Error).message);
    }
  };

  return (
    <section className="flows-page">
      <h1>Flows</h1>
      {flows.error && <ErrorState error={flows.error} onRetry={flows.reload} />}
      {!flows.data && !flows.error && <Skeleton rows={4} label="Loading flows" />}
      {flows.data?.length === 0 && <Empty><p>No flows yet: start one below, or import a flow file.</p></Empty>}
      {!!flows.data?.length && (
        <table data-testid="flows-table" className="responsive">
          <thead>
            <tr><th>Flow</th><th>Version</th><th>Leads in it</th><th>Edited</th><th></th></tr>
          </thead>
          <tbody>
            {flows.data.map((f) => (
              <tr key={f.id}>
                <td data-label="Flow">
                  <Link to={`/flows/${encodeURIComponent(f.id)}`}>{f.name || f.id}</Link>
                  {f.description ? <div className="muted small">{f.description}</div> : null}
                </td>
                <td data-label="Version" data-testid={`flow-version-${f.id}`}>
                  {f.latest_version ? <>v{f.latest_version} live</> : <span className="muted">never published</span>}
                  {f.latest_version && f.draft_changed ? <span className="pill due_soon"> draft has unpublished changes</span> : null}
                </td>
                <td data-label="Leads in it">{f.running ?? 0} running</td>
                <td data-label="Edited"><When at={f.updated_at} /></td>
                <td>
                  {f.latest_version ? <Link to={`/flows/${encodeURIComponent(f.id)}/live`}>Live map</Link> : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div className="cards">
        <form className="card" onSubmit={submit} aria-labelledby="new-flow-title">
          <h2 id="new-flow-title">New flow</h2>
          <label htmlFor="new-flow-name">Name</label>
          <input id="new-flow-name" data-testid="new-flow-name" value={name} required
            onChange={(e) => {
              setName(e.target.value);
              if (!idEdited) setId(slugify(e.target.value));
            }} />
          <label htmlFor="new-flow-id">Id (lowercase letters, digits, dashes; never changes)</label>
          <input id="new-flow-id" data-testid="new-flow-id" value={id} pattern="[a-z0-9][a-z0-9\-]{0,63}" required
            onChange={(e) => {
              setId(e.target.value);
              setIdEdited(true);
            }} />
          <button type="submit" className="primary" data-testid="new-flow-create">Create and open</button>
        </form>
        <div className="card">
          <h2>Import</h2>
          <p>Open a flow file (flow-format JSON, e.g. from <code>flows/</code>); it is drawn in the editor.</p>
          <button type="button" onClick={() => fileInput.current?.click()}>Import a flow file…</button>
          <input ref={fileInput} type="file" accept=".json,application/json" hidden aria-label="Flow file to import" onChange={importFile} />
        </div>
      </div>
      {error && <p className="error" role="alert">{error}</p>}
    </section>
  );
}
