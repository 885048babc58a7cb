"""Reports that close the loop: what each source is worth, why sales rejects, which A/B arm wins,
and how the funnel's hand-over ratios move over time.

* :func:`source_value`: per source, the cohort of leads created in the period and how far they
  got: MQLs, SALs, SQLs (reached at any time, in the stage history), won leads and revenue (the
  amounts of ``won`` outcomes), and revenue per lead.
* :func:`rejection_report`: rejected handoffs of the period by reason, and each reason by the
  lead's source and by the flow that handed the lead over.
* :func:`experiment_report`: per ``split`` step, each arm's leads, e-mail engagement after the
  split, conversions (the flow's goal), MQLs and wins, and a test of whether the arms' conversion
  rates differ (chi-square, or Fisher's exact test when counts are small) at the 5 % level.
* :func:`funnel_trend`: per week or month, the MQL→SAL and SAL→SQL ratios of the leads that
  entered MQL or SAL in that period.

Every report has a CSV form through :func:`table_csv`, which neutralises spreadsheet formulas.
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlmodel import Session, col, func, select

from leadflow.journeys.engine import split_choice
from leadflow.leads.funnel import spreadsheet_safe
from leadflow.leads.lifecycle import STAGES, stage_rank
from leadflow.models import (
    EmailMessage,
    Event,
    Flow,
    FlowVersion,
    Handoff,
    Journey,
    JourneyStep,
    Lead,
    Outcome,
    StageChange,
)
from leadflow.sales.outcomes import list_rejection_reasons

__all__ = ["EXPERIMENT_COLUMNS", "SOURCE_COLUMNS", "TREND_COLUMNS", "experiment_report",
           "experiment_rows", "funnel_trend", "rejection_report", "rejection_rows",
           "source_value", "table_csv"]

SIGNIFICANCE = 0.05


def _naive(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _in(moment: datetime, start: datetime | None, end: datetime | None) -> bool:
    moment = _naive(moment)  # type: ignore[assignment]
    return (start is None or moment >= start) and (end is None or moment < end)


def _ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def table_csv(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """Rows as CSV; a text cell that a spreadsheet would run as a formula gets a leading quote."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), restval="", extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(row.get(k)) for k in columns})
    return out.getvalue()


def _cell(value: Any) -> Any:
    return "" if value is None else spreadsheet_safe(value)


# ---------------------------------------------------------------- source value


def _best_ranks(session: Session, lead_ids: Sequence[str]) -> dict[str, int]:
    best: dict[str, int] = {}
    for lead_id, to_stage in session.exec(select(StageChange.lead_id, StageChange.to_stage)
                                          .where(col(StageChange.lead_id).in_(lead_ids))):
        if to_stage in STAGES:
            best[lead_id] = max(best.get(lead_id, -1), stage_rank(to_stage))
    return best


def source_value(session: Session, *, start: datetime | None = None,
                 end: datetime | None = None) -> dict[str, Any]:
    """Per source: leads created in ``[start, end)`` and what they became, with revenue.

    Returns ``{"start", "end", "currency", "sources": [{"source", "leads", "MQL", "SAL", "SQL",
    "opportunities", "won", "lost", "revenue", "revenue_per_lead", "revenue_by_currency"}]}``,
    the most valuable source first (leads without a source are ``"(none)"``).
    """
    start, end = _naive(start), _naive(end)
    leads = [(lead_id, source, stage, created) for lead_id, source, stage, created in
             session.exec(select(Lead.id, Lead.source, Lead.stage, Lead.created_at)
                          .where(col(Lead.erased_at).is_(None)))
             if _in(created, start, end)]
    ids = [lead_id for lead_id, *_ in leads]
    best: dict[str, int] = {}
    outcomes: dict[str, list[Outcome]] = defaultdict(list)
    for chunk in range(0, len(ids), 5000):
        part = ids[chunk:chunk + 5000]
        best.update(_best_ranks(session, part))
        for row in session.exec(select(Outcome).where(col(Outcome.lead_id).in_(part))
                                .order_by(col(Outcome.at), col(Outcome.id))):
            outcomes[row.lead_id].append(row)
    currencies: Counter[str] = Counter()
    per: dict[str, dict[str, Any]] = {}
    for lead_id, source, stage, _ in leads:
        name = source or "(none)"
        row = per.setdefault(name, {"source": name, "leads": 0, "MQL": 0, "SAL": 0, "SQL": 0,
                                    "opportunities": 0, "won": 0, "lost": 0, "revenue": 0.0,
                                    "revenue_by_currency": defaultdict(float)})
        row["leads"] += 1
        rank = max(best.get(lead_id, -1), stage_rank(stage) if stage in STAGES else -1)
        for stage_name in ("MQL", "SAL", "SQL"):
            if rank >= stage_rank(stage_name):
                row[stage_name] += 1
        kinds = {o.outcome for o in outcomes.get(lead_id, [])}
        latest = outcomes[lead_id][-1].outcome if outcomes.get(lead_id) else None
        row["opportunities"] += "opportunity" in kinds or "won" in kinds
        row["won"] += "won" in kinds
        row["lost"] += latest == "lost"
        for o in outcomes.get(lead_id, []):
            if o.outcome == "won" and o.amount:
                row["revenue"] += o.amount
                row["revenue_by_currency"][o.currency or "(none)"] += o.amount
                currencies[o.currency or "(none)"] += 1
    sources = []
    for row in per.values():
        row["revenue"] = round(row["revenue"], 2)
        row["revenue_per_lead"] = round(row["revenue"] / row["leads"], 2) if row["leads"] else 0
        row["revenue_by_currency"] = {k: round(v, 2) for k, v in
                                      row["revenue_by_currency"].items()}
        row["mql_rate"] = _ratio(row["MQL"], row["leads"])
        row["win_rate"] = _ratio(row["won"], row["leads"])
        sources.append(row)
    sources.sort(key=lambda r: (-r["revenue"], -r["leads"], r["source"]))
    return {"start": start.replace(tzinfo=UTC).isoformat() if start else None,
            "end": end.replace(tzinfo=UTC).isoformat() if end else None,
            "currency": currencies.most_common(1)[0][0] if currencies else None,
            "mixed_currencies": len(currencies) > 1, "sources": sources}


SOURCE_COLUMNS = ("source", "leads", "MQL", "SAL", "SQL", "opportunities", "won", "lost",
                  "revenue", "revenue_per_lead", "mql_rate", "win_rate")


# ---------------------------------------------------------------- rejections


def rejection_report(session: Session, *, start: datetime | None = None,
                     end: datetime | None = None) -> dict[str, Any]:
    """Rejected handoffs of ``[start, end)`` by reason, by source and by flow."""
    start, end = _naive(start), _naive(end)
    reasons = {r["id"]: r for r in list_rejection_reasons(session)}
    rows = [(h, src) for h, src in session.exec(
        select(Handoff, Lead.source).join(Lead, Lead.id == Handoff.lead_id, isouter=True)
        .where(Handoff.status == "rejected")) if _in(h.updated_at, start, end)]
    flows = {f.id: f.name for f in session.exec(select(Flow)).all()}
    by_reason: Counter[str] = Counter()
    by_source: dict[str, Counter[str]] = defaultdict(Counter)
    by_flow: dict[str, Counter[str]] = defaultdict(Counter)
    labels: dict[str, str] = {}
    for h, source in rows:
        key = h.rejection_reason_id or "(unlisted)"
        labels.setdefault(key, reasons.get(key, {}).get("label") or h.rejection_reason or key)
        by_reason[key] += 1
        by_source[source or "(none)"][key] += 1
        by_flow[h.flow_id or "(none)"][key] += 1
    return {
        "start": start.replace(tzinfo=UTC).isoformat() if start else None,
        "end": end.replace(tzinfo=UTC).isoformat() if end else None,
        "total": len(rows),
        "reasons": [{"id": k, "label": labels[k], "outcome": reasons.get(k, {}).get("outcome"),
                     "count": n, "share": _ratio(n, len(rows))} for k, n in by_reason.most_common()],
        "by_source": [{"source": s, "total": sum(c.values()), "reasons": dict(c)}
                      for s, c in sorted(by_source.items(), key=lambda kv: -sum(kv[1].values()))],
        "by_flow": [{"flow_id": f, "flow_name": flows.get(f, f), "total": sum(c.values()),
                     "reasons": dict(c)}
                    for f, c in sorted(by_flow.items(), key=lambda kv: -sum(kv[1].values()))],
    }


def rejection_rows(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The rejection report flattened for CSV: one row per (dimension, value, reason)."""
    rows = [{"dimension": "reason", "value": r["label"], "reason": r["id"], "count": r["count"]}
            for r in report["reasons"]]
    for dimension, key in (("source", "source"), ("flow", "flow_id")):
        for group in report[f"by_{dimension}"]:
            rows += [{"dimension": dimension, "value": group[key], "reason": reason, "count": n}
                     for reason, n in group["reasons"].items()]
    return rows


# ---------------------------------------------------------------- experiments


def _significance(table: list[tuple[int, int]]) -> tuple[float | None, str]:
    """p-value of "the arms convert alike", and the test used."""
    from scipy.stats import chi2_contingency, fisher_exact

    rows = [(hit, total - hit) for hit, total in table if total > 0]
    if len(rows) < 2 or all(hit == 0 for hit, _ in rows) or all(miss == 0 for _, miss in rows):
        return None, "none"
    if len(rows) == 2 and min(min(r) for r in rows) < 5:
        return float(fisher_exact(rows)[1]), "fisher_exact"
    return float(chi2_contingency(rows)[1]), "chi_square"


def experiment_report(session: Session, *, flow_id: str | None = None,
                      metric: Literal["conversion", "click", "mql", "won"] = "conversion"
                      ) -> dict[str, Any]:
    """Per ``split`` step of every flow (or of ``flow_id``): each arm and whether they differ."""
    stmt = select(FlowVersion)
    if flow_id:
        stmt = stmt.where(FlowVersion.flow_id == flow_id)
    splits: dict[tuple[str, str], dict[int, list[dict[str, Any]]]] = defaultdict(dict)
    for version in session.exec(stmt).all():
        for step_id, step in (version.document.get("steps") or {}).items():
            if isinstance(step, dict) and step.get("type") == "split":
                splits[(version.flow_id, step_id)][version.version] = step.get("paths") or []
    flows = {f.id: f.name for f in session.exec(select(Flow)).all()}
    experiments = []
    for (fid, step_id), versions in sorted(splits.items()):
        experiments.append(_experiment(session, fid, flows.get(fid, fid), step_id, versions,
                                       metric))
    return {"metric": metric, "experiments": experiments}


def _experiment(session: Session, flow_id: str, flow_name: str, step_id: str,
                versions: dict[int, list[dict[str, Any]]], metric: str) -> dict[str, Any]:
    visits = session.exec(
        select(JourneyStep.journey_id, JourneyStep.version, func.min(JourneyStep.entered_at))
        .where(JourneyStep.flow_id == flow_id, JourneyStep.step_id == step_id)
        .group_by(JourneyStep.journey_id, JourneyStep.version)).all()
    journeys = {j.id: j for j in session.exec(select(Journey).where(
        col(Journey.id).in_([v[0] for v in visits]))).all()} if visits else {}
    arms: dict[str, dict[str, Any]] = {}
    arm_of: dict[str, tuple[str, datetime]] = {}
    for journey_id, version, entered in visits:
        j = journeys.get(journey_id)
        paths = versions.get(version) or []
        if j is None or not paths:
            continue
        index = split_choice(j.lead_id, step_id, [p.get("weight", 0) for p in paths])
        name = str(paths[index].get("next"))
        arm = arms.setdefault(name, {"arm": name, "weight": paths[index].get("weight"),
                                     "leads": 0, "emails_sent": 0, "opened": 0, "clicked": 0,
                                     "conversions": 0, "mql": 0, "won": 0})
        arm["leads"] += 1
        arm["conversions"] += bool(j.converted or j.exit_reason == "goal")
        arm_of[journey_id] = (name, _naive(entered))  # type: ignore[arg-type]
    _engagement(session, arms, arm_of)
    _later_outcomes(session, arms, arm_of, journeys)
    key = {"conversion": "conversions", "click": "clicked", "mql": "mql", "won": "won"}[metric]
    base = "emails_sent" if metric == "click" else "leads"
    for arm in arms.values():
        arm["rate"] = _ratio(arm[key], arm[base])
        arm["open_rate"] = _ratio(arm["opened"], arm["emails_sent"])
        arm["click_rate"] = _ratio(arm["clicked"], arm["emails_sent"])
        arm["conversion_rate"] = _ratio(arm["conversions"], arm["leads"])
    ordered = sorted(arms.values(), key=lambda a: a["arm"])
    p_value, test = _significance([(a[key], a[base]) for a in ordered])
    significant = p_value is not None and p_value < SIGNIFICANCE
    best = max(ordered, key=lambda a: a["rate"] or 0.0) if ordered else None
    if p_value is None:
        sentence = "Not enough data yet to compare the arms."
    elif significant and best is not None:
        sentence = (f"Arm {best['arm']} does best ({(best['rate'] or 0):.1%}); the difference is "
                    f"significant (p = {p_value:.3f}).")
    else:
        sentence = f"No significant difference between the arms yet (p = {p_value:.3f})."
    return {"flow_id": flow_id, "flow_name": flow_name, "step": step_id, "arms": ordered,
            "p_value": round(p_value, 4) if p_value is not None else None, "test": test,
            "significant": significant, "winner": best["arm"] if significant and best else None,
            "sentence": sentence}


def _engagement(session: Session, arms: dict[str, dict[str, Any]],
                arm_of: dict[str, tuple[str, datetime]]) -> None:
    if not arm_of:
        return
    sends: dict[str, str] = {}
    for send_id, journey_id, created in session.exec(
            select(EmailMessage.send_id, EmailMessage.journey_id, EmailMessage.created_at)
            .where(col(EmailMessage.journey_id).in_(list(arm_of)),
                   EmailMessage.status == "sent")):
        name, entered = arm_of[journey_id or ""]
        if _naive(created) >= entered:  # type: ignore[operator]
            sends[send_id] = name
            arms[name]["emails_sent"] += 1
    if not sends:
        return
    for send_id, type_ in session.exec(
            select(Event.send_id, Event.type).where(
                col(Event.send_id).in_(list(sends)),
                col(Event.type).in_(["email.opened", "email.clicked"])).distinct()):
        arms[sends[send_id or ""]]["opened" if type_ == "email.opened" else "clicked"] += 1


def _later_outcomes(session: Session, arms: dict[str, dict[str, Any]],
                    arm_of: dict[str, tuple[str, datetime]], journeys: dict[str, Journey]) -> None:
    by_lead = {journeys[jid].lead_id: (name, entered) for jid, (name, entered) in arm_of.items()}
    if not by_lead:
        return
    mql, won = set(), set()
    for lead_id, at in session.exec(select(StageChange.lead_id, StageChange.at).where(
            col(StageChange.lead_id).in_(list(by_lead)), StageChange.to_stage == "MQL")):
        if _naive(at) >= by_lead[lead_id][1]:  # type: ignore[operator]
            mql.add(lead_id)
    for lead_id, at in session.exec(select(Outcome.lead_id, Outcome.at).where(
            col(Outcome.lead_id).in_(list(by_lead)), Outcome.outcome == "won")):
        if _naive(at) >= by_lead[lead_id][1]:  # type: ignore[operator]
            won.add(lead_id)
    for lead_id, (name, _) in by_lead.items():
        arms[name]["mql"] += lead_id in mql
        arms[name]["won"] += lead_id in won


EXPERIMENT_COLUMNS = ("flow_id", "step", "arm", "leads", "emails_sent", "opened", "clicked",
                      "conversions", "mql", "won", "rate", "p_value", "significant")


def experiment_rows(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{**arm, "flow_id": e["flow_id"], "step": e["step"], "p_value": e["p_value"],
             "significant": e["significant"]}
            for e in report["experiments"] for arm in e["arms"]]


# ---------------------------------------------------------------- funnel over time


def _period_start(moment: datetime, period: str) -> datetime:
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "month":
        return day.replace(day=1)
    return day - timedelta(days=day.weekday())


def _next_period(start: datetime, period: str) -> datetime:
    if period == "month":
        return (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return start + timedelta(days=7)


def funnel_trend(session: Session, *, start: datetime, end: datetime,
                 period: Literal["week", "month"] = "week") -> dict[str, Any]:
    """Per period: leads entering MQL and how many sales accepted (SAL or beyond) before
    ``end``; leads entering SAL and how many became SQL or beyond."""
    start, end = _naive(start), _naive(end)  # type: ignore[assignment]
    changes: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for lead_id, to_stage, at in session.exec(select(StageChange.lead_id, StageChange.to_stage,
                                                     StageChange.at)):
        at = _naive(at)
        if at < end:  # type: ignore[operator]
            changes[lead_id].append((at, to_stage))  # type: ignore[arg-type]
    buckets: dict[datetime, dict[str, int]] = {}
    cursor = _period_start(start, period)
    while cursor < end:
        buckets[cursor] = {"mql": 0, "mql_to_sal": 0, "sal": 0, "sal_to_sql": 0}
        cursor = _next_period(cursor, period)
    for rows in changes.values():
        rows.sort()
        for stage, later, flag in (("MQL", "SAL", "mql"), ("SAL", "SQL", "sal")):
            entered = next((at for at, s in rows if s == stage), None)
            if entered is None or not start <= entered < end:  # type: ignore[operator]
                continue
            bucket = buckets.get(_period_start(entered, period))
            if bucket is None:
                continue
            bucket[flag] += 1
            if any(s in STAGES and stage_rank(s) >= stage_rank(later)
                   for at, s in rows if at >= entered):
                bucket[f"{flag}_to_{later.lower()}"] += 1
    return {"period": period, "start": start.replace(tzinfo=UTC).isoformat(),
            "end": end.replace(tzinfo=UTC).isoformat(),
            "periods": [{"start": k.replace(tzinfo=UTC).date().isoformat(), **v,
                         "mql_to_sal_ratio": _ratio(v["mql_to_sal"], v["mql"]),
                         "sal_to_sql_ratio": _ratio(v["sal_to_sql"], v["sal"])}
                        for k, v in buckets.items()]}


TREND_COLUMNS = ("start", "mql", "mql_to_sal", "mql_to_sal_ratio", "sal", "sal_to_sql",
                 "sal_to_sql_ratio")
