"""Personal data stays in the database: not in workflow histories, not in logs, not after erasure.

A lead with a distinctive address and name walks every step type (email, wait, wait_for,
branch, split, update, notify, handoff, exit) with SendGrid refusing its last mail (the
refusal quotes the address); a second lead meets an SMTP relay that first defers, then refuses
the recipient (both replies quote the address). Every workflow history is then read as JSON,
and every log line captured at DEBUG (SQLAlchemy included), and neither the address nor the
name appears anywhere. Erasure then leaves neither in any table, nor in the database file or
its write-ahead log.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, text
from sqlmodel import select
from temporalio.testing import WorkflowEnvironment

from leadflow.config import reset_settings
from leadflow.db import get_engine, session_scope
from leadflow.logging_setup import install_pii_filter, redact_pii
from leadflow.models import EmailMessage, Handoff, Journey, Lead
from leadflow.pii import scrub
from tests.fakes.api_client import admin, app_client
from tests.fakes.sendgrid_server import FakeSendGrid, Reply, running_fake_sendgrid
from tests.fakes.smtp_relay import Relay, running_relay
from tests.handoff_support import rep, seed_team
from tests.helpers import at_step, ended, enrol_lead, eventually, make_lead, publish_flow

ADDRESS = "zebra.quokka.7731@example.org"
NAME = "Quokkaname"
SMTP_ADDRESS = "okapi.narwhal.4417@example.net"
SMTP_NAME = "Narwhalname"
SECRETS = (ADDRESS, NAME, SMTP_ADDRESS, SMTP_NAME, "zebra.quokka", "okapi.narwhal")

TOUR: dict[str, Any] = {
    "id": "pii-tour", "name": "Every step", "start": "hello",
    "steps": {
        "hello": {"type": "email", "template": "trial-welcome", "next": "pause"},
        "pause": {"type": "wait", "duration": "PT1H", "next": "listen"},
        "listen": {"type": "wait_for", "event": "webinar.attended", "timeout": "PT1H",
                   "next": "pick", "on_timeout": "pick"},
        "pick": {"type": "branch", "cases": [
            {"when": {"field": "first_name", "op": "exists"}, "next": "ab"}],
            "else": "ab"},
        "ab": {"type": "split", "paths": [{"weight": 50, "next": "tag"},
                                          {"weight": 50, "next": "tag"}]},
        "tag": {"type": "update", "add_tags": ["toured"], "stage": "MQL", "next": "tell"},
        "tell": {"type": "notify", "channel": "email", "to": "ops@company.example",
                 "message": "{{ lead.first_name }} <{{ lead.email }}> took the tour",
                 "next": "sales"},
        "sales": {"type": "handoff", "team": "inside", "sla": "PT4H", "next": "bye",
                  "on_rejected": "bye"},
        "bye": {"type": "email", "template": "trial-tips", "next": "end"},
        "end": {"type": "exit"},
    },
}
SHORT: dict[str, Any] = {
    "id": "pii-smtp", "name": "One mail", "start": "hello",
    "steps": {"hello": {"type": "email", "template": "trial-welcome", "next": "end"},
              "end": {"type": "exit"}},
}


@pytest.fixture
def fake_sendgrid() -> Iterator[FakeSendGrid]:
    yield from running_fake_sendgrid()


@pytest.fixture
def relay() -> Iterator[Relay]:
    yield from running_relay()


def _leaks(text_: str) -> list[str]:
    low = text_.lower()
    return [s for s in SECRETS if s.lower() in low]


def _decoded(node: Any) -> Any:
    """A history's JSON with every payload's base64 ``data`` decoded to text."""
    if isinstance(node, dict):
        if "data" in node and "metadata" in node and isinstance(node["data"], str):
            return {**node, "data": base64.b64decode(node["data"]).decode("utf-8", "replace")}
        return {k: _decoded(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_decoded(v) for v in node]
    return node


async def _histories(env: WorkflowEnvironment, db_url: str) -> dict[str, str]:
    """Every workflow's history as JSON (payloads decoded): journeys, their handoffs, the
    leads' score timers."""
    with session_scope(db_url) as session:
        journeys = list(session.exec(select(Journey)).all())
        handoffs = list(session.exec(select(Handoff)).all())
        leads = list(session.exec(select(Lead.id)).all())
    ids = [j.id for j in journeys]
    ids += [f"handoff-{h.journey_id}-{h.step}-1" for h in handoffs]
    ids += [f"score-{lead_id}" for lead_id in leads]
    out: dict[str, str] = {}
    for wid in ids:
        try:
            history = await env.client.get_workflow_handle(wid).fetch_history()
        except Exception:  # a lead without a score timer has no such workflow
            if wid.startswith("score-"):
                continue
            raise
        out[wid] = json.dumps(_decoded(json.loads(history.to_json())), ensure_ascii=False)
        assert "zebra" not in history.to_json()
    return out


def test_redaction_helpers() -> None:
    line = f"SMTP 550: <{ADDRESS}>: Recipient address rejected"
    assert ADDRESS not in redact_pii(line) and "[address]" in redact_pii(line)
    assert scrub({"a": [line], "b": 3}) == {"a": [redact_pii(line)], "b": 3}


def test_log_records_lose_addresses_in_messages_args_and_exceptions(
        caplog: pytest.LogCaptureFixture) -> None:
    install_pii_filter()
    caplog.set_level(logging.DEBUG)
    log = logging.getLogger("leadflow.test_pii")
    log.info(f"refused {ADDRESS}")
    log.info("refused %s and %r", ADDRESS, {"to": ADDRESS})
    log.info("refused %(to)s", {"to": ADDRESS})
    try:
        raise ValueError(f"no mailbox {ADDRESS}")
    except ValueError:
        log.exception("send failed")
    logging.getLogger("sqlalchemy.engine.Engine").debug("Row %r", (ADDRESS, NAME))
    text_ = caplog.text + "".join(r.getMessage() for r in caplog.records)
    assert ADDRESS not in text_ and NAME not in text_
    assert text_.count("[address]") >= 5


@pytest.mark.asyncio(loop_scope="session")
async def test_a_unique_value_race_is_logged_without_the_value(
        caplog: pytest.LogCaptureFixture) -> None:
    from leadflow.api.main import create_app
    from sqlalchemy.exc import IntegrityError

    caplog.set_level(logging.DEBUG)
    handler = create_app(create_tables=False).exception_handlers[IntegrityError]
    orig = Exception(f"duplicate key value violates unique constraint: (email)=({ADDRESS})")
    response = await handler(None, IntegrityError("INSERT ...", {"email": ADDRESS}, orig))
    assert response.status_code == 409
    assert ADDRESS not in caplog.text and "integrity conflict" in caplog.text


@pytest.mark.asyncio(loop_scope="session")
async def test_no_personal_data_in_histories_or_logs(
        time_env: WorkflowEnvironment, db_url: str, task_queue: str,
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
        fake_sendgrid: FakeSendGrid, relay: Relay, tmp_path: Path) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("sqlalchemy", "sqlalchemy.engine", "sqlalchemy.engine.Engine"):
        caplog.set_level(logging.DEBUG, logger=name)
    seed_team(db_url, [rep("ann")], calendar={})
    publish_flow(db_url, TOUR)
    publish_flow(db_url, SHORT)
    consent = {"status": "granted", "source": "test"}
    lead_id = make_lead(db_url, email=ADDRESS, first_name=NAME, last_name=NAME,
                        company=f"{NAME} Ltd", consent=consent)
    smtp_lead = make_lead(db_url, email=SMTP_ADDRESS, first_name=SMTP_NAME, consent=consent)

    async with app_client(time_env.client, db_url, task_queue, monkeypatch,
                          email_backend="sendgrid", sendgrid_host=fake_sendgrid.host) as http:
        monkeypatch.setenv("SENDGRID_API_KEY", "SG.test-key")
        reset_settings()
        jid = await enrol_lead(time_env.client, db_url, "pii-tour", lead_id)
        await at_step(db_url, jid, "pause")
        await time_env.sleep(3 * 3600)
        await at_step(db_url, jid, "sales", timeout=30)
        handoff = await eventually(lambda: _handoff(db_url), what="the handoff")
        fake_sendgrid.script(Reply.bad_request(f"The to address {ADDRESS} ({NAME}) is not "
                                               "valid for this account"))
        accepted = await http.post(f"/api/handoffs/{handoff}/accept", headers=admin(), json={})
        assert accepted.status_code == 200, accepted.text
        done = await ended(db_url, jid, timeout=30)
        assert done.status in ("completed", "exited", "failed")
        refused = _mail(db_url, jid, "bye")
        assert refused.status == "failed" and ADDRESS in (refused.reason or "")

        # SMTP: a deferral (retried), then a refusal, both quoting the address
        monkeypatch.setenv("LEADFLOW_EMAIL_BACKEND", "smtp")
        monkeypatch.setenv("LEADFLOW_SMTP_PORT", str(relay.port))
        reset_settings()
        relay.refuse = f"450 4.2.1 <{SMTP_ADDRESS}>: mailbox of {SMTP_NAME} busy"
        j2 = await enrol_lead(time_env.client, db_url, "pii-smtp", smtp_lead)
        await eventually(lambda: "450" in (_reason(db_url, j2) or ""), timeout=30,
                         what="the deferral")
        relay.refuse = f"550 5.1.1 <{SMTP_ADDRESS}>: Recipient address rejected"
        await ended(db_url, j2, timeout=60)
        assert _mail(db_url, j2, "hello").status == "failed"

        histories = await _histories(time_env, db_url)
        assert any(w.startswith("handoff-") for w in histories)
        assert len(histories) >= 3
        for wid, history in histories.items():
            assert not _leaks(history), f"{wid}'s history holds {_leaks(history)}"
        # the deferral's text reached Temporal as a retried failure, scrubbed
        assert "provider_refused" in histories[j2]

        erased = await http.delete(f"/api/leads/{lead_id}", headers=admin())
        assert erased.status_code == 204
        erased = await http.delete(f"/api/leads/{smtp_lead}", headers=admin())
        assert erased.status_code == 204

    # "mail.log" is the fake relay's own log (aiosmtpd), standing for a remote server
    ours = [r for r in caplog.records if not r.name.startswith("mail.log")]
    lines = [caplog.handler.format(r) for r in ours]
    lines += [r.exc_text or "" for r in ours]
    assert caplog.records, "nothing was logged: the capture is broken"
    assert any(r.name.startswith("sqlalchemy") for r in caplog.records)
    # the deferral reached Temporal (and its log) as a code
    assert "TransientDeliveryError (status 450)" in caplog.text
    for line in lines:
        assert not _leaks(line), f"a log line holds {_leaks(line)}: {line[:300]}"

    # erasure: no table, no byte of the database file or its write-ahead log keeps them
    leftovers = _table_leaks(db_url)
    assert not leftovers, leftovers
    path = Path(db_url.split("///", 1)[1])
    for file in (path, path.with_name(path.name + "-wal")):
        if file.exists():
            raw = file.read_bytes()
            for secret in (ADDRESS, NAME, SMTP_ADDRESS, SMTP_NAME):
                assert secret.encode() not in raw, f"{file.name} still holds {secret}"


def _handoff(db_url: str) -> str | None:
    with session_scope(db_url) as session:
        row = session.exec(select(Handoff)).first()
        return row.id if row else None


def _mail(db_url: str, journey_id: str, step: str) -> EmailMessage:
    with session_scope(db_url) as session:
        row = session.exec(select(EmailMessage).where(EmailMessage.journey_id == journey_id,
                                                      EmailMessage.step == step)).first()
        assert row is not None, f"no mail for {step}"
        return row


def _reason(db_url: str, journey_id: str) -> str | None:
    with session_scope(db_url) as session:
        return session.exec(select(EmailMessage.reason).where(
            EmailMessage.journey_id == journey_id)).first()


def _table_leaks(db_url: str) -> list[str]:
    """Every table dumped as text, searched for the secrets: ``table: secret`` per find."""
    engine = get_engine(db_url)
    found = []
    with engine.connect() as conn:
        for table in inspect(engine).get_table_names():
            rows = conn.execute(text(f'SELECT * FROM "{table}"')).all()
            dump = "\n".join(repr(tuple(r)) for r in rows)
            found += [f"{table}: {s}" for s in _leaks(dump)]
    return found
