/** Pure helpers of the migrate panel: which steps need a mapping, and the body it sends. */
import type { Schemas } from "../api";
import type { Json } from "../graph";

export type Timers = "from_entry" | "keep_deadline" | "restart";

/** One group of leads the migration would move (from a version's step to a step of the new one). */
export type Move = Schemas["Move"];

/** POST /api/flows/{id}/migrations/preview: what moving the waiting leads would do. */
export type Preview = Schemas["MigrationPreview"];

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
export function migrationBody(toVersion: number, fromVersions: number[], map: Record<string, string>, timers: Timers): Schemas["MigrationBody"] {
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
