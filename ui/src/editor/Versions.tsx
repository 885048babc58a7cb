/** Version history of a flow, running counts, and a diff between any two versions (or the draft). */
import { useEffect, useMemo, useState } from "react";
import { api, ApiError, type Schemas } from "../api";
import type { FlowDoc, VersionDoc } from "../graph";
import { canonicalJson, changesInWords, diffLines } from "../diff";
import { Empty, ErrorState, Skeleton, When } from "../ui";
import { useApi } from "../hooks";
import { Link } from "../router";
import { PinnedTemplates } from "../changes/PinnedTemplates";
import { usePickers } from "../pages/FlowStudio";

export function Versions({ flowId }: { flowId: string }) {
  const id = encodeURIComponent(flowId);
  const versions = useApi<Schemas["VersionRow"][]>(`/flows/${id}/versions`);
  const list = useMemo(() => [...(versions.data ?? [])].sort((a, b) => b.version - a.version), [versions.data]);
  const [left, setLeft] = useState<string>("");
  const [right, setRight] = useState<string>("");
  const [docs, setDocs] = useState<Record<string, FlowDoc>>({});
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    if (!list.length) return;
    setRight((r) => r || String(list[0].version));
    setLeft((l) => l || (list[1] ? String(list[1].version) : "draft"));
  }, [list]);

  useEffect(() => {
    for (const which of [left, right]) {
      if (!which || docs[which]) continue;
      const doc = which === "draft" ? api<FlowDoc>(`/flows/${id}`)
        : api<VersionDoc>(`/flows/${id}/versions/${which}`).then((v) => v.document);
      doc
        .then((body) => setDocs((d) => ({ ...d, [which]: body })))
        .catch((err: ApiError) => setError(err.detail));
    }
  }, [left, right, id, docs]);

  const a = docs[left];
  const b = docs[right];
  const lines = useMemo(() => (a && b ? diffLines(canonicalJson(a), canonicalJson(b)) : []), [a, b]);
  const words = usePickers().words;
  const changes = useMemo(() => (a && b ? changesInWords(a, b, words) : null), [a, b, words]);
  const options = [...list.map((v) => [String(v.version), `v${v.version}`]), ["draft", "current draft"]];

  return (
    <div className="versions">
      <h2>Versions</h2>
      {versions.error && <ErrorState error={versions.error} onRetry={versions.reload} />}
      {!versions.data && !versions.error && <Skeleton rows={5} label="Loading the versions" />}
      {versions.data && !list.length && (
        <Empty><p>Nothing published yet. <Link to={`/flows/${id}`}>Publish from the editor</Link> to create version 1;
          each publish adds a version here, with the leads still running it.</p></Empty>
      )}
      {list.length > 0 && (
        <table data-testid="versions-table">
          <thead>
            <tr><th>Version</th><th>Published</th><th>Note</th><th>Leads still running it</th><th></th></tr>
          </thead>
          <tbody>
            {list.map((v) => (
              <tr key={v.version}>
                <td>v{v.version}</td>
                <td><When at={v.published_at} style="at" /></td>
                <td>{v.note || <span className="muted">—</span>}</td>
                <td data-testid={`running-v${v.version}`}>{v.running}</td>
                <td><Link to={`/flows/${id}/live?version=${v.version}`}>Live map</Link></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <PinnedTemplates versions={list} />
      {list.length > 0 && (
        <section aria-label="Compare versions" className="diff-section">
          <h3>Compare</h3>
          <div className="row">
            <label htmlFor="diff-left">From</label>
            <select id="diff-left" value={left} onChange={(e) => setLeft(e.target.value)}>
              {options.map(([v, label]) => <option key={v} value={v}>{label}</option>)}
            </select>
            <label htmlFor="diff-right">to</label>
            <select id="diff-right" value={right} onChange={(e) => setRight(e.target.value)}>
              {options.map(([v, label]) => <option key={v} value={v}>{label}</option>)}
            </select>
          </div>
          {error && <p className="error">{error}</p>}
          {changes && (
            <div data-testid="diff-summary">
              {changes.length === 0 && lines.every((l) => l.kind === "same") ? <p>No differences.</p>
                : changes.length === 0 ? <p>Only the layout of the document differs.</p>
                  : <ul className="changes">{changes.map((c, i) => <li key={i}>{c}</li>)}</ul>}
            </div>
          )}
          <pre className="diff" data-testid="diff" aria-label="Differences">
            {lines.map((l, i) => (
              <div key={i} className={`diff-${l.kind}`}>{l.kind === "added" ? "+ " : l.kind === "removed" ? "- " : "  "}{l.text}</div>
            ))}
          </pre>
        </section>
      )}
    </div>
  );
}
