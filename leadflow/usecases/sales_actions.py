"""Sales acts on a lead: a handoff action, an outcome, a CSV of outcomes.

A handoff action: its status, the lead's stage, and what the flows hear of it.

One transaction: the action is applied, a stage change is stored as a ``stage.changed`` event
(flows enrol by it and ``exit_when`` goals see it), and the signal to the handoff workflow is
recorded in the outbox with the rest of the plan, so the action stands even while Temporal is
down. A reject whose reason recycles the lead records the recycle too. An outcome that moves
the lead's stage (``won``: customer) tells its journeys and the flows the same way.

Also what sales reads back, each in its own transaction: one handoff, a lead's outcomes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlmodel import Session

from leadflow.auth import Principal
from leadflow.db import session_scope
from leadflow.dispatch import Dispatch
from leadflow.intents import record_recycle
from leadflow.leads.records import get_lead, record_event, visible_lead
from leadflow.models import Lead
from leadflow.sales.loop import apply_action, get_handoff, handoff_public
from leadflow.sales.outcomes import (
    OutcomeIn,
    import_outcomes_csv,
    lead_outcomes,
    outcome_public,
    record_outcome,
)
from leadflow.temporal import HANDOFF_SIGNAL, RecycleInput
from leadflow.usecases.events import dispatch_event, dispatch_stored_events, plan_for_lead_change

__all__ = ["act_on_handoff", "handoff_detail", "import_outcomes", "lead_outcome_list",
           "record_lead_outcome"]


def act_on_handoff(db_url: str, handoff_id: str, action: str, *, principal: Principal,
                   reason: str | None = None,
                   note: str | None = None) -> tuple[dict[str, Any], Dispatch]:
    """Apply ``action`` (accept, contacted, qualify, disqualify, reject) to the handoff.

    Returns the handoff as the API shows it and the plan for Temporal, already recorded.

    Raises:
        NotFound: no such handoff or action; Forbidden: another rep's handoff;
        Conflict: not allowed in its status; Invalid: a reject without a known reason.
    """
    with session_scope(db_url) as session:
        h = get_handoff(session, handoff_id, principal)
        lead = session.get(Lead, h.lead_id)
        old_stage = lead.stage if lead is not None else None
        signal = apply_action(session, h, action, principal=principal, reason=reason, note=note)
        recycle = signal.pop("recycle", None)
        session.flush()
        out = handoff_public(session, h)
        plan = Dispatch(signals=[(handoff_id, HANDOFF_SIGNAL, signal)])
        if lead is not None and lead.stage != old_stage:
            event, _ = record_event(session, lead, type_="stage.changed", properties={
                "old": old_stage, "new": lead.stage, "cause": f"handoff {action}"})
            plan.extend(dispatch_stored_events(session, [event]))
            plan.extend(plan_for_lead_change(session, lead))
        plan.record(session)
        if recycle is not None:
            plan.intent_ids.append(record_recycle(
                session, RecycleInput(lead_id=h.lead_id, handoff_id=h.id, **recycle)))
    return out, plan


def _stage_plan(session: Session, lead: Lead, old_stage: str | None, cause: str) -> Dispatch:
    """Tell the lead's journeys it changed, and flows waiting for or enrolling by stage.changed."""
    plan = plan_for_lead_change(session, lead)
    if old_stage is not None:
        event, _ = record_event(session, lead, type_="stage.changed",
                                properties={"old": old_stage, "new": lead.stage, "cause": cause})
        plan.extend(dispatch_event(session, lead, event))
    return plan


def record_lead_outcome(db_url: str, lead_id: str, data: OutcomeIn, *, principal: Principal,
                        check_access: Callable[[Session, Principal, Lead], None]
                        ) -> tuple[dict[str, Any], Dispatch]:
    """Store an outcome of the lead (``check_access`` refuses another rep's lead) and move its
    stage where the lifecycle allows; returns the outcome with the lead's ``stage``, and the plan."""
    actor = f"rep:{principal.rep_id}" if principal.rep_id else f"api:{principal.role}"
    with session_scope(db_url) as session:
        lead = get_lead(session, lead_id)
        check_access(session, principal, lead)
        row, old_stage = record_outcome(session, lead, data, actor=actor,
                                        via="sales" if principal.role == "sales" else "api")
        plan = _stage_plan(session, lead, old_stage, f"outcome {data.outcome}")
        return {**outcome_public(row), "stage": lead.stage}, plan


def import_outcomes(db_url: str, text: str, *, actor: str) -> tuple[dict[str, Any], Dispatch]:
    """Outcomes from a CSV (see :func:`~leadflow.sales.outcomes.import_outcomes_csv`): the
    report of recorded and rejected rows, and the plan for the leads whose stage moved."""
    with session_scope(db_url) as session:
        report, moved = import_outcomes_csv(session, text, actor=actor)
        plan = Dispatch()
        for lead, old in moved:
            plan.extend(_stage_plan(session, lead, old, "outcome import"))
    return report, plan


def handoff_detail(db_url: str, handoff_id: str, *, viewer: Principal) -> dict[str, Any]:
    """One handoff as the API shows it (a sales key: its own only).

    Raises:
        NotFound: no such handoff; Forbidden: another rep's.
    """
    with session_scope(db_url) as session:
        return handoff_public(session, get_handoff(session, handoff_id, viewer))


def lead_outcome_list(db_url: str, lead_id: str, *, viewer: Principal) -> list[dict[str, Any]]:
    """The lead's outcomes, oldest first (a sales key: its own leads only).

    Raises:
        NotFound: no such lead; Forbidden: another rep's lead.
    """
    with session_scope(db_url) as session:
        visible_lead(session, lead_id, viewer)
        return lead_outcomes(session, lead_id)
