import { describe, expect, it } from "vitest";
import { pickerChoices } from "./pickers";

describe("panel pickers", () => {
  it("label templates by subject, teams by name and size, and leave inactive reps out", () => {
    const p = pickerChoices(
      [{ name: "trial-welcome", subject: "Welcome, {{ lead.first_name }}" }, { name: "bare" }],
      [{ id: "inside", name: "Inside sales", members: ["ann", "bob"] }, { id: "solo", members: ["cy"] }],
      [{ id: "ann", name: "Ann", active: true }, { id: "gone", name: "Gone", active: false }, { id: "bob" }],
    );
    expect(p.templates).toEqual([["trial-welcome", "trial-welcome — Welcome, {{ lead.first_name }}"], ["bare", "bare"]]);
    expect(p.teams).toEqual([["inside", "Inside sales (inside) · 2 reps"], ["solo", "solo · 1 rep"]]);
    expect(p.reps).toEqual([["ann", "Ann (ann)"], ["bob", "bob"]]);
  });
});
