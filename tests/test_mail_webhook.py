"""SendGrid Event Webhook: signatures (published vector and our own key), mapping, ingestion."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, func, select

from leadflow.db import create_schema, get_engine, session_scope
from leadflow.errors import BadRequest, Forbidden
from leadflow.mail.clock import now_utc
from leadflow.mail.webhook import (
    IngestResult,
    check_signed_request,
    ingest_batch,
    is_fresh,
    map_sendgrid_event,
    parse_batch,
    verify_signature,
)
from leadflow.models import Event, Lead
from tests.fakes import WebhookSigner, sendgrid_event
from tests.helpers import GRANTED

# shared/ lies beside the checkout (CI copies it there); /work/shared on a developer's machine.
VECTOR_DIR = next((d for d in (Path(__file__).resolve().parents[2] / "shared/testdata/sendgrid",
                               Path("/work/shared/testdata/sendgrid")) if d.is_dir()),
                  Path("/work/shared/testdata/sendgrid"))


@pytest.fixture(scope="module")
def vector() -> dict:
    data = json.loads((VECTOR_DIR / "signed_webhook_vector.json").read_text())
    data["body"] = (VECTOR_DIR / data["body_file"]).read_bytes()
    return data


def test_published_vector_verifies(vector: dict) -> None:
    assert vector["body"].endswith(b"\r\n")
    assert verify_signature(
        vector["public_key"], vector["body"], vector["signature"], vector["timestamp"]
    )


@pytest.mark.parametrize(
    "variant",
    ["wrong_public_key", "wrong_signature", "wrong_timestamp", "body_without_trailing_crlf"],
)
def test_published_vector_variants_are_refused(vector: dict, variant: str) -> None:
    args = {
        "key": vector["public_key"],
        "body": vector["body"],
        "signature": vector["signature"],
        "timestamp": vector["timestamp"],
    }
    value = vector["must_fail"][variant]
    if variant == "wrong_public_key":
        args["key"] = value
    elif variant == "wrong_signature":
        args["signature"] = value
    elif variant == "wrong_timestamp":
        args["timestamp"] = value
    else:
        args["body"] = vector["body"].rstrip(b"\r\n")
    assert not verify_signature(args["key"], args["body"], args["signature"], args["timestamp"])


@pytest.mark.parametrize("key,signature", [("not base64!", "x"), ("", ""), ("QUJD", "QUJD")])
def test_garbage_keys_and_signatures_fail_quietly(key: str, signature: str) -> None:
    assert not verify_signature(key, b"[]", signature, "1")


def test_own_key_signed_batch_and_freshness() -> None:
    signer = WebhookSigner.generate()
    body, headers = signer.signed_batch([sendgrid_event("delivered")])
    signature, stamp = (
        headers["X-Twilio-Email-Event-Webhook-Signature"],
        headers["X-Twilio-Email-Event-Webhook-Timestamp"],
    )

    check_signed_request(body, signature, stamp, public_key_b64=signer.public_key)
    with pytest.raises(Forbidden):
        check_signed_request(
            body.replace(b"delivered", b"processed"),
            signature,
            stamp,
            public_key_b64=signer.public_key,
        )
    with pytest.raises(Forbidden):
        check_signed_request(body, None, stamp, public_key_b64=signer.public_key)
    with pytest.raises(Forbidden, match="stale"):
        check_signed_request(
            body, signature, stamp, public_key_b64=signer.public_key, now=time.time() + 3600
        )
    other = WebhookSigner.generate()
    with pytest.raises(Forbidden):
        check_signed_request(body, signature, stamp, public_key_b64=other.public_key)


def test_freshness_window() -> None:
    assert is_fresh("1000", now=1000 + 599)
    assert not is_fresh("1000", now=1000 + 601)
    assert not is_fresh("1000", now=1000 - 601)  # far future timestamps too
    assert not is_fresh("soon", now=1000)


def test_parse_batch_refuses_non_lists() -> None:
    assert parse_batch(b'[{"event": "open"}]\r\n') == [{"event": "open"}]
    with pytest.raises(BadRequest):
        parse_batch(b'{"event": "open"}')
    with pytest.raises(BadRequest):
        parse_batch(b"not json")


@pytest.mark.parametrize(
    "name,expected",
    [
        ("processed", "email.processed"),
        ("delivered", "email.delivered"),
        ("deferred", "email.deferred"),
        ("dropped", "email.dropped"),
        ("bounce", "email.bounced"),
        ("open", "email.opened"),
        ("click", "email.clicked"),
        ("spamreport", "email.spam_reported"),
        ("unsubscribe", "email.unsubscribed"),
        ("group_unsubscribe", "email.group_unsubscribed"),
        ("group_resubscribe", "email.group_resubscribed"),
    ],
)
def test_every_event_type_maps(name: str, expected: str) -> None:
    mapped = map_sendgrid_event(sendgrid_event(name))
    assert mapped.type == expected
    assert mapped.properties["send_id"] == "journey-1-welcome-1"
    assert (mapped.lead_id, mapped.flow_id, mapped.step) == ("L1", "trial", "welcome")
    assert mapped.occurred_at.timestamp() == 1_700_000_001


def test_mapping_keeps_what_scoring_and_people_need() -> None:
    click = map_sendgrid_event(sendgrid_event("click", url="https://x.example/pricing"))
    assert click.properties["url"] == "https://x.example/pricing"
    machine = map_sendgrid_event(sendgrid_event("open", sg_machine_open=True))
    human = map_sendgrid_event(sendgrid_event("open"))
    assert machine.properties["machine_open"] is True
    assert human.properties["machine_open"] is False
    hard = map_sendgrid_event(
        sendgrid_event(
            "bounce",
            type="bounce",
            reason="550 5.1.1 no such user",
            bounce_classification="Invalid Address",
        )
    )
    assert hard.properties["bounce_type"] == "bounce"
    assert hard.properties["bounce_classification"] == "Invalid Address"
    assert hard.properties["reason"] == "550 5.1.1 no such user"
    assert hard.suppress == "bounced"
    assert map_sendgrid_event(sendgrid_event("bounce", type="blocked")).suppress is None
    assert map_sendgrid_event(sendgrid_event("spamreport")).suppress == "unsubscribed"
    assert (
        map_sendgrid_event(sendgrid_event("dropped", reason="Bounced Address")).suppress
        == "bounced"
    )


# ------------------------------------------------------------------ ingestion


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'webhook.db'}"
    create_schema(url)
    at = now_utc()
    with session_scope(url) as session:
        for n in range(1, 4):
            session.add(
                Lead(id=f"L{n}", email=f"lead{n}@example.com", created_at=at, updated_at=at,
                     consent=GRANTED)
            )
    return url


def _ingest(db_url: str, batch: list[Any]) -> IngestResult:
    with session_scope(db_url) as session:
        return ingest_batch(session, batch)


def _event_count(db_url: str) -> int:
    with Session(get_engine(db_url)) as session:
        return session.exec(select(func.count()).select_from(Event)).one()


def test_batch_posted_twice_stores_once(db_url: str) -> None:
    batch = [
        sendgrid_event("processed", 1),
        sendgrid_event("delivered", 1),
        sendgrid_event("open", 1),
        sendgrid_event("click", 2, url="https://x.example/a"),
        sendgrid_event("click", 2, url="https://x.example/b", sg_event_id="evt-click-2b"),
    ]
    first = _ingest(db_url, batch)
    assert len(first.new_events) == 5 and first.duplicates == 0
    assert {e.type for e in first.new_events} == {
        "email.processed",
        "email.delivered",
        "email.opened",
        "email.clicked",
    }
    assert all(e.lead_id in {"L1", "L2"} for e in first.new_events)

    again = _ingest(db_url, batch)
    assert again.new_events == [] and again.duplicates == 5
    assert _event_count(db_url) == 5


def test_each_new_event_is_a_line_on_its_leads_timeline(db_url: str) -> None:
    from leadflow.models import TimelineEntry

    result = _ingest(db_url, [sendgrid_event("delivered", 1),
                              sendgrid_event("open", 1, sg_machine_open=True),
                              sendgrid_event("click", 2, url="https://x.example/a")])
    _ingest(db_url, [sendgrid_event("delivered", 1)])  # a repeat adds no line
    with session_scope(db_url) as session:
        lines = session.exec(select(TimelineEntry).order_by(TimelineEntry.id)).all()
        shown = [(t.lead_id, t.kind, t.type, t.data) for t in lines]
    assert len(result.new_events) == 3
    assert shown == [
        ("L1", "email", "email.delivered", {"event_id": result.new_events[0].id,
                                            "send_id": "journey-1-welcome-1",
                                            "provider": "sendgrid"}),
        ("L1", "email", "email.opened", {"event_id": result.new_events[1].id,
                                         "send_id": "journey-1-welcome-1",
                                         "provider": "sendgrid", "machine_open": True}),
        ("L2", "email", "email.clicked", {"event_id": result.new_events[2].id,
                                          "send_id": "journey-2-welcome-1",
                                          "provider": "sendgrid"}),
    ]


def test_same_event_under_a_new_sg_event_id_is_a_duplicate(db_url: str) -> None:
    _ingest(db_url, [sendgrid_event("delivered", 1)])
    resent = _ingest(db_url, [sendgrid_event("delivered", 1, sg_event_id="brand-new-id")])
    assert resent.new_events == [] and resent.duplicates == 1
    assert _event_count(db_url) == 1


def test_duplicates_inside_one_batch(db_url: str) -> None:
    event = sendgrid_event("open", 1)
    result = _ingest(db_url, [event, dict(event), dict(event, sg_event_id="other")])
    assert len(result.new_events) == 1 and result.duplicates == 2


def test_lead_found_by_address_when_custom_args_are_missing(db_url: str) -> None:
    result = _ingest(
        db_url,
        [
            sendgrid_event("delivered", 3, lead_id=None, send_id=None, email="LEAD3@example.com"),
            sendgrid_event("delivered", 9),  # nobody we know
            {"event": "something_new", "email": "lead1@example.com"},
            "not an object",
        ],
    )
    assert [e.lead_id for e in result.new_events] == ["L3"]
    assert result.unknown == 3


def test_bounces_spam_reports_and_unsubscribes_suppress_the_lead(db_url: str) -> None:
    result = _ingest(
        db_url,
        [
            sendgrid_event("bounce", 1, type="bounce"),
            sendgrid_event("spamreport", 2),
            sendgrid_event("bounce", 3, type="blocked"),  # soft: keep mailing
        ],
    )
    assert result.suppressed_leads == {"L1", "L2"}
    with session_scope(db_url) as session:
        l1, l2, l3 = (session.get(Lead, f"L{n}") for n in (1, 2, 3))
        assert l1 is not None and l2 is not None and l3 is not None
        assert (l1.bounced, l1.unsubscribed, l1.suppressed) == (True, False, True)
        assert (l2.bounced, l2.unsubscribed, l2.suppressed) == (False, True, True)
        assert (l3.bounced, l3.unsubscribed, l3.suppressed) == (False, False, False)


def test_published_vector_body_ingests_as_a_drop(db_url: str, vector: dict) -> None:
    with session_scope(db_url) as session:
        at = now_utc()
        session.add(Lead(id="hw", email="hello@world.com", created_at=at, updated_at=at))
    result = _ingest(db_url, parse_batch(vector["body"]))
    [event] = result.new_events
    assert (event.type, event.lead_id) == ("email.dropped", "hw")
    assert event.properties["reason"] == "Bounced Address"


def test_five_thousand_events_in_one_batch_are_all_stored_then_all_duplicates(db_url: str) -> None:
    """A large batch is stored whole, and its redelivery is recognised whole; how fast is
    measured by bench/webhook.py, not here."""
    batch = [
        # one open per mail: repeated opens of one mail are not stored (test_mail_engagement)
        sendgrid_event(kind, n % 3 + 1, sg_event_id=f"e{n}", timestamp=1_700_000_000 + n,
                       send_id=f"journey-{n}-welcome-1")
        for n in range(5000)
        for kind in ("open",)
    ]
    result = _ingest(db_url, batch)
    assert len(result.new_events) == 5000
    again = _ingest(db_url, batch)
    assert again.duplicates == 5000