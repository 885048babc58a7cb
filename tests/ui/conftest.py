"""The live stack, browser and signed-in page of test_studio.py, for every studio test module
(module-scoped: one live stack per module)."""

from tests.ui.test_studio import browser, page, stack

__all__ = ["browser", "page", "stack"]
