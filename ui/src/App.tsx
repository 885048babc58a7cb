/** The studio shell: sign-in, navigation and the page for the current address. */
import { useCallback, useEffect, useState, type FormEvent } from "react";
import { api, ApiError, getKey, setKey, type Meta, type Schemas } from "./api";
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
import { TeamPage } from "./pages/TeamPage";
import { KeysPage } from "./pages/KeysPage";
import { TemplatesPage } from "./pages/TemplatesPage";
import { FormsPage } from "./pages/FormsPage";
import { SettingsPage } from "./pages/SettingsPage";
import { Skeleton } from "./ui";

export function App() {
  const [meta, setMeta] = useState<Meta | null>(null);
  const [checking, setChecking] = useState(Boolean(getKey()));
  // The server did not answer (network error or 5xx): keep the key, say so, try again.
  const [unreachable, setUnreachable] = useState<ApiError | null>(null);
  const [attempt, setAttempt] = useState(0);

  const signOut = useCallback(() => {
    setKey(null);
    setMeta(null);
  }, []);

  useEffect(() => {
    const key = getKey();
    if (!key) return;
    setChecking(true);
    api<Meta>("/meta", { key })
      .then((m) => {
        setMeta(m);
        setUnreachable(null);
      })
      .catch((err: ApiError) => {
        // Only a refused key asks for a key again; an outage keeps the session.
        if (err.status === 401) setKey(null);
        else setUnreachable(err);
      })
      .finally(() => setChecking(false));
  }, [attempt]);

  useEffect(() => {
    if (!unreachable) return;
    const timer = window.setTimeout(() => setAttempt((a) => a + 1), 5000);
    return () => window.clearTimeout(timer);
  }, [unreachable, attempt]);

  useEffect(() => {
    window.addEventListener("leadflow:unauthorized", signOut);
    return () => window.removeEventListener("leadflow:unauthorized", signOut);
  }, [signOut]);

  if (checking && !unreachable) return <div className="centered"><Skeleton rows={3} label="Signing in" /></div>;
  if (!meta && unreachable && getKey()) {
    return (
      <main className="server-down" data-testid="server-down">
        <h1>Cannot reach the Leadflow server</h1>
        <p>{unreachable.status === 0
          ? "The studio could not connect to the server. It may be restarting, or your network may be down."
          : `The server answered with an error (${unreachable.status}).`} You are still signed in; nothing is lost.</p>
        <p className="muted">Trying again every few seconds…</p>
        <button type="button" className="primary" onClick={() => setAttempt((a) => a + 1)}>Try again now</button>
      </main>
    );
  }
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

/** The main navigation for a role; admin-only screens are left out for other keys. */
export function navLinks(role: string): [string, string][] {
  if (role === "sales") return [["/inbox", "Inbox"]];
  const links: [string, string][] = [
    ["/flows", "Flows"], ["/leads", "Leads"], ["/templates", "Templates"], ["/outbox", "Outbox"],
    ["/inbox", "Sales inbox"], ["/team", "Sales team"], ["/reports", "Reports"], ["/scoring", "Scoring"],
    ["/forms", "Forms"],
  ];
  if (role === "admin") links.push(["/keys", "API keys"], ["/settings", "Settings"]);
  return links;
}

function Shell({ meta, onSignOut }: { meta: Meta; onSignOut: () => void }) {
  const { path } = useLocation();
  const isSales = meta.role === "sales";
  const [menuOpen, setMenuOpen] = useState(false);
  const [offline, setOffline] = useState(false);

  useEffect(() => {
    if (path === "/") navigate(isSales ? "/inbox" : "/flows", true);
    setMenuOpen(false);
  }, [path, isSales]);

  useEffect(() => {
    const down = () => setOffline(true);
    const up = () => setOffline(false);
    window.addEventListener("leadflow:offline", down);
    window.addEventListener("leadflow:online", up);
    return () => {
      window.removeEventListener("leadflow:offline", down);
      window.removeEventListener("leadflow:online", up);
    };
  }, []);

  const links = navLinks(meta.role);
  const [me, setMe] = useState<string | null>(null);
  useEffect(() => {
    if (!meta.rep_id) return;
    api<Schemas["RepPublic"]>(`/reps/${encodeURIComponent(meta.rep_id)}`).then((r) => setMe(r.name ?? null)).catch(() => undefined);
  }, [meta.rep_id]);

  return (
    <div className="shell">
      <header className={`topbar${menuOpen ? " menu-open" : ""}`}>
        <span className="brand">Leadflow</span>
        <button type="button" className="menu-button" aria-expanded={menuOpen} aria-controls="main-nav"
          data-testid="menu-button" onClick={() => setMenuOpen((o) => !o)}>☰ Menu</button>
        <nav aria-label="Main" id="main-nav">
          {links.map(([to, label]) => (
            <Link key={to} to={to} className={path.startsWith(to) ? "active" : ""}
              aria-current={path.startsWith(to) ? "page" : undefined}>
              {label}
            </Link>
          ))}
        </nav>
        <span className="who">{me ?? meta.role}{me ? ` (${meta.role})` : ""}</span>
        <button type="button" className="link-button" onClick={onSignOut}>Sign out</button>
      </header>
      {offline && (
        <p className="offline-banner" role="alert" data-testid="offline-banner">
          Cannot reach the server right now. You are still signed in; the page updates again once it answers.
        </p>
      )}
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
  if (path === "/team") return <TeamPage />;
  if (path === "/keys") return <KeysPage />;
  if (path === "/templates") return <TemplatesPage />;
  if ((params = matchPath("/templates/:name", path))) return <TemplatesPage key={params.name} name={params.name} />;
  if (path === "/forms") return <FormsPage />;
  if (path === "/settings") return <SettingsPage />;
  return (
    <section>
      <h1>Not found</h1>
      <p>No page at <code>{path}</code>. <Link to="/flows">Back to flows</Link></p>
    </section>
  );
}
