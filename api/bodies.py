"""Request bodies in ``/openapi.json`` for routes that read and check their body themselves.

Some routes take their body raw, so that the core can report every problem of a document at
once, each with its path (flows, scoring models, reps, teams), or because the body is not JSON
(CSV, form posts, signed webhooks). :func:`body_doc` declares such a body in the route's OpenAPI
operation (``openapi_extra=body_doc(Model)``); :func:`add_body_schemas` puts the models' schemas
under ``components/schemas`` when the document is built.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["RepBody", "RepChanges", "TeamBody", "TeamChanges", "add_body_schemas", "body_doc",
           "raw_body_doc", "schema_ref"]

_MODELS: dict[str, type[BaseModel]] = {}
JSON = "application/json"


def schema_ref(model: type[BaseModel]) -> dict[str, Any]:
    """A ``$ref`` to ``model``'s schema, which :func:`add_body_schemas` will add."""
    _MODELS[model.__name__] = model
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def body_doc(model: type[BaseModel], *, required: bool = True,
             description: str | None = None) -> dict[str, Any]:
    """``openapi_extra`` declaring ``model`` as the route's JSON body."""
    body: dict[str, Any] = {"required": required, "content": {JSON: {"schema": schema_ref(model)}}}
    if description:
        body["description"] = description
    return {"requestBody": body}


def raw_body_doc(content: dict[str, dict[str, Any]], *, required: bool = True,
                 description: str | None = None) -> dict[str, Any]:
    """``openapi_extra`` for a body given as media type -> schema (CSV, forms, batches)."""
    body: dict[str, Any] = {"required": required,
                            "content": {media: {"schema": schema} for media, schema in content.items()}}
    if description:
        body["description"] = description
    return {"requestBody": body}


def add_body_schemas(document: dict[str, Any]) -> dict[str, Any]:
    """Add the schemas of every model named by :func:`body_doc` to ``document``."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name, model in _MODELS.items():
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}",
                                         by_alias=True)
        for def_name, definition in schema.pop("$defs", {}).items():
            schemas.setdefault(def_name, definition)
        schemas.setdefault(name, schema)
    return document


class _Absence(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from", description="first day away, 2026-12-24 (or a time)")
    to: str = Field(description="last day away")


class RepChanges(BaseModel):
    """A rep's fields; an update (PUT) gives only those that change."""

    model_config = ConfigDict(extra="forbid")

    email: str | None = Field(None, description="the rep's e-mail address")
    name: str | None = None
    timezone: str | None = Field(None, description="IANA zone, e.g. Europe/Berlin (default UTC)")
    capacity: int | None = Field(None, ge=0, description="most open handoffs at once (default 20)")
    manager_id: str | None = Field(None, description="the rep escalations go to")
    out_of_office: list[_Absence] | None = None
    working_hours: dict[str, Any] | None = Field(
        None, description='{"timezone", "days": ["mon", ...], "from": "09:00", "to": "17:00"}')
    slack_webhook: str | None = Field(None, description="incoming webhook for notifications")
    active: bool | None = None


class RepBody(RepChanges):
    """A new rep (``id`` is made up when not given)."""

    id: str | None = Field(None, description="slug: 1 to 64 of a-z, 0-9 and -")
    email: str  # type: ignore[assignment]
    name: str  # type: ignore[assignment]


class TeamChanges(BaseModel):
    """A team's fields; an update (PUT) gives only those that change."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    members: list[str] | None = Field(None, description="rep ids")
    routing: str | dict[str, Any] | None = Field(
        None, description='"round_robin" or {"territory": [{"when": condition, "rep" or "team"}]}')
    calendar: dict[str, Any] | None = Field(
        None, description='{"timezone", "days", "from", "to", "holidays": ["2026-12-25"]}')


class TeamBody(TeamChanges):
    """A new team."""

    id: str = Field(description="slug named by flows' handoff steps")
    name: str  # type: ignore[assignment]
