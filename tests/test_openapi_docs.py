"""The API documents itself offline: every request body in /openapi.json, docs without a CDN."""

from __future__ import annotations

import inspect
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi.routing import APIRoute
from leadflow.api.main import create_app

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(loop_scope="session")
async def client(db_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app()),
                                 base_url="http://test") as http:
        yield http


def _resolve(document: dict[str, Any], ref: str) -> Any:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


# What a route's code says when it reads its body itself (FastAPI cannot see it).
READS_BODY = ("JsonBody", "request.body(", "request.json(", "request.form(", "_optional_json",
              "_submission(")


def _reads_body(path: str, method: str) -> bool:
    from leadflow.api.routes import ROUTERS

    for route in [r for router in ROUTERS for r in router.routes]:
        if isinstance(route, APIRoute) and route.path == path and method.upper() in route.methods:
            source = inspect.getsource(route.endpoint)
            return any(marker in source for marker in READS_BODY)
    raise AssertionError(f"no route for {method} {path}")


async def test_every_operation_that_reads_a_body_declares_it(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    without = [(path, method) for path, ops in document["paths"].items()
               for method, op in ops.items()
               if method in ("post", "put", "patch") and "requestBody" not in op]
    missing = [f"{m.upper()} {p}" for p, m in without if _reads_body(p, m)]
    assert not missing, f"operations without a requestBody in /openapi.json: {missing}"
    assert _reads_body("/api/teams", "post"), "the check sees a body read by hand"
    for path in ("/api/teams", "/api/reps", "/api/flows"):
        schema = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        assert "$ref" in schema["schema"]
    team = _resolve(document, document["paths"]["/api/teams"]["post"]["requestBody"]
                    ["content"]["application/json"]["schema"]["$ref"])
    assert {"id", "name", "members", "routing", "calendar"} <= set(team["properties"])
    for ref in set(_refs(document)):
        assert _resolve(document, ref) is not None, f"{ref} does not resolve"


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_load_their_assets_from_this_server(client: httpx.AsyncClient, page: str) -> None:
    html = (await client.get(page)).text
    scripts = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert scripts and not [s for s in scripts if s.startswith(("http:", "https:", "//"))], scripts
    assert "cdn" not in html.lower() and "fonts.googleapis" not in html
    for asset in scripts:
        response = await client.get(asset)
        assert response.status_code == 200 and len(response.content) > 1000, asset
    assert "/openapi.json" in html
