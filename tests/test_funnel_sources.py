"""Sources and UTM fields captured from leads and events; the funnel groups by them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from leadflow.db import session_scope
from leadflow.leads.funnel import funnel_report
from leadflow.models import Lead
from leadflow.usecases.events import EventIn, ingest_events
from tests.helpers import make_lead


def test_events_keep_first_and_last_touch_and_give_a_source(db_url: str) -> None:
    lead_id = make_lead(db_url)
    t1 = datetime(2026, 1, 5, tzinfo=UTC)
    with session_scope(db_url) as session:
        ingest_events(session, [
            EventIn(lead_id=lead_id, type="page.viewed", occurred_at=t1,
                    properties={"path": "/", "utm_source": "linkedin", "utm_campaign": "q1"}),
            EventIn(lead_id=lead_id, type="page.viewed", occurred_at=t1 + timedelta(days=1),
                    properties={"path": "/pricing"}),
            EventIn(lead_id=lead_id, type="form.submitted", occurred_at=t1 + timedelta(days=2),
                    properties={"utm_source": "google", "utm_medium": "cpc"}),
        ])
    with session_scope(db_url) as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None
        assert lead.first_touch == {"utm_source": "linkedin", "utm_campaign": "q1",
                                    "at": t1.isoformat()}
        assert lead.last_touch is not None and lead.last_touch["utm_source"] == "google"
        assert lead.last_touch["utm_medium"] == "cpc"
        assert lead.source == "linkedin", "the first touch names the lead's source"
        report = funnel_report(session, start=datetime(2000, 1, 1, tzinfo=UTC),
                               end=datetime(2100, 1, 1, tzinfo=UTC))
    assert [(s["source"], s["leads"]) for s in report["sources"]] == [("linkedin", 1)]


def test_a_lead_with_a_source_keeps_it(db_url: str) -> None:
    lead_id = make_lead(db_url, source="webinar")
    with session_scope(db_url) as session:
        ingest_events(session, [EventIn(lead_id=lead_id, type="email.clicked",
                                        properties={"utm_source": "newsletter"})])
    with session_scope(db_url) as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None and lead.source == "webinar"
        assert lead.last_touch is not None and lead.last_touch["utm_source"] == "newsletter"
