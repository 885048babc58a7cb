import { describe, expect, it } from "vitest";
import { cooldownWords, effectWords, money } from "./types";

describe("closed-loop words", () => {
  it("says cooldowns in words", () => {
    expect(cooldownWords("P90D")).toBe("90 days");
    expect(cooldownWords("PT1H30M")).toBe("1 hour 30 minutes");
    expect(cooldownWords(null)).toBe("");
  });
  it("says effects in words", () => {
    expect(effectWords(1.2)).toBe("raises it a lot");
    expect(effectWords(-0.1)).toBe("lowers it a little");
    expect(effectWords(0.5)).toBe("raises it");
  });
  it("formats money with its currency", () => {
    expect(money(12000, "EUR")).toMatch(/12/);
    expect(money(5, null)).toBe("5");
  });
});
