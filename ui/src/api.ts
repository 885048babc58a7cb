/** Thin client of the Leadflow HTTP API: bearer key from localStorage, typed errors. */

const KEY_STORAGE = "leadflow.apiKey";

/** One problem of a document or request, at its JSON path. */
export type Problem = Schemas["Problem"];

/** GET /api/meta: the server's version and what the signed-in key may do. */
export type Meta = Schemas["Meta"];

/** An error answer of the API (`{"error", "detail", ...}`), with validation problems when any. */
export class ApiError extends Error {
  constructor(
    public status: number,
    public error: string,
    public detail: string,
    public problems: Problem[] = [],
  ) {
    super(detail || error);
  }
}

export function getKey(): string | null {
  return localStorage.getItem(KEY_STORAGE);
}

export function setKey(key: string | null): void {
  if (key) localStorage.setItem(KEY_STORAGE, key);
  else localStorage.removeItem(KEY_STORAGE);
}

/** Call the API; `path` is relative to `/api`. Throws ApiError on a non-2xx answer. */
export async function api<T = unknown>(
  path: string,
  options: { method?: string; body?: unknown; key?: string | null; signal?: AbortSignal } = {},
): Promise<T> {
  const key = options.key === undefined ? getKey() : options.key;
  const headers: Record<string, string> = { Accept: "application/json" };
  if (key) headers.Authorization = `Bearer ${key}`;
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  let response: Response;
  try {
    response = await fetch(`/api${path}`, {
      method: options.method ?? (options.body === undefined ? "GET" : "POST"),
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: options.signal,
    });
  } catch (err) {
    if ((err as Error).name === "AbortError") throw err;
    reachable(false);
    throw new ApiError(0, "NetworkError", "The server cannot be reached.");
  }
  // A proxy in front of a stopped API answers 502/503/504: that is the server being away too.
  reachable(![502, 503, 504].includes(response.status));
  const text = await response.text();
  let payload: unknown = null;
  try {
    payload = text ? JSON.parse(text) : null;
  } catch {
    payload = text;
  }
  if (!response.ok) {
    const body = (payload && typeof payload === "object" ? payload : {}) as Record<string, unknown>;
    if (response.status === 401 && key && options.key === undefined) window.dispatchEvent(new Event("leadflow:unauthorized"));
    throw new ApiError(
      response.status,
      String(body.error ?? response.statusText),
      typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail ?? text),
      Array.isArray(body.problems) ? (body.problems as Problem[]) : [],
    );
  }
  return payload as T;
}

let serverReachable = true;

/** Tell the shell when the server stops or starts answering (it shows a banner, keeps the session). */
function reachable(ok: boolean): void {
  if (ok === serverReachable) return;
  serverReachable = ok;
  window.dispatchEvent(new Event(ok ? "leadflow:online" : "leadflow:offline"));
}

/** Build a query string, leaving out empty values. */
export function query(params: Record<string, string | number | null | undefined>): string {
  const entries = Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== "");
  return entries.length ? `?${new URLSearchParams(entries.map(([k, v]) => [k, String(v)])).toString()}` : "";
}

/**
 * Fetch `path` (relative to /api) with the signed-in key and hand it to the browser as a file:
 * a plain link cannot carry the bearer key.
 */
export async function download(path: string, filename: string): Promise<void> {
  const key = getKey();
  const response = await fetch(`/api${path}`, { headers: key ? { Authorization: `Bearer ${key}` } : {} });
  if (!response.ok) {
    const text = await response.text();
    let detail = text;
    try {
      detail = String((JSON.parse(text) as { detail?: unknown }).detail ?? text);
    } catch {
      // not JSON: show the text as it came
    }
    throw new ApiError(response.status, response.statusText, detail);
  }
  const fromHeader = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") ?? "")?.[1];
  const url = URL.createObjectURL(await response.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = fromHeader ?? filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** The API's named schemas, generated from /openapi.json (`npm run gen:api` writes schema.d.ts). */
export type Schemas = import("./schema").components["schemas"];
