"""API keys: listed without their secrets, revoked at once; secrets refused when forgeable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from leadflow import cli
from leadflow.config import PLACEHOLDER_SECRET, get_settings, reset_settings
from tests.fakes.api_client import admin, app_only_client

asyncio = pytest.mark.asyncio(loop_scope="session")
ADMIN = admin()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest_asyncio.fixture(loop_scope="session")
async def http(db_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:
    async with app_only_client(monkeypatch) as client:
        yield client


@asyncio
async def test_keys_are_listed_without_secrets_and_revoked_at_once(
        http: httpx.AsyncClient) -> None:
    r = await http.post("/api/reps", headers=ADMIN, json={
        "id": "rep-ann", "email": "ann@sales.example", "name": "Ann Rep"})
    assert r.status_code == 201, r.text
    r = await http.post("/api/keys", headers=ADMIN, json={"role": "marketer", "label": "Zapier"})
    assert r.status_code == 201
    marketer = r.json()
    assert marketer["key"].startswith("lf_") and marketer["role"] == "marketer"
    assert marketer["label"] == "Zapier" and marketer["id"] and marketer["last_used_at"] is None
    r = await http.post("/api/keys", headers=ADMIN, json={"role": "sales", "rep_id": "rep-ann"})
    sales = r.json()
    assert sales["rep_name"] == "Ann Rep"

    assert (await http.get("/api/flows", headers=bearer(marketer["key"]))).status_code == 200
    r = await http.get("/api/keys", headers=ADMIN)
    assert r.status_code == 200
    listed = {k["id"]: k for k in r.json()}
    assert set(listed) == {marketer["id"], sales["id"]}
    for row in listed.values():
        assert {"id", "role", "rep_id", "rep_name", "label", "created_at", "last_used_at",
                "revoked_at"} <= set(row)
        assert "key" not in row and "key_hash" not in row
        assert marketer["key"] not in str(row) and sales["key"] not in str(row)
    assert listed[marketer["id"]]["last_used_at"] is not None, "used just now"
    assert listed[sales["id"]]["last_used_at"] is None
    assert (listed[sales["id"]]["rep_id"], listed[sales["id"]]["rep_name"]) == ("rep-ann",
                                                                                "Ann Rep")
    r = await http.get("/api/keys", headers=bearer(marketer["key"]))
    assert r.status_code == 403

    r = await http.delete(f"/api/keys/{marketer['id']}", headers=ADMIN)
    assert r.status_code == 204 and r.content == b""
    r = await http.get("/api/flows", headers=bearer(marketer["key"]))
    assert r.status_code == 401 and r.json()["error"] == "Unauthorized"
    assert (await http.delete(f"/api/keys/{marketer['id']}", headers=ADMIN)).status_code == 204
    r = await http.delete("/api/keys/no-such-key", headers=ADMIN)
    assert r.status_code == 404 and r.json()["error"] == "NotFound"
    [revoked] = [k for k in (await http.get("/api/keys", headers=ADMIN)).json()
                 if k["id"] == marketer["id"]]
    assert revoked["revoked_at"] is not None
    assert (await http.get("/api/leads/x", headers=bearer(sales["key"]))).status_code == 404


def test_keys_list_and_revoke_from_the_shell(db_url: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    def leadflow(*argv: str) -> tuple[int, str]:
        args = cli.build_parser().parse_args(list(argv))
        code = args.func(args)
        return code, capsys.readouterr().out

    code, key = leadflow("keys", "create", "--role", "marketer", "--label", "ci")
    assert code == 0 and key.startswith("lf_")
    code, table = leadflow("keys", "list")
    assert code == 0 and "marketer" in table and "ci" in table and "never" in table
    assert key.strip() not in table
    [row] = json.loads(leadflow("keys", "list", "--json")[1])
    assert leadflow("keys", "revoke", row["id"])[0] == 0
    assert "revoked" in leadflow("keys", "list")[1]
    assert leadflow("keys", "revoke", "nope")[0] == 2


def _run(command: str, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("LEADFLOW_")}
    return subprocess.run(
        [sys.executable, "-m", "leadflow.cli", command, *(["--port", "1"] if command == "api"
                                                          else ["--connect-timeout", "1"])],
        env={**base, "LEADFLOW_HOME": str(tmp_path), "LEADFLOW_TEMPORAL_ADDRESS": "127.0.0.1:1",
             **env}, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("command", ["api", "worker"])
@pytest.mark.parametrize("secret", [None, "", PLACEHOLDER_SECRET])
def test_api_and_worker_refuse_a_forgeable_secret(command: str, secret: str | None,
                                                  tmp_path: Path) -> None:
    env = {} if secret is None else {"LEADFLOW_SECRET_KEY": secret}
    done = _run(command, env, tmp_path)
    assert done.returncode != 0
    assert "LEADFLOW_SECRET_KEY" in done.stderr and "Traceback" not in done.stderr


def test_dev_keeps_a_random_secret_under_its_home(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LEADFLOW_SECRET_KEY")
    monkeypatch.setenv("LEADFLOW_ENV", "development")
    reset_settings()
    assert get_settings().secret_is_placeholder
    cli._dev_secret(tmp_path)
    first = get_settings().secret_key.get_secret_value()
    assert len(first) >= 32 and first != PLACEHOLDER_SECRET
    get_settings().check_secrets()  # accepted now
    assert (tmp_path / "secret_key").read_text().strip() == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    monkeypatch.delenv("LEADFLOW_SECRET_KEY")
    reset_settings()
    cli._dev_secret(tmp_path)
    assert get_settings().secret_key.get_secret_value() == first, "kept across restarts"
    monkeypatch.setenv("LEADFLOW_SECRET_KEY", "operator-chosen-secret-0123456789")
    reset_settings()
    cli._dev_secret(tmp_path)
    assert get_settings().secret_key.get_secret_value() == "operator-chosen-secret-0123456789"
