/** The side panel when no step is selected: the flow's name, entry rule, goal and send window. */
import type { Problem } from "../api";
import { isObject, stepsOf, type FlowDoc, type Json, type JsonObject } from "../graph";
import { ConditionField, DurationField, SelectField, TextField } from "./fields";
import { useEffect, useRef } from "react";
import { focusField, pathParts, problemSentence } from "./problems";
import { EVENT_TYPES, LEAD_FIELDS } from "./StepPanel";

const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

export function FlowSettings({ doc, problems, change, focus }: {
  doc: FlowDoc;
  problems: Problem[];
  change: (doc: FlowDoc, key?: string) => void;
  /** A problem's path to focus (its field is focused and highlighted). */
  focus?: { path: string; n: number } | null;
}) {
  const panel = useRef<HTMLElement>(null);
  useEffect(() => {
    if (focus && pathParts(focus.path)[0] !== "steps") focusField(panel.current, pathParts(focus.path));
  }, [focus]);
  const about = (...field: string[]) =>
    problems.filter((p) => field.every((f, i) => pathParts(p.path)[i] === f)).map(problemSentence);
  const at = (...field: string[]) => ({ field: field.join("."), problems: about(...field) });
  const set = (key: string, value: Json | undefined) => {
    const next = { ...doc };
    if (value === undefined || value === "") delete next[key];
    else next[key] = value;
    change(next, `flow.${key}`);
  };
  const entry = isObject(doc.entry) ? doc.entry : {};
  const setEntry = (key: string, value: Json | undefined) => {
    const next: JsonObject = { ...entry };
    if (value === undefined || value === "") delete next[key];
    else next[key] = value;
    // An empty entry means "manual enrolment only", which is the same as no entry at all.
    set("entry", Object.keys(next).length ? next : undefined);
  };
  const reentry = typeof entry.reentry === "string" ? entry.reentry : "never";
  const reentryMode = reentry === "never" || reentry === "after_exit" ? reentry : "duration";
  const window = isObject(doc.send_window) ? doc.send_window : null;
  const days = window && Array.isArray(window.days) ? (window.days as string[]) : [];
  const setWindow = (key: string, value: Json | undefined) => {
    const next: JsonObject = { ...(window ?? {}) };
    if (value === undefined || value === "") delete next[key];
    else next[key] = value;
    set("send_window", next);
  };

  return (
    <section className="panel" aria-label="Flow settings" data-testid="flow-settings" ref={panel}>
      <h2>Flow settings</h2>
      <p className="muted">Select a step on the canvas to edit it.</p>
      <div className="field"><span className="label">Flow id</span> <code>{String(doc.id ?? "")}</code></div>
      <TextField label="Name" testId="flow-name" value={doc.name} {...at("name")} onChange={(v) => set("name", v)} />
      <TextField label="Description" multiline value={doc.description} {...at("description")}
        onChange={(v) => set("description", v)} />
      <SelectField label="Start step" value={doc.start} options={Object.keys(stepsOf(doc))} {...at("start")}
        onChange={(v) => set("start", v)} />
      <fieldset>
        <legend>Entry: who is enrolled</legend>
        <TextField label="When this event happens" testId="entry-event" value={entry.event} options={EVENT_TYPES}
          {...at("entry", "event")} onChange={(v) => setEntry("event", v)} />
        <ConditionField label="Only if" value={entry.where} fields={LEAD_FIELDS} {...at("entry", "where")}
          onChange={(v) => setEntry("where", v)} />
        <SelectField label="Re-entry" value={reentryMode}
          options={[["never", "never"], ["after_exit", "after leaving the flow"], ["duration", "after some time since leaving"]]}
          {...at("entry", "reentry")}
          onChange={(v) => setEntry("reentry", v === "duration" ? "P30D" : v)} />
        {reentryMode === "duration" && (
          <DurationField label="Time since the last exit" value={reentry} onChange={(v) => setEntry("reentry", v)} />
        )}
      </fieldset>
      <fieldset>
        <legend>Goal</legend>
        <ConditionField label="Leave the flow as a conversion when" value={doc.exit_when} fields={LEAD_FIELDS}
          hint='e.g. {"stage_at_least": "SQL"}' {...at("exit_when")} onChange={(v) => set("exit_when", v)} />
      </fieldset>
      <fieldset>
        <legend>Send window</legend>
        <label className="inline">
          <input type="checkbox" checked={window !== null}
            onChange={(e) => set("send_window", e.target.checked ? { days: DAYS.slice(0, 5), from: "09:00", to: "17:00" } : undefined)} />
          Send e-mails only within a window
        </label>
        {window && (
          <>
            <div className="days" role="group" aria-label="Days" data-field="send_window.days">
              {DAYS.map((d) => (
                <label key={d} className="inline">
                  <input type="checkbox" checked={days.includes(d)}
                    onChange={(e) => setWindow("days", e.target.checked ? DAYS.filter((x) => x === d || days.includes(x)) : days.filter((x) => x !== d))} />
                  {d}
                </label>
              ))}
            </div>
            <div className="row">
              <TextField label="From" value={window.from} placeholder="09:00" {...at("send_window", "from")} onChange={(v) => setWindow("from", v)} />
              <TextField label="To" value={window.to} placeholder="17:00" {...at("send_window", "to")} onChange={(v) => setWindow("to", v)} />
            </div>
            <TextField label="Time zone (empty: the lead's own)" value={window.timezone} placeholder="Europe/Berlin"
              {...at("send_window", "timezone")} onChange={(v) => setWindow("timezone", v)} />
          </>
        )}
      </fieldset>
    </section>
  );
}
