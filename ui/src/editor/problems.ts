/** Place the validator's problems (`steps.route.hot`) on the node or edge they concern. */
import type { Problem } from "../api";
import { SINGLE_EDGE_FIELDS } from "../graph";

export interface PlacedProblems {
  /** step id → problems about that step (including its edges). */
  byStep: Map<string, Problem[]>;
  /** edge id (`route:hot`, `route:cases.0`) → problems about that reference. */
  byEdge: Map<string, Problem[]>;
  /** Problems about the flow as a whole (`start`, `entry.where.op`, ...). */
  flow: Problem[];
}

function push<K>(map: Map<K, Problem[]>, key: K, problem: Problem): void {
  const list = map.get(key);
  if (list) list.push(problem);
  else map.set(key, [problem]);
}

/** Split a problem path into parts; step ids may contain dots only if quoted, which ours never are. */
export function pathParts(path: string): string[] {
  return path.replace(/\[(\d+)\]/g, ".$1").split(".").filter(Boolean);
}

export function placeProblems(problems: Problem[], stepIds: Iterable<string>): PlacedProblems {
  const ids = new Set(stepIds);
  const placed: PlacedProblems = { byStep: new Map(), byEdge: new Map(), flow: [] };
  for (const problem of problems) {
    const parts = pathParts(problem.path ?? "");
    if (parts[0] !== "steps" || parts.length < 2 || !ids.has(parts[1])) {
      // `start` naming a step belongs to that step too, so the marketer sees it on the canvas.
      placed.flow.push(problem);
      continue;
    }
    const [, stepId, field, index, sub] = parts;
    push(placed.byStep, stepId, problem);
    if ((SINGLE_EDGE_FIELDS as readonly string[]).includes(field)) {
      push(placed.byEdge, `${stepId}:${field}`, problem);
    } else if ((field === "cases" || field === "paths") && index !== undefined && (sub === undefined || sub === "next")) {
      push(placed.byEdge, `${stepId}:${field}.${index}`, problem);
    }
  }
  return placed;
}

/** The step a problem concerns, if any. */
export function problemStep(problem: Problem): string | null {
  const parts = pathParts(problem.path ?? "");
  return parts[0] === "steps" && parts[1] ? parts[1] : null;
}
