"""Leadflow: durable nurture journeys, lead scoring and sales handoff on Temporal.

The core lives here: shared modules at the top (config, db, models, errors, temporal contracts,
auth, rendering, channels, metrics, logging) and one package per domain (``journeys``, ``leads``,
``scoring``, ``sales``, ``mail``); ``cli`` assembles the app and the worker. The adapters live at
the top of the repository (``api/``, ``workflows/``, ``activities/``) and install as
``leadflow.api``, ``leadflow.workflows`` and ``leadflow.activities``.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import sys

__version__ = "0.1.0"

ADAPTERS = ("api", "workflows", "activities")


class _SourceTreeAdapters(importlib.abc.MetaPathFinder):
    """Finds ``leadflow.api`` & co. beside this directory in a source checkout.

    An installed copy has them inside the package (setuptools ``package-dir`` mappings); run
    from the repository (tests, the repository root on ``sys.path``) they sit next to it, and
    always next to the ``leadflow`` actually imported, whatever else is installed.
    """

    def __init__(self, root: str) -> None:
        self.root = root

    def find_spec(self, fullname: str, path: object = None, target: object = None):
        head, _, name = fullname.rpartition(".")
        if head != __name__ or name not in ADAPTERS:
            return None
        folder = os.path.join(self.root, name)
        return importlib.util.spec_from_file_location(
            fullname, os.path.join(folder, "__init__.py"), submodule_search_locations=[folder])


# os.path, not pathlib: Temporal's workflow sandbox re-imports this module and forbids
# pathlib's file-system calls at import time.
_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_HERE)
_IN_SOURCE_TREE = not os.path.exists(os.path.join(_HERE, "api")) and os.path.isfile(
    os.path.join(_ROOT, "api", "__init__.py"))
if _IN_SOURCE_TREE and not any(type(f).__name__ == "_SourceTreeAdapters" for f in sys.meta_path):
    sys.meta_path.insert(0, _SourceTreeAdapters(_ROOT))
