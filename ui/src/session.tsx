/** Who is signed in: the API key's meta (role, rep, Temporal Web UI address). */
import { createContext, useContext } from "react";
import type { Meta } from "./api";

export const SessionContext = createContext<Meta | null>(null);

export function useSession(): Meta {
  const meta = useContext(SessionContext);
  if (!meta) throw new Error("useSession outside a signed-in page");
  return meta;
}

/** The Temporal Web UI address of a journey's workflow, when the server told us where it is. */
export function temporalLink(meta: Meta, workflowId: string | null | undefined): string | null {
  if (!meta.temporal_ui_url || !workflowId) return null;
  const base = meta.temporal_ui_url.replace(/\/+$/, "");
  return `${base}/namespaces/${encodeURIComponent(meta.namespace ?? "default")}/workflows/${encodeURIComponent(workflowId)}`;
}
