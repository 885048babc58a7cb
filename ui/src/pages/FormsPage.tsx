/** Capture forms and consent: double opt-in, the consent wording's version, the thank-you redirect. */
import { useEffect, useState, type FormEvent } from "react";
import { api, ApiError, type Schemas } from "../api";
import { useApi } from "../hooks";
import { Empty, ErrorState, Notice, Skeleton } from "../ui";

/**
 * A form's settings as the card edits them: the body of PUT /api/forms/{form}, the form's name,
 * and whether it is declared on the server yet (saving declares it; capture answers 404 until then).
 */
type FormConfig = Schemas["FormConfigBody"] & { form: string; isNew?: boolean };

export function FormsPage() {
  // GET /api/forms lists the declared forms where the server offers it; otherwise one is opened by name.
  const list = useApi<Schemas["FormOut"][]>("/forms");
  const [extra, setExtra] = useState<string[]>([]);
  const [name, setName] = useState("");
  const forms = [...(Array.isArray(list.data) ? list.data.map((f) => f.form) : []), ...extra.filter((e) => !list.data?.some((f) => f.form === e))];
  const listed = !list.error || ![404, 405].includes(list.error.status);

  const add = (event: FormEvent) => {
    event.preventDefault();
    if (name && !forms.includes(name)) setExtra([...extra, name]);
    setName("");
  };

  return (
    <section className="forms-page">
      <h1>Forms and consent</h1>
      <p className="muted">A web form posts to <code>/api/capture/&lt;form&gt;</code>. Each form records consent with the
        wording version shown here; with double opt-in the lead confirms by e-mail before any marketing mail.</p>
      {list.error && listed && <ErrorState error={list.error} onRetry={list.reload} />}
      {!list.data && !list.error && <Skeleton rows={4} />}
      {(list.data || !listed) && forms.length === 0 && <Empty><p>No forms yet. Name the first one below.</p></Empty>}
      <div className="cards">
        {forms.map((f) => <FormCard key={f} name={f} />)}
        <form className="card" onSubmit={add} aria-labelledby="new-form-title">
          <h2 id="new-form-title">Add a form</h2>
          <label htmlFor="new-form-name">Form name (as in /api/capture/…)</label>
          <input id="new-form-name" data-testid="new-form-name" value={name} pattern="[a-z0-9][a-z0-9\-]{0,63}" required onChange={(e) => setName(e.target.value)} />
          <button type="submit">Add</button>
        </form>
      </div>
    </section>
  );
}

function FormCard({ name }: { name: string }) {
  const [config, setConfig] = useState<FormConfig | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [message, setMessage] = useState<{ text: string; bad?: boolean } | null>(null);
  useEffect(() => {
    api<Schemas["FormOut"]>(`/forms/${encodeURIComponent(name)}`).then(setConfig).catch((err: ApiError) => {
      if (err.status === 404) setConfig({ form: name, double_opt_in: false, consent_text_version: null, redirect_url: null, isNew: true });
      else setError(err);
    });
  }, [name]);

  const save = async (event: FormEvent) => {
    event.preventDefault();
    if (!config) return;
    try {
      const saved = await api<Schemas["FormOut"]>(`/forms/${encodeURIComponent(name)}`, {
        method: "PUT",
        body: {
          double_opt_in: config.double_opt_in, consent_text_version: config.consent_text_version || null,
          redirect_url: config.redirect_url || null,
          ...(config.rate_limit ? { rate_limit: config.rate_limit } : {}),
          ...(config.rate_window_seconds ? { rate_window_seconds: config.rate_window_seconds } : {}),
        } satisfies Schemas["FormConfigBody"],
      });
      setConfig(saved);
      setMessage({ text: "Saved." });
    } catch (err) {
      const e = err as ApiError;
      setMessage({ text: e.problems.length ? e.problems.map((p) => p.message).join(" ") : e.detail, bad: true });
    }
  };

  return (
    <form className="card" onSubmit={save} aria-label={`Form ${name}`} data-testid={`form-${name}`}>
      <h2>{name}</h2>
      {config?.isNew && <p className="small muted">New: this form takes submissions once saved.</p>}
      {error && <ErrorState error={error} />}
      {!config && !error && <Skeleton rows={3} />}
      {config && (
        <>
          <label className="inline">
            <input type="checkbox" checked={config.double_opt_in} onChange={(e) => setConfig({ ...config, double_opt_in: e.target.checked })} />
            Double opt-in (the lead confirms by e-mail first)
          </label>
          <label htmlFor={`form-${name}-consent`}>Consent wording version</label>
          <input id={`form-${name}-consent`} value={config.consent_text_version ?? ""} placeholder="e.g. 2026-11" onChange={(e) => setConfig({ ...config, consent_text_version: e.target.value })} />
          <label htmlFor={`form-${name}-redirect`}>After submitting, go to (https://…)</label>
          <input id={`form-${name}-redirect`} type="url" value={config.redirect_url ?? ""} onChange={(e) => setConfig({ ...config, redirect_url: e.target.value })} />
          {config.rate_limit ? (
            <p className="small muted">At most {config.rate_limit} submissions per visitor every {Math.round((config.rate_window_seconds ?? 60) / 60)} min.</p>
          ) : null}
          <button type="submit" className="primary">Save</button>
          <Notice message={message} />
        </>
      )}
    </form>
  );
}
