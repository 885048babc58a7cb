"""Every operation in /openapi.json says what it answers, so /docs shows it and the studio's
generated types (ui/src/schema.d.ts) are more than ``Record<string, unknown>``.

An operation is described when one of its 2xx answers is a 204 (no body), or has a schema that
names its fields (properties, a ``$ref`` to a model, a list of such, or a scalar). ``PENDING``
lists the operations still answering free-form JSON; it may only shrink: an entry that is now
described fails the test until it is removed.
"""

from __future__ import annotations

from typing import Any

from leadflow.api.openapi_dump import openapi_document

# Routes of api/routes/ other than sales, outcomes, scoring and reports, being given response
# models (issue 12, part 5).
PENDING = {
    ("GET", "/api/health"),
    ("GET", "/api/meta"),
    ("POST", "/api/keys"),
    ("GET", "/api/leads"),
    ("POST", "/api/leads/import"),
    ("GET", "/api/leads/{lead_id}"),
    ("POST", "/api/leads/{lead_id}/notes"),
    ("POST", "/api/leads/{lead_id}/flows/{flow_id}/retry"),
    ("POST", "/api/leads/{lead_id}/stage"),
    ("POST", "/api/events"),
    ("GET", "/api/flows/schema"),
    ("GET", "/api/examples"),
    ("POST", "/api/flows/validate"),
    ("GET", "/api/flows/{flow_id}"),
    ("PUT", "/api/flows/{flow_id}"),
    ("GET", "/api/flows/{flow_id}/layout"),
    ("PUT", "/api/flows/{flow_id}/layout"),
    ("POST", "/api/flows/{flow_id}/publish"),
    ("GET", "/api/flows/{flow_id}/versions/{version}"),
    ("POST", "/api/flows/{flow_id}/enroll"),
    ("GET", "/api/flows/{flow_id}/stats"),
    ("POST", "/api/flows/{flow_id}/simulate"),
    ("GET", "/api/flows/{flow_id}/state"),
    ("POST", "/api/flows/{flow_id}/pause"),
    ("POST", "/api/flows/{flow_id}/resume"),
    ("POST", "/api/flows/{flow_id}/stop"),
    ("POST", "/api/leads/{lead_id}/flows/{flow_id}/exit"),
    ("POST", "/api/flows/{flow_id}/migrations/preview"),
    ("GET", "/api/flows/{flow_id}/migrations/{migration_id}"),
    ("GET", "/api/templates/{name}"),
    ("PUT", "/api/templates/{name}"),
    ("POST", "/api/templates/{name}/preview"),
    ("GET", "/api/templates/{name}/preview"),
    ("POST", "/api/templates/{name}/test-send"),
    ("POST", "/api/webhooks/sendgrid"),
    ("POST", "/api/capture/{form}"),
    ("GET", "/api/forms/{form}"),
    ("PUT", "/api/forms/{form}"),
    ("GET", "/api/leads/{lead_id}/export"),
    ("GET", "/api/settings/workspace"),
    ("PUT", "/api/settings/workspace"),
    ("GET", "/api/flows"),
    ("POST", "/api/flows"),
    ("GET", "/api/flows/{flow_id}/migrations"),
    ("POST", "/api/flows/{flow_id}/migrations"),
    ("GET", "/api/flows/{flow_id}/steps/{step_id}/leads"),
    ("GET", "/api/flows/{flow_id}/versions"),
    ("GET", "/api/forms"),
    ("GET", "/api/keys"),
    ("POST", "/api/leads"),
    ("GET", "/api/leads/{lead_id}/timeline"),
    ("GET", "/api/outbox"),
    ("GET", "/api/templates"),
}
METHODS = ("get", "put", "post", "patch", "delete")


def _described(document: dict[str, Any], schema: Any, seen: frozenset[str] = frozenset()) -> bool:
    if not isinstance(schema, dict):
        return False
    ref = schema.get("$ref")
    if isinstance(ref, str):
        if ref in seen:
            return True
        node: Any = document
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
        return _described(document, node, seen | {ref})
    if schema.get("properties"):
        return True
    if schema.get("type") in ("string", "integer", "number", "boolean"):
        return True
    if "items" in schema:
        return _described(document, schema["items"], seen)
    return any(_described(document, s, seen) for key in ("anyOf", "oneOf", "allOf")
               for s in schema.get(key) or [])


def _answers_described(document: dict[str, Any], responses: dict[str, Any]) -> bool:
    for code, answer in responses.items():
        if not code.startswith("2"):
            continue
        if code == "204" and "content" not in answer:
            return True
        if any(_described(document, c.get("schema")) for c in answer.get("content", {}).values()):
            return True
    return False


def _shapes() -> dict[tuple[str, str], bool]:
    """``(METHOD, path)`` -> whether the operation describes its answer."""
    document = openapi_document()
    return {(method.upper(), path): _answers_described(document, item[method]["responses"])
            for path, item in document["paths"].items() for method in METHODS if method in item}


def test_every_operation_documents_its_answer() -> None:
    shapes = _shapes()
    missing = sorted(op for op, ok in shapes.items() if not ok and op not in PENDING)
    assert not missing, ("operations without a response model (declare response_model=, see "
                         "api/schemas/): " + ", ".join(f"{m} {p}" for m, p in missing))


def test_pending_only_shrinks() -> None:
    shapes = _shapes()
    done = sorted(op for op in PENDING if shapes.get(op, True))
    assert not done, ("described now (or gone): remove from PENDING: "
                      + ", ".join(f"{m} {p}" for m, p in done))
