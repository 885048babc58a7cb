"""Signed tracking links: round trips, tampering, and the HTML rewrite."""

from __future__ import annotations

import re

import pytest

from leadflow.config import Settings
from leadflow.errors import Forbidden
from leadflow.mail.tracking import (
    PIXEL_GIF,
    add_tracking,
    click_url,
    make_token,
    open_pixel_url,
    read_token,
    unsubscribe_url,
)

SETTINGS = Settings(public_url="https://lf.example/", secret_key="s3cret")  # type: ignore[arg-type]
OTHER_SECRET = Settings(public_url="https://lf.example", secret_key="other")  # type: ignore[arg-type]


def _token(url: str, prefix: str) -> str:
    assert url.startswith(prefix), url
    return url[len(prefix) :]


def test_click_link_round_trips() -> None:
    url = click_url("j1-welcome-1", "https://docs.example/a?b=1&c=2", settings=SETTINGS)
    data = read_token(_token(url, "https://lf.example/t/c/"), "click", settings=SETTINGS)
    assert (data.send_id, data.url) == ("j1-welcome-1", "https://docs.example/a?b=1&c=2")


def test_open_pixel_and_unsubscribe_round_trip() -> None:
    pixel = open_pixel_url("j1-welcome-1", settings=SETTINGS)
    assert pixel.endswith(".gif")
    opened = read_token(_token(pixel, "https://lf.example/t/o/"), "open", settings=SETTINGS)
    assert opened.send_id == "j1-welcome-1"
    unsub = unsubscribe_url("L42", settings=SETTINGS)
    assert (
        read_token(_token(unsub, "https://lf.example/u/"), "unsubscribe", settings=SETTINGS).lead_id
        == "L42"
    )
    assert PIXEL_GIF.startswith(b"GIF89a")


def test_tokens_carry_no_personal_data_in_clear_and_are_not_guessable() -> None:
    a = make_token("unsubscribe", lead_id="L1", settings=SETTINGS)
    b = make_token("unsubscribe", lead_id="L2", settings=SETTINGS)
    assert a.split(".")[1] != b.split(".")[1]
    assert len(a.split(".")[1]) >= 22  # 128-bit MAC


@pytest.mark.parametrize(
    "mutate",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # altered MAC
        lambda t: (
            make_token("unsubscribe", lead_id="L2", settings=SETTINGS).split(".")[0]
            + "."
            + t.split(".")[1]
        ),  # swapped payload
        lambda t: t.split(".")[0],  # MAC removed
        lambda t: "",
        lambda t: "!!!.???",
    ],
)
def test_tampered_tokens_are_refused(mutate) -> None:  # type: ignore[no-untyped-def]
    token = make_token("unsubscribe", lead_id="L1", settings=SETTINGS)
    with pytest.raises(Forbidden):
        read_token(mutate(token), "unsubscribe", settings=SETTINGS)


def test_token_for_another_purpose_or_secret_is_refused() -> None:
    click = make_token("click", send_id="s", url="https://x.example", settings=SETTINGS)
    with pytest.raises(Forbidden):
        read_token(click, "unsubscribe", settings=SETTINGS)
    with pytest.raises(Forbidden):
        read_token(click, "click", settings=OTHER_SECRET)


def test_add_tracking_rewrites_links_and_appends_pixel_once() -> None:
    html = (
        "<html><body>"
        '<a href="https://docs.example/start?x=1&amp;y=2">Start</a> '
        "<a class='btn' href='http://shop.example/'>Shop</a> "
        '<a href="mailto:help@example.com">Mail us</a> '
        '<a href="https://esp.example/unsubscribe?u=1">Unsubscribe</a> '
        f'<a href="{unsubscribe_url("L1", settings=SETTINGS)}">Leave</a> '
        '<a href="https://legal.example/terms" data-notrack>Terms</a>'
        "</body></html>"
    )
    out = add_tracking(html, "j1-welcome-1", settings=SETTINGS)

    hrefs = re.findall(r"""href=["']([^"']+)["']""", out)
    tracked = [h for h in hrefs if h.startswith("https://lf.example/t/c/")]
    assert len(tracked) == 2
    targets = [read_token(h.rsplit("/", 1)[1], "click", settings=SETTINGS).url for h in tracked]
    assert targets == ["https://docs.example/start?x=1&y=2", "http://shop.example/"]
    assert "mailto:help@example.com" in hrefs
    assert "https://esp.example/unsubscribe?u=1" in hrefs
    assert "https://legal.example/terms" in hrefs
    assert "class='btn'" in out
    assert out.count("/t/o/") == 1 and out.index("/t/o/") < out.index("</body>")

    assert add_tracking(out, "j1-welcome-1", settings=SETTINGS) == out  # retries change nothing


def test_add_tracking_without_body_tag_appends_pixel() -> None:
    out = add_tracking("<p>Hi</p>", "s1", settings=SETTINGS)
    assert out.startswith('<p>Hi</p><img src="https://lf.example/t/o/')
