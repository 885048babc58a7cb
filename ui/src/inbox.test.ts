import { describe, expect, it } from "vitest";
import { slaText, topReasons } from "./sales";

describe("sales inbox", () => {
  const now = new Date("2026-03-02T10:00:00Z");
  it("counts the SLA down while the handoff is open, and says how it ended otherwise", () => {
    expect(slaText({ status: "open", sla_status: "on_time", sla_due_at: "2026-03-02T11:30:00+00:00" }, now)).toBe("SLA due in 1 h 30 min");
    expect(slaText({ status: "open", sla_status: "breached", sla_due_at: "2026-03-02T09:00:00" }, now)).toBe("SLA breached, overdue by 1 h");
    expect(slaText({ status: "accepted", sla_status: "met", sla_due_at: "2026-03-02T11:30:00" }, now)).toBe("SLA met");
    expect(slaText({ status: "rejected", sla_status: "on_time", sla_due_at: "2026-03-02T11:30:00" }, now)).toBe("SLA stopped");
    expect(slaText({ status: "open", sla_status: "on_time", sla_due_at: null }, now)).toBeNull();
  });

  it("explains a score by its biggest contributions, penalties included", () => {
    const rows = [
      { kind: "fit", rule: "Company e-mail", points_now: 5 },
      { kind: "behavior", rule: "demo.requested", event_type: "demo.requested", points_now: 40 },
      { kind: "behavior", rule: "email.unsubscribed", points_now: -20 },
      { kind: "behavior", rule: "old visit", points_now: 0 },
    ];
    expect(topReasons(rows, 2).map((r) => r.rule)).toEqual(["demo.requested", "email.unsubscribed"]);
    expect(topReasons(rows).map((r) => r.rule)).toEqual(["demo.requested", "email.unsubscribed", "Company e-mail"]);
    expect(topReasons(undefined)).toEqual([]);
  });
});
