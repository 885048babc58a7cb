"""How leads left each step, per edge of the flow's drawing (the live map's percentages).

An edge is one outcome of a step: ``next``, ``on_timeout``, ``hot``, ``cases.0``, ``paths.1``
(ids as the studio draws them: ``"route:hot"``, ``"ab:paths.1"``). Its count is the passages of
journeys from the step along that outcome. A move from one step to the next says the outcome
whenever one outcome alone leads to that target; where several do (a branch sending warm and
cold leads to the same step, a split whose paths meet), a branch's visit carries the outcome
its decision took (``JourneyStep.outcome``, set by the decide activity), and a split's path is
chosen again from the lead id, exactly as the engine chose it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from sqlmodel import Session, col, func, select

from leadflow.journeys.engine import split_choice
from leadflow.journeys.validate import step_targets
from leadflow.models import Journey, JourneyStep

__all__ = ["branch_outcome", "edge_counts", "moves", "step_outcomes"]


def step_outcomes(step: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(outcome, target)`` for each way out of a step (``cases[0].next`` → ``cases.0``)."""
    return [(key.removesuffix(".next").replace("[", ".").replace("]", ""), target)
            for key, target in step_targets(step)]


def branch_outcome(step: Mapping[str, Any], temperature: str | None, case: int | None) -> str:
    """The outcome a branch decision took: the temperature, ``cases.<i>`` or ``else``."""
    if step.get("on") == "temperature":
        return temperature or "cold"
    return "else" if case is None else f"cases.{case}"


def moves(sfilter: list[Any]) -> Any:
    """Each visit with the step its journey was at before (``prev``), as a subquery."""
    previous = func.lag(JourneyStep.step_id).over(
        partition_by=JourneyStep.journey_id,
        order_by=(col(JourneyStep.entered_at), col(JourneyStep.id))).label("prev")
    return select(JourneyStep.journey_id, previous,  # type: ignore[call-overload]
                  JourneyStep.step_id.label("step")).where(*sfilter).subquery()  # type: ignore[attr-defined]


def edge_counts(session: Session, doc: Mapping[str, Any], sfilter: list[Any],
                transitions: Mapping[str, Mapping[str, int]]) -> dict[str, int]:
    """``{"<step>:<outcome>": passages}`` for the flow ``doc`` from its visits (``sfilter``)
    and the step-to-step ``transitions`` already counted from them."""
    steps = doc.get("steps") or {}
    out: dict[str, int] = defaultdict(int)
    shared: dict[str, set[str]] = {}  # step -> targets reached by more than one of its outcomes
    for sid, targets in transitions.items():
        step = steps.get(sid)
        if not isinstance(step, Mapping):
            continue
        outcomes = step_outcomes(step)
        for target, n in targets.items():
            ways = [o for o, t in outcomes if t == target]
            if len(ways) == 1:
                out[f"{sid}:{ways[0]}"] += n
            elif ways:
                shared.setdefault(sid, set()).add(target)
    for sid, targets in shared.items():
        step = steps[sid]
        ways = {o for o, t in step_outcomes(step) if t in targets}
        if step.get("type") == "branch":
            for outcome, n in session.exec(
                select(JourneyStep.outcome, func.count())
                .where(*sfilter, JourneyStep.step_id == sid, col(JourneyStep.outcome).in_(ways))
                .group_by(JourneyStep.outcome)
            ).all():
                out[f"{sid}:{outcome}"] += n
        elif step.get("type") == "split":
            paths = step.get("paths") or []
            weights = [p.get("weight", 0) for p in paths]
            visits = moves(sfilter)
            for lead_id, n in session.exec(
                select(Journey.lead_id, func.count()).join(visits, visits.c.journey_id == Journey.id)
                .where(visits.c.prev == sid, visits.c.step.in_(targets)).group_by(Journey.lead_id)
            ).all():
                out[f"{sid}:paths.{split_choice(lead_id, sid, weights)}"] += n
    return dict(out)
