/** The validator's problems as a list; each can take the user to the step it concerns. */
import type { Problem } from "../api";

export function ProblemList({ problems, onPick }: { problems: Problem[]; onPick?: (p: Problem) => void }) {
  if (!problems.length) return <p className="good" data-testid="no-problems">No problems: this flow can be published.</p>;
  return (
    <ul className="problem-list" data-testid="problem-list" aria-label="Validation problems">
      {problems.map((p, i) => (
        <li key={i}>
          {onPick ? (
            <button type="button" className="link-button" onClick={() => onPick(p)}>
              <code>{p.path || "(flow)"}</code>
            </button>
          ) : <code>{p.path || "(flow)"}</code>}{" "}
          {p.message}
        </li>
      ))}
    </ul>
  );
}
