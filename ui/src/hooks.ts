/** Data loading hooks shared by the pages. */
import { useCallback, useEffect, useRef, useState } from "react";
import { api, ApiError } from "./api";

export interface Loaded<T> {
  data: T | null;
  error: ApiError | null;
  loading: boolean;
  reload: () => void;
}

/** GET `path` (relative to /api) whenever it changes; poll every `pollMs` when given. */
export function useApi<T>(path: string | null, pollMs?: number): Loaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [loading, setLoading] = useState(path !== null);
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  const lastPath = useRef(path);

  useEffect(() => {
    if (path === null) return;
    if (lastPath.current !== path) {
      // A different resource: do not show the previous one's data while loading.
      lastPath.current = path;
      setData(null);
    }
    const controller = new AbortController();
    setLoading(true);
    api<T>(path, { signal: controller.signal })
      .then((value) => {
        setData(value);
        setError(null);
      })
      .catch((err) => {
        if ((err as Error).name !== "AbortError") setError(err as ApiError);
      })
      .finally(() => setLoading(false));
    return () => controller.abort();
  }, [path, tick]);

  useEffect(() => {
    if (!pollMs || path === null) return;
    const timer = window.setInterval(reload, pollMs);
    return () => window.clearInterval(timer);
  }, [pollMs, path, reload]);

  return { data, error, loading, reload };
}

/** The current time, refreshed every `everyMs` (for countdowns). */
export function useNow(everyMs = 1000): Date {
  const [now, setNow] = useState(() => new Date());
  useEffect(() => {
    const timer = window.setInterval(() => setNow(new Date()), everyMs);
    return () => window.clearInterval(timer);
  }, [everyMs]);
  return now;
}
