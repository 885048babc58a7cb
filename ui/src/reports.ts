/** Shapes of the report endpoints and the pure arithmetic the report pages draw from. */
import type { Schemas } from "./api";

/** GET /api/reports/funnel and /api/reports/sla (types generated from /openapi.json). */
export type FunnelStage = Schemas["FunnelStage"];
export type FunnelSource = Schemas["FunnelSource"];
export type Funnel = Schemas["FunnelReport"];
/** Per rep, team or overall in GET /api/reports/sla. */
export type SlaSummary = Schemas["SlaSummary"];
export type SlaReport = Schemas["SlaReport"];

/** Stages beside the funnel (drawn apart from it). */
export const SIDE_STAGES = ["recycled", "disqualified"];

/** A rate 0..1 as a percentage, or a dash when nothing entered. */
export function percent(rate: number | null | undefined): string {
  return typeof rate === "number" ? `${Math.round(rate * 1000) / 10}%` : "–";
}

/** Seconds as the largest two units ("1h 05m", "3m 20s", "2d 4h"). */
export function seconds(value: number | null | undefined): string {
  if (typeof value !== "number") return "–";
  const s = Math.round(value);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${String(m).padStart(2, "0")}m`;
  return `${m}m ${String(s % 60).padStart(2, "0")}s`;
}

/** Share of handoffs whose SLA was met, among those decided (met or breached). */
export function metRate(s: Pick<SlaSummary, "met" | "breached">): number | null {
  return s.met + s.breached ? s.met / (s.met + s.breached) : null;
}
