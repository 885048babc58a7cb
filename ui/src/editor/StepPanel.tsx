/** The side panel: edit one step's fields with labelled controls and pickers. */
import type { StepWords } from "./StepNode";
import { useEffect, useRef, useState } from "react";
import type { Problem } from "../api";
import { getTarget, handleLabel, isObject, outgoingHandles, stepsOf, type FlowDoc, type Json, type JsonObject } from "../graph";
import { ConditionField, DurationField, JsonField, NumberField, SelectField, TextField } from "./fields";
import { KIND_LABELS } from "./StepNode";
import { focusField, pathParts, problemPlace, problemSentence } from "./problems";

export const EVENT_TYPES = [
  "email.opened",
  "email.clicked",
  "email.bounced",
  "email.unsubscribed",
  "form.submitted",
  "page.viewed",
  "demo.requested",
  "trial.started",
  "lead.created",
];
export const STAGES = ["subscriber", "lead", "MQL", "SAL", "SQL", "opportunity", "customer", "recycled", "disqualified"];
export const LEAD_FIELDS = ["email", "company", "title", "country", "source", "fields.", "properties."];

/** Choices for the panel's pickers, as [value, label]; an empty list falls back to a text field. */
export interface Pickers {
  templates: [string, string][];
  teams: [string, string][];
  reps: [string, string][];
  /** Subjects and names for the canvas cards' words. */
  words?: StepWords;
}

interface Props {
  doc: FlowDoc;
  stepId: string;
  problems: Problem[];
  pickers: Pickers;
  /** Apply an edit; `key` groups keystrokes in one field into one undo step. */
  change: (doc: FlowDoc, key?: string) => void;
  onRename: (from: string, to: string) => void;
  onDelete: (id: string) => void;
  onSetStart: (id: string) => void;
  /** A problem's path to focus (its field is focused and highlighted); `n` tells repeated requests apart. */
  focus?: { path: string; n: number } | null;
}

export function StepPanel({ doc, stepId, problems, pickers, change, onRename, onDelete, onSetStart, focus }: Props) {
  const steps = stepsOf(doc);
  const step = steps[stepId];
  const [idText, setIdText] = useState(stepId);
  useEffect(() => setIdText(stepId), [stepId]);
  const panel = useRef<HTMLElement>(null);
  const focusProblem = (path: string) => focusField(panel.current, pathParts(path).slice(2).concat(pathParts(path).length > 2 ? [] : ["id"]));
  useEffect(() => {
    const parts = focus ? pathParts(focus.path) : [];
    if (focus && parts[0] === "steps" && parts[1] === stepId) focusProblem(focus.path);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [focus, stepId]);

  // Problems of one field, as sentences: its path starts with steps.<id>.<field>.
  const about = (...field: string[]) =>
    problems
      .filter((p) => {
        const parts = pathParts(p.path);
        return field.every((f, i) => parts[2 + i] === f);
      })
      .map(problemSentence);
  /** A field's place (for the problem links) and its problems. */
  const at = (...field: string[]) => ({ field: field.join("."), problems: about(...field) });

  if (!isObject(step)) {
    return (
      <section className="panel" aria-label={`Step ${stepId}`} ref={panel}>
        <h2>Step {stepId}</h2>
        <p>This step is not an object; fix it in the JSON tab.</p>
      </section>
    );
  }
  const kind = typeof step.type === "string" ? step.type : "unknown";
  const update = (field: string, value: Json | undefined, clears: string[] = []) => {
    const next = { ...step } as JsonObject;
    if (value === undefined || value === "" || value === null) delete next[field];
    else {
      next[field] = value;
      // Fields that exclude each other (a handoff names a team or a rep): picking one drops the other.
      for (const other of clears) delete next[other];
    }
    change({ ...doc, steps: { ...steps, [stepId]: next } }, `${stepId}.${field}`);
  };
  const otherSteps = Object.keys(steps).filter((id) => id !== stepId);
  const targetOptions = Object.keys(steps).map((id) => [id, `${id} (${isObject(steps[id]) ? String((steps[id] as JsonObject).type) : "?"})`] as [string, string]);

  const commitRename = () => {
    const to = idText.trim();
    if (to && to !== stepId) onRename(stepId, to);
  };

  const targets = outgoingHandles(step).filter((h) => !h.includes("."));

  return (
    <section className="panel" aria-label={`Step ${stepId}`} data-testid="step-panel" ref={panel}>
      <h2>{KIND_LABELS[kind] ?? kind} <span className="muted">step</span></h2>
      {about().length > 0 && (
        <ul className="problem-list compact">
          {problems.map((p, i) => (
            <li key={i}>{problemSentence(p)}{" "}
              <button type="button" className="link-button small" title={p.path} data-path={p.path}
                onClick={() => focusProblem(p.path ?? "")}>{problemPlace(p.path ?? "")}</button>
            </li>
          ))}
        </ul>
      )}
      <div className="field" data-field="id">
        <label htmlFor="step-id">Step id</label>
        <input id="step-id" data-testid="step-id" value={idText} onChange={(e) => setIdText(e.target.value)}
          onBlur={commitRename} onKeyDown={(e) => e.key === "Enter" && commitRename()} />
        {about().filter((m) => m.startsWith("Step id")).map((m) => <div key={m} className="field-problem">{m}</div>)}
      </div>

      {kind === "email" && (
        <>
          {pickers.templates.length ? (
            <SelectField label="Template" testId="field-template" value={step.template} options={pickers.templates}
              empty="choose a template…" {...at("template")} onChange={(v) => update("template", v)} />
          ) : (
            <TextField label="Template" testId="field-template" value={step.template} {...at("template")}
              onChange={(v) => update("template", v)} />
          )}
          <TextField label="Subject (optional, overrides the template's)" value={step.subject} {...at("subject")}
            onChange={(v) => update("subject", v)} />
        </>
      )}
      {kind === "wait" && (
        <DurationField label="Wait for" testId="field-duration" value={step.duration} {...at("duration")}
          onChange={(v) => update("duration", v)} />
      )}
      {kind === "wait_for" && (
        <>
          <TextField label="Event" testId="field-event" value={step.event} options={EVENT_TYPES} {...at("event")}
            onChange={(v) => update("event", v)} />
          <SelectField label="Only engagement with the e-mail of step" value={step.from_step} empty="any e-mail"
            options={otherSteps.filter((id) => isObject(steps[id]) && (steps[id] as JsonObject).type === "email")}
            {...at("from_step")} onChange={(v) => update("from_step", v)} />
          <DurationField label="Give up after" testId="field-timeout" value={step.timeout} {...at("timeout")}
            onChange={(v) => update("timeout", v)} />
          <ConditionField label="Only events where" value={step.where} fields={["properties.", ...LEAD_FIELDS]}
            {...at("where")} onChange={(v) => update("where", v)} />
        </>
      )}
      {kind === "branch" && <BranchFields step={step} stepId={stepId} at={at} targetOptions={targetOptions}
        replace={(next) => change({ ...doc, steps: { ...steps, [stepId]: next } }, `${stepId}.branch`)} />}
      {kind === "split" && <SplitFields step={step} at={at} targetOptions={targetOptions}
        replace={(next) => change({ ...doc, steps: { ...steps, [stepId]: next } }, `${stepId}.paths`)} />}
      {kind === "update" && (
        <>
          <SelectField label="Move to stage" value={step.stage} options={STAGES} empty="keep the stage" {...at("stage")}
            onChange={(v) => update("stage", v)} />
          <NumberField label="Add score points" value={step.add_score} {...at("add_score")}
            onChange={(v) => update("add_score", v ?? undefined)} />
          <TextField label="Add tags (comma separated)" value={Array.isArray(step.add_tags) ? step.add_tags.join(", ") : ""}
            {...at("add_tags")}
            onChange={(v) => update("add_tags", v.trim() ? v.split(",").map((t) => t.trim()).filter(Boolean) : undefined)} />
          <JsonField label='Set fields (JSON: {"fields.plan": "pro"})' value={step.set} {...at("set")}
            onChange={(v) => update("set", v)} />
        </>
      )}
      {kind === "handoff" && (
        <>
          {pickers.teams.length ? (
            <SelectField label="Team" testId="field-team" value={step.team} options={pickers.teams}
              empty={step.rep ? "— (a rep is named)" : "choose a team…"} {...at("team")} onChange={(v) => update("team", v, ["rep"])} />
          ) : (
            <TextField label="Team" testId="field-team" value={step.team} {...at("team")} onChange={(v) => update("team", v, ["rep"])} />
          )}
          {pickers.reps.length ? (
            <SelectField label="…or one rep" testId="field-rep" value={step.rep} options={pickers.reps}
              empty={step.team ? "— (the team routes)" : "choose a rep…"} {...at("rep")} onChange={(v) => update("rep", v, ["team"])} />
          ) : (
            <TextField label="…or a rep id" testId="field-rep" value={step.rep} {...at("rep")} onChange={(v) => update("rep", v, ["team"])} />
          )}
          <DurationField label="SLA (business hours of the team)" value={step.sla} {...at("sla")}
            onChange={(v) => update("sla", v)} />
        </>
      )}
      {kind === "notify" && (
        <>
          <SelectField label="Channel" value={step.channel} options={["email", "slack", "webhook"]} {...at("channel")}
            onChange={(v) => update("channel", v)} />
          <TextField label="To (address, channel or URL)" value={step.to} {...at("to")} onChange={(v) => update("to", v)} />
          <TextField label="Message (template string)" multiline value={step.message} {...at("message")}
            placeholder="{{ lead.email }} is hot" onChange={(v) => update("message", v)} />
        </>
      )}

      {targets.length > 0 && (
        <fieldset className="targets">
          <legend>Continues at</legend>
          {targets.map((h) => (
            <SelectField key={h} label={h === "next" ? "Next step" : `When ${handleLabel(h)}`} testId={`target-${h}`}
              value={getTarget(step, h)} options={targetOptions} empty="(not connected)" {...at(h)}
              onChange={(v) => update(h, v)} />
          ))}
        </fieldset>
      )}

      <div className="panel-actions">
        <button type="button" onClick={() => onSetStart(stepId)} disabled={doc.start === stepId}>
          {doc.start === stepId ? "This is the start step" : "Make this the start step"}
        </button>
        <button type="button" className="danger" onClick={() => onDelete(stepId)}>Delete step</button>
      </div>
    </section>
  );
}

type At = (...field: string[]) => { field: string; problems: string[] };

function BranchFields({ step, stepId, at, targetOptions, replace }: {
  step: JsonObject; stepId: string; at: At; targetOptions: [string, string][]; replace: (s: JsonObject) => void;
}) {
  const byCases = Array.isArray(step.cases) || step.on !== "temperature";
  const cases = Array.isArray(step.cases) ? step.cases : [];
  const setMode = (mode: string) => {
    const { on: _on, hot: _h, warm: _w, cold: _c, cases: _cs, else: _e, ...rest } = step;
    replace(mode === "temperature" ? { ...rest, on: "temperature" } : { ...rest, cases: [{ when: { temperature: "hot" } }] });
  };
  const setCase = (index: number, item: JsonObject) => {
    const next = [...cases];
    next[index] = item;
    replace({ ...step, cases: next });
  };
  return (
    <>
      <SelectField label="Branch on" testId="branch-mode" field="on" value={byCases ? "cases" : "temperature"}
        options={[["temperature", "temperature (hot / warm / cold)"], ["cases", "conditions (first match wins)"]]}
        onChange={(v) => setMode(v || "temperature")} />
      {byCases && (
        <fieldset className="cases" data-field="cases">
          <legend>Cases</legend>
          {cases.map((item, i) => {
            const c = isObject(item) ? item : {};
            return (
              <div key={i} className="case">
                <ConditionField label={`Case ${i + 1}: when`} value={c.when} fields={LEAD_FIELDS} {...at("cases", String(i), "when")}
                  onChange={(v) => setCase(i, v === undefined ? (({ when: _w, ...r }) => r)(c) : { ...c, when: v })} />
                <SelectField label={`Case ${i + 1}: go to`} value={c.next} options={targetOptions} empty="(not connected)"
                  {...at("cases", String(i), "next")}
                  onChange={(v) => setCase(i, v ? { ...c, next: v } : (({ next: _n, ...r }) => r)(c))} />
                <button type="button" className="link-button" aria-label={`Remove case ${i + 1} of ${stepId}`}
                  onClick={() => replace({ ...step, cases: cases.filter((_, j) => j !== i) })}>Remove case</button>
              </div>
            );
          })}
          <button type="button" onClick={() => replace({ ...step, cases: [...cases, { when: { temperature: "warm" } }] })}>Add case</button>
        </fieldset>
      )}
    </>
  );
}

function SplitFields({ step, at, targetOptions, replace }: {
  step: JsonObject; at: At; targetOptions: [string, string][]; replace: (s: JsonObject) => void;
}) {
  const paths = Array.isArray(step.paths) ? step.paths : [];
  const setPath = (index: number, item: JsonObject) => {
    const next = [...paths];
    next[index] = item;
    replace({ ...step, paths: next });
  };
  const total = paths.reduce<number>((sum, p) => sum + (isObject(p) && typeof p.weight === "number" ? p.weight : 0), 0);
  return (
    <fieldset className="cases" data-field="paths">
      <legend>Paths (weights total {total})</legend>
      {paths.map((item, i) => {
        const p = isObject(item) ? item : {};
        const letter = String.fromCharCode(65 + i);
        return (
          <div key={i} className="case">
            <NumberField label={`Path ${letter}: weight`} min={0} value={p.weight} {...at("paths", String(i), "weight")}
              onChange={(v) => setPath(i, v === null ? (({ weight: _w, ...r }) => r)(p) : { ...p, weight: v })} />
            <SelectField label={`Path ${letter}: go to`} value={p.next} options={targetOptions} empty="(not connected)"
              {...at("paths", String(i), "next")}
              onChange={(v) => setPath(i, v ? { ...p, next: v } : (({ next: _n, ...r }) => r)(p))} />
            <button type="button" className="link-button" onClick={() => replace({ ...step, paths: paths.filter((_, j) => j !== i) })}>
              Remove path {letter}
            </button>
          </div>
        );
      })}
      <button type="button" onClick={() => replace({ ...step, paths: [...paths, { weight: 0 }] })}>Add path</button>
    </fieldset>
  );
}
