/** Labelled form controls of the side panel: text, select, durations in words, conditions, targets. */
import { useEffect, useId, useState, type ReactNode } from "react";
import { durationInWords, fromIso, parseWords, toIso, type DurationUnit } from "../durations";
import type { Json } from "../graph";

interface FieldProps {
  label: string;
  hint?: ReactNode;
  problems?: string[];
  testId?: string;
  /** The path of this field in the step or flow (`template`, `cases.0.when`): a problem's link focuses it. */
  field?: string;
}

function Frame({ id, label, hint, problems, field, children }: FieldProps & { id: string; children: ReactNode }) {
  return (
    <div className={`field${problems?.length ? " has-problem" : ""}`} data-field={field}>
      <label htmlFor={id}>{label}</label>
      {children}
      {hint && <div className="hint" id={`${id}-hint`}>{hint}</div>}
      {problems?.map((p, i) => (
        <div key={i} className="field-problem" role="alert">{p}</div>
      ))}
    </div>
  );
}

/** A text input that commits on every keystroke; `options` become autocompletion suggestions. */
export function TextField(props: FieldProps & { value: unknown; onChange: (value: string) => void; options?: string[]; multiline?: boolean; placeholder?: string }) {
  const id = useId();
  const listId = `${id}-list`;
  const value = typeof props.value === "string" ? props.value : props.value == null ? "" : String(props.value);
  return (
    <Frame id={id} {...props}>
      {props.multiline ? (
        <textarea id={id} data-testid={props.testId} value={value} rows={3} placeholder={props.placeholder}
          aria-invalid={props.problems?.length ? true : undefined} onChange={(e) => props.onChange(e.target.value)} />
      ) : (
        <input id={id} data-testid={props.testId} value={value} placeholder={props.placeholder}
          list={props.options?.length ? listId : undefined}
          aria-invalid={props.problems?.length ? true : undefined} onChange={(e) => props.onChange(e.target.value)} />
      )}
      {props.options?.length ? (
        <datalist id={listId}>{props.options.map((o) => <option key={o} value={o} />)}</datalist>
      ) : null}
    </Frame>
  );
}

export function NumberField(props: FieldProps & { value: unknown; onChange: (value: number | null) => void; min?: number; max?: number }) {
  const id = useId();
  return (
    <Frame id={id} {...props}>
      <input id={id} type="number" data-testid={props.testId} min={props.min} max={props.max}
        value={typeof props.value === "number" ? props.value : ""}
        onChange={(e) => props.onChange(e.target.value === "" ? null : Number(e.target.value))} />
    </Frame>
  );
}

export function SelectField(props: FieldProps & { value: unknown; onChange: (value: string) => void; options: (string | [string, string])[]; empty?: string }) {
  const id = useId();
  const value = typeof props.value === "string" ? props.value : "";
  const options = props.options.map((o) => (typeof o === "string" ? [o, o] : o));
  const known = options.some(([v]) => v === value);
  return (
    <Frame id={id} {...props}>
      <select id={id} data-testid={props.testId} value={value} onChange={(e) => props.onChange(e.target.value)}
        aria-invalid={props.problems?.length ? true : undefined}>
        <option value="">{props.empty ?? "—"}</option>
        {!known && value && <option value={value}>{value} (unknown)</option>}
        {options.map(([v, label]) => <option key={v} value={v}>{label}</option>)}
      </select>
    </Frame>
  );
}

const UNITS: DurationUnit[] = ["minutes", "hours", "days", "weeks", "seconds"];

/**
 * An ISO 8601 duration picked as amount + unit, or typed in words ("1 day 4 hours").
 * The stored value is always ISO; the words are shown beside it.
 */
export function DurationField(props: FieldProps & { value: unknown; onChange: (value: string) => void }) {
  const id = useId();
  const simple = fromIso(props.value);
  const raw = typeof props.value === "string" ? props.value : "";
  const [text, setText] = useState(raw);
  const [textError, setTextError] = useState<string | null>(null);
  useEffect(() => setText(raw), [raw]);
  const words = durationInWords(props.value);
  const commitText = () => {
    if (text.trim() === "") return props.onChange("");
    const iso = parseWords(text);
    if (iso) {
      setTextError(null);
      props.onChange(iso);
    } else setTextError(`"${text}" is not a duration; try "2 days" or "4 hours".`);
  };
  return (
    <fieldset className={`field duration${props.problems?.length ? " has-problem" : ""}`} data-testid={props.testId} data-field={props.field}>
      <legend>{props.label}</legend>
      <div className="row">
        <label className="sr-only" htmlFor={`${id}-amount`}>{props.label}: amount</label>
        <input id={`${id}-amount`} type="number" min={0} className="amount" value={simple?.amount ?? ""}
          onChange={(e) => e.target.value !== "" && props.onChange(toIso(Number(e.target.value), simple?.unit ?? "days"))} />
        <label className="sr-only" htmlFor={`${id}-unit`}>{props.label}: unit</label>
        <select id={`${id}-unit`} value={simple?.unit ?? "days"}
          onChange={(e) => props.onChange(toIso(simple?.amount ?? 1, e.target.value as DurationUnit))}>
          {UNITS.map((u) => <option key={u} value={u}>{u}</option>)}
        </select>
      </div>
      <label htmlFor={`${id}-words`} className="small">…or in words</label>
      <input id={`${id}-words`} data-testid={props.testId ? `${props.testId}-words` : undefined} value={text} placeholder="e.g. 2 days, 4h, P1DT4H"
        onChange={(e) => setText(e.target.value)} onBlur={commitText}
        onKeyDown={(e) => e.key === "Enter" && commitText()} />
      <div className="hint">{raw ? (words ? `${words} (${raw})` : `"${raw}" is not a duration`) : "not set"}</div>
      {textError && <div className="field-problem" role="alert">{textError}</div>}
      {props.problems?.map((p, i) => <div key={i} className="field-problem" role="alert">{p}</div>)}
    </fieldset>
  );
}

/** Edit JSON (a condition, a `set` map): shown as text, committed when it parses. */
export function JsonField(props: FieldProps & { value: Json | undefined; onChange: (value: Json | undefined) => void; rows?: number }) {
  const id = useId();
  const serialised = props.value === undefined ? "" : JSON.stringify(props.value, null, 1);
  const [text, setText] = useState(serialised);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    setText((current) => {
      try {
        if (current.trim() && JSON.stringify(JSON.parse(current)) === JSON.stringify(props.value)) return current;
      } catch {
        /* the text was invalid: replace it with the new value */
      }
      return serialised;
    });
  }, [serialised, props.value]);
  const change = (next: string) => {
    setText(next);
    if (next.trim() === "") {
      setError(null);
      return props.onChange(undefined);
    }
    try {
      props.onChange(JSON.parse(next) as Json);
      setError(null);
    } catch {
      setError("Not valid JSON yet.");
    }
  };
  return (
    <Frame id={id} {...props} problems={[...(error ? [error] : []), ...(props.problems ?? [])]}>
      <textarea id={id} data-testid={props.testId} className="code" rows={props.rows ?? 3} value={text}
        spellCheck={false} onChange={(e) => change(e.target.value)} />
    </Frame>
  );
}

const OPS = ["eq", "ne", "gt", "gte", "lt", "lte", "in", "contains", "exists"];

/**
 * A condition: simple comparisons (`field op value`) get three controls; anything else
 * (all/any/not, temperature, score...) is edited as JSON.
 */
export function ConditionField(props: FieldProps & { value: Json | undefined; onChange: (value: Json | undefined) => void; fields?: string[] }) {
  const id = useId();
  const value = props.value;
  const isLeaf =
    value !== null && typeof value === "object" && !Array.isArray(value) &&
    Object.keys(value).every((k) => ["field", "op", "value"].includes(k)) && "field" in value;
  const [mode, setMode] = useState<"simple" | "json">(value === undefined || isLeaf ? "simple" : "json");
  if (mode === "json" || (value !== undefined && !isLeaf)) {
    return (
      <div className="condition">
        <JsonField {...props} rows={4} hint={props.hint ?? 'e.g. {"temperature": "hot"} or {"all": [...]}'} />
        {(value === undefined || isLeaf) && (
          <button type="button" className="link-button" onClick={() => setMode("simple")}>Simple comparison</button>
        )}
      </div>
    );
  }
  const leaf = (value ?? {}) as Record<string, Json>;
  const set = (key: string, v: Json | undefined) => {
    const next: Record<string, Json> = { ...leaf };
    if (v === undefined || v === "") delete next[key];
    else next[key] = v;
    props.onChange(Object.keys(next).length ? next : undefined);
  };
  const parseValue = (text: string): Json => {
    try {
      return JSON.parse(text) as Json;
    } catch {
      return text;
    }
  };
  return (
    <fieldset className={`field condition${props.problems?.length ? " has-problem" : ""}`} data-testid={props.testId} data-field={props.field}>
      <legend>{props.label}</legend>
      <div className="row">
        <label className="sr-only" htmlFor={`${id}-field`}>{props.label}: field</label>
        <input id={`${id}-field`} placeholder="field" data-field={props.field && `${props.field}.field`} list={`${id}-fields`} value={typeof leaf.field === "string" ? leaf.field : ""}
          onChange={(e) => set("field", e.target.value)} />
        <datalist id={`${id}-fields`}>{(props.fields ?? []).map((f) => <option key={f} value={f} />)}</datalist>
        <label className="sr-only" htmlFor={`${id}-op`}>{props.label}: operator</label>
        <select id={`${id}-op`} data-field={props.field && `${props.field}.op`} value={typeof leaf.op === "string" ? leaf.op : ""} onChange={(e) => set("op", e.target.value)}>
          <option value="">op</option>
          {OPS.map((o) => <option key={o} value={o}>{o}</option>)}
        </select>
        <label className="sr-only" htmlFor={`${id}-value`}>{props.label}: value</label>
        <input id={`${id}-value`} placeholder="value" data-field={props.field && `${props.field}.value`} value={leaf.value === undefined ? "" : typeof leaf.value === "string" ? leaf.value : JSON.stringify(leaf.value)}
          onChange={(e) => set("value", e.target.value === "" ? undefined : parseValue(e.target.value))} />
      </div>
      <button type="button" className="link-button" onClick={() => setMode("json")}>Edit as JSON (all / any / not, score, temperature…)</button>
      {props.problems?.map((p, i) => <div key={i} className="field-problem" role="alert">{p}</div>)}
    </fieldset>
  );
}
