"""Limits every JSON document from outside must meet: finite numbers, 64-bit integers, and
nesting at most :data:`MAX_DEPTH` deep (deeper documents exhaust the stack of the code that
walks them). The API checks request bodies with it (``leadflow.api.body_guard``), the CLI the
files it reads.
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["MAX_DEPTH", "json_problem", "load_checked"]

MAX_DEPTH = 64
_MAX_INT = 2**63


def _path(parts: list[str | int]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _within_limits(value: Any) -> bool:
    """Whether every value of a parsed JSON document keeps to the limits: the walk of
    :func:`json_problem` without the paths (a 5,000-event webhook batch is checked on every
    request; the paths are worked out only for a document that breaks a limit)."""
    work: list[tuple[Any, int]] = [(value, 0)]
    pop, extend = work.pop, work.extend
    while work:
        node, depth = pop()
        if depth > MAX_DEPTH:
            return False
        if isinstance(node, str):
            continue
        if isinstance(node, dict):
            extend([(v, depth + 1) for v in node.values()])
        elif isinstance(node, list):
            extend([(v, depth + 1) for v in node])
        elif isinstance(node, float):
            if not math.isfinite(node):
                return False
        elif isinstance(node, int) and abs(node) >= _MAX_INT:  # a bool is never that large
            return False
    return True


def json_problem(value: Any) -> dict[str, str] | None:
    """The first value in a parsed JSON document that breaks a limit, as ``{"path", "message"}``
    (``path`` empty for the document itself)."""
    if _within_limits(value):
        return None
    work: list[tuple[Any, list[str | int]]] = [(value, [])]
    while work:
        node, path = work.pop()
        if len(path) > MAX_DEPTH:
            return {"path": _path(path[:MAX_DEPTH]), "message": f"The JSON nests deeper than "
                    f"{MAX_DEPTH} levels; flatten it."}
        if isinstance(node, dict):
            work.extend((v, [*path, str(k)]) for k, v in node.items())
        elif isinstance(node, list):
            work.extend((v, [*path, i]) for i, v in enumerate(node))
        elif isinstance(node, float) and not math.isfinite(node):
            return {"path": _path(path), "message": "NaN, Infinity and numbers too large for a "
                    "float (such as 1e999) are not numbers JSON allows; send a finite number."}
        elif isinstance(node, int) and not isinstance(node, bool) and abs(node) >= _MAX_INT:
            return {"path": _path(path), "message": "This integer is too large; integers must "
                    "fit in 64 bits."}
    return None


def load_checked(text: str | bytes) -> Any:
    """``text`` parsed as JSON, or ValueError with a sentence (and the path) saying why not."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise ValueError(f"the JSON nests deeper than {MAX_DEPTH} levels") from None
    problem = json_problem(value)
    if problem is not None:
        raise ValueError(f"{problem['path'] or 'the document'}: {problem['message']}")
    return value
