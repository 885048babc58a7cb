import { describe, expect, it } from "vitest";
import { busiestWeekRows, canvasStats, DEFAULT_FORM, exitsInWords, simulationBody, type Simulation } from "./simulation";

describe("simulation helpers", () => {
  it("sends the draft as a document, a version by number, rates as fractions", () => {
    const doc = { id: "f", name: "F", start: "a", steps: {} };
    expect(simulationBody(DEFAULT_FORM, doc)).toEqual({
      document: doc, leads: 1000, days: 90, seed: 1, engagement: { open: 0.3, click: 0.05 },
    });
    const body = simulationBody({ ...DEFAULT_FORM, source: 3, enrolOverDays: 14 }, doc);
    expect(body.version).toBe(3);
    expect(body.document).toBeUndefined();
    expect(body.enrol_over_days).toBe(14);
  });

  it("puts entered and waiting-at-end counts on the steps", () => {
    const result = { steps: { a: { entered: 10, left: 7, waiting_at_end: 3 } } } as unknown as Simulation;
    expect(canvasStats(result)).toEqual({ a: { entered: 10, waiting: 3, passed: 7, simulated: true } });
  });

  it("says why leads left and orders the busiest-week histogram", () => {
    expect(exitsInWords({ goal: 2, exit: 5 })).toEqual(["5 reached an exit step", "2 met the flow's goal (exit_when)"]);
    expect(busiestWeekRows({ "10": 1, "2": 5, "1": 3 })).toEqual([["1 mail", 3], ["2 mails", 5], ["10 mails", 1]]);
  });
});
