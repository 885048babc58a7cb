"""Consent by default: who may receive marketing e-mail in each LEADFLOW_CONSENT_MODE."""

from __future__ import annotations

import logging

import pytest

from leadflow.config import Settings, reset_settings
from leadflow.db import session_scope
from leadflow.leads.consent import mail_block_reason, suppress_address, warn_about_consent_mode
from leadflow.models import Lead

CASES = {  # consent status -> (reason in "consent" mode, reason in "legitimate_interest" mode)
    None: ("no_consent", None),
    "granted": (None, None),
    "denied": ("consent_denied", "consent_denied"),
    "withdrawn": ("consent_withdrawn", "consent_withdrawn"),
    "pending": ("consent_pending", "consent_pending"),
}


@pytest.mark.parametrize("mode", ["consent", "legitimate_interest"])
def test_who_is_mailed_in_each_mode(db_url: str, mode: str) -> None:
    settings = Settings(consent_mode=mode)
    with session_scope(db_url) as session:
        for status, reasons in CASES.items():
            lead = Lead(email=f"{status}@example.com",
                        consent={"status": status} if status else None)
            session.add(lead)
            expected = reasons[0] if mode == "consent" else reasons[1]
            assert mail_block_reason(session, lead, settings) == expected, status
        suppressed = Lead(email="gone@example.com", consent={"status": "granted"})
        suppress_address(session, "gone@example.com", "bounced")
        assert mail_block_reason(session, suppressed, settings) == "suppressed"


def test_the_default_is_consent_and_the_old_switch_still_works(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().consent_mode == "consent"
    monkeypatch.setenv("LEADFLOW_REQUIRE_CONSENT", "false")
    assert Settings().consent_mode == "legitimate_interest"
    monkeypatch.setenv("LEADFLOW_REQUIRE_CONSENT", "true")
    assert Settings().consent_mode == "consent"
    monkeypatch.setenv("LEADFLOW_CONSENT_MODE", "legitimate_interest")
    assert Settings().consent_mode == "legitimate_interest", "the new setting wins"
    reset_settings()


def test_legitimate_interest_is_announced_at_start(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        warn_about_consent_mode(Settings(consent_mode="consent"))
        assert not caplog.records
        warn_about_consent_mode(Settings(consent_mode="legitimate_interest"))
    assert "LEADFLOW_CONSENT_MODE=legitimate_interest" in caplog.text
