/** One node kind per step type, with a labelled source handle per outcome. */
import { Handle, Position, type Node, type NodeProps } from "@xyflow/react";
import { memo } from "react";
import type { Problem } from "../api";
import { durationInWords } from "../durations";
import { handleLabel, isObject, outgoingHandles, type Json } from "../graph";
import { stepEssence } from "../words";
import { problemSentence } from "./problems";
import { AddNextButton } from "./StepMenu";

export interface StepStats {
  waiting?: number;
  passed?: number;
  entered?: number;
  emails_sent?: number;
  opened?: number;
  clicked?: number;
  open_rate?: number | null;
  click_rate?: number | null;
  exits?: number;
  conversions?: number;
  /** Counts from a simulation: entered and waiting at its end, not live ones. */
  simulated?: boolean;
  /** Leads whose next send waits, by reason (paused flow, send window, frequency cap, consent). */
  held?: Partial<Record<"paused" | "send_window" | "frequency_cap" | "consent", number>>;
}

/** Words the cards use: template subjects, team and rep names. */
export interface StepWords {
  subjects?: Record<string, string>;
  teams?: Record<string, string>;
  reps?: Record<string, string>;
}

const HELD_WORDS: Record<string, string> = {
  paused: "flow paused", send_window: "send window", frequency_cap: "frequency cap", consent: "no consent",
};

export type StepNodeData = {
  stepId: string;
  kind: string;
  /** The whole step, edges included (for the summary and the handles). */
  step: Json;
  isStart: boolean;
  /** Layout direction: outcomes leave at the bottom (DOWN) or on the right (RIGHT). */
  direction?: "DOWN" | "RIGHT";
  problems: Problem[];
  stats?: StepStats;
  words?: StepWords;
  onAdd?: (stepId: string, handle: string, type: string) => void;
};

export type StepFlowNode = Node<StepNodeData, "step">;

export const KIND_LABELS: Record<string, string> = {
  email: "E-mail",
  wait: "Wait",
  wait_for: "Wait for event",
  branch: "Branch",
  split: "A/B split",
  update: "Update lead",
  handoff: "Hand off to sales",
  notify: "Notify",
  exit: "Exit",
  unknown: "Unknown step",
};

export const KIND_ICONS: Record<string, string> = {
  email: "✉",
  wait: "◷",
  wait_for: "◎",
  branch: "⋔",
  split: "⇉",
  update: "✎",
  handoff: "☎",
  notify: "⚑",
  exit: "■",
  unknown: "?",
};

/** One line saying what the step does, in the marketer's words. */
export function stepSummary(step: Json): string {
  if (!isObject(step)) return "not a step";
  const s = (v: Json | undefined) => (typeof v === "string" && v ? v : "…");
  switch (step.type) {
    case "email":
      return `template ${s(step.template)}`;
    case "wait":
      return durationInWords(step.duration) ?? (step.duration ? `${String(step.duration)}?` : "no duration");
    case "wait_for":
      return `${s(step.event)} within ${durationInWords(step.timeout) ?? "…"}`;
    case "branch":
      return Array.isArray(step.cases) ? `${step.cases.length} case(s) + else` : `on ${s(step.on)}`;
    case "split":
      return Array.isArray(step.paths) ? step.paths.map((p) => (isObject(p) ? p.weight : "?")).join(" / ") : "no paths";
    case "update": {
      const parts = [];
      if (step.stage) parts.push(`stage ${String(step.stage)}`);
      if (typeof step.add_score === "number") parts.push(`${step.add_score >= 0 ? "+" : ""}${step.add_score} pts`);
      if (Array.isArray(step.add_tags) && step.add_tags.length) parts.push(`tags ${step.add_tags.join(", ")}`);
      if (isObject(step.set)) parts.push(`set ${Object.keys(step.set).join(", ")}`);
      return parts.join(" · ") || "nothing yet";
    }
    case "handoff":
      return `${step.rep ? `rep ${s(step.rep)}` : `team ${s(step.team)}`}, SLA ${durationInWords(step.sla) ?? "…"}`;
    case "notify":
      return `${s(step.channel)} → ${s(step.to)}`;
    case "exit":
      return "leaves the flow";
    default:
      return `type ${String(step.type)}`;
  }
}

function pct(value: number | null | undefined): string {
  return typeof value === "number" ? `${Math.round(value * (value <= 1 ? 100 : 1))}%` : "–";
}

function StepNodeView({ data, selected }: NodeProps<StepFlowNode>) {
  const handles = outgoingHandles(data.step);
  const stats = data.stats;
  const across = data.direction === "RIGHT";
  return (
    <div
      className={`step-node kind-${data.kind}${data.problems.length ? " has-problem" : ""}${selected ? " selected" : ""}`}
      data-testid={`node-${data.stepId}`}
      aria-label={`${KIND_LABELS[data.kind] ?? data.kind} step ${data.stepId}${data.problems.length ? `, ${data.problems.length} problem(s)` : ""}`}
    >
      <Handle type="target" position={across ? Position.Left : Position.Top} aria-label={`into ${data.stepId}`} />
      <div className="step-head">
        <span className="icon" aria-hidden>{KIND_ICONS[data.kind] ?? "?"}</span>
        <span className="kind">{KIND_LABELS[data.kind] ?? data.kind}</span>
        <span className="step-id">{data.stepId}</span>
        {data.isStart && <span className="badge start">start</span>}
        {data.problems.length > 0 && (
          <span className="badge problem" data-testid={`node-problems-${data.stepId}`} title={data.problems.map(problemSentence).join("\n")}>
            ⚠ {data.problems.length}
          </span>
        )}
      </div>
      <div className="step-title">{stepEssence(data.step, data.words?.subjects, data.words)}</div>
      {data.problems.length > 0 && <div className="step-problem">{problemSentence(data.problems[0])}</div>}
      {stats?.simulated && (
        <div className="step-stats simulated" data-testid={`sim-stats-${data.stepId}`}>
          <span title="leads that entered this step in the simulation">▶ {stats.entered ?? 0} entered</span>
          <span title="leads still here when the simulation ended">● {stats.waiting ?? 0} waiting at the end</span>
        </div>
      )}
      {stats && !stats.simulated && <LiveCounts kind={data.kind} stepId={data.stepId} stats={stats} />}
      <div className="handles">
        {handles.map((h, i) => (
          <Handle key={h} id={h} type="source" position={across ? Position.Right : Position.Bottom}
            style={across ? { top: `${((i + 1) / (handles.length + 1)) * 100}%` } : { left: `${((i + 1) / (handles.length + 1)) * 100}%` }}
            className={`handle-${h.split(".")[0]}`} aria-label={`${data.stepId}: ${handleLabel(h, data.step)}`}
            data-testid={`handle-${data.stepId}-${h}`}>
            <span className="handle-label">{handleLabel(h, data.step)}</span>
            {data.onAdd && <AddNextButton stepId={data.stepId} handle={h} label={handleLabel(h, data.step)} onAdd={data.onAdd} />}
          </Handle>
        ))}
      </div>
    </div>
  );
}

/** Live counts as large numbers and bars: waiting, held (with why), passed, converted. */
function LiveCounts({ kind, stepId, stats }: { kind: string; stepId: string; stats: StepStats }) {
  const held = Object.entries(stats.held ?? {}).filter(([, n]) => n);
  const heldTotal = held.reduce((a, [, n]) => a + (n ?? 0), 0);
  const waiting = Math.max(0, (stats.waiting ?? 0) - heldTotal);
  const rows: [string, number, string][] = [
    ["waiting", waiting, "bar-waiting"],
    ["held", heldTotal, "bar-held"],
    ["passed", stats.passed ?? 0, "bar-passed"],
  ];
  if (kind === "exit") rows.push(["converted", stats.conversions ?? 0, "bar-converted"]);
  const max = Math.max(1, ...rows.map(([, n]) => n));
  return (
    <div className="step-stats" data-testid={`stats-${stepId}`}>
      <div className="big-count" data-testid={`waiting-${stepId}`} title="leads at this step now">
        <strong>{stats.waiting ?? 0}</strong> waiting
      </div>
      {rows.map(([label, n, cls]) => (
        <div key={label} className="bar-row" title={`${n} ${label}`}>
          <span className="bar-label">{label}</span>
          <span className="bar-track"><span className={`bar-fill ${cls}`} style={{ width: `${(n / max) * 100}%` }} /></span>
          <span className="bar-n">{n}</span>
        </div>
      ))}
      {held.length > 0 && <div className="held-why" data-testid={`held-${stepId}`}>held: {held.map(([k, n]) => `${n} ${HELD_WORDS[k] ?? k}`).join(", ")}</div>}
      {kind === "email" && (
        <span className="small" title="e-mails sent, open and click rates">✉ {stats.emails_sent ?? 0} sent · open {pct(stats.open_rate)} · click {pct(stats.click_rate)}</span>
      )}
      {kind === "exit" && <span className="small" title="exits and conversions">■ {stats.exits ?? 0} exits · ★ {stats.conversions ?? 0} conv.</span>}
    </div>
  );
}

export const StepNode = memo(StepNodeView);
export const nodeTypes = { step: StepNode };
