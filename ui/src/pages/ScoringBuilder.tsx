/**
 * The scoring model as a form: fit rules (who the lead is), points per event (what it does), the
 * half-life, the temperature thresholds and the MQL line. It reads and writes the same model JSON
 * the JSON box shows; rules too rich for the form are shown in words and kept as they are.
 */
import { durationInWords, parseWords } from "../durations";

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => !!v && typeof v === "object" && !Array.isArray(v);

const FIELDS = ["title", "company", "email", "country", "source", "stage"];
const OPS: [string, string][] = [["contains", "contains"], ["eq", "is"], ["ne", "is not"], ["exists", "is filled in"], ["gte", "≥"], ["lte", "≤"]];

interface Simple { field: string; op: string; values: string[] }

/** A fit condition the form can edit: one field test, or "any of" tests on one field and operator. */
export function simpleCondition(when: unknown): Simple | null {
  if (isObj(when) && typeof when.field === "string" && typeof when.op === "string") {
    return { field: when.field, op: when.op, values: when.value === undefined ? [] : [String(when.value)] };
  }
  if (isObj(when) && Array.isArray(when.any) && when.any.length) {
    const parts = when.any.map(simpleCondition);
    if (parts.every((p) => p && p.field === parts[0]!.field && p.op === parts[0]!.op && p.values.length === 1)) {
      return { field: parts[0]!.field, op: parts[0]!.op, values: parts.map((p) => p!.values[0]) };
    }
  }
  return null;
}

export function conditionFrom(s: Simple): Obj {
  const one = (value?: string) => ({ field: s.field, op: s.op, ...(s.op === "exists" ? {} : { value: /^-?\d+(\.\d+)?$/.test(value ?? "") ? Number(value) : value ?? "" }) });
  if (s.op === "exists" || s.values.length <= 1) return one(s.values[0]);
  return { any: s.values.map(one) };
}

export function ScoringBuilder({ model, onChange }: { model: unknown; onChange: (next: Obj) => void }) {
  if (!isObj(model)) return <p className="muted">The JSON below is not a model object; fix it there.</p>;
  const fit = Array.isArray(model.fit) ? (model.fit as Obj[]) : [];
  const behavior = isObj(model.behavior) ? model.behavior : {};
  const temperature = isObj(model.temperature) ? model.temperature : {};
  const decay = isObj(model.decay) ? model.decay : {};
  const set = (patch: Obj) => onChange({ ...model, ...patch });
  const setFit = (i: number, rule: Obj | null) => set({ fit: rule ? fit.map((r, j) => (j === i ? rule : r)) : fit.filter((_, j) => j !== i) });

  return (
    <div className="scoring-builder" data-testid="scoring-builder">
      <h2>Who the lead is (fit)</h2>
      <table className="responsive">
        <thead><tr><th>Rule</th><th>When</th><th>Points</th><th></th></tr></thead>
        <tbody>
          {fit.map((rule, i) => {
            const simple = simpleCondition(rule.when);
            return (
              <tr key={i} data-testid={`fit-rule-${i}`}>
                <td data-label="Rule"><input aria-label={`Name of fit rule ${i + 1}`} value={String(rule.name ?? "")} onChange={(e) => setFit(i, { ...rule, name: e.target.value })} /></td>
                <td data-label="When">
                  {simple ? (
                    <div className="row">
                      <select aria-label={`Field of fit rule ${i + 1}`} value={simple.field} onChange={(e) => setFit(i, { ...rule, when: conditionFrom({ ...simple, field: e.target.value }) })}>
                        {(FIELDS.includes(simple.field) ? FIELDS : [simple.field, ...FIELDS]).map((f) => <option key={f}>{f}</option>)}
                      </select>
                      <select aria-label={`Test of fit rule ${i + 1}`} value={simple.op} onChange={(e) => setFit(i, { ...rule, when: conditionFrom({ ...simple, op: e.target.value }) })}>
                        {(OPS.some(([o]) => o === simple.op) ? OPS : [[simple.op, simple.op] as [string, string], ...OPS]).map(([o, l]) => <option key={o} value={o}>{l}</option>)}
                      </select>
                      {simple.op !== "exists" && (
                        <input aria-label={`Values of fit rule ${i + 1}`} title="One value, or several separated by commas (any of them)"
                          value={simple.values.join(", ")} onChange={(e) => setFit(i, { ...rule, when: conditionFrom({ ...simple, values: e.target.value.split(",").map((v) => v.trim()).filter(Boolean) }) })} />
                      )}
                    </div>
                  ) : <span className="muted small">a combined condition (edit it in the JSON)</span>}
                </td>
                <td data-label="Points"><input type="number" className="points" aria-label={`Points of fit rule ${i + 1}`} value={Number(rule.points ?? 0)}
                  onChange={(e) => setFit(i, { ...rule, points: Number(e.target.value) })} /></td>
                <td><button type="button" aria-label={`Remove fit rule ${i + 1}`} onClick={() => setFit(i, null)}>✕</button></td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <button type="button" data-testid="fit-add" onClick={() => set({ fit: [...fit, { name: "New rule", points: 5, when: { field: "title", op: "contains", value: "" } }] })}>Add a fit rule</button>

      <h2>What the lead does (points per event)</h2>
      <table className="responsive">
        <thead><tr><th>Event</th><th>Points</th><th></th></tr></thead>
        <tbody>
          {Object.entries(behavior).map(([event, points]) => (
            <tr key={event} data-testid={`behavior-${event}`}>
              <td data-label="Event">{event}</td>
              <td data-label="Points">{typeof points === "number" ? (
                <input type="number" className="points" aria-label={`Points for ${event}`} value={points}
                  onChange={(e) => set({ behavior: { ...behavior, [event]: Number(e.target.value) } })} />
              ) : <span className="muted small">{Array.isArray(points) ? `${points.length} rules by property (edit them in the JSON)` : "edit in the JSON"}</span>}</td>
              <td><button type="button" aria-label={`Remove ${event}`} onClick={() => set({ behavior: Object.fromEntries(Object.entries(behavior).filter(([k]) => k !== event)) })}>✕</button></td>
            </tr>
          ))}
        </tbody>
      </table>
      <form className="row" onSubmit={(e) => {
        e.preventDefault();
        const input = (e.currentTarget.elements.namedItem("new-event") as HTMLInputElement);
        if (input.value.trim()) set({ behavior: { ...behavior, [input.value.trim()]: 5 } });
        input.value = "";
      }}>
        <label htmlFor="new-event">Event type</label>
        <input id="new-event" name="new-event" placeholder="e.g. trial.started" />
        <button type="submit">Add event</button>
      </form>

      <h2>Decay, temperature and MQL</h2>
      <div className="grid-form">
        <div>
          <label htmlFor="half-life">Behaviour points halve every</label>
          <input id="half-life" key={String(decay.half_life)} defaultValue={durationInWords(decay.half_life) ?? String(decay.half_life ?? "")}
            onBlur={(e) => { const iso = parseWords(e.target.value); if (iso) set({ decay: { ...decay, half_life: iso } }); }} />
        </div>
        <div><label htmlFor="hot-at">Hot at (points)</label><input id="hot-at" type="number" value={Number(temperature.hot ?? 0)} onChange={(e) => set({ temperature: { ...temperature, hot: Number(e.target.value) } })} /></div>
        <div><label htmlFor="warm-at">Warm at (points)</label><input id="warm-at" type="number" value={Number(temperature.warm ?? 0)} onChange={(e) => set({ temperature: { ...temperature, warm: Number(e.target.value) } })} /></div>
        <div><label htmlFor="mql-at">MQL at (points)</label><input id="mql-at" type="number" value={Number(model.mql_at ?? 0)} onChange={(e) => set({ mql_at: Number(e.target.value) })} /></div>
      </div>
    </div>
  );
}
