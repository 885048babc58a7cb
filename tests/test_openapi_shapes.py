"""Every operation in /openapi.json says what it answers, so /docs shows it and the studio's
generated types (ui/src/schema.d.ts) are more than ``Record<string, unknown>``.

An operation is described when one of its 2xx answers is a 204 (no body), or has a schema that
names its fields (properties, a ``$ref`` to a model, a list of such, or a scalar: a page's
``text/html``, the tracking pixel's ``image/gif``), or when it only redirects (a 3xx with its
``Location`` header: the click-tracking link).
"""

from __future__ import annotations

from typing import Any

from leadflow.api.openapi_dump import openapi_document

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
    if not any(code.startswith("2") for code in responses):
        return any(code.startswith("3") and "Location" in answer.get("headers", {})
                   for code, answer in responses.items())
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
    missing = sorted(op for op, ok in shapes.items() if not ok)
    assert not missing, ("operations without a response model (declare response_model=, see "
                         "api/schemas/): " + ", ".join(f"{m} {p}" for m, p in missing))
    assert ("GET", "/t/o/{token}") in shapes, "the public pages are in the document too"


def test_the_check_tells_a_shape_from_free_form_json() -> None:
    document: dict[str, Any] = {"components": {"schemas": {"Thing": {
        "type": "object", "properties": {"a": {"type": "string"}}}}}}

    def json(schema: dict[str, Any], code: str = "200") -> dict[str, Any]:
        return {code: {"content": {"application/json": {"schema": schema}}}}

    assert not _answers_described(document, json({"type": "object",
                                                  "additionalProperties": True}))
    assert not _answers_described(document, json({}, "202"))
    assert not _answers_described(document, {"302": {"description": "somewhere"}})
    assert _answers_described(document, json({"type": "array", "items": {
        "$ref": "#/components/schemas/Thing"}}))
    assert _answers_described(document, {"200": {"content": {"text/html": {
        "schema": {"type": "string"}}}}})
    assert _answers_described(document, {"204": {"description": "Done"}})
    assert _answers_described(document, {"302": {"description": "To the link", "headers": {
        "Location": {"schema": {"type": "string"}}}}})
