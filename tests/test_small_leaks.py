"""Smaller leaks: CSV exports that run formulas, address hashes anyone can reverse."""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path

from sqlalchemy import create_engine, pool, text

from leadflow import migrate
from leadflow.db import session_scope
from leadflow.leads.consent import (
    address_hash,
    is_suppressed,
    legacy_address_hash,
    suppress_address,
    suppress_leads,
)
from leadflow.leads.funnel import funnel_csv, spreadsheet_safe
from leadflow.models import Suppression
from tests.helpers import make_lead


def test_funnel_csv_escapes_formulas() -> None:
    report = {
        "stages": [{"stage": "lead", "entered": 3, "converted": 1, "conversion": -0.5,
                    "median_hours_in_stage": None}],
        "mql_to_sal": None,
        "sources": [{"source": src, "leads": 1, "MQL": 0, "SQL": 0, "customer": 0}
                    for src in ('=HYPERLINK("http://evil.example","x")', "+1+1", "-2+3",
                                "@SUM(A1)", "\tcmd", "\rcmd", "webinar")],
    }
    rows = list(csv.DictReader(io.StringIO(funnel_csv(report))))
    names = [r["name"] for r in rows if r["section"] == "source"]
    assert names == ["'=HYPERLINK(\"http://evil.example\",\"x\")", "'+1+1", "'-2+3",
                     "'@SUM(A1)", "'\tcmd", "'\rcmd", "webinar"]
    assert rows[0]["conversion"] == "-0.5"  # numbers stay numbers
    assert spreadsheet_safe(-3) == -3 and spreadsheet_safe("a=b") == "a=b"


def _bare(email: str) -> str:
    return hashlib.sha256(f"leadflow.suppression:{email}".encode()).hexdigest()


def test_address_hashes_are_keyed_and_legacy_rows_still_match(db_url: str) -> None:
    assert address_hash("Ann@Example.com ") == address_hash("ann@example.com")
    assert address_hash("ann@example.com") != _bare("ann@example.com")
    assert legacy_address_hash("ann@example.com") == _bare("ann@example.com")
    with session_scope(db_url) as session:
        # a row written before keyed hashes, for an address since erased
        session.add(Suppression(address_hash=_bare("old@example.com"), reason="erased"))
    with session_scope(db_url) as session:
        assert is_suppressed(session, "OLD@example.com")
        suppress_address(session, "old@example.com", "unsubscribed")  # no second row
        suppress_address(session, "new@example.com", "unsubscribed")
    with session_scope(db_url) as session:
        keys = set(session.exec(text("SELECT address_hash FROM suppression")).scalars())
    assert keys == {_bare("old@example.com"), address_hash("new@example.com")}


def test_suppressing_leads_skips_addresses_already_on_the_legacy_list(db_url: str) -> None:
    lead_id = make_lead(db_url, email="legacy@example.com")
    with session_scope(db_url) as session:
        session.add(Suppression(address_hash=_bare("legacy@example.com"), reason="bounced"))
    with session_scope(db_url) as session:
        suppress_leads(session, [lead_id], "spam_reported")
    with session_scope(db_url) as session:
        assert session.exec(text("SELECT count(*) FROM suppression")).scalar() == 1


def test_migration_rekeys_suppressions_of_known_addresses(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    migrate.upgrade(url, "0004")
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO lead (id, email, fields, tags, score_breakdown, score, temperature, "
            "stage, unsubscribed, bounced, suppressed, created_at, updated_at) VALUES "
            "('l1', 'kept@example.com', '{}', '[]', '[]', 0, 'cold', 'lead', 1, 0, 1, "
            "'2026-01-01', '2026-01-01')"))
        for email in ("kept@example.com", "gone@example.com"):
            conn.execute(text("INSERT INTO suppression (address_hash, reason, at) VALUES "
                              "(:h, 'unsubscribed', '2026-01-01')"), {"h": _bare(email)})
    migrate.upgrade(url)
    with engine.begin() as conn:
        keys = set(conn.execute(text("SELECT address_hash FROM suppression")).scalars())
    assert keys == {address_hash("kept@example.com"), _bare("gone@example.com")}
    migrate.downgrade(url, "0004")
    with engine.begin() as conn:
        keys = set(conn.execute(text("SELECT address_hash FROM suppression")).scalars())
    assert keys == {_bare("kept@example.com"), _bare("gone@example.com")}
    engine.dispose()
