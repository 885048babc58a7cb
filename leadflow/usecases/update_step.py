"""An update step of a journey: the lead changes, its score and temperature follow.

The body of the journey's update activity. It sits above the domain packages because the
change runs through the events pipeline (:mod:`leadflow.usecases.events`): derived score,
temperature and stage events, other journeys' ``exit_when`` checks, the temperature timer.
"""

from __future__ import annotations

from typing import Any

from leadflow.db import session_scope
from leadflow.dispatch import Dispatch
from leadflow.journeys.actions import StepInput, record_trail, step_of
from leadflow.leads.records import record_event
from leadflow.leads.stages import change_stage
from leadflow.models import Event, Lead, utcnow
from leadflow.usecases.events import dispatch_stored_events

__all__ = ["apply_update"]


def apply_update(db_url: str, inp: StepInput) -> tuple[dict[str, Any], Any]:
    """Apply an update step to the lead; the score and temperature follow.

    Returns the activity's result and the :class:`~leadflow.dispatch.Dispatch` the change sets in
    motion (derived score/temperature/stage events, other journeys' ``exit_when`` checks, the
    lead's temperature timer). A retry after the change was stored returns the dispatch again
    until it has been run, so nothing is lost and nothing is applied twice.
    """
    step = step_of(db_url, inp)
    with session_scope(db_url) as session:
        record_trail(session, inp)
        lead = session.get(Lead, inp.lead_id)
        if lead is None or lead.erased_at is not None:
            return {"changed": False}, Dispatch()
        # Idempotent per visit: a retried activity must not add the score twice.
        marker_id = f"update-{inp.journey_id}.{inp.step}.{inp.visit}"
        marker = session.get(Event, marker_id)
        if marker is not None:
            pending = [marker] if not marker.dispatched else []
            return {"changed": True}, dispatch_stored_events(session, pending)
        for key, value in (step.get("set") or {}).items():
            if key.startswith("fields."):
                lead.fields = {**(lead.fields or {}), key[7:]: value}
            elif key == "owner":
                lead.owner_rep_id = value
            else:
                setattr(lead, key, value)
        if step.get("add_tags"):
            lead.tags = sorted({*(lead.tags or []), *step["add_tags"]})
        lead.updated_at = utcnow()
        session.add(lead)
        events = []
        old_stage = lead.stage
        if step.get("stage") and change_stage(
                session, lead, step["stage"], cause=f"flow {inp.flow_id} step {inp.step}",
                actor="flow", force=True):
            events.append(record_event(session, lead, type_="stage.changed", properties={
                "old": old_stage, "new": step["stage"], "flow_id": inp.flow_id})[0])
        marker, _ = record_event(session, lead, type_="lead.updated", event_id=marker_id,
                                 properties={"points": step.get("add_score") or 0,
                                             "flow_id": inp.flow_id, "step": inp.step})
        events.insert(0, marker)
        return {"changed": True}, dispatch_stored_events(session, events)
