/** The studio shell: sign-in, navigation and the page for the current address. */
import { useCallback, useEffect, useState, type FormEvent } from "react";
import { api, ApiError, getKey, setKey, type Meta } from "./api";
import { Link, matchPath, navigate, useLocation } from "./router";
import { SessionContext } from "./session";
import { FlowsPage } from "./pages/FlowsPage";
import { FlowStudio } from "./pages/FlowStudio";
import { LeadsPage } from "./pages/LeadsPage";
import { LeadPage } from "./pages/LeadPage";
import { OutboxPage } from "./pages/OutboxPage";
import { InboxPage } from "./pages/InboxPage";
import { ScoringPage } from "./pages/ScoringPage";
import { ReportsPage } from "./pages/ReportsPage";

export function App() {
  const [meta, setMeta] = useState<Meta | null>(null);
  const [checking, setChecking] = useState(Boolean(getKey()));

  const signOut = useCallback(() => {
    setKey(null);
    setMeta(null);
  }, []);

  useEffect(() => {
    const key = getKey();
    if (!key) return;
    api<Meta>("/meta", { key })
      .then(setMeta)
      .catch((err: ApiError) => {
        if (err.status === 401 || err.status === 403) setKey(null);
      })
      .finally(() => setChecking(false));
  }, []);

  useEffect(() => {
    window.addEventListener("leadflow:unauthorized", signOut);
    return () => window.removeEventListener("leadflow:unauthorized", signOut);
  }, [signOut]);

  if (checking) return <p className="centered">Loading…</p>;
  if (!meta) return <SignIn onSignedIn={setMeta} />;
  return (
    <SessionContext.Provider value={meta}>
      <Shell meta={meta} onSignOut={signOut} />
    </SessionContext.Provider>
  );
}

function SignIn({ onSignedIn }: { onSignedIn: (meta: Meta) => void }) {
  const [key, setKeyText] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const meta = await api<Meta>("/meta", { key: key.trim() });
      setKey(key.trim());
      onSignedIn(meta);
    } catch (err) {
      const e = err as ApiError;
      setError(e.status === 401 || e.status === 403 ? "That key is not valid." : e.detail);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="signin">
      <form onSubmit={submit} aria-labelledby="signin-title">
        <h1 id="signin-title">Leadflow studio</h1>
        <p>Sign in with an API key (<code>leadflow keys create --role marketer</code>, or the key
          <code>leadflow dev</code> prints at start).</p>
        <label htmlFor="api-key">API key</label>
        <input id="api-key" data-testid="api-key" type="password" autoComplete="off" autoFocus
          value={key} onChange={(e) => setKeyText(e.target.value)} required />
        {error && <p role="alert" className="error">{error}</p>}
        <button type="submit" disabled={busy || !key.trim()}>Sign in</button>
      </form>
    </main>
  );
}

function Shell({ meta, onSignOut }: { meta: Meta; onSignOut: () => void }) {
  const { path } = useLocation();
  const isSales = meta.role === "sales";

  useEffect(() => {
    if (path === "/") navigate(isSales ? "/inbox" : "/flows", true);
  }, [path, isSales]);

  const links = isSales
    ? [["/inbox", "Inbox"]]
    : [["/flows", "Flows"], ["/leads", "Leads"], ["/outbox", "Outbox"], ["/inbox", "Sales inbox"], ["/reports", "Reports"], ["/scoring", "Scoring"]];

  return (
    <div className="shell">
      <header className="topbar">
        <span className="brand">Leadflow</span>
        <nav aria-label="Main">
          {links.map(([to, label]) => (
            <Link key={to} to={to} className={path.startsWith(to) ? "active" : ""}
              aria-current={path.startsWith(to) ? "page" : undefined}>
              {label}
            </Link>
          ))}
        </nav>
        <span className="who">{meta.role}{meta.rep_id ? ` · ${meta.rep_id}` : ""} · v{meta.version}</span>
        <button type="button" className="link-button" onClick={onSignOut}>Sign out</button>
      </header>
      <div className="page">{route(path)}</div>
    </div>
  );
}

function route(path: string) {
  let params: Record<string, string> | null;
  if (path === "/" || path === "/flows") return <FlowsPage />;
  if ((params = matchPath("/flows/:id", path))) return <FlowStudio key={params.id} flowId={params.id} tab="editor" />;
  if ((params = matchPath("/flows/:id/:tab", path))) return <FlowStudio key={params.id} flowId={params.id} tab={params.tab} />;
  if (path === "/leads") return <LeadsPage />;
  if ((params = matchPath("/leads/:id", path))) return <LeadPage key={params.id} leadId={params.id} />;
  if (path === "/outbox") return <OutboxPage />;
  if (path === "/inbox") return <InboxPage />;
  if (path === "/reports") return <ReportsPage />;
  if (path === "/scoring") return <ScoringPage />;
  return (
    <section>
      <h1>Not found</h1>
      <p>No page at <code>{path}</code>. <Link to="/flows">Back to flows</Link></p>
    </section>
  );
}
