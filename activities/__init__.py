"""Activities: every side effect the workflows need.

Each area keeps its activities in its own module exposing
``activities_for(db_url, client) -> list``; :func:`extra_activities` gathers them for the worker.
"""

from __future__ import annotations

import importlib
from typing import Any

AREA_MODULES = ("activities.handoff", "activities.scoring", "activities.delivery")


def extra_activities(db_url: str, client: Any) -> list[Any]:
    """Activities of every area module present (beside the journey activities)."""
    found: list[Any] = []
    for name in AREA_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        found += module.activities_for(db_url, client)
    return found
