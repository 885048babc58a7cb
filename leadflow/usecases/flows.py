"""A marketer's hand on a flow: publish its draft, enrol a lead in it.

Each function owns its transaction (:func:`leadflow.db.session_scope`) and returns JSON-ready
data; enrolment also returns the :class:`~leadflow.dispatch.Dispatch` it recorded in the outbox
(the journey's start), for the caller to deliver after the commit.
"""

from __future__ import annotations

from typing import Any

from leadflow.db import session_scope
from leadflow.dispatch import Dispatch
from leadflow.journeys.enrolment import enrol, journey_input
from leadflow.journeys.flows import publish

__all__ = ["enrol_by_hand", "publish_flow"]


def publish_flow(db_url: str, flow_id: str, note: str | None = None) -> dict[str, Any]:
    """Publish the flow's draft as its next immutable version (see
    :func:`~leadflow.journeys.flows.publish`): ``{"flow_id", "version", "note", "published_at"}``.

    Raises:
        NotFound: no such flow; Invalid: the draft has problems (every one listed);
        Conflict: another publish of the flow happened at the same moment.
    """
    with session_scope(db_url) as session:
        version = publish(session, flow_id, note)
        return {"flow_id": flow_id, "version": version.version, "note": version.note,
                "published_at": version.published_at.isoformat()}


def enrol_by_hand(db_url: str, flow_id: str, lead_id: str) -> tuple[dict[str, Any], Dispatch]:
    """Enrol the lead in the flow's latest published version (see
    :func:`~leadflow.journeys.enrolment.enrol`).

    The journey row and its start are written in one transaction (the outbox): the start
    reaches Temporal when the plan is delivered, or once Temporal is back; never a row without
    a workflow. Returns the journey as the API shows it and the recorded plan.

    Raises:
        NotFound: no such lead or flow; Conflict: the flow takes no enrolments (paused,
        stopped, never published) or the lead already runs it.
    """
    with session_scope(db_url) as session:
        inp = journey_input(enrol(session, lead_id=lead_id, flow_id=flow_id))
        plan = Dispatch(starts=[inp]).record(session)
    return {"journey_id": inp.journey_id, "workflow_id": inp.journey_id, "lead_id": inp.lead_id,
            "flow_id": flow_id, "version": inp.version, "status": "running"}, plan
