/** Pure helpers of the migrate panel: which steps need a mapping, and the body it sends. */
import type { Json } from "../graph";

export type Timers = "from_entry" | "keep_deadline" | "restart";

export interface Move {
  from_version: number;
  from_step: string;
  to_step: string;
  leads: number;
  sends_at_once: number;
}

export interface Preview {
  to_version: number;
  moves: Move[];
  problems: { path: string; message: string }[];
  sample: { lead_id: string; from_version?: number; from_step: string; to_step: string; next_action_at: string }[];
  leads?: number;
  sends_at_once?: number;
  busy?: number;
  handoff?: number;
  held?: number;
}

type Steps = Record<string, Json>;

function kind(step: Json | undefined): string | null {
  return step && typeof step === "object" && !Array.isArray(step) && typeof step.type === "string" ? step.type : null;
}

export const isWait = (step: Json | undefined): boolean => kind(step) === "wait" || kind(step) === "wait_for";

/**
 * The waiting steps of the old versions (where leads can be when they move), each prefilled with
 * the step of the same id in the new version when that is a wait, else "" (to be chosen).
 */
export function prefilledMap(oldSteps: Steps[], target: Steps): Record<string, string> {
  const map: Record<string, string> = {};
  for (const steps of oldSteps) {
    for (const [id, step] of Object.entries(steps)) {
      if (!isWait(step) || id in map) continue;
      map[id] = isWait(target[id]) ? id : "";
    }
  }
  return map;
}

/** The API body: only entries that rename (same-id steps map to themselves anyway). */
export function migrationBody(toVersion: number, fromVersions: number[], map: Record<string, string>, timers: Timers) {
  const stepMap = Object.fromEntries(Object.entries(map).filter(([from, to]) => to && to !== from));
  return { to_version: toVersion, from_versions: fromVersions, step_map: stepMap, timers };
}

/** Leads arriving at each step of the new version, for the canvas. */
export function arrivals(moves: Move[]): Record<string, { waiting: number }> {
  const out: Record<string, { waiting: number }> = {};
  for (const m of moves) out[m.to_step] = { waiting: (out[m.to_step]?.waiting ?? 0) + m.leads };
  return out;
}

/** "in 3 days", "in 5 hours", "now". */
export function whenInWords(at: Date, now: Date = new Date()): string {
  const s = Math.round((at.getTime() - now.getTime()) / 1000);
  if (s <= 60) return "now";
  const units: [number, string][] = [[86400, "day"], [3600, "hour"], [60, "minute"]];
  for (const [size, name] of units) {
    if (s >= size) {
      const n = Math.round(s / size);
      return `in ${n} ${name}${n === 1 ? "" : "s"}`;
    }
  }
  return "now";
}
