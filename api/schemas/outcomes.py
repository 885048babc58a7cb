"""Sales outcomes and their CSV import (``api/routes/outcomes.py``)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from leadflow.sales.outcomes import OutcomeKind

__all__ = ["OutcomeImportReport", "OutcomePublic", "OutcomeRecorded", "RejectedRow"]


class OutcomePublic(BaseModel):
    """What became of a lead, as sales reported it."""

    id: int
    lead_id: str
    outcome: OutcomeKind
    amount: int | float | None
    currency: str | None = Field(description="ISO 4217 code")
    at: str = Field(description="date-time")
    via: str = Field(description="api, sales or csv")
    actor: str | None


class OutcomeRecorded(OutcomePublic):
    """The outcome, and the lead's stage after it."""

    stage: str


class RejectedRow(BaseModel):
    """A CSV row that was not recorded."""

    row: int = Field(description="line number in the file (the header is line 1)")
    errors: list[str]


class OutcomeImportReport(BaseModel):
    """``POST /api/outcomes/import``."""

    recorded: int
    rejected_count: int
    rejected: list[RejectedRow]
