/** Which template snapshot each published version sends (pinned when it was published). */
import type { Schemas } from "../api";

/** A row of GET /api/flows/{id}/versions: the version and the template snapshots it pinned. */
type PinnedVersion = Pick<Schemas["VersionRow"], "version" | "templates">;

export function PinnedTemplates({ versions }: { versions: PinnedVersion[] }) {
  const rows = versions.filter((v) => v.templates && v.templates.length);
  if (!versions.length) return null;
  return (
    <section aria-label="Pinned templates" data-testid="pinned-templates">
      <h3>Mails each version sends</h3>
      {!rows.length && <p className="muted">These versions were published before templates were pinned: they send each template as it is now.</p>}
      {rows.length > 0 && (
        <table>
          <thead><tr><th>Version</th><th>Templates (as they were when published)</th></tr></thead>
          <tbody>
            {rows.map((v) => (
              <tr key={v.version}>
                <td>v{v.version}</td>
                <td>
                  {v.templates!.map((t) => (
                    <span key={t.name} className="pinned" data-testid={`pin-v${v.version}-${t.name}`} title={`snapshot ${t.hash.slice(0, 12)}`}>
                      {t.name}{" "}
                      <span className={`pill ${t.current ? "running" : "warm"}`}>{t.current ? "as now" : "edited since"}</span>{" "}
                    </span>
                  ))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
