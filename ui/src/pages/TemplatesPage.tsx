/**
 * E-mail templates: the list, and an editor (subject, HTML, text) with a live preview for the
 * sample lead or a real one, a test send to yourself, and the flow versions that use it.
 */
import { useEffect, useState, type FormEvent } from "react";
import { api, ApiError, query, type Problem, type Schemas } from "../api";
import { useApi } from "../hooks";
import { Link, navigate } from "../router";
import { Load, Notice, Skeleton } from "../ui";
import { MailFrame } from "./OutboxPage";

/**
 * The template the editor holds: what PUT /api/templates/{name} answers, and the flow versions
 * that pinned it at publish from GET /api/templates/{name} (`current`: the text is today's).
 */
type TemplateDoc = Schemas["TemplateSaved"] & { versions?: Schemas["PinnedBy"][] };

const STARTER = `{% extends "_layout.html.j2" %}
{% block body %}
<p>Hi {{ lead.first_name or "there" }},</p>
<p>Write your message here.</p>
{% endblock %}
`;

export function TemplatesPage({ name }: { name?: string }) {
  if (name) return <TemplateEditor name={name} />;
  return <TemplateList />;
}

function TemplateList() {
  const templates = useApi<Schemas["TemplateRow"][]>("/templates");
  const [newName, setNewName] = useState("");
  const create = (event: FormEvent) => {
    event.preventDefault();
    navigate(`/templates/${encodeURIComponent(newName)}?new=1`);
  };
  return (
    <section>
      <h1>E-mail templates</h1>
      <div className="cards">
        <div className="card wide">
          <Load state={templates} empty={<p>No templates yet: create the first one.</p>}>
            {(list) => (
              <table data-testid="templates-table" className="responsive">
                <thead><tr><th>Template</th><th>Subject</th><th>Kept in</th></tr></thead>
                <tbody>
                  {list.map((t) => (
                    <tr key={t.name}>
                      <td data-label="Template"><Link to={`/templates/${encodeURIComponent(t.name)}`}>{t.name}</Link></td>
                      <td data-label="Subject">{t.subject}</td>
                      <td data-label="Kept in">{t.source === "saved" ? "saved in the studio" : "a file in email_templates/"}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </Load>
        </div>
        <form className="card" onSubmit={create} aria-labelledby="new-template-title">
          <h2 id="new-template-title">New template</h2>
          <label htmlFor="new-template-name">Name (lowercase letters, digits, dashes)</label>
          <input id="new-template-name" data-testid="new-template-name" value={newName} pattern="[a-z0-9][a-z0-9\-]{0,63}" required
            onChange={(e) => setNewName(e.target.value)} />
          <button type="submit" className="primary">Create</button>
        </form>
      </div>
    </section>
  );
}

function TemplateEditor({ name }: { name: string }) {
  const id = encodeURIComponent(name);
  const [doc, setDoc] = useState<TemplateDoc | null>(null);
  const [loadError, setLoadError] = useState<ApiError | null>(null);
  const [subject, setSubject] = useState("");
  const [html, setHtml] = useState("");
  const [text, setText] = useState("");
  const [leadId, setLeadId] = useState("");
  const [preview, setPreview] = useState<Schemas["Rendered"] | null>(null);
  const [previewProblems, setPreviewProblems] = useState<Problem[]>([]);
  const [view, setView] = useState<"html" | "text">("html");
  const [message, setMessage] = useState<{ text: string; bad?: boolean } | null>(null);
  const [problems, setProblems] = useState<Problem[]>([]);
  const [to, setTo] = useState("");
  const flows = useApi<Schemas["FlowRow"][]>("/flows");
  const flowNames: Record<string, string> = Object.fromEntries((flows.data ?? []).map((f) => [f.id, f.name ?? f.id]));
  const leads = useApi<Schemas["LeadList"]>("/leads?limit=20");

  useEffect(() => {
    api<Schemas["TemplateDetail"]>(`/templates/${id}`)
      .then((t) => {
        setDoc(t);
        setSubject(t.subject);
        setHtml(t.html);
        setText(t.text ?? "");
      })
      .catch((err: ApiError) => {
        if (err.status === 404) {
          // A new template: start from the shared layout.
          setDoc({ name, subject: "", html: STARTER, text: null, source: "new" });
          setHtml(STARTER);
        } else setLoadError(err);
      });
  }, [id, name]);

  // Live preview of what is typed (debounced), for the sample lead or the chosen one.
  useEffect(() => {
    if (!doc) return;
    const timer = window.setTimeout(() => {
      api<Schemas["Rendered"]>(`/templates/${id}/preview${query({ lead_id: leadId })}`, { body: { subject: subject || name, html, text: text || null } })
        .then((r) => {
          setPreview(r);
          setPreviewProblems([]);
        })
        .catch((err: ApiError) => setPreviewProblems(err.problems.length ? err.problems : [{ path: "", message: err.detail }]));
    }, 400);
    return () => window.clearTimeout(timer);
  }, [doc, id, name, subject, html, text, leadId]);

  const save = async () => {
    setMessage(null);
    setProblems([]);
    try {
      const saved = await api<Schemas["TemplateSaved"]>(`/templates/${id}`, { method: "PUT", body: { subject, html, text: text || null } satisfies Schemas["TemplateBody"] });
      setDoc({ ...saved, versions: doc?.versions });
      setMessage({ text: "Saved. Flows published from now on use this version." });
    } catch (err) {
      const e = err as ApiError;
      setProblems(e.problems);
      setMessage({ text: e.detail, bad: true });
    }
  };

  const testSend = async (event: FormEvent) => {
    event.preventDefault();
    setMessage(null);
    try {
      await api(`/templates/${id}/test-send`, { body: { to, lead_id: leadId || undefined } });
      setMessage({ text: `Test sent to ${to}, as the saved version renders it.` });
    } catch (err) {
      setMessage({ text: (err as ApiError).detail, bad: true });
    }
  };

  if (loadError) return <p className="error" role="alert">{loadError.detail}</p>;
  if (!doc) return <Skeleton rows={8} />;
  const dirty = subject !== doc.subject || html !== doc.html || (text || null) !== (doc.text || null);
  return (
    <section className="template-editor">
      <h1><Link to="/templates" className="muted">Templates</Link> / {name}</h1>
      {doc.versions && (
        <p data-testid="template-used-by">{doc.versions.length
          ? <>Used by {doc.versions.map((u, i) => <span key={`${u.flow_id}-${u.version}`}>{i ? ", " : ""}<Link to={`/flows/${encodeURIComponent(u.flow_id)}/versions`}>{flowNames[u.flow_id] ?? u.flow_id} v{u.version}</Link>{u.current ? "" : " (an earlier text)"}</span>)}. Each published version keeps the text it was published with.</>
          : "No published flow uses it yet."}</p>
      )}
      <div className="template-grid">
        <div className="card">
          <label htmlFor="tpl-subject">Subject</label>
          <input id="tpl-subject" data-testid="tpl-subject" value={subject} onChange={(e) => setSubject(e.target.value)} className="wide-input" />
          <label htmlFor="tpl-html">HTML (Jinja2: {"{{ lead.first_name }}"}, {"{{ unsubscribe_url }}"}, {"{{ postal_address }}"})</label>
          <textarea id="tpl-html" data-testid="tpl-html" rows={16} value={html} spellCheck={false} className="code" onChange={(e) => setHtml(e.target.value)} />
          <label htmlFor="tpl-text">Plain text (optional: made from the HTML when empty)</label>
          <textarea id="tpl-text" data-testid="tpl-text" rows={6} value={text} spellCheck={false} className="code" onChange={(e) => setText(e.target.value)} />
          {problems.length > 0 && <ul className="error">{problems.map((p, i) => <li key={i}>{p.message}</li>)}</ul>}
          <div className="row">
            <button type="button" className="primary" data-testid="tpl-save" disabled={!dirty && doc.source !== "new"} onClick={() => void save()}>Save</button>
            {dirty && <span className="muted">Unsaved changes</span>}
          </div>
          <Notice message={message} />
          <form className="row" onSubmit={testSend} aria-label="Send a test">
            <label htmlFor="tpl-to">Send a test to</label>
            <input id="tpl-to" type="email" required value={to} placeholder="you@company.com" onChange={(e) => setTo(e.target.value)} />
            <button type="submit" data-testid="tpl-test-send" disabled={doc.source === "new"}>Send test</button>
          </form>
        </div>
        <div className="card preview-card">
          <div className="row">
            <label htmlFor="tpl-lead">Preview for</label>
            <select id="tpl-lead" value={leadId} onChange={(e) => setLeadId(e.target.value)}>
              <option value="">the sample lead (Jamie Rivera)</option>
              {(leads.data?.items ?? []).map((l) => <option key={l.id} value={l.id}>{[l.first_name, l.last_name].filter(Boolean).join(" ") || l.email}</option>)}
            </select>
            <div role="tablist" className="tabs" aria-label="Format">
              <button role="tab" type="button" aria-selected={view === "html"} onClick={() => setView("html")}>HTML</button>
              <button role="tab" type="button" aria-selected={view === "text"} onClick={() => setView("text")}>Plain text</button>
            </div>
          </div>
          {previewProblems.length > 0 && (
            <div className="error" role="alert" data-testid="tpl-preview-problems">
              {previewProblems.map((p, i) => <p key={i}>{p.message}</p>)}
            </div>
          )}
          {preview ? (
            <div data-testid="tpl-preview">
              <p><strong>Subject:</strong> <span data-testid="tpl-preview-subject">{preview.subject}</span></p>
              {view === "html" ? <MailFrame html={preview.html} title="Preview" /> : <pre className="mail-text">{preview.text}</pre>}
            </div>
          ) : <Skeleton rows={6} label="Rendering the preview" />}
        </div>
      </div>
    </section>
  );
}
