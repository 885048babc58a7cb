"""The lifecycle funnel report: how many leads reach each stage, how fast, and from which source.

Definitions (times in UTC, naive or aware alike; periods half-open ``[start, end)``):

* A lead *enters* a stage when a :class:`~leadflow.models.StageChange` moves it there. Its first
  stage is entered when it is created (``Lead.created_at``) unless a StageChange with
  ``from_stage=None`` records that already; the first stage is the ``from_stage`` of its earliest
  change, or its current stage if it never changed.
* Per stage: ``entered`` counts the distinct leads entering it in the period. ``converted`` counts
  those of them that went on to any later funnel stage before ``end`` (skipping is fine: a lead
  going from MQL straight to SQL converted out of MQL). ``median_hours_in_stage`` is over the
  stays that began in the period and ended before ``end``; stays still open are left out.
  Side stages (recycled, disqualified) have no conversion.
* ``mql_to_sal`` is the MQL stage's conversion: the share of leads that became MQL in the period
  that sales accepted (SAL or beyond) before ``end``.
* Per source, a cohort: the leads created in the period, and how many of them had reached MQL,
  SQL and customer (or a later funnel stage) before ``end``.

Only changes before ``end`` count, so a report on a closed period gives the same numbers whenever
it is run. Medians are computed in Python, so the report reads the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, col, or_, select

from leadflow.leads.lifecycle import SIDE_STAGES, STAGES, stage_rank
from leadflow.models import Lead, StageChange

__all__ = ["funnel_csv", "funnel_report", "spreadsheet_safe"]

_CSV_COLUMNS = ("section", "name", "entered", "converted", "conversion",
                "median_hours_in_stage", "leads", "MQL", "SQL", "customer")
_COHORT_STAGES = ("MQL", "SQL", "customer")


def _naive_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is None else moment.astimezone(UTC).replace(tzinfo=None)


def _bind(moment: datetime, column: Any) -> datetime:
    """``moment`` in the form ``column`` stores: aware UTC for time-zone columns, else naive UTC.

    SQLModel's own ``datetime`` column type insists on aware values; a plain ``DateTime`` column
    holds naive UTC. The report works in naive UTC inside and speaks each column's form outside.
    """
    naive = _naive_utc(moment)
    return naive.replace(tzinfo=UTC) if getattr(column.type, "timezone", False) else naive


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@dataclass(frozen=True, slots=True)
class _LeadRow:
    id: str
    source: str | None
    stage: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class _ChangeRow:
    id: int
    from_stage: str | None
    to_stage: str
    at: datetime


def _load(session: Session, start: datetime, end: datetime, source: str | None
          ) -> tuple[list[_LeadRow], dict[str, list[_ChangeRow]]]:
    """Leads touched in the period (created or changing stage) and all their stage changes."""
    at_column = StageChange.__table__.c.at  # type: ignore[attr-defined]
    created_column = Lead.__table__.c.created_at  # type: ignore[attr-defined]
    changed_in_period = select(StageChange.lead_id).where(
        StageChange.at >= _bind(start, at_column), StageChange.at < _bind(end, at_column))
    created_in_period = (col(Lead.created_at) >= _bind(start, created_column)) & (
        col(Lead.created_at) < _bind(end, created_column))
    lead_ids = select(Lead.id).where(or_(col(Lead.id).in_(changed_in_period), created_in_period))
    if source is not None:
        lead_ids = lead_ids.where(Lead.source == source)
    lead_rows = session.exec(select(Lead.id, Lead.source, Lead.stage, Lead.created_at).where(
        col(Lead.id).in_(lead_ids)))
    leads = [_LeadRow(lead_id, lead_source, stage, _naive_utc(created))
             for lead_id, lead_source, stage, created in lead_rows]
    changes: dict[str, list[_ChangeRow]] = defaultdict(list)
    if leads:
        for change in session.exec(
                select(StageChange).where(col(StageChange.lead_id).in_(lead_ids))):
            changes[change.lead_id].append(_ChangeRow(
                change.id or 0, change.from_stage, change.to_stage, _naive_utc(change.at)))
    for rows in changes.values():
        rows.sort(key=lambda r: (r.at, r.id))
    return leads, changes


def _stays(lead: _LeadRow, changes: list[_ChangeRow]) -> list[tuple[str, datetime]]:
    """The lead's stages in order, each with the moment it entered."""
    entries: list[tuple[str, datetime]] = []
    if not changes:
        entries.append((lead.stage, lead.created_at))
    elif changes[0].from_stage is not None:
        entries.append((changes[0].from_stage, min(lead.created_at, changes[0].at)))
    entries.extend((row.to_stage, row.at) for row in changes)
    return entries


def _rank(stage: str) -> int | None:
    return stage_rank(stage) if stage in STAGES else None


def funnel_report(
    session: Session, *, start: datetime, end: datetime, source: str | None = None
) -> dict[str, Any]:
    """The funnel for leads active in ``[start, end)``, optionally of one ``source`` only.

    Returns:
        ``{"start", "end", "source", "stages": [{"stage", "entered", "converted",
        "conversion", "median_hours_in_stage"}, ...], "mql_to_sal",
        "sources": [{"source", "leads", "MQL", "SQL", "customer"}, ...]}``: the funnel stages
        in order, then the side stages; sources with the most leads first
        (leads without a source last). Rates are 0..1 with
        4 decimals, or None when nothing entered.
    """
    start, end = _naive_utc(start), _naive_utc(end)
    leads, changes = _load(session, start, end, source)

    entered: dict[str, set[str]] = defaultdict(set)
    converted: dict[str, set[str]] = defaultdict(set)
    hours: dict[str, list[float]] = defaultdict(list)
    cohorts: dict[str | None, dict[str, int]] = {}

    for lead in leads:
        stays = [(stage, at) for stage, at in _stays(lead, changes.get(lead.id, [])) if at < end]
        for i, (stage, at) in enumerate(stays):
            if at < start:
                continue
            entered[stage].add(lead.id)
            if i + 1 < len(stays):
                hours[stage].append((stays[i + 1][1] - at).total_seconds() / 3600)
            rank = _rank(stage)
            if rank is not None and any(
                (later := _rank(s)) is not None and later > rank for s, _ in stays[i + 1:]
            ):
                converted[stage].add(lead.id)
        if start <= lead.created_at < end:
            cohort = cohorts.setdefault(
                lead.source, {"leads": 0, **dict.fromkeys(_COHORT_STAGES, 0)})
            cohort["leads"] += 1
            best = max((r for s, _ in stays if (r := _rank(s)) is not None), default=-1)
            for stage in _COHORT_STAGES:
                if best >= stage_rank(stage):
                    cohort[stage] += 1

    stages = []
    for stage in (*STAGES, *SIDE_STAGES):
        # Side stages lead nowhere in particular, and customer is the end of the funnel.
        no_next = stage in SIDE_STAGES or stage == STAGES[-1]
        stays_hours = hours.get(stage)
        stages.append({
            "stage": stage,
            "entered": len(entered[stage]),
            "converted": None if no_next else len(converted[stage]),
            "conversion": None if no_next else _ratio(len(converted[stage]), len(entered[stage])),
            "median_hours_in_stage": (
                round(statistics.median(stays_hours), 2) if stays_hours else None),
        })
    sources = [{"source": name, **counts} for name, counts in sorted(
        cohorts.items(), key=lambda item: (-item[1]["leads"], item[0] is None, item[0] or ""))]
    return {
        "start": start.replace(tzinfo=UTC).isoformat(),
        "end": end.replace(tzinfo=UTC).isoformat(),
        "source": source,
        "stages": stages,
        "mql_to_sal": _ratio(len(converted["MQL"]), len(entered["MQL"])),
        "sources": sources,
    }


def funnel_csv(report: dict[str, Any]) -> str:
    """The report as one CSV table: a ``section`` column tells stage, summary and source rows."""
    out = io.StringIO()
    writer = _SafeWriter(out, fieldnames=_CSV_COLUMNS, restval="")
    writer.writeheader()
    for row in report["stages"]:
        writer.writerow({
            "section": "stage", "name": row["stage"], "entered": row["entered"],
            "converted": _cell(row["converted"]), "conversion": _cell(row["conversion"]),
            "median_hours_in_stage": _cell(row["median_hours_in_stage"]),
        })
    writer.writerow({"section": "summary", "name": "MQL to SAL",
                     "conversion": _cell(report["mql_to_sal"])})
    for row in report["sources"]:
        writer.writerow({"section": "source", "name": row["source"] or "(none)",
                         **{k: row[k] for k in ("leads", *_COHORT_STAGES)}})
    return out.getvalue()


def _cell(value: Any) -> Any:
    return "" if value is None else value


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """``value`` for a CSV cell a spreadsheet will not run: text starting with ``= + - @``,
    a tab or a carriage return gets a leading ``'`` (OWASP's advice against CSV injection).
    Numbers stay numbers."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


class _SafeWriter(csv.DictWriter):  # type: ignore[type-arg]
    """A DictWriter whose every cell passes through :func:`spreadsheet_safe`."""

    def writerow(self, rowdict: Any) -> Any:
        return super().writerow({k: spreadsheet_safe(v) for k, v in rowdict.items()})
