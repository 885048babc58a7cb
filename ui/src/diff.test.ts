import { describe, expect, it } from "vitest";
import { changesInWords, stepTitle } from "./diff";

const subjects = { "trial-welcome": "Welcome to the trial", "follow-up": "Follow-up" };
const v1 = {
  id: "f", name: "Nurture", start: "pause",
  steps: {
    pause: { type: "wait", duration: "P2D", next: "done" },
    route: { type: "branch", on: "temperature", hot: "done", warm: "done", cold: "done" },
    done: { type: "exit" },
  },
};

describe("the unpublished changes in words", () => {
  it("names steps by their title, never by id", () => {
    expect(stepTitle({ type: "wait", duration: "P2D" })).toBe("Wait 2 days");
    expect(stepTitle({ type: "branch", on: "temperature" })).toBe("Branch on temperature");
    expect(stepTitle({ type: "exit" })).toBe("Exit");
    expect(stepTitle({ type: "email", template: "trial-welcome" }, { subjects })).toBe("E-mail: Welcome to the trial");
  });

  it("says a step was added after the one that leads to it, and where it leads", () => {
    const v2 = { ...v1, steps: { ...v1.steps, pause: { ...v1.steps.pause, next: "hello" },
      hello: { type: "email", template: "trial-welcome", next: "done" } } };
    // The pause's new target is told by the added step itself, not once more.
    expect(changesInWords(v1, v2, { subjects })).toEqual([
      "Added step “E-mail: Welcome to the trial” after “Wait 2 days”, leading to “Exit”",
    ]);
  });

  it("says what changed, what was removed and where a step now leads", () => {
    const v2 = { ...v1, steps: {
      pause: { type: "wait", duration: "P3D", next: "follow" },
      follow: { type: "email", template: "follow-up", next: "done" },
      done: { type: "exit" },
    } };
    const v3 = { ...v2, steps: { ...v2.steps, pause: { ...v2.steps.pause, duration: "P2D", next: "done" } } };
    expect(changesInWords(v1, v2, { subjects })).toEqual([
      "Added step “E-mail: Follow-up” after “Wait 3 days”, leading to “Exit”",
      "Removed “Branch on temperature”",
      "Changed “Wait 2 days” to “Wait 3 days”",
    ]);
    expect(changesInWords(v2, v3, { subjects })).toEqual([
      "Changed “Wait 3 days” to “Wait 2 days”",
      "“Wait 2 days” now leads to “Exit” (was “E-mail: Follow-up”)",
    ]);
    expect(changesInWords(v3, v2, { subjects })).toContain("“Wait 3 days” now leads to “E-mail: Follow-up” (was “Exit”)");
  });

  it("names a branch's outcome, a disconnected edge and the flow's own settings", () => {
    const v2 = { ...v1, name: "Trial nurture", start: "route", steps: { ...v1.steps,
      route: { ...v1.steps.route, hot: "pause" }, pause: { type: "wait", duration: "P2D" } } };
    expect(changesInWords(v1, v2)).toEqual([
      "“Wait 2 days” no longer leads anywhere (was “Exit”)",
      "“Branch on temperature” now leads hot leads to “Wait 2 days” (was “Exit”)",
      "Renamed the flow to “Trial nurture” (was “Nurture”)",
      "The flow now starts at “Branch on temperature” (was “Wait 2 days”)",
    ]);
  });

  it("tells two steps that read the same apart, and names changes the title does not show", () => {
    const v2 = { ...v1, steps: { ...v1.steps, "pause-2": { type: "wait", duration: "P2D", next: "done" },
      route: { type: "email", template: "trial-welcome", subject: "Hi", next: "done" } } };
    const v3 = { ...v2, steps: { ...v2.steps, route: { ...v2.steps.route, subject: "Hello" } } };
    expect(changesInWords(v1, v2)).toContain("Added step “Wait 2 days” (pause-2) (not connected yet), leading to “Exit”");
    expect(changesInWords(v2, v3)).toEqual(["Changed “E-mail: Hi” to “E-mail: Hello”"]);
    const v4 = { ...v3, steps: { ...v3.steps, route: { ...v3.steps.route, template: "follow-up" } } };
    expect(changesInWords(v3, v4, { subjects })).toEqual(["Changed the template of “E-mail: Hello”"]);
    expect(changesInWords(v1, v1)).toEqual([]);
  });
});
