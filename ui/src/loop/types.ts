/** Shapes of the closed-loop endpoints (leadflow/sales/outcomes.py, value_reports.py, scoring/predictive.py). */

export interface RejectionReason {
  id: string;
  label: string;
  outcome: "negative" | "recycle" | "exclude";
  recycle_flow?: string | null;
  cooldown?: string | null;
}

export interface Factor {
  feature: string;
  label: string;
  effect: number;
}

export interface PredictiveRun {
  id: number;
  status: "trained" | "refused";
  promoted: boolean;
  active: boolean;
  why: string;
  created_at: string;
  metrics: Record<string, number | string>;
  labels: { positives?: number; negatives?: number; min_per_class?: number };
  features?: { feature: string; label: string; weight: number }[];
}

export interface Suggestion {
  kind: string;
  rule: string;
  points: number;
  matched: number;
  conversion_with: number;
  conversion_without: number;
  lift: number | null;
  verdict: "overrated" | "underrated" | "no_effect" | "unscored";
  sentence: string;
}

export interface SourceValue {
  source: string;
  leads: number;
  MQL: number;
  SAL: number;
  SQL: number;
  opportunities: number;
  won: number;
  lost: number;
  revenue: number;
  revenue_per_lead: number;
  mql_rate: number | null;
  win_rate: number | null;
}

export interface SourcesReport {
  currency: string | null;
  mixed_currencies: boolean;
  sources: SourceValue[];
}

export interface TrendPeriod {
  start: string;
  mql: number;
  mql_to_sal: number;
  mql_to_sal_ratio: number | null;
  sal: number;
  sal_to_sql: number;
  sal_to_sql_ratio: number | null;
}

export interface RejectionsReport {
  total: number;
  reasons: { id: string; label: string; outcome: string | null; count: number; share: number | null }[];
  by_source: { source: string; total: number; reasons: Record<string, number> }[];
  by_flow: { flow_id: string; flow_name: string; total: number; reasons: Record<string, number> }[];
}

export interface ExperimentArm {
  arm: string;
  weight: number;
  leads: number;
  emails_sent: number;
  opened: number;
  clicked: number;
  conversions: number;
  mql: number;
  won: number;
  rate: number | null;
}

export interface Experiment {
  flow_id: string;
  flow_name: string;
  step: string;
  arms: ExperimentArm[];
  p_value: number | null;
  significant: boolean;
  winner: string | null;
  sentence: string;
}

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
