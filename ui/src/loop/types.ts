/** Shapes of the closed-loop endpoints, generated from /openapi.json, and their words. */
import type { Schemas } from "../api";

export type RejectionReason = Schemas["RejectionReasonIn"];

/** One feature of a lead's predictive likelihood (GET /api/leads/{id}: likelihood_factors). */
export type Factor = Schemas["LikelihoodFactor"];

/** A training run; the active model also lists its `features`. */
export type PredictiveRun = Schemas["PredictiveModelPublic"];

export type Suggestion = Schemas["ScoringSuggestion"];

export type SourceValue = Schemas["SourceValue"];

export type SourcesReport = Schemas["SourcesReport"];

export type TrendPeriod = Schemas["TrendPeriod"];

export type RejectionsReport = Schemas["RejectionReport"];

export type ExperimentArm = Schemas["ExperimentArm"];

export type Experiment = Schemas["SplitExperiment"];

export const OUTCOME_WORDS: Record<RejectionReason["outcome"], string> = {
  negative: "counts as a bad lead",
  recycle: "back to nurture after a rest",
  exclude: "says nothing about the lead",
};

/** "P90D" → "90 days" (days, hours and minutes only; the API refuses months and years). */
export function cooldownWords(iso: string | null | undefined): string {
  if (!iso) return "";
  const m = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?$/.exec(iso);
  if (!m) return iso;
  const parts: string[] = [];
  const [d, h, min] = [m[1], m[2], m[3]].map((x) => Number(x ?? 0));
  if (d) parts.push(`${d} day${d === 1 ? "" : "s"}`);
  if (h) parts.push(`${h} hour${h === 1 ? "" : "s"}`);
  if (min) parts.push(`${min} minute${min === 1 ? "" : "s"}`);
  return parts.join(" ") || "no time";
}

/** A money amount in the reader's locale, e.g. "€12,000". */
export function money(amount: number, currency: string | null | undefined): string {
  if (!currency || currency === "(none)") return amount.toLocaleString(undefined, { maximumFractionDigits: 0 });
  try {
    return amount.toLocaleString(undefined, { style: "currency", currency, maximumFractionDigits: 0 });
  } catch {
    return `${amount.toLocaleString()} ${currency}`;
  }
}

/** An effect on the log-odds in words: "raises it a lot", "lowers it a little". */
export function effectWords(effect: number): string {
  const size = Math.abs(effect) >= 0.8 ? "a lot" : Math.abs(effect) >= 0.3 ? "" : "a little";
  return `${effect >= 0 ? "raises" : "lowers"} it${size ? ` ${size}` : ""}`;
}
