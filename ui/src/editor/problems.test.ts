import { describe, expect, it } from "vitest";
import { fieldKeys, problemPlace, problemSentence } from "./problems";

describe("validation problems in words", () => {
  it("places a problem as the link's text", () => {
    expect(problemPlace("steps.wait.duration")).toBe("Step “wait”, the wait");
    expect(problemPlace("steps.route.cases[1].when.op")).toBe("Step “route”, case 2");
    expect(problemPlace("steps.ab.paths[0].next")).toBe("Step “ab”, path A");
    expect(problemPlace("send_window.days[0]")).toBe("Flow settings, the send window");
    expect(problemPlace("")).toBe("The flow");
  });

  it("says the message as a plain sentence, without field names or paths", () => {
    const say = (message: string) => problemSentence({ path: "x", message });
    expect(say("paths[0].next names 'zz', but there is no step with that id.")).toBe("Path A's next step is 'zz', but there is no step with that id.");
    expect(say("next names 'gone', but there is no step with that id.")).toBe("The next step is 'gone', but there is no step with that id.");
    expect(say("op must be one of eq, ne; got 'nope'.")).toBe("The comparison must be one of eq, ne; got 'nope'.");
    expect(say("An update step needs next: the step that follows it.")).toBe("An update step needs a next step.");
    expect(say("steps.a.template: An email step needs the name of its template.")).toBe("An email step needs the name of its template.");
    expect(say("A wait_for step needs a timeout, so no lead waits forever.")).toBe("A wait-for-event step needs a timeout, so no lead waits forever.");
  });

  it("looks for the most precise field first", () => {
    expect(fieldKeys(["cases", "0", "when", "op"])).toEqual(["cases.0.when.op", "cases.0.when", "cases.0", "cases"]);
  });
});
