"""The browser fixtures of tests/browser (Chromium through Playwright), for the survey flow.
Like tests/browser, this folder runs only when asked for: `uv run pytest tests/surveys/browser`."""

from tests.browser.conftest import browser, page  # noqa: F401
