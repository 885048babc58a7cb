"""What every domain's response shapes share: the base model, ISO times, problems, media types."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["NO_CONTENT", "IsoTime", "Open", "Problem", "Shape", "media", "redirect"]


class Shape(BaseModel):
    """Base of every response model: keys the model does not name are kept, never dropped."""

    model_config = ConfigDict(extra="allow")


IsoTime = Annotated[str, Field(json_schema_extra={"format": "date-time"},
                               description="ISO-8601 time, with its UTC offset")]
"""A time as the core writes it (``datetime.isoformat()``), passed through unchanged."""

Open = Annotated[dict[str, Any], Field(description="free-form object")]
"""An object whose keys are the user's own (custom fields, event properties, documents)."""


class Problem(BaseModel):
    """One problem of a document or request, at its JSON path."""

    path: str = Field(description='where, e.g. "steps.welcome.template" ("" for the whole)')
    message: str


NO_CONTENT: dict[int | str, dict[str, Any]] = {204: {"description": "Done; no body."}}


def media(status: int, media_type: str, description: str,
          schema: dict[str, Any] | None = None) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entry for a non-JSON answer (a redirect, a page, an image, a file)."""
    content = {media_type: {"schema": schema or {"type": "string"}}} if media_type else {}
    entry: dict[str, Any] = {"description": description}
    if content:
        entry["content"] = content
    return {status: entry}


def redirect(status: int, description: str) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entry for a redirect: no body, the target in ``Location``."""
    return {status: {"description": description, "headers": {
        "Location": {"description": "where the browser goes", "schema": {"type": "string"}}}}}
