/**
 * The predictive model on the scoring page: train it from sales outcomes, see how it compares
 * with the points score on held-out leads (and why it was or was not promoted), what it learned,
 * and which scoring rules the outcomes disagree with.
 */
import { useState } from "react";
import { api, type ApiError, type Schemas } from "../api";
import { ErrorState, Pending, Skeleton, When } from "../ui";
import { useApi } from "../hooks";
import { BarChart } from "../pages/charts";
import type { PredictiveRun } from "./types";

const METRICS: [string, string, boolean][] = [
  ["auc", "AUC (ranking, higher is better)", true],
  ["average_precision", "Average precision (higher is better)", true],
  ["brier", "Brier score (lower is better)", false],
  ["calibration_slope", "Calibration slope (1 is perfect)", true],
  ["lift_top_decile", "Top-decile lift (higher is better)", true],
];

function fmt(value: unknown): string {
  return typeof value === "number" ? value.toFixed(3) : "–";
}

export function PredictivePanel() {
  const active = useApi<PredictiveRun>("/scoring/predictive");
  const runs = useApi<PredictiveRun[]>("/scoring/predictive/runs");
  const suggestions = useApi<Schemas["ScoringSuggestions"]>("/scoring/predictive/suggestions");
  const [training, setTraining] = useState(false);
  const [result, setResult] = useState<PredictiveRun | null>(null);
  const [error, setError] = useState<string | null>(null);

  const train = async () => {
    setTraining(true);
    setError(null);
    try {
      setResult(await api<PredictiveRun>("/scoring/predictive/train", { body: {} }));
      active.reload();
      runs.reload();
      suggestions.reload();
    } catch (err) {
      setError((err as ApiError).detail);
    } finally {
      setTraining(false);
    }
  };
  const model = active.data;
  const noModel = active.error?.status === 404;
  return (
    <div className="card wide" data-testid="predictive">
      <h2>Predictive model</h2>
      <p className="muted">
        Learns from what sales reported (won, lost, rejected with a reason) which leads become customers, using only what
        was known when each lead became an MQL. It replaces nothing until it beats the points score on the latest
        quarter of leads and its probabilities are calibrated.
      </p>
      <div className="row">
        <button type="button" className="primary" data-testid="predictive-train" disabled={training} onClick={() => void train()}>
          {training ? "Training…" : "Train on outcomes so far"}
        </button>
      </div>
      {error && <p className="error" role="alert">{error}</p>}
      {result && <p role="status" className={result.promoted ? "good" : "notice"} data-testid="predictive-result">{result.why}</p>}
      {active.loading && !model && !noModel && <Skeleton rows={3} label="Loading the model" />}
      {active.error && !noModel && <ErrorState error={active.error} onRetry={active.reload} />}
      {noModel && <p className="muted" data-testid="predictive-none">No model is active yet. Leads have no likelihood and flows that branch on it take their other path.</p>}
      {model && (
        <>
          <p data-testid="predictive-active">In force since <When at={model.created_at} style="at" />: {model.why}</p>
          <table data-testid="predictive-metrics">
            <thead><tr><th>On held-out leads</th><th>This model</th><th>Points score</th></tr></thead>
            <tbody>
              {METRICS.map(([key, label, higher]) => {
                const metrics: Record<string, number | string | undefined> = model.metrics;
                const ours = metrics[key];
                const base = metrics[`baseline_${key}`];
                const better = typeof ours === "number" && typeof base === "number" &&
                  (key === "calibration_slope" ? Math.abs(ours - 1) < Math.abs(base - 1) : higher ? ours > base : ours < base);
                return <tr key={key}><td>{label}</td><td className={better ? "good" : ""}>{fmt(ours)}</td><td>{fmt(base)}</td></tr>;
              })}
            </tbody>
          </table>
          {model.features && (
            <BarChart label="What the model learned: effect of each feature on the odds (strongest first)"
              rows={model.features.slice(0, 12).map((f) => [f.label, Math.round(f.weight * 100) / 100] as [string, number])} />
          )}
        </>
      )}
      <h3>Where the points disagree with outcomes</h3>
      <Pending state={suggestions} label="Comparing the points with the outcomes" />
      {suggestions.data?.why && <p className="muted">{suggestions.data.why}</p>}
      {suggestions.data && !suggestions.data.why && suggestions.data.suggestions.length === 0 && (
        <p className="muted">The outcomes agree with every scoring rule.</p>
      )}
      <ul data-testid="predictive-suggestions">
        {(suggestions.data?.suggestions ?? []).map((s) => <li key={`${s.kind}-${s.rule}`}><span className="pill">{s.verdict.replace("_", " ")}</span> {s.sentence}</li>)}
      </ul>
      {runs.data && runs.data.length > 0 && (
        <details>
          <summary>Training runs ({runs.data.length})</summary>
          <ul className="small" data-testid="predictive-runs">
            {runs.data.map((r) => <li key={r.id}><When at={r.created_at} style="at" />: {r.why}</li>)}
          </ul>
        </details>
      )}
    </div>
  );
}
