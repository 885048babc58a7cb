import { describe, expect, it } from "vitest";
import { metRate, percent, seconds } from "./reports";

describe("report numbers", () => {
  it("shows rates as percentages and nothing as a dash", () => {
    expect(percent(0.5)).toBe("50%");
    expect(percent(0.3333)).toBe("33.3%");
    expect(percent(null)).toBe("–");
  });
  it("shows durations in the two largest units", () => {
    expect(seconds(200)).toBe("3m 20s");
    expect(seconds(3900)).toBe("1h 05m");
    expect(seconds(2 * 86400 + 4 * 3600)).toBe("2d 4h");
    expect(seconds(null)).toBe("–");
  });
  it("counts the SLA met rate among decided handoffs only", () => {
    expect(metRate({ met: 3, breached: 1 })).toBe(0.75);
    expect(metRate({ met: 0, breached: 0 })).toBeNull();
  });
});
