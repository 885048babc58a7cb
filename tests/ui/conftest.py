"""The live stack, browser and signed-in page of test_studio.py, for every studio test module
(module-scoped: one live stack per module)."""

from playwright.sync_api import expect

from tests.ui.test_studio import browser, page, stack

__all__ = ["browser", "page", "stack"]

# Assertions wait up to 10 s (Playwright's default is 5 s): on a loaded machine (CI beside other
# work) a screen that loads three lists at once can take longer than 5 s; a passing test does
# not wait any longer for it.
expect.set_options(timeout=10_000)
