/**
 * On the lead page: how likely the lead is to buy (the predictive model's probability and the
 * factors behind it, in words), its outcomes, and a form to record won, lost or an opportunity.
 */
import { useState, type FormEvent } from "react";
import { api, type ApiError, type Schemas } from "../api";
import { Pending, When } from "../ui";
import { useApi } from "../hooks";
import { effectWords, money, type Factor } from "./types";

/** A row of GET /api/leads/{id}/outcomes. */
type OutcomeRow = Schemas["OutcomePublic"];

export function LeadOutcome({ leadId, likelihood, factors, onChange }: {
  leadId: string;
  likelihood: number | null | undefined;
  factors: Factor[] | undefined;
  onChange: () => void;
}) {
  const outcomes = useApi<OutcomeRow[]>(`/leads/${encodeURIComponent(leadId)}/outcomes`);
  const [kind, setKind] = useState("won");
  const [amount, setAmount] = useState("");
  const [currency, setCurrency] = useState("EUR");
  const [message, setMessage] = useState<{ text: string; bad?: boolean } | null>(null);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setMessage(null);
    try {
      await api(`/leads/${encodeURIComponent(leadId)}/outcome`, {
        body: { outcome: kind, ...(amount ? { amount: Number(amount), currency } : {}) },
      });
      setMessage({ text: `Recorded: ${kind}${amount ? `, ${money(Number(amount), currency)}` : ""}.` });
      setAmount("");
      outcomes.reload();
      onChange();
    } catch (err) {
      setMessage({ text: (err as ApiError).detail, bad: true });
    }
  };
  return (
    <div className="card" data-testid="lead-outcome">
      <h2>Likely to buy</h2>
      {likelihood === null || likelihood === undefined ? (
        <p className="muted" data-testid="lead-likelihood">No predictive model is active yet; the scoring page trains one from sales outcomes.</p>
      ) : (
        <>
          <p><span className="kpi-value" data-testid="lead-likelihood">{Math.round(likelihood * 100)}%</span> chance sales wins this lead.</p>
          {factors && factors.length > 0 && (
            <ul className="factors" data-testid="lead-factors">
              {factors.map((f) => (
                <li key={f.feature}><span className={`pts ${f.effect < 0 ? "neg" : ""}`}>{f.effect >= 0 ? "▲" : "▼"}</span> {f.label} {effectWords(f.effect)}</li>
              ))}
            </ul>
          )}
        </>
      )}
      <h3>Outcome</h3>
      <Pending state={outcomes} rows={1} label="Loading the outcomes" />
      {outcomes.data?.length === 0 && <p className="muted small">Nothing reported by sales yet.</p>}
      {outcomes.data && outcomes.data.length > 0 && (
        <ul className="small" data-testid="lead-outcomes">
          {outcomes.data.map((o) => (
            <li key={o.id}><strong>{o.outcome}</strong>{o.amount !== null ? ` · ${money(o.amount, o.currency)}` : ""} · <When at={o.at} style="day" /> <span className="muted">({o.via})</span></li>
          ))}
        </ul>
      )}
      <form className="row" onSubmit={(e) => void submit(e)}>
        <label htmlFor="outcome-kind" className="sr-only">Outcome</label>
        <select id="outcome-kind" data-testid="outcome-kind" value={kind} onChange={(e) => setKind(e.target.value)}>
          <option value="won">Won</option><option value="opportunity">Opportunity</option><option value="lost">Lost</option>
        </select>
        <label htmlFor="outcome-amount" className="sr-only">Amount</label>
        <input id="outcome-amount" data-testid="outcome-amount" type="number" min="0" step="any" placeholder="amount" value={amount}
          onChange={(e) => setAmount(e.target.value)} style={{ width: "8rem" }} />
        <label htmlFor="outcome-currency" className="sr-only">Currency</label>
        <input id="outcome-currency" value={currency} maxLength={3} onChange={(e) => setCurrency(e.target.value.toUpperCase())} style={{ width: "4rem" }} />
        <button type="submit" data-testid="outcome-save">Record</button>
      </form>
      {message && <p role="status" className={message.bad ? "error" : "notice"}>{message.text}</p>}
    </div>
  );
}
