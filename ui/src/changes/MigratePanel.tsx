/**
 * "Migrate waiting leads": move the leads waiting in older versions to a newer one. The marketer
 * maps old steps to new ones (prefilled by id), picks how delays count, sees the preview (a table
 * and counts on the new version's canvas), then starts the move and follows its progress.
 */
import { useEffect, useMemo, useState } from "react";
import { api, ApiError, type Schemas } from "../api";
import { parseApiDate } from "../durations";
import { moment } from "../words";
import { stepsOf, type FlowDoc, type Json, type VersionDoc } from "../graph";
import { useApi } from "../hooks";
import { Link } from "../router";
import { StatsCanvas } from "../editor/StatsCanvas";
import { CanvasSkeleton, Empty, ErrorState, Skeleton } from "../ui";
import { Confirm, leads } from "./Confirm";
import { arrivals, isWait, migrationBody, prefilledMap, whenInWords, type Preview, type Timers } from "./migrate";

/** GET /api/flows/{id}/migrations/{id}: a migration's progress. */
type Report = Schemas["MigrationReport"];

const TIMERS: [Timers, string][] = [
  ["from_entry", "Count the new delay from when each lead entered its step (already past: it goes on now)"],
  ["keep_deadline", "Keep each lead's current deadline"],
  ["restart", "Start the new delay again from now"],
];

export function MigratePanel({ flowId }: { flowId: string }) {
  const id = encodeURIComponent(flowId);
  const versions = useApi<Schemas["VersionRow"][]>(`/flows/${id}/versions`);
  const list = useMemo(() => [...(versions.data ?? [])].sort((a, b) => b.version - a.version), [versions.data]);
  const [toVersion, setToVersion] = useState<number | null>(null);
  const [fromVersions, setFromVersions] = useState<number[]>([]);
  const [docs, setDocs] = useState<Record<number, FlowDoc>>({});
  const [map, setMap] = useState<Record<string, string>>({});
  const [timers, setTimers] = useState<Timers>("from_entry");
  const [preview, setPreview] = useState<Preview | null>(null);
  const [previewError, setPreviewError] = useState<string | null>(null);
  const [asking, setAsking] = useState(false);
  const [migrationId, setMigrationId] = useState<string | null>(null);
  const report = useApi<Report>(migrationId ? `/flows/${id}/migrations/${encodeURIComponent(migrationId)}` : null, 1000);
  const past = useApi<Report[]>(`/flows/${id}/migrations`);

  useEffect(() => {
    // back on the page while a migration runs: follow it again
    const running = past.data?.find((m) => m.status === "running");
    if (running && !migrationId) setMigrationId(running.id);
  }, [past.data, migrationId]);

  useEffect(() => {
    if (!list.length || toVersion !== null) return;
    setToVersion(list[0].version);
    setFromVersions(list.slice(1).filter((v) => v.running > 0).map((v) => v.version));
  }, [list, toVersion]);

  useEffect(() => {
    for (const v of [toVersion, ...fromVersions]) {
      if (v === null || docs[v]) continue;
      api<VersionDoc>(`/flows/${id}/versions/${v}`)
        .then((body) => setDocs((d) => ({ ...d, [v]: body.document })))
        .catch((err: ApiError) => setPreviewError(err.detail));
    }
  }, [toVersion, fromVersions, docs, id]);

  const target = toVersion !== null ? docs[toVersion] : undefined;
  const ready = target && fromVersions.every((v) => docs[v]);
  useEffect(() => {
    if (!ready || !target) return;
    setMap((old) => ({ ...prefilledMap(fromVersions.map((v) => stepsOf(docs[v]) as Record<string, Json>), stepsOf(target) as Record<string, Json>), ...keepChosen(old) }));
  }, [ready, target, fromVersions, docs]);

  const body = toVersion !== null ? migrationBody(toVersion, fromVersions, map, timers) : null;
  const bodyKey = JSON.stringify(body);
  useEffect(() => {
    if (!body || !ready || !fromVersions.length) return;
    const controller = new AbortController();
    setPreviewError(null);
    api<Preview>(`/flows/${id}/migrations/preview`, { body, signal: controller.signal })
      .then(setPreview)
      .catch((err) => {
        if ((err as Error).name !== "AbortError") setPreviewError((err as ApiError).detail);
      });
    return () => controller.abort();
  }, [bodyKey, ready, id]);

  if (versions.error && !versions.data) return <ErrorState error={versions.error} onRetry={versions.reload} />;
  if (!versions.data) return <CanvasSkeleton label="Loading the versions" />;
  if (list.length < 2) {
    return (
      <Empty><p className="migrate-empty" data-testid="migrate-empty">There is only {list.length ? "one version" : "no version"} yet.
        Publish a new version first; then the leads waiting in older ones can move to it here.{" "}
        <Link to={`/flows/${id}`}>Open the editor</Link></p></Empty>
    );
  }
  const targets = target ? Object.entries(stepsOf(target)).filter(([, s]) => isWait(s)).map(([k]) => k) : [];
  const shown = fromVersions.length ? preview : null;
  const total = shown?.moves.reduce((n, m) => n + m.leads, 0) ?? 0;
  const atOnce = shown?.moves.reduce((n, m) => n + m.sends_at_once, 0) ?? 0;
  const r = report.data;

  return (
    <div className="migrate" data-testid="migrate-panel">
      <h2>Migrate waiting leads</h2>
      <p className="muted">Leads waiting in older versions can move to a newer one. Nothing moves until you press the button at the
        end. Leads in the middle of a mail move once they next wait; leads with sales or whose next mail is held
        stay where they are (run the migration again later for them).</p>
      <div className="row">
        <label htmlFor="migrate-to">Move to</label>
        <select id="migrate-to" value={toVersion ?? ""} data-testid="migrate-to"
          onChange={(e) => {
            const v = Number(e.target.value);
            setToVersion(v);
            setFromVersions(list.filter((x) => x.version < v && x.running > 0).map((x) => x.version));
          }}>
          {list.map((v) => <option key={v.version} value={v.version}>v{v.version}</option>)}
        </select>
        <span>from</span>
        {list.filter((v) => toVersion !== null && v.version < toVersion).map((v) => (
          <label key={v.version} className="check">
            <input type="checkbox" checked={fromVersions.includes(v.version)} data-testid={`migrate-from-${v.version}`}
              onChange={(e) => setFromVersions((f) => (e.target.checked ? [...f, v.version] : f.filter((x) => x !== v.version)))} />
            v{v.version} ({leads(v.running)})
          </label>
        ))}
      </div>

      <section aria-label="Step map">
        <h3>Where leads go</h3>
        {!ready && !previewError && <Skeleton rows={3} label="Loading the versions' steps" />}
        {ready && !Object.keys(map).length && <p className="muted">The versions you chose have no waiting steps.</p>}
        {ready && Object.keys(map).length > 0 && (
          <table className="step-map" data-testid="step-map">
            <thead><tr><th>Leads waiting at</th><th>go to (in v{toVersion})</th></tr></thead>
            <tbody>
              {Object.entries(map).map(([from, to]) => (
                <tr key={from}>
                  <td><code>{from}</code></td>
                  <td>
                    <select value={to} aria-label={`Map ${from}`} data-testid={`map-${from}`} onChange={(e) => setMap((m) => ({ ...m, [from]: e.target.value }))}>
                      <option value="">— choose a step —</option>
                      {targets.map((t) => <option key={t} value={t}>{t}{t === from ? " (same step)" : ""}</option>)}
                    </select>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>

      <fieldset className="timers">
        <legend>When a delay changed</legend>
        {TIMERS.map(([value, label]) => (
          <label key={value} className="check">
            <input type="radio" name="timers" value={value} checked={timers === value} onChange={() => setTimers(value)} data-testid={`timers-${value}`} />
            {label}
          </label>
        ))}
      </fieldset>

      <section aria-label="Preview" data-testid="migrate-preview">
        <h3>Preview</h3>
        {previewError && <p className="error" role="alert">{previewError}</p>}
        {!fromVersions.length && <p className="muted" data-testid="migrate-no-source">No lead runs an older version now: nothing to move. Tick a version above to move leads from it.</p>}
        {fromVersions.length > 0 && !preview && !previewError && <p className="muted">Working out what would happen…</p>}
        {shown && shown.problems.length > 0 && (
          <div role="alert" className="refused" data-testid="migrate-problems">
            <p><strong>Nothing can move yet.</strong> Fix these first:</p>
            <ul>{shown.problems.map((p) => <li key={p.path}><code>{p.path.replace(/^step_map\./, "")}</code>: {p.message}</li>)}</ul>
          </div>
        )}
        {shown && (
          <p data-testid="migrate-summary">
            {total ? `${leads(total)} would move` : "No lead waits in these versions now"}
            {atOnce ? `, and ${atOnce} mail${atOnce === 1 ? "" : "s"} would go out at once because a delay got shorter` : ""}.
            {shown.busy ? ` ${leads(shown.busy)} in the middle of a mail move once they next wait.` : ""}
            {shown.handoff ? ` ${leads(shown.handoff)} with sales stay where they are (their SLA does not move).` : ""}
            {shown.held ? ` ${leads(shown.held)} whose next mail is held stay where they are.` : ""}
          </p>
        )}
        {shown && shown.moves.length > 0 && (
          <table data-testid="migrate-moves">
            <thead><tr><th>From</th><th>Step</th><th>To step</th><th>Leads</th><th>Mails at once</th></tr></thead>
            <tbody>
              {shown.moves.map((m) => (
                <tr key={`${m.from_version}-${m.from_step}-${m.to_step}`} data-testid={`move-${m.from_step}`}>
                  <td>v{m.from_version}</td><td><code>{m.from_step}</code></td><td><code>{m.to_step}</code></td>
                  <td>{m.leads}</td><td>{m.sends_at_once}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {shown && shown.sample.length > 0 && (
          <details>
            <summary>A sample of {shown.sample.length} leads and when each acts next</summary>
            <ul className="lead-list">
              {shown.sample.map((s) => {
                const at = parseApiDate(s.next_action_at);
                return (
                  <li key={s.lead_id}><Link to={`/leads/${encodeURIComponent(s.lead_id)}`}>{s.lead_id.slice(0, 8)}</Link>{" "}
                    {s.from_step} → {s.to_step}, next step {whenInWords(at)} <span className="muted small">({moment(at, "at").text})</span></li>
                );
              })}
            </ul>
          </details>
        )}
        {target && shown && <PreviewCanvas flowId={flowId} doc={target} preview={shown} />}
      </section>

      {!migrationId && (
        <div className="row end">
          <button type="button" className="primary" data-testid="migrate-start"
            disabled={!shown || shown.problems.length > 0 || total === 0} onClick={() => setAsking(true)}>
            Move {leads(total)} to v{toVersion}
          </button>
        </div>
      )}
      {asking && body && (
        <Confirm title={`Move ${leads(total)} to v${toVersion}?`} action="Move them" testId="confirm-migrate"
          onClose={() => setAsking(false)}
          onConfirm={async () => {
            const started = await api<Schemas["MigrationStarted"]>(`/flows/${id}/migrations`, { body });
            setMigrationId(started.id);
          }}>
          <p>{leads(total)} leave their old version and wait in v{toVersion} as the preview shows.
            {atOnce ? ` ${atOnce} mail${atOnce === 1 ? "" : "s"} go out at once.` : ""} Mails they already had are not sent again.</p>
        </Confirm>
      )}
      {migrationId && (
        <section aria-label="Migration progress" data-testid="migrate-progress">
          <h3>Moving</h3>
          {!r && <p className="muted">Starting…</p>}
          {r && (
            <>
              <progress max={Math.max(r.planned, 1)} value={r.moved + r.skipped.length + r.failed} />
              <p data-testid="migrate-report">
                {r.status === "done" ? "Done: " : "Moving: "}{r.moved} moved, {r.skipped.length} skipped, {r.failed} failed
                {r.status === "running" ? ` of ${r.planned}` : ""}.
              </p>
              {r.skipped.length > 0 && (
                <ul>{r.skipped.slice(0, 20).map((s, i) => <li key={s.lead_id ?? i}>{s.lead_id?.slice(0, 8) ?? "a lead"}: {s.reason}</li>)}</ul>
              )}
            </>
          )}
          {report.error && <p className="error">{report.error.detail}</p>}
        </section>
      )}
    </div>
  );
}

/** The mapping chosen by hand survives a change of versions when its step still exists. */
function keepChosen(old: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(old).filter(([, to]) => to));
}

/** The new version drawn with how many leads would wait at each step after the move. */
function PreviewCanvas({ flowId, doc, preview }: { flowId: string; doc: FlowDoc; preview: Preview }) {
  const stats = useMemo(() => arrivals(preview.moves), [preview]);
  return <StatsCanvas flowId={flowId} doc={doc} stats={stats} className="migrate-canvas" testId="migrate-canvas"
    label={`Where the leads would wait in version ${preview.to_version}`} />;
}
