"""Reports for marketers: the lifecycle funnel, as JSON or CSV."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from leadflow.api.deps import MarketerDep, SessionDep
from leadflow.api.schemas.reports import CSV_RESPONSE, FunnelReport
from leadflow.errors import Invalid
from leadflow.leads.funnel import funnel_csv, funnel_report
from leadflow.models import utcnow

router = APIRouter(prefix="/api", tags=["reports"], strict_content_type=False)

DEFAULT_PERIOD = timedelta(days=30)


def _moment(value: str | None, name: str) -> datetime | None:
    """A date (midnight UTC) or a date-time (UTC when it has no offset)."""
    if value is None or value == "":
        return None
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(), UTC)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        message = f"{value!r} is not a date such as 2026-01-31 or a time such as 2026-01-31T12:00Z."
        raise Invalid(message, problems=[{"path": name, "message": message}]) from None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


@router.get("/reports/funnel", response_model=FunnelReport, responses=CSV_RESPONSE)
def funnel(session: SessionDep, _: MarketerDep,
           from_: str | None = Query(None, alias="from",
                                     description="start of the period (date or time, UTC)"),
           to: str | None = Query(None, description="end of the period, excluded (default now)"),
           source: str | None = Query(None, description="only leads of this source"),
           format: Literal["json", "csv"] = "json") -> dict[str, Any] | Response:
    """Leads entering each stage, conversions, median time in stage, MQL→SAL, per source.

    The period is `[from, to)`, by default the last 30 days; a date alone means midnight UTC.
    """
    end = _moment(to, "to") or utcnow()
    start = _moment(from_, "from") or end - DEFAULT_PERIOD
    if start >= end:
        message = "The period must start before it ends: from must be earlier than to."
        raise Invalid(message, problems=[{"path": "from", "message": message}])
    report = funnel_report(session, start=start, end=end, source=source or None)
    if format == "csv":
        name = f"funnel-{start.date()}-{end.date()}.csv"
        return Response(funnel_csv(report), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})
    return report
