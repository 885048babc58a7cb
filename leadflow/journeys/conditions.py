"""The JSON condition language of flows (``where``, ``exit_when``, branch ``cases``) and scoring.

A condition is one of::

    {"field": PATH, "op": OP, "value": V}       OP: eq ne gt gte lt lte in contains exists
    {"temperature": "hot" | "warm" | "cold"}
    {"score": {"gte": 60}}                        any of gt gte lt lte eq
    {"likelihood": {"gte": 0.4}}                  the predictive model's probability (false without one)
    {"stage_at_least": STAGE}
    {"has_tag": TAG}
    {"all": [c, ...]}, {"any": [c, ...]}, {"not": c}

PATH is a lead field (``email``, ``company``, ``title``, ``country``, ``source``, ...,
``fields.<custom>``) or, for conditions on an event, ``properties.<key>``. String comparisons
ignore case (``"de"`` equals ``"DE"``); a comparison between values of different kinds is false,
never an error, because lead data is messy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "FIELD_OPS",
    "LEAD_FIELDS",
    "TEMPERATURES",
    "condition_problems",
    "evaluate",
    "resolve_path",
]

LEAD_FIELDS = (
    "email",
    "first_name",
    "last_name",
    "company",
    "title",
    "country",
    "timezone",
    "source",
    "stage",
    "score",
    "temperature",
    "owner",
)
FIELD_OPS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "contains", "exists")
SCORE_OPS = ("gt", "gte", "lt", "lte", "eq")
TEMPERATURES = ("hot", "warm", "cold")
_MISSING = object()


def resolve_path(path: str, lead: Mapping[str, Any], event: Mapping[str, Any] | None = None) -> Any:
    """The value at ``path`` (``company``, ``fields.plan``, ``properties.form``), or a sentinel."""
    head, _, rest = path.partition(".")
    if head == "properties":
        value: Any = (event or {}).get("properties") or {}
    elif head in ("fields", "utm"):
        value = lead.get(head) or {}
    else:
        return lead.get(path, _MISSING) if not rest else _MISSING
    for part in rest.split(".") if rest else []:
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _fold(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def _compare(op: str, actual: Any, expected: Any) -> bool:
    if op == "exists":
        present = actual is not _MISSING and actual is not None and actual != ""
        return present if expected in (None, True) else not present
    if actual is _MISSING or actual is None:
        return op == "ne"
    if op == "in":
        return isinstance(expected, list) and _fold(actual) in [_fold(v) for v in expected]
    if op == "contains":
        if isinstance(actual, str) and isinstance(expected, str):
            return expected.casefold() in actual.casefold()
        if isinstance(actual, list):
            return _fold(expected) in [_fold(v) for v in actual]
        return False
    a, e = _fold(actual), _fold(expected)
    if op == "eq":
        return bool(a == e)
    if op == "ne":
        return bool(a != e)
    numeric = (int, float)
    if isinstance(a, bool) or isinstance(e, bool):
        return False
    if not (isinstance(a, numeric) and isinstance(e, numeric)) and not (
        isinstance(a, str) and isinstance(e, str)
    ):
        return False
    if op == "gt":
        return bool(a > e)
    if op == "gte":
        return bool(a >= e)
    if op == "lt":
        return bool(a < e)
    if op == "lte":
        return bool(a <= e)
    raise ValueError(f"unknown operator {op!r}")


def evaluate(
    condition: Mapping[str, Any], lead: Mapping[str, Any], event: Mapping[str, Any] | None = None
) -> bool:
    """Whether ``condition`` holds for ``lead`` (a mapping of its fields) and optional ``event``.

    The condition must be valid (see :func:`condition_problems`).
    """
    if "all" in condition:
        return all(evaluate(c, lead, event) for c in condition["all"])
    if "any" in condition:
        return any(evaluate(c, lead, event) for c in condition["any"])
    if "not" in condition:
        return not evaluate(condition["not"], lead, event)
    if "field" in condition:
        actual = resolve_path(condition["field"], lead, event)
        return _compare(condition["op"], actual, condition.get("value"))
    if "temperature" in condition:
        return lead.get("temperature") == condition["temperature"]
    if "score" in condition:
        score = lead.get("score") or 0
        return all(_compare(op, score, v) for op, v in condition["score"].items())
    if "likelihood" in condition:
        # False while no predictive model is active: the lead has no likelihood to compare.
        likelihood = lead.get("likelihood")
        return likelihood is not None and all(
            _compare(op, likelihood, v) for op, v in condition["likelihood"].items())
    if "stage_at_least" in condition:
        from leadflow.leads.lifecycle import stage_at_least

        return stage_at_least(lead.get("stage") or "lead", condition["stage_at_least"])
    if "has_tag" in condition:
        tags = lead.get("tags") or []
        return _fold(condition["has_tag"]) in [_fold(t) for t in tags]
    raise ValueError(f"not a condition: {dict(condition)!r}")


def _problem(path: str, message: str) -> dict[str, str]:
    return {"path": path, "message": message}


MAX_CONDITION_DEPTH = 16


def condition_problems(
    condition: Any, path: str, *, allow_properties: bool = False, depth: int = 1
) -> list[dict[str, str]]:
    """Every problem with ``condition``, each with its JSON path and a plain sentence.

    Args:
        condition: the JSON value to check.
        path: where it sits in its document, e.g. ``steps.route.cases[0].when``.
        allow_properties: whether ``properties.<key>`` paths are allowed (conditions on events).
        depth: how deep ``condition`` sits in all/any/not (at most
            :data:`MAX_CONDITION_DEPTH`, so evaluating it can never exhaust the stack).
    """
    from leadflow.models import SIDE_STAGES, STAGES

    if depth > MAX_CONDITION_DEPTH:
        return [_problem(path, f"Conditions nest at most {MAX_CONDITION_DEPTH} levels deep "
                         "(all/any/not inside each other); write this one flatter.")]
    if not isinstance(condition, Mapping):
        return [_problem(path, "A condition must be an object such as "
                         '{"field": "country", "op": "eq", "value": "DE"}.')]
    kinds = [k for k in ("all", "any", "not", "field", "temperature", "score", "likelihood",
                         "stage_at_least", "has_tag") if k in condition]
    if len(kinds) != 1:
        return [_problem(path, "A condition needs exactly one of field, temperature, score, "
                         "likelihood, stage_at_least, has_tag, all, any or not.")]
    kind = kinds[0]
    problems: list[dict[str, str]] = []
    allowed_keys = {"field": {"field", "op", "value"}}.get(kind, {kind})
    for extra in sorted(set(condition) - allowed_keys):
        problems.append(_problem(f"{path}.{extra}", f"Unknown key {extra!r} in a {kind} condition."))
    value = condition[kind]
    if kind in ("all", "any"):
        if not isinstance(value, list) or not value:
            problems.append(_problem(f"{path}.{kind}", f"{kind!r} takes a non-empty list of conditions."))
        else:
            for i, sub in enumerate(value):
                problems += condition_problems(sub, f"{path}.{kind}[{i}]",
                                               allow_properties=allow_properties, depth=depth + 1)
    elif kind == "not":
        problems += condition_problems(value, f"{path}.not", allow_properties=allow_properties,
                                       depth=depth + 1)
    elif kind == "field":
        if not isinstance(value, str) or not value:
            problems.append(_problem(f"{path}.field", "field must name a lead field such as company."))
        else:
            head, _, rest = value.partition(".")
            if head == "properties" and not allow_properties:
                problems.append(_problem(f"{path}.field", "properties.* can only be tested in the "
                                         "where of an event; here the condition is about the lead."))
            elif head in ("properties", "fields", "utm"):
                if not rest:
                    problems.append(_problem(f"{path}.field", f"Name the key: {head}.<key>."))
            elif value not in LEAD_FIELDS:
                problems.append(_problem(f"{path}.field", f"{value!r} is not a lead field; use one of "
                                         f"{', '.join(LEAD_FIELDS)} or fields.<custom field>."))
        op = condition.get("op")
        if op not in FIELD_OPS:
            problems.append(_problem(f"{path}.op", f"op must be one of {', '.join(FIELD_OPS)}; got {op!r}."))
        elif op == "in" and not isinstance(condition.get("value"), list):
            problems.append(_problem(f"{path}.value", "The in operator needs a list of values."))
        elif op == "exists":
            if condition.get("value") not in (None, True, False):
                problems.append(_problem(f"{path}.value", "exists takes true, false or no value."))
        elif "value" not in condition:
            problems.append(_problem(f"{path}.value", f"The {op} operator needs a value."))
        elif op in ("gt", "gte", "lt", "lte") and not isinstance(condition["value"], int | float | str):
            problems.append(_problem(f"{path}.value", f"{op} compares with a number or a text."))
    elif kind == "temperature":
        if value not in TEMPERATURES:
            problems.append(_problem(f"{path}.temperature", "temperature must be hot, warm or cold."))
    elif kind in ("score", "likelihood"):
        example = '{"gte": 60}' if kind == "score" else '{"gte": 0.4}'
        if not isinstance(value, Mapping) or not value:
            problems.append(_problem(f"{path}.{kind}", f"{kind} takes an object such as {example}."))
        else:
            for op, v in value.items():
                if op not in SCORE_OPS:
                    problems.append(_problem(f"{path}.{kind}.{op}", f"Unknown {kind} comparison "
                                             f"{op!r}; use {', '.join(SCORE_OPS)}."))
                elif isinstance(v, bool) or not isinstance(v, int | float):
                    problems.append(_problem(f"{path}.{kind}.{op}",
                                             f"A {kind} is compared with a number."))
                elif kind == "likelihood" and not 0 <= v <= 1:
                    problems.append(_problem(f"{path}.likelihood.{op}",
                                             "A likelihood is a probability between 0 and 1."))
    elif kind == "stage_at_least":
        if value not in STAGES + SIDE_STAGES:
            problems.append(_problem(f"{path}.stage_at_least",
                                     f"{value!r} is not a lifecycle stage; use one of {', '.join(STAGES)}."))
    elif kind == "has_tag":
        if not isinstance(value, str) or not value:
            problems.append(_problem(f"{path}.has_tag", "has_tag names a tag, as text."))
    return problems
