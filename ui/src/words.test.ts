import { describe, expect, it } from "vitest";
import { withoutTracking } from "./mail";
import { sortForInbox, type Handoff } from "./sales";
import { dayInWords, dayTime, dedupeTimeline, dueInWords, fullDate, moment, relative, spanInWords, stepEssence, timelineSentence, waitingReason } from "./words";

const now = new Date("2026-12-03T07:55:00Z");

describe("times in words", () => {
  it("says spans with two units at most", () => {
    expect(spanInWords(2 * 3600_000 + 10 * 60_000)).toBe("2 h 10 min");
    expect(spanInWords(3 * 86400_000 + 4 * 3600_000 + 5000)).toBe("3 d 4 h");
    expect(spanInWords(45_000)).toBe("45 s");
  });
  it("says due and relative times", () => {
    expect(dueInWords("2026-12-03T10:05:00", now)).toBe("due in 2 h 10 min");
    expect(dueInWords("2026-12-03T07:43:00Z", now)).toBe("overdue by 12 min");
    expect(relative("2026-12-03T07:50:00Z", now)).toBe("5 min ago");
  });
  it("names the weekday within a week", () => {
    expect(dayTime("2026-12-03T09:00:00Z", now, "UTC")).toBe("today 09:00");
    expect(dayTime("2026-12-04T14:00:00Z", now, "UTC")).toBe("Fri 14:00");
    expect(dayTime("2026-12-24T14:00:00Z", now, "UTC")).toBe("24 Dec 14:00");
  });
});

describe("one way to show a moment", () => {
  const at = "2026-12-03T08:00:00"; // the API's naive UTC: 5 min after `now`

  it("gives words for the page and the whole date for the tooltip, in the reader's zone", () => {
    expect(moment(at, "ago", now, "UTC")).toEqual({
      text: "in 5 min", title: "Thursday, 3 December 2026, 08:00 UTC", iso: "2026-12-03T08:00:00.000Z" });
    expect(moment("2026-12-03T07:52:00Z", "ago", now).text).toBe("3 min ago");
    expect(moment("2026-12-03T10:05:00Z", "due", now).text).toBe("due in 2 h 10 min");
    expect(moment("2026-12-03T07:43:00Z", "due", now).text).toBe("overdue by 12 min");
    expect(moment(at, "when", now, "UTC").text).toBe("today 08:00 (in 5 min)");
  });

  it("reads the same instant in each reader's zone", () => {
    expect(moment(at, "at", now, "UTC").text).toBe("today 08:00");
    expect(moment(at, "at", now, "Europe/Berlin").text).toBe("today 09:00");
    // 07:55 UTC is still Wednesday evening in Los Angeles: 08:00 UTC is the next day there.
    expect(moment(at, "at", now, "America/Los_Angeles").text).toBe("Thu 00:00");
    expect(moment(at, "at", now, "Asia/Tokyo").text).toBe("today 17:00");
    expect(fullDate(at, "Europe/Berlin")).toBe("Thursday, 3 December 2026, 09:00 CET");
    // Late on the 3rd in UTC is already Friday in Tokyo: the day follows the reader's zone.
    expect(moment("2026-12-03T20:00:00Z", "at", now, "Asia/Tokyo").text).toBe("Fri 05:00");
  });

  it("says weekdays within the week, dates beyond, and the year only when it differs", () => {
    expect(moment("2026-12-05T09:00:00Z", "at", now, "UTC").text).toBe("Sat 09:00");
    expect(moment("2026-11-20T09:00:00Z", "at", now, "UTC").text).toBe("20 Nov 09:00");
    expect(moment("2025-11-20T09:00:00Z", "at", now, "UTC").text).toBe("20 Nov 2025 09:00");
    expect(dayInWords("2026-12-24T12:00:00Z", now, "UTC")).toBe("24 Dec");
    expect(moment("2027-01-02T12:00:00Z", "day", now, "UTC").text).toBe("2 Jan 2027");
  });

  it("never shows an ISO timestamp, even for a value it cannot read", () => {
    for (const style of ["ago", "due", "at", "when", "day"] as const) {
      expect(moment(at, style, now, "UTC").text).not.toMatch(/\d{4}-\d\d-\d\dT\d\d:/);
    }
    expect(moment("soon", "at", now)).toEqual({ text: "soon", title: "", iso: "" });
  });
});

describe("steps in words", () => {
  it("gives each step's essence", () => {
    expect(stepEssence({ type: "wait", duration: "P2D" })).toBe("Wait 2 days");
    expect(stepEssence({ type: "email", template: "trial-welcome" }, { "trial-welcome": "Welcome to the trial" })).toBe("E-mail: Welcome to the trial");
    expect(stepEssence({ type: "handoff", team: "inside", sla: "PT4H" }, {}, { teams: { inside: "Inside sales" } })).toBe("Hand off to Inside sales, SLA 4 hours");
  });
});

describe("why a lead waits", () => {
  it("explains each kind of wait", () => {
    expect(waitingReason({ kind: "held", reason: "send window", until: "2026-12-03T09:00:00Z" }, now)).toMatch(/^waiting for the send window to open today \d\d:00$/);
    expect(waitingReason({ kind: "wait_for", event: "email.clicked" }, now)).toBe("waiting for email.clicked");
    expect(waitingReason({ kind: "handoff", rep: "Rita Rep", until: "2026-12-03T10:05:00Z" }, now)).toBe("waiting for Rita Rep to take the lead, SLA due in 2 h 10 min");
    expect(waitingReason({ kind: "handoff", until: null }, now)).toBe("waiting for sales to take the lead");
    expect(waitingReason({ kind: "held", reason: "frequency cap", until: "2026-12-04T14:00:00Z" }, now)).toMatch(/^held by the frequency cap until Fri \d\d:00$/);
  });
});

describe("the timeline", () => {
  it("reads as sentences with names, and lists a score change once", () => {
    const entries = [
      { at: "2026-12-03T07:00:00", kind: "score", type: "score.changed", data: { old: 20, new: 60 } },
      { at: "2026-12-03T07:00:00", kind: "event", type: "score.changed", data: { event_id: "e", properties: { old: 20, new: 60 } } },
      { at: "2026-12-03T07:01:00", kind: "handoff", type: "handoff.assigned", data: { rep_id: "r1", reason: "round robin" } },
    ];
    const kept = dedupeTimeline(entries);
    expect(kept).toHaveLength(2);
    expect(timelineSentence(kept[0])).toBe("Score 20 → 60 (+40)");
    expect(timelineSentence(kept[1], { reps: { r1: "Rita Rep" } })).toBe("Assigned to Rita Rep (round robin)");
    expect(timelineSentence({ at: "", kind: "event", type: "demo.requested", data: {} })).toBe("Requested a demo");
  });

  it("shows a machine open as one, not as the lead opening the mail", () => {
    const open = (data: Record<string, unknown>) => timelineSentence({ at: "", kind: "email", type: "email.opened", data });
    expect(open({ send_id: "s1" })).toBe("Opened an e-mail");
    expect(open({ send_id: "s1", machine_open: true })).toMatch(/^E-mail fetched by a machine .*not counted/);
  });
});

describe("the inbox and the outbox", () => {
  it("puts open handoffs first, soonest SLA first", () => {
    const h = (id: string, status: string, due: string) => ({ id, status, sla_due_at: due } as unknown as Handoff);
    const sorted = sortForInbox([h("a", "accepted", "2026-12-03T08:00:00"), h("b", "open", "2026-12-03T12:00:00"), h("c", "open", "2026-12-03T09:00:00")]);
    expect(sorted.map((x) => x.id)).toEqual(["c", "b", "a"]);
  });
  it("strips the open pixel and disarms tracked links", () => {
    const html = '<html><head></head><body><a href="http://x/t/c/abc">go</a><img src="http://x/t/o/tok.gif" width="1"></body></html>';
    const safe = withoutTracking(html);
    expect(safe).not.toContain("/t/o/");
    expect(safe).not.toContain("/t/c/");
    expect(safe).toContain("Content-Security-Policy");
  });
});
