/** Pure helpers of the Simulate panel: the request it sends and how it reads the answer. */
import type { Schemas } from "../api";
import type { StepStats } from "../editor/StepNode";
import type { FlowDoc } from "../graph";
import { moment } from "../words";

/** The answer of POST /api/flows/{id}/simulate. */
export type Simulation = Schemas["SimulationReport"];
/** One step's counts in the answer. */
export type SimStep = Schemas["StepCount"];
/** One team's hand-offs per business day in the answer. */
export type TeamDays = Schemas["TeamLoad"];

/**
 * The body of POST /api/flows/{id}/simulate. Every field has a default on the server (the
 * generated types list a defaulted field as present), so the studio sends only what it sets.
 */
export type SimulationBody = Partial<Omit<Schemas["SimulationRequest"], "engagement">> & {
  engagement?: Partial<Schemas["Engagement"]>;
};

export interface SimForm {
  source: "draft" | number;
  leads: number;
  days: number;
  seed: number;
  open: number; // percent
  click: number; // percent
  enrolOverDays: number;
}

export const DEFAULT_FORM: SimForm = { source: "draft", leads: 1000, days: 90, seed: 1, open: 30, click: 5, enrolOverDays: 0 };

/** The body of POST /api/flows/{id}/simulate for the form (the draft goes as a document). */
export function simulationBody(form: SimForm, draft: FlowDoc): SimulationBody {
  return {
    ...(form.source === "draft" ? { document: draft } : { version: form.source }),
    leads: form.leads,
    days: form.days,
    seed: form.seed,
    engagement: { open: form.open / 100, click: form.click / 100 },
    ...(form.enrolOverDays > 0 ? { enrol_over_days: form.enrolOverDays } : {}),
  };
}

/** Counts for the canvas nodes: how many leads entered each step and waited there at the end. */
export function canvasStats(result: Simulation): Record<string, StepStats> {
  return Object.fromEntries(Object.entries(result.steps).map(([id, s]) => [
    id, { entered: s.entered, waiting: s.waiting_at_end, passed: s.left, simulated: true } as StepStats,
  ]));
}

const EXIT_WORDS: Record<string, string> = {
  exit: "reached an exit step",
  goal: "met the flow's goal (exit_when)",
};

/** Why leads left, in words, most first. */
export function exitsInWords(exits: Record<string, number>): string[] {
  return Object.entries(exits)
    .sort((a, b) => b[1] - a[1])
    .map(([reason, n]) => `${n.toLocaleString()} ${EXIT_WORDS[reason] ?? `ended: ${reason}`}`);
}

/** "12 Jan" for an ISO date (its noon, so no zone moves it to another day). */
export function shortDate(iso: string): string {
  return moment(`${iso.slice(0, 10)}T12:00:00Z`, "day").text;
}

/** Rows of the "mails a lead got in its busiest week" chart. */
export function busiestWeekRows(hist: Record<string, number>): [string, number][] {
  return Object.entries(hist)
    .sort((a, b) => Number(a[0]) - Number(b[0]))
    .map(([n, leads]) => [`${n} mail${n === "1" ? "" : "s"}`, leads]);
}
