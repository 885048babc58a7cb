"""Response shapes of health, meta, API keys and workspace settings."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, WithJsonSchema

from leadflow.api.bodies import schema_ref
from leadflow.api.schemas.common import IsoTime, Shape
from leadflow.journeys.flowdef import SendWindow

__all__ = ["Health", "KeyCreated", "KeyOut", "Meta", "Workspace"]


class Health(Shape):
    status: str = Field(description="ok, or degraded (answered with 503)")
    database: str = Field(description="ok or unreachable")
    temporal: str = Field(description="ok or unreachable")
    version: str


class Meta(Shape):
    version: str
    role: str = Field(description="the caller's: admin, marketer or sales")
    rep_id: str | None = Field(description="a sales key's rep")
    temporal_ui_url: str
    namespace: str


class KeyOut(Shape):
    """An API key as listed: never the secret."""

    id: str
    role: str
    rep_id: str | None
    rep_name: str | None
    label: str | None
    prefix: str = Field(description="the key's first characters, to recognise it")
    created_at: IsoTime | None
    last_used_at: IsoTime | None
    revoked_at: IsoTime | None


class KeyCreated(KeyOut):
    key: str = Field(description="the secret, shown this once")


class Workspace(Shape):
    sender_name: str | None
    sender_address: str
    postal_address: str | None
    send_window: Annotated[dict[str, Any] | None, WithJsonSchema({
        "anyOf": [schema_ref(SendWindow), {"type": "null"}],
        "description": "default for flows without one (as a flow's send_window)"})]
