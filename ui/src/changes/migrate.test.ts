import { describe, expect, it } from "vitest";
import { arrivals, migrationBody, prefilledMap, whenInWords } from "./migrate";

describe("migrate panel helpers", () => {
  const old = { hello: { type: "email" }, "wait-a": { type: "wait" }, "wait-b": { type: "wait_for" } };
  const target = { hello: { type: "email" }, "wait-b": { type: "wait" }, "pause-a": { type: "wait" } };

  it("prefills waiting steps by id and leaves the others to choose", () => {
    expect(prefilledMap([old], target)).toEqual({ "wait-a": "", "wait-b": "wait-b" });
  });

  it("sends only the renames", () => {
    expect(migrationBody(2, [1], { "wait-a": "pause-a", "wait-b": "wait-b", x: "" }, "restart")).toEqual({
      to_version: 2, from_versions: [1], step_map: { "wait-a": "pause-a" }, timers: "restart",
    });
  });

  it("counts arrivals per new step and says when in words", () => {
    const moves = [
      { from_version: 1, from_step: "wait-a", to_step: "pause-a", leads: 2, sends_at_once: 0 },
      { from_version: 1, from_step: "wait-c", to_step: "pause-a", leads: 3, sends_at_once: 0 },
    ];
    expect(arrivals(moves)).toEqual({ "pause-a": { waiting: 5 } });
    const now = new Date("2026-01-01T00:00:00Z");
    expect(whenInWords(new Date("2026-01-03T00:00:00Z"), now)).toBe("in 2 days");
    expect(whenInWords(new Date("2026-01-01T05:00:00Z"), now)).toBe("in 5 hours");
    expect(whenInWords(now, now)).toBe("now");
  });
});
