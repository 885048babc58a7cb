"""Temporal workflow code only: deterministic, no I/O, ids (never personal data) in histories.

Besides the journey and handoff workflows, area modules listed here add theirs to the worker
through ``WORKFLOWS`` (a list in each module).
"""

from __future__ import annotations

import importlib
from typing import Any

AREA_MODULES = ("workflows.scoring",)


def _extra() -> list[Any]:
    found: list[Any] = []
    for name in AREA_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        found += list(module.WORKFLOWS)
    return found


EXTRA_WORKFLOWS = _extra()
