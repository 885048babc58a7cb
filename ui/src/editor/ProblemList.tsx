/** The validator's problems as plain sentences; where each is, as a link that takes the user there. */
import type { Problem } from "../api";
import { problemPlace, problemSentence } from "./problems";

export function ProblemList({ problems, onPick }: { problems: Problem[]; onPick?: (p: Problem) => void }) {
  if (!problems.length) return <p className="good" data-testid="no-problems">No problems: this flow can be published.</p>;
  return (
    <ul className="problem-list" data-testid="problem-list" aria-label="Validation problems">
      {problems.map((p, i) => (
        <li key={i}>
          <span className="problem-sentence">{problemSentence(p)}</span>{" "}
          {onPick ? (
            <button type="button" className="link-button small" title={p.path || "the flow"} data-path={p.path} onClick={() => onPick(p)}>
              {problemPlace(p.path ?? "")}
            </button>
          ) : <span className="small muted" data-path={p.path}>{problemPlace(p.path ?? "")}</span>}
        </li>
      ))}
    </ul>
  );
}
