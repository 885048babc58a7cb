/**
 * The sales team: reps (name, e-mail, time zone, capacity, away dates) and teams (members,
 * routing, business calendar). Reading takes a marketer key; changing them takes an admin key.
 */
import { useState, type FormEvent } from "react";
import { api, ApiError, type Schemas } from "../api";
import { useApi } from "../hooks";
import { useSession } from "../session";
import { Load, Notice } from "../ui";

export type Rep = Schemas["RepPublic"];

/** A team (GET /api/teams): members, routing and business calendar. */
export type Team = Schemas["TeamPublic"];

const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const ZONES = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : ["UTC", "Europe/London", "Europe/Berlin", "America/New_York"];

function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 64);
}

/** A team's routing in a sentence. */
export function routingInWords(team: Team, repNames: Record<string, string>, teamNames: Record<string, string> = {}): string {
  if (team.routing === "round_robin" || !team.routing) return "Round robin among its members";
  if (typeof team.routing === "object" && Array.isArray(team.routing.territory)) {
    return team.routing.territory
      .map((r) => `${r.when.field ?? "condition"} ${r.when.op ?? "eq"} ${String(r.when.value ?? "")} → ${r.rep ? repNames[r.rep] ?? r.rep : r.team ? teamNames[r.team] ?? r.team : "?"}`)
      .join("; ") + "; otherwise round robin";
  }
  return String(team.routing);
}

/** A business calendar in a sentence: "Mon–Fri 09:00–17:00 Europe/Berlin, 2 holidays". */
export function calendarInWords(cal: Team["calendar"]): string {
  if (!cal || !cal.days) return "Round the clock (no business calendar)";
  const days = cal.days.length === 7 ? "Every day" : cal.days.join(", ");
  const hours = cal.from === "00:00" && cal.to === "24:00" ? "all day" : `${cal.from ?? "09:00"}–${cal.to ?? "17:00"}`;
  const holidays = cal.holidays?.length ? `, ${cal.holidays.length} holiday${cal.holidays.length === 1 ? "" : "s"}` : "";
  return `${days} ${hours} ${cal.timezone ?? "UTC"}${holidays}`;
}

export function TeamPage() {
  const meta = useSession();
  const admin = meta.role === "admin";
  const reps = useApi<Rep[]>("/reps");
  const teams = useApi<Team[]>("/teams");
  const [editRep, setEditRep] = useState<Rep | "new" | null>(null);
  const [editTeam, setEditTeam] = useState<Team | "new" | null>(null);
  const repNames = Object.fromEntries((reps.data ?? []).map((r) => [r.id, r.name]));

  return (
    <section className="team-page">
      <h1>Sales team</h1>
      {!admin && <p className="muted">Changing reps and teams takes an admin key; you can read them.</p>}
      <div className="cards">
        <div className="card wide">
          <div className="row spread">
            <h2>Reps</h2>
            {admin && <button type="button" className="primary" data-testid="rep-new" onClick={() => setEditRep("new")}>Add a rep</button>}
          </div>
          {editRep && <RepForm rep={editRep === "new" ? null : editRep} reps={reps.data ?? []} onDone={() => { setEditRep(null); reps.reload(); }} />}
          <Load state={reps} empty={<p>No reps yet. {admin ? "Add the first one: handoffs need someone to go to." : ""}</p>}>
            {(list) => (
              <table data-testid="reps-table" className="responsive">
                <thead><tr><th>Name</th><th>E-mail</th><th>Time zone</th><th>Capacity</th><th>Teams</th><th></th></tr></thead>
                <tbody>
                  {list.map((r) => (
                    <tr key={r.id}>
                      <td data-label="Name"><strong>{r.name}</strong>{r.active === false && <span className="pill"> inactive</span>}
                        {r.out_of_office?.length ? <div className="small muted">away {r.out_of_office.map((o) => `${o.from} to ${o.to}`).join(", ")}</div> : null}</td>
                      <td data-label="E-mail">{r.email}</td>
                      <td data-label="Time zone">{r.timezone}</td>
                      <td data-label="Capacity">{r.capacity} open leads</td>
                      <td data-label="Teams">{(teams.data ?? []).filter((t) => t.members.includes(r.id)).map((t) => t.name).join(", ") || <span className="muted">none</span>}</td>
                      <td>{admin && <button type="button" onClick={() => setEditRep(r)} aria-label={`Edit ${r.name}`}>Edit</button>}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </Load>
        </div>
        <div className="card wide">
          <div className="row spread">
            <h2>Teams, routing and business hours</h2>
            {admin && <button type="button" className="primary" data-testid="team-new" onClick={() => setEditTeam("new")}>Add a team</button>}
          </div>
          {editTeam && <TeamForm team={editTeam === "new" ? null : editTeam} reps={reps.data ?? []} onDone={() => { setEditTeam(null); teams.reload(); }} />}
          <Load state={teams} empty={<p>No teams yet. A flow's handoff step names a team; {admin ? "add one here." : "an admin adds them."}</p>}>
            {(list) => (
              <table data-testid="teams-table" className="responsive">
                <thead><tr><th>Team</th><th>Members</th><th>Routing</th><th>Business hours</th><th></th></tr></thead>
                <tbody>
                  {list.map((t) => (
                    <tr key={t.id}>
                      <td data-label="Team"><strong>{t.name}</strong></td>
                      <td data-label="Members">{t.members.map((m) => repNames[m] ?? m).join(", ") || <span className="muted">nobody yet</span>}</td>
                      <td data-label="Routing">{routingInWords(t, repNames, Object.fromEntries((teams.data ?? []).map((x) => [x.id, x.name])))}</td>
                      <td data-label="Business hours">{calendarInWords(t.calendar)}</td>
                      <td>{admin && <button type="button" onClick={() => setEditTeam(t)} aria-label={`Edit ${t.name}`}>Edit</button>}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </Load>
        </div>
      </div>
    </section>
  );
}

function FormFooter({ message, label, testId, onCancel }: { message: { text: string; bad?: boolean } | null; label: string; testId: string; onCancel: () => void }) {
  return (
    <>
      <Notice message={message} />
      <div className="row">
        <button type="submit" className="primary" data-testid={testId}>{label}</button>
        <button type="button" onClick={onCancel}>Cancel</button>
      </div>
    </>
  );
}

function problemsText(err: ApiError): string {
  return err.problems.length ? err.problems.map((p) => p.message).join(" ") : err.detail;
}

function RepForm({ rep, reps, onDone }: { rep: Rep | null; reps: Rep[]; onDone: () => void }) {
  const [name, setName] = useState(rep?.name ?? "");
  const [email, setEmail] = useState(rep?.email ?? "");
  const [timezone, setTimezone] = useState(rep?.timezone ?? Intl.DateTimeFormat().resolvedOptions().timeZone ?? "UTC");
  const [capacity, setCapacity] = useState(rep?.capacity ?? 20);
  const [manager, setManager] = useState(rep?.manager_id ?? "");
  const [awayFrom, setAwayFrom] = useState(rep?.out_of_office?.[0]?.from ?? "");
  const [awayTo, setAwayTo] = useState(rep?.out_of_office?.[0]?.to ?? "");
  const [message, setMessage] = useState<{ text: string; bad?: boolean } | null>(null);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const body: Record<string, unknown> = {
      name, email, timezone, capacity, manager_id: manager || null,
      out_of_office: awayFrom && awayTo ? [{ from: awayFrom, to: awayTo }] : [],
    };
    try {
      if (rep) await api(`/reps/${encodeURIComponent(rep.id)}`, { method: "PUT", body });
      else await api("/reps", { body: { id: slug(name) || slug(email.split("@")[0]), ...body } });
      onDone();
    } catch (err) {
      setMessage({ text: problemsText(err as ApiError), bad: true });
    }
  };

  return (
    <form className="inline-form" onSubmit={submit} aria-label={rep ? `Edit ${rep.name}` : "New rep"} data-testid="rep-form">
      <div className="grid-form">
        <div><label htmlFor="rep-name">Name</label><input id="rep-name" value={name} required onChange={(e) => setName(e.target.value)} /></div>
        <div><label htmlFor="rep-email">E-mail (for handoff notices)</label><input id="rep-email" type="email" value={email} required onChange={(e) => setEmail(e.target.value)} /></div>
        <div><label htmlFor="rep-tz">Time zone</label>
          <select id="rep-tz" value={timezone} onChange={(e) => setTimezone(e.target.value)}>
            {(ZONES.includes(timezone) ? ZONES : [timezone, ...ZONES]).map((z) => <option key={z}>{z}</option>)}
          </select></div>
        <div><label htmlFor="rep-capacity">Capacity (open leads at once)</label><input id="rep-capacity" type="number" min={0} value={capacity} onChange={(e) => setCapacity(Number(e.target.value))} /></div>
        <div><label htmlFor="rep-manager">Manager (gets escalations)</label>
          <select id="rep-manager" value={manager} onChange={(e) => setManager(e.target.value)}>
            <option value="">nobody</option>
            {reps.filter((r) => r.id !== rep?.id).map((r) => <option key={r.id} value={r.id}>{r.name}</option>)}
          </select></div>
        <div><label htmlFor="rep-away-from">Away from</label><input id="rep-away-from" type="date" value={awayFrom} onChange={(e) => setAwayFrom(e.target.value)} /></div>
        <div><label htmlFor="rep-away-to">Away until</label><input id="rep-away-to" type="date" value={awayTo} onChange={(e) => setAwayTo(e.target.value)} /></div>
      </div>
      <FormFooter message={message} label={rep ? "Save" : "Add rep"} testId="rep-save" onCancel={onDone} />
    </form>
  );
}

function TeamForm({ team, reps, onDone }: { team: Team | null; reps: Rep[]; onDone: () => void }) {
  const [name, setName] = useState(team?.name ?? "");
  const [members, setMembers] = useState<string[]>(team?.members ?? []);
  const initialRules = team && typeof team.routing === "object" ? team.routing.territory ?? [] : [];
  const [routing, setRouting] = useState<"round_robin" | "territory">(initialRules.length ? "territory" : "round_robin");
  const [rules, setRules] = useState<{ field: string; value: string; rep: string }[]>(
    initialRules.map((r) => ({ field: String(r.when.field ?? "country"), value: String(r.when.value ?? ""), rep: r.rep ?? "" })));
  const cal = team?.calendar ?? {};
  const [hasCalendar, setHasCalendar] = useState(Boolean(cal.days) || !team);
  const [days, setDays] = useState<string[]>(cal.days ?? ["mon", "tue", "wed", "thu", "fri"]);
  const [from, setFrom] = useState(cal.from ?? "09:00");
  const [to, setTo] = useState(cal.to ?? "17:00");
  const [zone, setZone] = useState(cal.timezone ?? Intl.DateTimeFormat().resolvedOptions().timeZone ?? "UTC");
  const [holidays, setHolidays] = useState((cal.holidays ?? []).join(", "));
  const [message, setMessage] = useState<{ text: string; bad?: boolean } | null>(null);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const body: Record<string, unknown> = {
      name, members,
      routing: routing === "round_robin" || !rules.length ? "round_robin"
        : { territory: rules.filter((r) => r.value && r.rep).map((r) => ({ when: { field: r.field, op: "eq", value: r.value }, rep: r.rep })) },
    };
    if (hasCalendar) {
      body.calendar = { timezone: zone, days, from, to, holidays: holidays.split(/[,\s]+/).filter(Boolean) };
    }
    try {
      if (team) await api(`/teams/${encodeURIComponent(team.id)}`, { method: "PUT", body });
      else await api("/teams", { body: { id: slug(name), ...body } });
      onDone();
    } catch (err) {
      setMessage({ text: problemsText(err as ApiError), bad: true });
    }
  };

  return (
    <form className="inline-form" onSubmit={submit} aria-label={team ? `Edit ${team.name}` : "New team"} data-testid="team-form">
      <label htmlFor="team-name">Team name</label>
      <input id="team-name" value={name} required onChange={(e) => setName(e.target.value)} />
      <fieldset>
        <legend>Members</legend>
        {reps.length === 0 && <p className="muted small">Add reps first.</p>}
        {reps.map((r) => (
          <label key={r.id} className="inline">
            <input type="checkbox" checked={members.includes(r.id)}
              onChange={(e) => setMembers(e.target.checked ? [...members, r.id] : members.filter((m) => m !== r.id))} />
            {r.name}
          </label>
        ))}
      </fieldset>
      <fieldset>
        <legend>Routing</legend>
        <label className="inline"><input type="radio" name="routing" checked={routing === "round_robin"} onChange={() => setRouting("round_robin")} /> Round robin</label>
        <label className="inline"><input type="radio" name="routing" checked={routing === "territory"} onChange={() => setRouting("territory")} /> By territory</label>
        {routing === "territory" && (
          <div>
            {rules.map((r, i) => (
              <div key={i} className="row">
                <span>When</span>
                <select aria-label="Lead field" value={r.field} onChange={(e) => setRules(rules.map((x, j) => (j === i ? { ...x, field: e.target.value } : x)))}>
                  {["country", "source", "company", "title"].map((f) => <option key={f}>{f}</option>)}
                </select>
                <span>is</span>
                <input aria-label="Value" value={r.value} size={8} onChange={(e) => setRules(rules.map((x, j) => (j === i ? { ...x, value: e.target.value } : x)))} />
                <span>→</span>
                <select aria-label="Rep" value={r.rep} onChange={(e) => setRules(rules.map((x, j) => (j === i ? { ...x, rep: e.target.value } : x)))}>
                  <option value="">pick a rep</option>
                  {reps.map((p) => <option key={p.id} value={p.id}>{p.name}</option>)}
                </select>
                <button type="button" onClick={() => setRules(rules.filter((_, j) => j !== i))} aria-label="Remove rule">✕</button>
              </div>
            ))}
            <button type="button" onClick={() => setRules([...rules, { field: "country", value: "", rep: "" }])}>Add a rule</button>
            <p className="small muted">Leads no rule matches go round robin.</p>
          </div>
        )}
      </fieldset>
      <fieldset>
        <legend>Business hours (the SLA clock runs only within them)</legend>
        <label className="inline"><input type="checkbox" checked={hasCalendar} onChange={(e) => setHasCalendar(e.target.checked)} /> This team keeps business hours</label>
        {hasCalendar && (
          <div>
            <div className="row">
              {DAYS.map((d) => (
                <label key={d} className="inline">
                  <input type="checkbox" checked={days.includes(d)} onChange={(e) => setDays(e.target.checked ? DAYS.filter((x) => x === d || days.includes(x)) : days.filter((x) => x !== d))} />
                  {d[0].toUpperCase() + d.slice(1)}
                </label>
              ))}
            </div>
            <div className="row">
              <label htmlFor="team-from">From</label><input id="team-from" type="time" value={from} onChange={(e) => setFrom(e.target.value)} />
              <label htmlFor="team-to">to</label><input id="team-to" type="time" value={to} onChange={(e) => setTo(e.target.value)} />
              <label htmlFor="team-tz">in</label>
              <select id="team-tz" value={zone} onChange={(e) => setZone(e.target.value)}>
                {(ZONES.includes(zone) ? ZONES : [zone, ...ZONES]).map((z) => <option key={z}>{z}</option>)}
              </select>
            </div>
            <label htmlFor="team-holidays">Holidays (dates, comma-separated)</label>
            <input id="team-holidays" value={holidays} placeholder="2026-12-25, 2026-12-26" onChange={(e) => setHolidays(e.target.value)} />
          </div>
        )}
      </fieldset>
      <FormFooter message={message} label={team ? "Save" : "Add team"} testId="team-save" onCancel={onDone} />
    </form>
  );
}
