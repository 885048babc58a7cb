"""A rep acts on a handoff: its status, the lead's stage, and what the flows hear of it.

One transaction: the action is applied, a stage change is stored as a ``stage.changed`` event
(flows enrol by it and ``exit_when`` goals see it), and the signal to the handoff workflow is
recorded in the outbox with the rest of the plan, so the action stands even while Temporal is
down. A reject whose reason recycles the lead records the recycle too.
"""

from __future__ import annotations

from typing import Any

from leadflow.auth import Principal
from leadflow.db import session_scope
from leadflow.dispatch import Dispatch
from leadflow.intents import record_recycle
from leadflow.leads.records import record_event
from leadflow.models import Lead
from leadflow.sales.loop import apply_action, get_handoff, handoff_public
from leadflow.temporal import HANDOFF_SIGNAL, RecycleInput
from leadflow.usecases.events import dispatch_stored_events, plan_for_lead_change

__all__ = ["act_on_handoff"]


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
