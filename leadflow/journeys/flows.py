"""Flows: drafts, validation against what exists, and immutable published versions."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from leadflow.errors import Conflict, Invalid, NotFound
from leadflow.journeys.validate import SLUG, ValidationContext, validate_flow
from leadflow.models import Flow, FlowVersion, Journey, Rep, Team, utcnow
from leadflow.rendering import (
    get_template_source,
    list_templates,
    snapshot_templates,
    template_errors,
    template_hash,
)

__all__ = [
    "check_flow",
    "get_flow",
    "get_version",
    "latest_version",
    "list_flows",
    "list_versions",
    "load_version_document",
    "publish",
    "replace_draft",
    "save_draft",
    "save_layout",
    "template_detail",
    "template_versions",
    "validation_context",
    "version_templates",
]


def validation_context(session: Session) -> ValidationContext:
    """What exists now: templates (and whether they render), teams and reps."""
    templates = {t.name for t in list_templates(session)}
    return ValidationContext(
        templates=templates,
        teams=set(session.exec(select(Team.id)).all()),
        reps=set(session.exec(select(Rep.id)).all()),
        template_errors=lambda name: template_errors(session, name),
    )


def check_flow(session: Session, doc: Any) -> list[dict[str, str]]:
    return validate_flow(doc, validation_context(session))


def _require_object_with_id(doc: Any) -> str:
    if not isinstance(doc, dict):
        raise Invalid("A flow must be a JSON object.", problems=[{"path": "", "message":
                      "A flow must be a JSON object with id, name, start and steps."}])
    fid = doc.get("id")
    if not isinstance(fid, str) or not SLUG.match(fid):
        raise Invalid("The flow id is missing or malformed.", problems=[{"path": "id", "message":
                      "The flow id must be 1-64 lowercase letters, digits or dashes."}])
    return fid


def save_draft(session: Session, doc: Any, *, flow_id: str | None = None, create: bool,
               allow_invalid: bool = False) -> Flow:
    """Create a flow (``create``) or replace the draft of ``flow_id``.

    Raises:
        Invalid: the document does not validate (unless ``allow_invalid``, for work in progress).
        Conflict: creating an id that exists, or a body whose id differs from the URL's.
        NotFound: replacing a flow that does not exist.
    """
    fid = _require_object_with_id(doc)
    if flow_id is not None and fid != flow_id:
        raise Conflict(f"The document's id {fid!r} does not match the flow {flow_id!r} in the URL.")
    if not allow_invalid:
        problems = check_flow(session, doc)
        if problems:
            raise Invalid(f"The flow has {len(problems)} problem(s).", problems=problems)
    flow = session.get(Flow, fid)
    name = doc.get("name") if isinstance(doc.get("name"), str) else fid
    if create:
        if flow is not None:
            raise Conflict(f"A flow with id {fid!r} exists already; replace it with PUT.")
        flow = Flow(id=fid, name=name, draft=doc)
        session.add(flow)
        try:
            session.flush()
        except IntegrityError as exc:
            raise Conflict(f"A flow with id {fid!r} exists already.") from exc
    else:
        if flow is None:
            raise NotFound(f"There is no flow {fid!r}.")
        flow.draft, flow.name, flow.updated_at = doc, name, utcnow()
        session.add(flow)
    return flow


def get_flow(session: Session, flow_id: str) -> Flow:
    flow = session.get(Flow, flow_id)
    if flow is None:
        raise NotFound(f"There is no flow {flow_id!r}.")
    return flow


def latest_version(session: Session, flow_id: str) -> FlowVersion | None:
    return session.exec(
        select(FlowVersion).where(FlowVersion.flow_id == flow_id)
        .order_by(col(FlowVersion.version).desc())
    ).first()


def list_flows(session: Session) -> list[dict[str, Any]]:
    running = dict(session.exec(
        select(Journey.flow_id, func.count()).where(Journey.status == "running")
        .group_by(Journey.flow_id)
    ).all())
    latest = dict(session.exec(
        select(FlowVersion.flow_id, func.max(FlowVersion.version)).group_by(FlowVersion.flow_id)
    ).all())
    newest = (select(FlowVersion.flow_id, func.max(FlowVersion.version).label("v"))
              .group_by(FlowVersion.flow_id).subquery())
    published = {(v.flow_id, v.version): v.document for v in session.exec(
        select(FlowVersion).join(newest, (FlowVersion.flow_id == newest.c.flow_id)
                                 & (FlowVersion.version == newest.c.v)))}
    return [
        {
            "id": f.id,
            "name": f.name,
            "description": (f.draft or {}).get("description"),
            "latest_version": latest.get(f.id),
            # The draft differs from what runs: "unpublished changes".
            "draft_changed": latest.get(f.id) is None
            or published.get((f.id, latest[f.id])) != f.draft,
            "updated_at": f.updated_at.isoformat(),
            "running": running.get(f.id, 0),
        }
        for f in session.exec(select(Flow).order_by(col(Flow.id))).all()
    ]


def publish(session: Session, flow_id: str, note: str | None = None) -> FlowVersion:
    """Validate the draft and store it as the next immutable version."""
    flow = get_flow(session, flow_id)
    problems = check_flow(session, flow.draft)
    if problems:
        raise Invalid(f"The flow has {len(problems)} problem(s); fix them to publish.",
                      problems=problems)
    prev = latest_version(session, flow_id)
    names = [s["template"] for s in (flow.draft.get("steps") or {}).values()
             if isinstance(s, dict) and s.get("type") == "email" and s.get("template")]
    version = FlowVersion(flow_id=flow_id, version=(prev.version + 1) if prev else 1,
                          document=flow.draft, note=note,
                          templates=snapshot_templates(session, names))
    session.add(version)
    from leadflow.journeys.forms import declare_forms_of_flow

    declare_forms_of_flow(session, flow.draft)
    if flow.state == "stopped":  # a stopped flow takes enrolments again once published
        flow.state = "active"
        session.add(flow)
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict("Another publish of this flow happened at the same moment; try again.") from exc
    return version


def list_versions(session: Session, flow_id: str) -> list[dict[str, Any]]:
    get_flow(session, flow_id)
    running = dict(session.exec(
        select(Journey.version, func.count())
        .where(Journey.flow_id == flow_id, Journey.status == "running")
        .group_by(Journey.version)
    ).all())
    rows = session.exec(
        select(FlowVersion).where(FlowVersion.flow_id == flow_id).order_by(col(FlowVersion.version))
    ).all()
    current = _current_hashes(session, {n for v in rows for n in (v.templates or {})})
    return [
        {
            "version": v.version,
            "published_at": v.published_at.isoformat(),
            "note": v.note,
            "running": running.get(v.version, 0),
            "templates": [{"name": name, "hash": digest, "current": digest == current.get(name)}
                          for name, digest in sorted((v.templates or {}).items())],
        }
        for v in rows
    ]


def _current_hashes(session: Session, names: set[str]) -> dict[str, str]:
    """The content hash of each named template as it is now (absent: deleted since)."""
    found = {}
    for name in names:
        try:
            found[name] = template_hash(get_template_source(session, name))
        except NotFound:
            continue
    return found


def get_version(session: Session, flow_id: str, version: int) -> FlowVersion:
    row = session.exec(
        select(FlowVersion).where(FlowVersion.flow_id == flow_id, FlowVersion.version == version)
    ).first()
    if row is None:
        raise NotFound(f"Flow {flow_id!r} has no version {version}.")
    return row


@lru_cache(maxsize=512)
def _cached_document(url: str, flow_id: str, version: int) -> dict[str, Any]:
    from leadflow.db import session_scope

    with session_scope(url) as session:
        return get_version(session, flow_id, version).document


def load_version_document(url: str, flow_id: str, version: int) -> dict[str, Any]:
    """A published version's document; cached, since versions never change."""
    return _cached_document(url, flow_id, version)


def start_documents(url: str | None,
                    keys: Iterable[tuple[str, int]]) -> dict[tuple[str, int], dict[str, Any]]:
    """The documents of the versions ``keys`` names (``(flow_id, version)``), for journey
    starts to carry (cached). A version that is not there is left out: its journeys load it
    themselves, and fail there with the reason."""
    found = {}
    for flow_id, version in set(keys):
        try:
            found[(flow_id, version)] = load_version_document(url, flow_id, version)  # type: ignore[arg-type]
        except NotFound:
            continue
    return found


@lru_cache(maxsize=512)
def _cached_pins(url: str, flow_id: str, version: int) -> dict[str, str]:
    from leadflow.db import session_scope

    with session_scope(url) as session:
        return dict(get_version(session, flow_id, version).templates or {})


def version_templates(url: str, flow_id: str, version: int) -> dict[str, str]:
    """The templates a published version pinned: ``{name: snapshot hash}`` (cached)."""
    return _cached_pins(url, flow_id, version)


def template_versions(session: Session, name: str) -> list[dict[str, Any]]:
    """Which flow versions pinned which snapshot of template ``name``."""
    rows = session.exec(select(FlowVersion).order_by(col(FlowVersion.flow_id),
                                                     col(FlowVersion.version))).all()
    return [{"flow_id": v.flow_id, "version": v.version, "hash": v.templates[name]}
            for v in rows if name in (v.templates or {})]


def template_detail(session: Session, name: str) -> dict[str, Any]:
    """The template now, its content ``hash``, and the flow ``versions`` that pinned a snapshot
    of it at publish (``current``: the snapshot equals the template now)."""
    src = get_template_source(session, name)
    digest = template_hash(src)
    return {"name": src.name, "subject": src.subject, "html": src.html, "text": src.text,
            "source": src.source, "hash": digest,
            "versions": [{**v, "current": v["hash"] == digest}
                         for v in template_versions(session, name)]}


def replace_draft(session: Session, flow_id: str, doc: Any, *,
                  allow_invalid: bool = False) -> dict[str, Any]:
    """``PUT /api/flows/{id}``: replace the draft, creating the flow if it does not exist yet."""
    exists = session.get(Flow, flow_id) is not None
    return save_draft(session, doc, flow_id=flow_id, create=not exists,
                      allow_invalid=allow_invalid).draft


def save_layout(session: Session, flow_id: str,
                positions: dict[str, dict[str, float]]) -> dict[str, Any]:
    """Keep the editor's node positions, apart from the flow document."""
    flow = get_flow(session, flow_id)
    flow.layout = {"positions": positions}
    session.add(flow)
    return {"positions": positions}
