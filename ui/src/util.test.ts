import { describe, expect, it } from "vitest";
import { durationInWords, fromIso, parseWords, toIso } from "./durations";
import { canonicalJson, diffLines } from "./diff";

describe("durations in words", () => {
  it("reads ISO durations as words", () => {
    expect(durationInWords("P2D")).toBe("2 days");
    expect(durationInWords("PT4H")).toBe("4 hours");
    expect(durationInWords("P1DT30M")).toBe("1 day 30 minutes");
    expect(durationInWords("PT1S")).toBe("1 second");
    expect(durationInWords("2 days")).toBeNull();
    expect(durationInWords("P")).toBeNull();
  });

  it("turns words into ISO durations", () => {
    expect(parseWords("2 days")).toBe("P2D");
    expect(parseWords("4h")).toBe("PT4H");
    expect(parseWords("1 day 4 hours")).toBe("P1DT4H");
    expect(parseWords("pt30s")).toBe("PT30S");
    expect(parseWords("soon")).toBeNull();
    expect(parseWords("2 days and a bit")).toBeNull();
  });

  it("splits and builds single-unit durations", () => {
    expect(fromIso("P2D")).toEqual({ amount: 2, unit: "days" });
    expect(fromIso("P1DT4H")).toBeNull();
    expect(toIso(30, "minutes")).toBe("PT30M");
    expect(toIso(1, "weeks")).toBe("P1W");
  });
});

describe("version diff", () => {
  it("marks added and removed lines", () => {
    const lines = diffLines("a\nb\nc", "a\nc\nd");
    expect(lines).toEqual([
      { kind: "same", text: "a" },
      { kind: "removed", text: "b" },
      { kind: "same", text: "c" },
      { kind: "added", text: "d" },
    ]);
  });

  it("ignores key order", () => {
    expect(canonicalJson({ b: 1, a: 2 })).toBe(canonicalJson({ a: 2, b: 1 }));
  });
});
