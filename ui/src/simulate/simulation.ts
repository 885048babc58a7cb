/** Pure helpers of the Simulate panel: the request it sends and how it reads the answer. */
import type { StepStats } from "../editor/StepNode";
import type { FlowDoc } from "../graph";
import { moment } from "../words";

export interface SimStep {
  entered: number;
  left: number;
  waiting_at_end: number;
}

export interface TeamDays {
  mean: number;
  max: number;
  capacity: number | null;
  members: number;
  business_days: number;
  days_over_capacity: number | null;
  days: { date: string; count: number }[];
}

export interface Simulation {
  flow_id: string;
  version: number | null;
  leads: number;
  days: number;
  seed: number;
  start: string;
  steps: Record<string, SimStep>;
  emails: {
    sent: number;
    skipped: number;
    postponed: number;
    per_lead: { p50: number; p95: number; max: number };
    max_per_lead_per_week: number;
    per_week: number[];
    busiest_week_per_lead: Record<string, number>;
  };
  exits: Record<string, number>;
  handoffs: { total: number; per_team_per_business_day: Record<string, TeamDays> };
  mql: { count: number; days_to_mql_p50: number | null };
  paths: { steps: string[]; leads: number }[];
  elapsed_ms: number;
}

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
export function simulationBody(form: SimForm, draft: FlowDoc): Record<string, unknown> {
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
