/**
 * ISO 8601 durations (`P2D`, `PT4H`) shown and entered in words ("2 days", "4 hours").
 * The validator on the server has the last word; this only helps people read and type them.
 */

const UNITS = [
  { key: "W", name: "week", seconds: 604800, time: false },
  { key: "D", name: "day", seconds: 86400, time: false },
  { key: "H", name: "hour", seconds: 3600, time: true },
  { key: "M", name: "minute", seconds: 60, time: true },
  { key: "S", name: "second", seconds: 1, time: true },
] as const;

export type DurationUnit = "weeks" | "days" | "hours" | "minutes" | "seconds";

const PATTERN = /^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/** Parse a duration into its parts, or null when it is not one we understand. */
export function parseIso(value: string): Partial<Record<"W" | "D" | "H" | "M" | "S", number>> | null {
  const match = PATTERN.exec(value.trim().toUpperCase());
  if (!match || value.trim().toUpperCase() === "P" || /T$/.test(value.trim())) return null;
  const [, w, d, h, m, s] = match;
  const parts: Partial<Record<"W" | "D" | "H" | "M" | "S", number>> = {};
  if (w) parts.W = Number(w);
  if (d) parts.D = Number(d);
  if (h) parts.H = Number(h);
  if (m) parts.M = Number(m);
  if (s) parts.S = Number(s);
  return Object.keys(parts).length ? parts : null;
}

/** "P1DT4H" → "1 day 4 hours"; returns null for something that is not a duration. */
export function durationInWords(value: unknown): string | null {
  if (typeof value !== "string") return null;
  const parts = parseIso(value);
  if (!parts) return null;
  return UNITS.filter((u) => parts[u.key] !== undefined && parts[u.key] !== 0)
    .map((u) => `${parts[u.key]} ${u.name}${parts[u.key] === 1 ? "" : "s"}`)
    .join(" ") || "0 seconds";
}

/** Build an ISO duration from an amount and a unit. */
export function toIso(amount: number, unit: DurationUnit): string {
  const spec = UNITS.find((u) => `${u.name}s` === unit)!;
  return spec.time ? `PT${amount}${spec.key}` : `P${amount}${spec.key}`;
}

/** Split a duration into one amount and unit when it has a single part ("P2D" → 2 days). */
export function fromIso(value: unknown): { amount: number; unit: DurationUnit } | null {
  if (typeof value !== "string") return null;
  const parts = parseIso(value);
  if (!parts) return null;
  const keys = Object.keys(parts) as (keyof typeof parts)[];
  if (keys.length !== 1) return null;
  const spec = UNITS.find((u) => u.key === keys[0])!;
  return { amount: parts[keys[0]]!, unit: `${spec.name}s` as DurationUnit };
}

/** Read "2 days", "4h", "1 day 4 hours" or an ISO duration; null when it cannot. */
export function parseWords(text: string): string | null {
  const trimmed = text.trim();
  if (/^p/i.test(trimmed)) return parseIso(trimmed) ? trimmed.toUpperCase() : null;
  const re = /(\d+)\s*(w|weeks?|d|days?|h|hrs?|hours?|m|mins?|minutes?|s|secs?|seconds?)\b/gi;
  const parts: Record<string, number> = {};
  let consumed = "";
  for (const match of trimmed.matchAll(re)) {
    const key = match[2][0].toUpperCase();
    parts[key] = (parts[key] ?? 0) + Number(match[1]);
    consumed += match[0];
  }
  if (!Object.keys(parts).length || consumed.replace(/\s/g, "").length !== trimmed.replace(/[\s,]|and/g, "").length) {
    return null;
  }
  const date = ["W", "D"].map((k) => (parts[k] ? `${parts[k]}${k}` : "")).join("");
  const time = ["H", "M", "S"].map((k) => (parts[k] ? `${parts[k]}${k}` : "")).join("");
  return `P${date}${time ? `T${time}` : ""}`;
}

/** The API sends naive UTC datetimes (no zone); read them as UTC, not local time. */
export function parseApiDate(value: string): Date {
  return new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : `${value}Z`);
}
