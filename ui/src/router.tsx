/** A tiny history-based router: the app's pages have stable, bookmarkable addresses. */
import { createContext, useContext, useEffect, useState, type MouseEvent, type ReactNode } from "react";

const LocationContext = createContext<string>(window.location.pathname + window.location.search);

/** Go to `to` without reloading the page. */
export function navigate(to: string, replace = false): void {
  if (replace) window.history.replaceState(null, "", to);
  else window.history.pushState(null, "", to);
  window.dispatchEvent(new Event("leadflow:navigate"));
}

export function LocationProvider({ children }: { children: ReactNode }) {
  const [location, setLocation] = useState(window.location.pathname + window.location.search);
  useEffect(() => {
    const update = () => setLocation(window.location.pathname + window.location.search);
    window.addEventListener("popstate", update);
    window.addEventListener("leadflow:navigate", update);
    return () => {
      window.removeEventListener("popstate", update);
      window.removeEventListener("leadflow:navigate", update);
    };
  }, []);
  return <LocationContext.Provider value={location}>{children}</LocationContext.Provider>;
}

/** Current path and query parameters. */
export function useLocation(): { path: string; params: URLSearchParams } {
  const location = useContext(LocationContext);
  const [path, search = ""] = location.split("?");
  return { path, params: new URLSearchParams(search) };
}

/** Match `/flows/:id` style patterns; returns the decoded parameters or null. */
export function matchPath(pattern: string, path: string): Record<string, string> | null {
  const want = pattern.split("/").filter(Boolean);
  const have = path.split("/").filter(Boolean);
  if (want.length !== have.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i += 1) {
    if (want[i].startsWith(":")) params[want[i].slice(1)] = decodeURIComponent(have[i]);
    else if (want[i] !== have[i]) return null;
  }
  return params;
}

/** An anchor that navigates client-side (and still works with a middle click or a new tab). */
export function Link({ to, children, className, ...rest }: { to: string; children: ReactNode; className?: string; [key: string]: unknown }) {
  const onClick = (event: MouseEvent<HTMLAnchorElement>) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(to);
  };
  return (
    <a href={to} onClick={onClick} className={className} {...rest}>
      {children}
    </a>
  );
}
