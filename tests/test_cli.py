"""The ``leadflow`` command's messages name what the user types."""

from __future__ import annotations

import pytest

from leadflow.cli import build_parser


def run(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


def test_a_sales_key_without_a_rep_names_the_flag(db_url: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["keys", "create", "--role", "sales"]) == 2
    err = capsys.readouterr().err
    assert "--rep" in err and "rep_id" not in err
    assert run(["keys", "create", "--role", "sales", "--rep", "nobody"]) == 2
    assert "There is no rep 'nobody'" in capsys.readouterr().err
    assert run(["keys", "create", "--role", "marketer"]) == 0
    assert capsys.readouterr().out.strip()


def test_the_port_comes_from_leadflow_port(monkeypatch: pytest.MonkeyPatch) -> None:
    from leadflow.config import reset_settings

    monkeypatch.setenv("LEADFLOW_PORT", "8791")
    reset_settings()
    assert build_parser().parse_args(["dev"]).port == 8791
    assert build_parser().parse_args(["dev", "--port", "9001"]).port == 9001
    assert build_parser().parse_args(["api"]).port == 8791
