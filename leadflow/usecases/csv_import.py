"""CSV import of leads: every row checked on its own, a report of what happened to each."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session

from leadflow.dispatch import Dispatch
from leadflow.errors import BadRequest, Invalid
from leadflow.leads.records import LeadCreate
from leadflow.usecases.events import ingest_lead

__all__ = ["MAX_ROWS", "ImportReport", "import_csv"]

MAX_ROWS = 50_000
_PROFILE = ("email", "first_name", "last_name", "company", "title", "country", "timezone",
            "source")
_CONSENT = {"consent_status": "status", "consent_source": "source",
            "consent_text_version": "text_version"}
_ALIASES = {"e-mail": "email", "mail": "email", "firstname": "first_name",
            "first name": "first_name", "lastname": "last_name", "last name": "last_name",
            "job title": "title"}


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    lead_ids: list[str] = field(default_factory=list)

    def public(self) -> dict[str, Any]:
        return {"created": self.created, "updated": self.updated,
                "rejected_count": len(self.rejected), "rejected": self.rejected}


def _column(name: str) -> str:
    key = name.strip().lower()
    return _ALIASES.get(key, key.replace(" ", "_"))


def _row_to_lead(row: dict[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    fields: dict[str, Any] = {}
    consent: dict[str, Any] = {}
    utm: dict[str, str] = {}
    for key, raw in row.items():
        value = (raw or "").strip()
        if not value or key is None:
            continue
        if key in _PROFILE:
            data[key] = value
        elif key == "tags":
            data["tags"] = [t.strip() for t in value.replace(",", ";").split(";") if t.strip()]
        elif key in _CONSENT:
            consent[_CONSENT[key]] = value
        elif key.startswith("utm_"):
            utm[key] = value
        else:
            fields[key.removeprefix("fields.")] = value
    if fields:
        data["fields"] = fields
    if consent:
        data["consent"] = consent
    if utm:
        data["utm"] = utm
    return data


def _rows(reader: csv.DictReader[str]) -> Iterator[dict[str, str] | str]:
    """The reader's rows; a row the csv module cannot read (a field over its 128 KB limit,
    a broken quote) comes as the sentence saying why, and reading goes on."""
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if "field larger than field limit" in str(exc):
                yield (f"row: a field is longer than {csv.field_size_limit() // 1024} KB; "
                       "shorten it.")
            else:
                yield f"row: this line is not readable CSV ({exc})."


def import_csv(session: Session, content: bytes) -> tuple[ImportReport, Dispatch]:
    """Create or update a lead per row of ``content`` (CSV with a header row).

    Rows that do not validate are reported with their line number and reasons and change
    nothing; the others are imported. A file that is not CSV, or has no ``email`` column, is
    refused whole.

    Raises:
        BadRequest: not UTF-8 text, or empty.
        Invalid: no email column, or too many rows.
    """
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadRequest("The file is not UTF-8 text; save the CSV as UTF-8.") from exc
    if not text.strip():
        raise BadRequest("The file is empty.")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel  # type: ignore[assignment]
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    if reader.fieldnames is None:
        raise BadRequest("The file has no header row.")
    reader.fieldnames = [_column(n) for n in reader.fieldnames]
    if "email" not in reader.fieldnames:
        raise Invalid("The CSV needs an email column.", problems=[
            {"path": "header", "message": "Name one column email; others found: "
             f"{', '.join(reader.fieldnames)}."}])
    report, plan = ImportReport(), Dispatch()
    for number, row in enumerate(_rows(reader), start=2):  # line 1 is the header
        if number - 1 > MAX_ROWS:
            raise Invalid(f"At most {MAX_ROWS} rows per file; split it.", problems=[])
        if isinstance(row, str):
            report.rejected.append({"row": number, "email": None, "errors": [row]})
            continue
        try:
            data = LeadCreate.model_validate(_row_to_lead(row))
        except ValidationError as exc:
            report.rejected.append({
                "row": number, "email": (row.get("email") or "").strip() or None,
                "errors": [f"{'.'.join(str(p) for p in e['loc']) or 'row'}: {e['msg']}"
                           for e in exc.errors()]})
            continue
        with session.begin_nested():
            lead, created, row_plan = ingest_lead(session, data, actor="import")
        plan.extend(row_plan)
        report.lead_ids.append(lead.id)
        if created:
            report.created += 1
        else:
            report.updated += 1
    return report, plan
