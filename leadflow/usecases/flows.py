"""A marketer's hand on a flow: create or publish it, enrol a lead, resume or stop it, take a
lead out of it.

Each function owns its transaction (:func:`leadflow.db.session_scope`) and returns JSON-ready
data; those that reach journeys also return the :class:`~leadflow.dispatch.Dispatch` they
recorded in the outbox (starts, wake-ups, exits), for the caller to deliver after the commit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from leadflow.db import session_scope
from leadflow.dispatch import Dispatch
from leadflow.examples import release_example
from leadflow.journeys import flow_changes
from leadflow.journeys.enrolment import enrol, journey_input, leads_at_step
from leadflow.journeys.flows import get_flow, publish, save_draft
from leadflow.journeys.migration import Request as MigrationRequest

__all__ = ["create_flow", "enrol_by_hand", "exit_by_hand", "migration_preview", "publish_flow",
           "resume", "stop", "waiting_at_step"]

Change = Callable[..., tuple[dict[str, Any], Dispatch]]


def create_flow(db_url: str, doc: Any, *, allow_invalid: bool = False) -> dict[str, Any]:
    """Create a flow from a document and return its draft (a shipped example flow of the same
    id that no lead entered makes way for it).

    Raises:
        Invalid: the document has problems (every one listed) and ``allow_invalid`` is off;
        Conflict: a flow of that id exists.
    """
    with session_scope(db_url) as session:
        if isinstance(doc, dict):
            release_example(session, "flows", doc.get("id"))
        return save_draft(session, doc, create=True, allow_invalid=allow_invalid).draft


def waiting_at_step(db_url: str, flow_id: str, step_id: str) -> list[dict[str, Any]]:
    """The leads waiting at a step of the flow now.

    Raises:
        NotFound: no such flow.
    """
    with session_scope(db_url) as session:
        get_flow(session, flow_id)
        return leads_at_step(session, flow_id, step_id)


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


def _recorded(db_url: str, change: Change, *args: str) -> tuple[dict[str, Any], Dispatch]:
    """Run ``change`` in its own transaction with its plan recorded in the outbox."""
    with session_scope(db_url) as session:
        result, plan = change(session, *args)
        if not plan.recorded:
            plan.record(session)
    return result, plan


def resume(db_url: str, flow_id: str) -> tuple[dict[str, Any], Dispatch]:
    """Enrol again and wake the journeys the pause held (see
    :func:`~leadflow.journeys.flow_changes.resume_flow`): the flow's state and the plan."""
    return _recorded(db_url, flow_changes.resume_flow, flow_id)


def stop(db_url: str, flow_id: str) -> tuple[dict[str, Any], Dispatch]:
    """Every running journey exits (see :func:`~leadflow.journeys.flow_changes.stop_flow`)."""
    return _recorded(db_url, flow_changes.stop_flow, flow_id)


def exit_by_hand(db_url: str, lead_id: str, flow_id: str) -> tuple[dict[str, Any], Dispatch]:
    """One lead leaves one flow (see :func:`~leadflow.journeys.flow_changes.exit_lead`)."""
    return _recorded(db_url, flow_changes.exit_lead, lead_id, flow_id)


def migration_preview(db_url: str, flow_id: str, request: MigrationRequest) -> dict[str, Any]:
    """What moving the waiting leads would do (see
    :func:`~leadflow.journeys.flow_changes.preview`), as the API shows it."""
    with session_scope(db_url) as session:
        return flow_changes.preview_view(flow_changes.preview(session, flow_id, request))
