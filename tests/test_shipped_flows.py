"""Every shipped flow validates, and every template it uses renders for a sample lead."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leadflow.db import session_scope
from leadflow.journeys.validate import validate_flow
from leadflow.rendering import SAMPLE_LEAD, build_context, render_email

FLOWS = sorted((Path(__file__).parent.parent / "flows").glob("*.json"))


def test_there_are_at_least_three_shipped_flows() -> None:
    assert {"trial-nurture", "webinar-follow-up", "reengage-cold"} <= {p.stem for p in FLOWS}


@pytest.mark.parametrize("path", FLOWS, ids=[p.stem for p in FLOWS])
def test_shipped_flow_validates_and_renders(path: Path, db_url: str) -> None:
    doc = json.loads(path.read_text())
    assert doc["id"] == path.stem, "file name = flow id"
    with session_scope(db_url) as session:
        from leadflow.journeys.flows import validation_context

        ctx = validation_context(session)
        ctx.teams = None  # teams are created per installation; everything else must exist
        assert validate_flow(doc, ctx) == []
        for step_id, step in doc["steps"].items():
            if step["type"] != "email":
                continue
            mail = render_email(session, step["template"], build_context(
                SAMPLE_LEAD, unsubscribe_url="https://example.test/u/token"))
            assert mail.subject and SAMPLE_LEAD["email"] in mail.html, step_id
            assert "https://example.test/u/token" in mail.html, "unsubscribe link in every mail"
            assert "https://example.test/u/token" in mail.text
            assert "{{" not in mail.html and "{%" not in mail.text
            assert "subject:" not in mail.html, "the subject line is not part of the body"
            assert "<style" not in mail.html, "CSS is inlined"
