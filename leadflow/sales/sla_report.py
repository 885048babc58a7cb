"""The SLA report: how fast sales follows up, per rep and per team.

For each group: ``handoffs``; ``met`` and ``breached`` (the same ``sla_status`` the handoff list
shows, so a handoff still inside its deadline counts as neither); ``median_first_touch_seconds``
and ``p90_first_touch_seconds`` over the handoffs that got a first touch (accept or contacted),
in elapsed seconds since the handoff opened; ``escalations`` (rungs climbed); and
``rejection_reasons`` (reason → count), marketing's feedback on lead quality.

The p90 is the nearest-rank percentile (the smallest value at or above 90 % of the sample), so
it is always a time some lead actually waited.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from leadflow.models import Handoff, utcnow
from leadflow.sales.business_calendar import as_utc
from leadflow.sales.loop import sla_status_of

__all__ = ["nearest_rank", "sla_report"]

UNASSIGNED = "(pool)"


def nearest_rank(values: Iterable[float], share: float) -> float | None:
    """The nearest-rank percentile ``share`` (0 < share ≤ 1) of ``values``; None if empty."""
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def _summary(rows: Sequence[tuple[Handoff, str]]) -> dict[str, Any]:
    touches = [(as_utc(h.sla_met_at) - as_utc(h.created_at)).total_seconds()
               for h, _ in rows if h.sla_met_at is not None]
    reasons = Counter(h.rejection_reason for h, _ in rows if h.rejection_reason)
    return {
        "handoffs": len(rows),
        "met": sum(1 for _, s in rows if s == "met"),
        "breached": sum(1 for _, s in rows if s == "breached"),
        "median_first_touch_seconds": statistics.median(touches) if touches else None,
        "p90_first_touch_seconds": nearest_rank(touches, 0.9),
        "escalations": sum(len(h.escalations or []) for h, _ in rows),
        "rejection_reasons": dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
    }


def sla_report(session: Session, *, since: datetime | None = None, until: datetime | None = None,
               team: str | None = None, now: datetime | None = None) -> dict[str, Any]:
    """``GET /api/reports/sla``: per rep, per team and overall, for handoffs opened in
    ``[since, until)`` (all when not given)."""
    stmt = select(Handoff)
    if since is not None:
        stmt = stmt.where(col(Handoff.created_at) >= as_utc(since))
    if until is not None:
        stmt = stmt.where(col(Handoff.created_at) < as_utc(until))
    if team:
        stmt = stmt.where(Handoff.team == team)
    now = now or utcnow()
    rows: list[tuple[Handoff, str]] = [(h, sla_status_of(session, h, now))
                                       for h in session.exec(stmt).all()]
    by_rep: dict[str, list[tuple[Handoff, str]]] = defaultdict(list)
    by_team: dict[str, list[tuple[Handoff, str]]] = defaultdict(list)
    for h, status in rows:
        by_rep[h.rep_id or UNASSIGNED].append((h, status))
        by_team[h.team or UNASSIGNED].append((h, status))
    return {
        "reps": [{"rep_id": k, **_summary(v)} for k, v in sorted(by_rep.items())],
        "teams": [{"team": k, **_summary(v)} for k, v in sorted(by_team.items())],
        "total": _summary(rows),
    }
