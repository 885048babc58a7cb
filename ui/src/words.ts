/**
 * Dates, steps, problems, timeline entries and diffs in words: what the studio shows instead
 * of ISO strings, ids and JSON. Pure functions (unit-tested in words.test.ts).
 */
import type { Schemas } from "./api";
import { durationInWords, parseApiDate } from "./durations";

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => !!v && typeof v === "object" && !Array.isArray(v);
const str = (v: unknown): string => (typeof v === "string" ? v : v === undefined || v === null ? "" : String(v));

function toDate(value: string | Date): Date {
  return typeof value === "string" ? parseApiDate(value) : value;
}

/** "2 h 10 min", "3 d 4 h", "45 s": a span in words, two units at most. */
export function spanInWords(ms: number): string {
  let s = Math.round(Math.abs(ms) / 1000);
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  if (d) return h ? `${d} d ${h} h` : `${d} d`;
  if (h) return m ? `${h} h ${m} min` : `${h} h`;
  if (m) return `${m} min`;
  return `${s} s`;
}

/** "in 2 h 10 min" or "5 min ago", relative to `now`. */
export function relative(value: string | Date, now: Date = new Date()): string {
  const diff = toDate(value).getTime() - now.getTime();
  if (Math.abs(diff) < 45_000) return "just now";
  return diff > 0 ? `in ${spanInWords(diff)}` : `${spanInWords(diff)} ago`;
}

/** The calendar day in `timeZone` (the reader's when undefined), for comparing days. */
function dayKey(date: Date, timeZone?: string): string {
  return date.toLocaleDateString("en-GB", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" });
}

function yearIn(date: Date, timeZone?: string): string {
  return date.toLocaleDateString("en-GB", { timeZone, year: "numeric" });
}

/** "3 Dec", or "3 Dec 2025" when the year is not the current one, in the reader's zone. */
export function dayInWords(value: string | Date, now: Date = new Date(), timeZone?: string): string {
  const date = toDate(value);
  const withYear = yearIn(date, timeZone) !== yearIn(now, timeZone);
  return date.toLocaleDateString("en-GB", { day: "numeric", month: "short", year: withYear ? "numeric" : undefined, timeZone });
}

/** "Thu 09:00" within a week of `now`, else "3 Dec 09:00" (or with the year when it differs), in the reader's zone. */
export function dayTime(value: string | Date, now: Date = new Date(), timeZone?: string): string {
  const date = toDate(value);
  const time = date.toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit", hour12: false, timeZone });
  const days = Math.abs(date.getTime() - now.getTime()) / 86_400_000;
  if (days < 6) {
    return dayKey(date, timeZone) === dayKey(now, timeZone)
      ? `today ${time}`
      : `${date.toLocaleDateString("en-GB", { weekday: "short", timeZone })} ${time}`;
  }
  return `${dayInWords(date, now, timeZone)} ${time}`;
}

/** "Thursday, 3 December 2026, 09:00 CET": the whole date, for a tooltip, in the reader's zone. */
export function fullDate(value: string | Date, timeZone?: string): string {
  const date = toDate(value);
  const day = date.toLocaleDateString("en-GB", { weekday: "long", day: "numeric", month: "long", year: "numeric", timeZone });
  const time = date.toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit", hour12: false, timeZone, timeZoneName: "short" });
  return `${day}, ${time}`;
}

/** "Thu 09:00 (in 2 h 10 min)": a moment as people say it. */
export function when(value: string | Date | null | undefined, now: Date = new Date()): string {
  return value ? moment(value, "when", now).text : "";
}

/** "due in 2 h 10 min" / "overdue by 12 min". */
export function dueInWords(value: string | Date, now: Date = new Date()): string {
  const diff = toDate(value).getTime() - now.getTime();
  return diff >= 0 ? `due in ${spanInWords(diff)}` : `overdue by ${spanInWords(diff)}`;
}

/**
 * How a moment reads on a page:
 * - `ago`: "3 min ago" / "in 2 h" (something that happened or is planned),
 * - `due`: "due in 2 h 10 min" / "overdue by 12 min" (a deadline),
 * - `at`: "Thu 09:00" / "today 14:05" / "24 Dec 14:00" (a point on the calendar),
 * - `when`: "Thu 09:00 (in 2 h)",
 * - `day`: "3 Dec" (a date without time).
 */
export type MomentStyle = "ago" | "due" | "at" | "when" | "day";

/**
 * The one way the studio shows a date or time: words for the page and the whole date for a
 * tooltip, both in the reader's time zone (`timeZone` is for tests). Accepts the API's naive
 * UTC strings, ISO strings with a zone, or a Date.
 */
export function moment(value: string | Date, style: MomentStyle = "ago", now: Date = new Date(), timeZone?: string): { text: string; title: string; iso: string } {
  const date = toDate(value);
  if (Number.isNaN(date.getTime())) return { text: typeof value === "string" ? value : "", title: "", iso: "" };
  const text = {
    ago: () => relative(date, now),
    due: () => dueInWords(date, now),
    at: () => dayTime(date, now, timeZone),
    when: () => `${dayTime(date, now, timeZone)} (${relative(date, now)})`,
    day: () => dayInWords(date, now, timeZone),
  }[style]();
  return { text, title: fullDate(date, timeZone), iso: date.toISOString() };
}

export interface TemplateNames {
  [name: string]: string | null | undefined;
}

/** A step's essence in words: "Wait 2 days", "E-mail: Welcome to the trial". */
export function stepEssence(step: unknown, subjects: TemplateNames = {}, names: { teams?: Record<string, string>; reps?: Record<string, string> } = {}): string {
  if (!isObj(step)) return "Not a step";
  switch (step.type) {
    case "email": {
      const t = str(step.template);
      const subject = (str(step.subject) || (t ? subjects[t] : "") || t)
        .replace(/\{\{\s*lead\.(\w+)[^}]*\}\}/g, (_, f: string) => `‹${f.replace(/_/g, " ")}›`);
      return subject ? `E-mail: ${subject}` : "E-mail: pick a template";
    }
    case "wait":
      return `Wait ${durationInWords(step.duration) ?? "…"}`;
    case "wait_for":
      return `Wait for ${str(step.event) || "an event"}, at most ${durationInWords(step.timeout) ?? "…"}`;
    case "branch":
      if (step.on === "temperature") return "Branch on temperature: hot, warm or cold";
      return Array.isArray(step.cases) ? `Branch: ${step.cases.length} condition${step.cases.length === 1 ? "" : "s"}, else` : "Branch";
    case "split":
      return Array.isArray(step.paths) ? `A/B split ${step.paths.map((p) => (isObj(p) ? str(p.weight) : "?")).join(" / ")}` : "A/B split";
    case "update": {
      const parts: string[] = [];
      if (step.stage) parts.push(`stage → ${str(step.stage)}`);
      if (typeof step.add_score === "number") parts.push(`${step.add_score >= 0 ? "+" : ""}${step.add_score} points`);
      if (Array.isArray(step.add_tags) && step.add_tags.length) parts.push(`tag ${step.add_tags.join(", ")}`);
      if (isObj(step.set)) parts.push(`set ${Object.keys(step.set).join(", ")}`);
      return parts.length ? `Update: ${parts.join(", ")}` : "Update the lead";
    }
    case "handoff": {
      const who = step.rep ? names.reps?.[str(step.rep)] ?? str(step.rep) : step.team ? names.teams?.[str(step.team)] ?? str(step.team) : "sales";
      return `Hand off to ${who}, SLA ${durationInWords(step.sla) ?? "…"}`;
    }
    case "notify":
      return `Notify ${str(step.to) || "…"} on ${str(step.channel) || "…"}`;
    case "exit":
      return step.goal ? "Exit: converted" : "Leave the flow";
    default:
      return `Unknown step ${str(step.type)}`;
  }
}

const REASONS: Record<string, string> = {
  "send window": "waiting for the send window to open",
  send_window: "waiting for the send window to open",
  "frequency cap": "held by the frequency cap",
  frequency_cap: "held by the frequency cap",
  paused: "held while the flow is paused",
  consent: "held: no consent to e-mail",
};

/** Why a lead waits at a step, from GET /api/flows/{id}/steps/{step}/leads' `waiting`. */
export function waitingReason(w: { kind?: string; until?: string | null; event?: string | null; reason?: string | null; rep?: string | null } | undefined, now: Date = new Date()): string {
  if (!w) return "";
  const until = w.until ? dayTime(w.until, now) : "";
  switch (w.kind) {
    case "handoff":
      return `waiting for ${w.rep ?? "sales"} to take the lead${w.until ? `, SLA ${dueInWords(w.until, now)}` : ""}`;
    case "wait":
      return until ? `waiting until ${until}` : "waiting";
    case "wait_for":
      return `waiting for ${w.event ?? "an event"}${until ? ` until ${until} at most` : ""}`;
    case "held": {
      const reason = REASONS[w.reason ?? ""] ?? `held (${w.reason ?? "no reason given"})`;
      if (!until) return reason;
      return /window/.test(w.reason ?? "") ? `${reason} ${until}` : `${reason} until ${until}`;
    }
    default:
      return until ? `next step ${until}` : "being processed";
  }
}

/** One entry of GET /api/leads/{id}/timeline. */
export type TimelineEntry = Schemas["TimelineEntryOut"];

const ICONS: Record<string, string> = {
  event: "⚡", email: "✉", step: "➜", score: "★", stage: "⇪", handoff: "☎", sla: "⏱", journey: "⟳",
  consent: "✔", note: "✎", lead: "+",
};

export function timelineIcon(entry: TimelineEntry): string {
  return ICONS[entry.kind] ?? ICONS[entry.type.split(".")[0]] ?? "•";
}

export interface Names {
  flows?: Record<string, string>;
  reps?: Record<string, string>;
  teams?: Record<string, string>;
}

const EVENT_WORDS: Record<string, string> = {
  "email.opened": "Opened an e-mail",
  "email.clicked": "Clicked a link in an e-mail",
  "email.bounced": "An e-mail bounced",
  "email.unsubscribed": "Unsubscribed",
  "email.spam_reported": "Reported an e-mail as spam",
  "form.submitted": "Submitted a form",
  "demo.requested": "Requested a demo",
  "webinar.registered": "Registered for a webinar",
  "webinar.attended": "Attended a webinar",
  "page.viewed": "Viewed a page",
};

/** One timeline entry as a sentence. */
export function timelineSentence(entry: TimelineEntry, names: Names = {}): string {
  const d = entry.data ?? {};
  const flowName = (id: unknown) => names.flows?.[str(id)] ?? str(id);
  const rep = (id: unknown) => names.reps?.[str(id)] ?? str(id);
  const flow = d.flow_id ? ` in ${flowName(d.flow_id)}` : "";
  const step = d.step ? `“${str(d.step)}”` : "";
  if (entry.kind === "event") {
    const props = isObj(d.properties) ? d.properties : {};
    const base = EVENT_WORDS[entry.type] ?? `Event: ${entry.type.replace(/[._]/g, " ")}`;
    const detail = props.url ? ` (${str(props.url)})` : props.form ? ` (${str(props.form)})` : "";
    return base + detail;
  }
  switch (entry.type) {
    case "step.entered":
      return `Reached step ${step}${flow}`;
    case "branch.decided":
      return `Branch ${step} sent the lead to “${str(d.next)}” (${str(d.because)})`;
    case "email.sent":
      return `E-mail sent at step ${step}${flow}`;
    case "email.opened":
      return d.machine_open ? "E-mail fetched by a machine (privacy proxy or scanner): not counted as an open" : "Opened an e-mail";
    case "email.skipped":
      return `E-mail at step ${step} not sent${d.reason ? `: ${str(d.reason).replace(/_/g, " ")}` : ""}`;
    case "email.failed":
      return `E-mail at step ${step} failed${d.reason ? `: ${str(d.reason)}` : ""}`;
    case "email.postponed":
      return `E-mail held back by the ${str(d.reason) || "send window"}${d.retry_at ? ` until ${dayTime(str(d.retry_at))}` : ""}`;
    case "score.changed": {
      const oldScore = typeof d.old === "number" ? d.old : null;
      const newScore = typeof d.new === "number" ? d.new : null;
      const delta = oldScore !== null && newScore !== null ? Math.round((newScore - oldScore) * 10) / 10 : null;
      return `Score ${oldScore !== null ? `${Math.round(oldScore * 10) / 10} → ` : ""}${newScore !== null ? Math.round(newScore * 10) / 10 : "?"}${delta !== null ? ` (${delta >= 0 ? "+" : ""}${delta})` : ""}`;
    }
    case "temperature.changed":
      return `Became ${str(d.new)}${d.old ? ` (was ${str(d.old)})` : ""}`;
    case "stage.changed":
      return `Stage ${d.from ? `${str(d.from)} → ` : ""}${str(d.to)}${d.cause && d.cause !== "api" ? ` (${str(d.cause)})` : ""}`;
    case "journey.enrolled":
      return `Entered ${flowName(d.flow_id)}${d.version ? ` (version ${str(d.version)})` : ""}${d.trigger && d.trigger !== "manual" ? "" : " by hand"}`;
    case "journey.completed":
      return `Finished ${flowName(d.flow_id)}`;
    case "journey.exited":
      return `Left ${flowName(d.flow_id)}${d.reason ? ` (${str(d.reason)})` : ""}`;
    case "journey.failed":
      return `${flowName(d.flow_id)} failed at step ${step}`;
    case "handoff.opened":
      return `Handed to sales${d.team ? ` (${names.teams?.[str(d.team)] ?? str(d.team)})` : ""}${d.sla_due_at ? `, first touch due ${dayTime(str(d.sla_due_at))}` : ""}`;
    case "handoff.assigned":
      return `Assigned to ${d.rep_id ? rep(d.rep_id) : "nobody yet"}${d.reason ? ` (${str(d.reason)})` : ""}`;
    case "note.added":
      return `Note: ${str(d.text)}`;
    case "notify.sent":
      return `Notified ${str(d.to) || "someone"}${flow}`;
    case "lead.created":
      return "Lead created";
    case "lead.updated":
      return "Profile updated";
    default: {
      if (entry.type.startsWith("handoff.")) return `${d.rep_id ? rep(d.rep_id) : "Sales"} ${entry.type.slice(8).replace(/_/g, " ")} the lead${d.reason ? `: ${str(d.reason)}` : ""}`;
      if (entry.type.startsWith("sla.")) return `SLA ${entry.type.slice(4).replace(/_/g, " ")}${d.to ? ` to ${rep(d.to)}` : ""}`;
      if (entry.type.startsWith("consent.")) return `Consent ${entry.type.slice(8).replace(/_/g, " ")}${d.source ? ` (${str(d.source)})` : ""}`;
      return `${entry.type.replace(/[._]/g, " ")}${flow}`;
    }
  }
}

/** Changes the server records natively and also as derived events: the derived copy is left out. */
const DERIVED = new Set(["score.changed", "temperature.changed", "stage.changed", "lead.created", "lead.updated"]);

/** The timeline without duplicates (a score change is written once as a change, once as an event). */
export function dedupeTimeline(entries: TimelineEntry[]): TimelineEntry[] {
  return entries.filter((e) => !(e.kind === "event" && DERIVED.has(e.type)));
}
