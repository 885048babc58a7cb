/** Choices of the step panel's pickers, from the API's templates, teams and reps. */
import type { Schemas } from "./api";
import type { Pickers } from "./editor/StepPanel";

/** The fields the pickers read of a row of GET /api/templates. */
export type TemplateRow = Pick<Schemas["TemplateRow"], "name"> & Partial<Pick<Schemas["TemplateRow"], "subject">>;
/** The fields the pickers read (rows of GET /api/teams and /api/reps; only the id is needed). */
export type TeamRow = Pick<Schemas["TeamPublic"], "id"> & Partial<Pick<Schemas["TeamPublic"], "name" | "members">>;
export type RepRow = Pick<Schemas["RepPublic"], "id"> & Partial<Pick<Schemas["RepPublic"], "name" | "active">>;

/** Picker choices from the API rows (pure; tested). Inactive reps are left out: they get no leads. */
export function pickerChoices(templates: TemplateRow[], teams: TeamRow[], reps: RepRow[]): Pickers {
  const named = (id: string, name?: string) => (name && name !== id ? `${name} (${id})` : id);
  return {
    templates: templates.map((t) => [t.name, t.subject ? `${t.name} — ${t.subject}` : t.name]),
    teams: teams.map((t) => {
      const n = t.members?.length ?? 0;
      return [t.id, `${named(t.id, t.name)} · ${n} rep${n === 1 ? "" : "s"}`];
    }),
    reps: reps.filter((r) => r.active !== false).map((r) => [r.id, named(r.id, r.name)]),
    words: {
      subjects: Object.fromEntries(templates.filter((t) => t.subject).map((t) => [t.name, String(t.subject)])),
      teams: Object.fromEntries(teams.map((t) => [t.id, t.name || t.id])),
      reps: Object.fromEntries(reps.map((r) => [r.id, r.name || r.id])),
    },
  };
}
